// `ringkv get KEY`, `ringkv put KEY VALUE`, `ringkv del KEY`: one operation through the client
// library, for people and scripts. A get prints the raw value (siblings and version with
// --json); a missing key exits 1 with "not found" on stderr, so shell scripts can branch on it.
import { RingkvClient } from '../client';
import type { ConsistencyLevel } from '../coordinator/types';
import { consistencyLevels } from '../coordinator/types';
import { httpPortDefault, ttlSecondsMax } from '../constants';
import { type CliCommand, parseFlags, parseIntOption, usageError } from './command';

const commonHelp = `options:
  --node HOST:PORT        RINGKV_NODE   127.0.0.1:${httpPortDefault}   a node to start from (the ring is learned from it)
  --consistency LEVEL     ONE | QUORUM | ALL | LOCAL_ONE | LOCAL_QUORUM | EACH_QUORUM
                          (default: the node's, QUORUM)
  --timeout-ms N          per-attempt timeout
  --json                  print the result as JSON
  -h, --help`;

const usage = {
  get: `usage: ringkv get KEY [options]\n\nPrints the value of KEY (exit 1 if not found).\n\n${commonHelp}`,
  put: `usage: ringkv put KEY VALUE [options]\n\nWrites VALUE (UTF-8) under KEY and prints its version.\n\n${commonHelp}\n  --ttl SECONDS           expire after this many seconds\n  --if-match VERSION      only if VERSION is the current version`,
  del: `usage: ringkv del KEY [options]\n\nDeletes KEY and prints the tombstone's version.\n\n${commonHelp}\n  --if-match VERSION      only if VERSION is the current version`,
};

type Name = keyof typeof usage;

function parse(name: Name, argv: string[]) {
  const { values, positionals } = parseFlags({
    args: argv,
    allowPositionals: true,
    options: {
      node: { type: 'string' },
      consistency: { type: 'string' },
      'timeout-ms': { type: 'string' },
      ttl: { type: 'string' },
      'if-match': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help === true) return null;
  const arity = name === 'put' ? 2 : 1;
  if (positionals.length !== arity) throw usageError(`${usage[name].split('\n')[0]} (got ${positionals.length} argument(s))`);
  if (name !== 'put' && values.ttl !== undefined) throw usageError('--ttl applies to put only');
  if (name === 'get' && values['if-match'] !== undefined) throw usageError('--if-match applies to put and del only');
  let consistency: ConsistencyLevel | undefined;
  if (values.consistency !== undefined) {
    const c = values.consistency.toUpperCase();
    if (!consistencyLevels.includes(c as ConsistencyLevel)) throw usageError(`--consistency must be one of ${consistencyLevels.join(', ')}, not "${values.consistency}"`);
    consistency = c as ConsistencyLevel;
  }
  return {
    key: positionals[0]!,
    value: positionals[1],
    node: values.node ?? process.env['RINGKV_NODE'] ?? `127.0.0.1:${httpPortDefault}`,
    consistency,
    timeoutMs: values['timeout-ms'] === undefined ? undefined : parseIntOption('--timeout-ms', values['timeout-ms'], 1, 600_000),
    ttlSeconds: values.ttl === undefined ? undefined : parseIntOption('--ttl', values.ttl, 1, ttlSecondsMax),
    ifMatch: values['if-match'],
    json: values.json === true,
  };
}

function clientCommand(name: Name, summary: string): CliCommand {
  return {
    summary,
    async run(argv: string[]): Promise<number> {
      const a = parse(name, argv);
      if (a === null) {
        process.stdout.write(`${usage[name]}\n`);
        return 0;
      }
      const client = await RingkvClient.connect({ nodes: [a.node], ringRefreshMs: 0 });
      try {
        const opts = {
          ...(a.consistency !== undefined && { consistency: a.consistency }),
          ...(a.timeoutMs !== undefined && { timeoutMs: a.timeoutMs }),
        };
        if (name === 'get') {
          const r = await client.get(a.key, opts);
          if (!r.found) {
            if (a.json) process.stdout.write(`${JSON.stringify({ key: a.key, found: false })}\n`);
            else process.stderr.write(`ringkv get: ${a.key}: not found\n`);
            return 1;
          }
          if (a.json) {
            const text = (v: Uint8Array): string => Buffer.from(v).toString('utf8');
            process.stdout.write(
              `${JSON.stringify({
                key: a.key,
                found: true,
                value: text(r.value),
                version: r.version,
                timestamp: r.timestampMs,
                siblings: r.siblings.map((s) => ({ value: text(s.value), version: s.version, timestamp: s.timestampMs })),
                context: Buffer.from(r.context).toString('base64'),
                node: r.node,
              })}\n`,
            );
          } else {
            process.stdout.write(r.value);
            if (process.stdout.isTTY) process.stdout.write('\n');
            if (r.siblings.length > 1) process.stderr.write(`ringkv get: ${a.key} has ${r.siblings.length} concurrent versions (see --json)\n`);
          }
          return 0;
        }
        const r =
          name === 'put'
            ? await client.put(a.key, a.value!, { ...opts, ...(a.ttlSeconds !== undefined && { ttlSeconds: a.ttlSeconds }), ...(a.ifMatch !== undefined && { expectedVersion: a.ifMatch }) })
            : await client.delete(a.key, { ...opts, ...(a.ifMatch !== undefined && { expectedVersion: a.ifMatch }) });
        process.stdout.write(a.json ? `${JSON.stringify({ key: a.key, version: r.version, timestamp: r.timestampMs, node: r.node })}\n` : `${r.version}\n`);
        return 0;
      } finally {
        client.close();
      }
    },
  };
}

export const getCommand = clientCommand('get', 'read a key through the client library');
export const putCommand = clientCommand('put', 'write a key through the client library');
export const delCommand = clientCommand('del', 'delete a key through the client library');
