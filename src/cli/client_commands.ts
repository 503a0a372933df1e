// `ringkv get KEY`, `ringkv put KEY VALUE`, `ringkv del KEY`: one operation through the client
// library, for people and scripts. A get prints the raw value (siblings, version and context with
// --json); a missing key exits 1 with "not found" on stderr, so shell scripts can branch on it.
// Values are opaque bytes: put takes them from a file or stdin as well as from the command line,
// and --json carries them base64 as the HTTP API does, so nothing is lost on the way. A write
// given the context a read printed resolves that read's siblings, as X-Context does over HTTP.
// Keys are bytes too: --key-encoding base64 names one that is not text, and --json names keys as
// the HTTP API's answers do (text, or base64 with "key_encoding").
import * as fs from 'node:fs';
import { RingkvClient } from '../client';
import type { ConsistencyLevel } from '../coordinator/types';
import { consistencyLevels } from '../coordinator/types';
import { RingkvError } from '../errors';
import { httpPortDefault, ttlSecondsMax, valueBytesMax } from '../constants';
import { keyFields } from '../server/http_json';
import { parseContext } from '../server/http_request';
import { type CliCommand, keyArgument, parseFlags, parseIntOption, parseKeyEncoding, usageError } from './command';

const commonHelp = `options:
  --node HOST:PORT        RINGKV_NODE   127.0.0.1:${httpPortDefault}   a node to start from (the ring is learned from it)
  --consistency LEVEL     ONE | QUORUM | ALL | LOCAL_ONE | LOCAL_QUORUM | EACH_QUORUM
                          (default: the node's, QUORUM)
  --timeout-ms N          per-attempt timeout
  --key-encoding ENC      utf8 (default) or base64: KEY is the base64 of a key that is not text
  --json                  print the result as JSON (values base64, as the HTTP API)
  -h, --help`;

const writeHelp = `  --if-match VERSION      only if VERSION is the current version
  --context BASE64        the context \`ringkv get --json\` printed: supersede every version that read saw
                          (resolves its siblings)`;

const usage = {
  get: `usage: ringkv get KEY [options]\n\nPrints the value of KEY (exit 1 if not found).\n\n${commonHelp}`,
  put:
    `usage: ringkv put KEY VALUE [options]\n       ringkv put KEY --value-file PATH [options]\n\n` +
    `Writes VALUE (UTF-8), or the bytes of PATH (- for stdin), under KEY and prints its version.\n\n${commonHelp}\n` +
    `  --value-file PATH       the value is this file's bytes (- reads stdin), at most ${valueBytesMax} bytes\n` +
    `  --ttl SECONDS           expire after this many seconds\n${writeHelp}`,
  del: `usage: ringkv del KEY [options]\n\nDeletes KEY and prints the tombstone's version.\n\n${commonHelp}\n${writeHelp}`,
};

/** --context takes what X-Context takes over HTTP (base64 or base64url), checked the same way. */
function contextOption(text: string): Uint8Array {
  let bytes: Uint8Array | undefined;
  try {
    bytes = parseContext(text);
  } catch {
    bytes = undefined;
  }
  if (bytes === undefined || bytes.length === 0) throw usageError('--context must be the base64 context `ringkv get --json` printed');
  return bytes;
}

/** The bytes of PATH (- is stdin), read no further than one byte past the largest value. */
async function readValueFile(path: string): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of path === '-' ? process.stdin : fs.createReadStream(path)) {
      const bytes = chunk as Buffer;
      length += bytes.length;
      if (length > valueBytesMax) throw usageError(`--value-file ${path}: over ${valueBytesMax} bytes, the largest value`);
      chunks.push(bytes);
    }
  } catch (err) {
    if (err instanceof RingkvError) throw err;
    throw usageError(`--value-file ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return Buffer.concat(chunks, length);
}

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
      'value-file': { type: 'string' },
      context: { type: 'string' },
      'key-encoding': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help === true) return null;
  const valueFile = values['value-file'];
  const arity = name === 'put' && valueFile === undefined ? 2 : 1;
  if (positionals.length !== arity) {
    const also = name === 'put' && valueFile !== undefined ? ' (VALUE comes from --value-file)' : '';
    throw usageError(`${usage[name].split('\n')[0]} (got ${positionals.length} argument(s)${also})`);
  }
  if (name !== 'put' && values.ttl !== undefined) throw usageError('--ttl applies to put only');
  if (name !== 'put' && valueFile !== undefined) throw usageError('--value-file applies to put only');
  if (name === 'get' && values['if-match'] !== undefined) throw usageError('--if-match applies to put and del only');
  if (name === 'get' && values.context !== undefined) throw usageError('--context applies to put and del only');
  let consistency: ConsistencyLevel | undefined;
  if (values.consistency !== undefined) {
    const c = values.consistency.toUpperCase();
    if (!consistencyLevels.includes(c as ConsistencyLevel)) throw usageError(`--consistency must be one of ${consistencyLevels.join(', ')}, not "${values.consistency}"`);
    consistency = c as ConsistencyLevel;
  }
  return {
    key: positionals[0]!,
    keyBytes: keyArgument(positionals[0]!, parseKeyEncoding(values['key-encoding'])),
    value: positionals[1],
    valueFile,
    context: values.context === undefined ? undefined : contextOption(values.context),
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
      const value = a.valueFile === undefined ? a.value : await readValueFile(a.valueFile);
      const client = await RingkvClient.connect({ nodes: [a.node], ringRefreshMs: 0 });
      try {
        const opts = {
          ...(a.consistency !== undefined && { consistency: a.consistency }),
          ...(a.timeoutMs !== undefined && { timeoutMs: a.timeoutMs }),
        };
        if (name === 'get') {
          const r = await client.get(a.keyBytes, opts);
          if (!r.found) {
            if (a.json) process.stdout.write(`${JSON.stringify({ ...keyFields(a.keyBytes), found: false })}\n`);
            else process.stderr.write(`ringkv get: ${a.key}: not found\n`);
            return 1;
          }
          if (a.json) {
            const base64 = (v: Uint8Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
            process.stdout.write(
              `${JSON.stringify({
                ...keyFields(a.keyBytes),
                found: true,
                value: base64(r.value),
                version: r.version,
                timestamp: r.timestampMs,
                siblings: r.siblings.map((s) => ({ value: base64(s.value), version: s.version, timestamp: s.timestampMs })),
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
        const writeOpts = {
          ...opts,
          ...(a.ifMatch !== undefined && { expectedVersion: a.ifMatch }),
          ...(a.context !== undefined && { context: a.context }),
        };
        const r =
          name === 'put'
            ? await client.put(a.keyBytes, value!, { ...writeOpts, ...(a.ttlSeconds !== undefined && { ttlSeconds: a.ttlSeconds }) })
            : await client.delete(a.keyBytes, writeOpts);
        process.stdout.write(a.json ? `${JSON.stringify({ ...keyFields(a.keyBytes), version: r.version, timestamp: r.timestampMs, node: r.node })}\n` : `${r.version}\n`);
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
