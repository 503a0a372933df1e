// The operator's commands, over a node's HTTP admin API (docs/http-api.md), as nodetool is
// Cassandra's: `ringkv status` (the cluster as one node sees it, with each node's effective
// ownership), `ringkv repair`, `ringkv scrub`, `ringkv cleanup`, `ringkv flush`,
// `ringkv snapshot`, `ringkv decommission`, `ringkv addnode`, `ringkv removenode`,
// `ringkv replica` (one node's own copy of a key). Each prints a line or a table for people, or
// the node's JSON answer with --json, and exits 0 when the node did what was asked and found
// nothing wrong, 1 when it answered with an error (its message is printed), did it only in part
// (a repair with failed ranges) or found damage (a scrub that quarantined a table), 2 on a usage
// error.
import { fetchClusterStatus, ringMembersOf } from '../client/cluster_status';
import { type JsonAnswer, requestJson } from '../client/http_request';
import { httpPortDefault, vnodesPerNodeMax } from '../constants';
import { spanText } from '../coordinator/span_text';
import type { ClusterStatus } from '../coordinator/types';
import { Ring } from '../ring';
import { salvageNote } from '../storage/salvage-note';
import { type CliCommand, type KeyEncoding, keyArgument, keyPathSegment, parseFlags, parseIntOption, parseKeyEncoding, usageError } from './command';

/** A repair or a decommission streams data: minutes on a loaded node, not seconds. */
const adminTimeoutMsDefault = 3_600_000;
const statusTimeoutMs = 10_000;
/** cleanup --wait: how often a node that refuses for now (503) is asked again. */
const cleanupRetryMs = 2_000;
const answerBytesMax = 1024 * 1024;

const nodeHelp = `  --node HOST:PORT        RINGKV_NODE   127.0.0.1:${httpPortDefault}   the node to ask (its HTTP address)`;

const usage = {
  status: `usage: ringkv status [options]\n\nThe cluster as one node sees it: each node's status (and, rebuilding, the ranges it has left),\nload, data on disk, tokens, effective ownership (the share of keys it holds a replica of),\nhow full its data dir's file system is, and its clock against the answering node's.\n\noptions:\n${nodeHelp}\n  --json                  print the node's answer as JSON\n  -h, --help`,
  repair: `usage: ringkv repair [--all] [options]\n\nSyncs every range the node replicates with another replica (a full anti-entropy pass)\nand prints what moved. Exit 1 if any range failed.\n\noptions:\n${nodeHelp}\n  --timeout-ms N          how long to wait (default 1 h)\n  --json\n  --all                   on every node that --node's cluster status has up\n  -h, --help`,
  scrub: `usage: ringkv scrub [--all] [--salvage] [options]\n\nReads every table of the node end to end and checks it (CRCs, structure, key order). A corrupt\ntable is taken out (kept in its shard's quarantine/ folder) and its readable blocks are rewritten\ninto a table in its place on a cluster node, which then repairs so the damaged blocks' keys come\nback from the other replicas; a single node reports it and leaves it, unless --salvage. Exit 1 if\na table was found corrupt.\n\noptions:\n${nodeHelp}\n  --timeout-ms N          how long to wait (default 1 h)\n  --salvage               on a single node too: take corrupt tables out, keeping what still\n                          reads (the damaged blocks' entries are lost: they have no other copy)\n  --json\n  --all                   on every node that --node's cluster status has up\n  -h, --help`,
  cleanup: `usage: ringkv cleanup [--all] [options]\n\nDrops from the node's tables every key it no longer replicates (after nodes joined and took\nranges over), rewriting each table that holds some (like nodetool cleanup). Refused unless every\nnode of the ring is up and none is rebuilding or leaving, and the ring has stood for --dead-after-ms; run it\nonce the new nodes' bootstrap is done, or with --wait right after adding them. Exit 1 if it was\ncut short.\n\noptions:\n${nodeHelp}\n  --timeout-ms N          how long to wait (default 1 h)\n  --wait                  while the node refuses for now (a node down, rebuilding or leaving, the ring\n                          changed lately: HTTP 503), ask again every ${cleanupRetryMs / 1000} s, within --timeout-ms\n  --json\n  --all                   on every node that --node's cluster status has up, one after another\n  -h, --help`,
  snapshot: `usage: ringkv snapshot [NAME] [--all] [options]\n\nFlushes the node, then makes <data-dir>/snapshots/NAME (default: the time) a data dir of its own\nholding the node's tables as of the flush: hard links, no copying. To restore, stop the node and\nstart one on a copy of that folder (then, in a cluster, run ringkv repair on it).\n\noptions:\n${nodeHelp}\n  --json\n  --all                   on every node that --node's cluster status has up\n  -h, --help`,
  flush: `usage: ringkv flush [--all] [options]\n\nWrites every shard's memtable to a table now (before copying a data dir, or to scrub what\nwas just written).\n\noptions:\n${nodeHelp}\n  --json\n  --all                   on every node that --node's cluster status has up\n  -h, --help`,
  decommission: `usage: ringkv decommission --node HOST:PORT [options]\n\nHands that node's data and hints over to the nodes that take its ranges and takes it out\nof the ring. --node is required: this is never done to a default address. Refused (HTTP 503)\nwhile a node of the ring is rebuilding (run it once a new node's bootstrap is done) or\ncleaning up.\n\noptions:\n  --node HOST:PORT        the node that leaves (its HTTP address)\n  --timeout-ms N          how long to wait (default 1 h)\n  --json\n  -h, --help`,
  addnode: `usage: ringkv addnode NODE_ID ADDRESS [options]\n\nTakes a running node (started in cluster mode, knowing no one) into the cluster of --node.\nADDRESS is its HTTP address, host:port or host:port:peerport.\n\noptions:\n${nodeHelp}\n  --vnodes N              check that it runs with N vnodes\n  --json\n  -h, --help`,
  replica: `usage: ringkv replica KEY [--all] [options]\n\nWhat the node's own copy of KEY holds, asking no other node: every version it stores (concurrent\nsiblings, tombstones, expired ones) and the key's replicas as its ring has them. With --all on\nevery node that is up, to see which replica lacks a write.\n\noptions:\n${nodeHelp}\n  --key-encoding ENC      utf8 (default) or base64: KEY is the base64 of a key that is not text\n  --json\n  --all                   on every node that --node's cluster status has up\n  -h, --help`,
  removenode: `usage: ringkv removenode NODE_ID [options]\n\nRemoves a node that is gone for good (DEAD) from every ring; run \`ringkv repair\` on the\nothers afterwards to restore the copies it held.\n\noptions:\n${nodeHelp}\n  --json\n  -h, --help`,
};

type Name = keyof typeof usage;
/** Positional arguments each command takes: [fewest, most]. */
const arity: Record<Name, [number, number]> = { status: [0, 0], repair: [0, 0], scrub: [0, 0], cleanup: [0, 0], flush: [0, 0], snapshot: [0, 1], decommission: [0, 0], addnode: [2, 2], removenode: [1, 1], replica: [1, 1] };

interface Args {
  node: string;
  json: boolean;
  timeoutMs: number;
  vnodes: number | undefined;
  /** Every member --node's cluster status lists as up, not --node alone. */
  all: boolean;
  /** scrub: take corrupt tables out even on a single node (ScrubOptions.salvage). */
  salvage: boolean;
  /** cleanup: ask again while the node refuses for now (503), within timeoutMs. */
  wait: boolean;
  /** replica: what the KEY argument is. */
  keyEncoding: KeyEncoding;
  positionals: string[];
}

/**
 * The commands --all applies to, and whether the nodes go all at once (a snapshot: as close in
 * time as can be; a flush) or one after another (a repair or a scrub reads a node's whole data;
 * the cluster serves meanwhile).
 */
const forAll: Partial<Record<Name, 'together' | 'in turn'>> = { repair: 'in turn', scrub: 'in turn', cleanup: 'in turn', flush: 'together', snapshot: 'together', replica: 'together' };

function parse(name: Name, argv: string[]): Args | null {
  const { values, positionals } = parseFlags({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      node: { type: 'string' },
      json: { type: 'boolean', default: false },
      'timeout-ms': { type: 'string' },
      vnodes: { type: 'string' },
      all: { type: 'boolean', default: false },
      salvage: { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      'key-encoding': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help === true) return null;
  if (positionals.length < arity[name][0] || positionals.length > arity[name][1]) throw usageError(`${usage[name].split('\n')[0]} (got ${positionals.length} argument(s))`);
  if (name === 'decommission' && values.node === undefined) throw usageError('decommission needs --node HOST:PORT, the node that leaves');
  if (values.vnodes !== undefined && name !== 'addnode') throw usageError('--vnodes applies to addnode only');
  if (values.salvage === true && name !== 'scrub') throw usageError('--salvage applies to scrub only');
  if (values.wait === true && name !== 'cleanup') throw usageError('--wait applies to cleanup only');
  if (values['key-encoding'] !== undefined && name !== 'replica') throw usageError('--key-encoding applies to replica only');
  const keyEncoding = parseKeyEncoding(values['key-encoding']);
  // A bad KEY is a usage error here, before any node is asked.
  if (name === 'replica' && positionals[0] !== undefined) keyArgument(positionals[0], keyEncoding);
  if (values.all === true && forAll[name] === undefined) throw usageError(`--all applies to ${Object.keys(forAll).join(', ')} only`);
  if (values['timeout-ms'] !== undefined && (name === 'status' || name === 'addnode' || name === 'removenode' || name === 'replica')) throw usageError(`--timeout-ms does not apply to ${name}`);
  return {
    node: values.node ?? process.env['RINGKV_NODE'] ?? `127.0.0.1:${httpPortDefault}`,
    json: values.json === true,
    timeoutMs: values['timeout-ms'] === undefined ? adminTimeoutMsDefault : parseIntOption('--timeout-ms', values['timeout-ms'], 1, 86_400_000),
    vnodes: values.vnodes === undefined ? undefined : parseIntOption('--vnodes', values.vnodes, 1, vnodesPerNodeMax),
    all: values.all === true,
    salvage: values.salvage === true,
    wait: values.wait === true,
    keyEncoding,
    positionals,
  };
}

/** Bytes for people: 512 B, 3.4 KiB, 1.2 GiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A clock offset for people: +3 ms, -250 ms, -3600.0 s. */
export function formatOffset(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const abs = Math.abs(ms);
  return abs < 10_000 ? `${sign}${Math.round(abs)} ms` : `${sign}${(abs / 1000).toFixed(1)} s`;
}

/** The table `ringkv status` prints. */
export function formatStatus(s: ClusterStatus): string {
  const members = ringMembersOf(s);
  const owns = members.length === 0 ? new Map<string, number>() : Ring.build(members, Math.max(0, s.ring_version)).effectiveOwnership(s.replication_factor);
  // A datacenter or zone column only where some node has one.
  const zoned = s.nodes.some((n) => n.zone !== undefined);
  const inDcs = s.nodes.some((n) => n.datacenter !== undefined);
  // A clock column once the answering node has measured a peer (a cluster node, after gossip).
  const clocked = s.nodes.some((n) => n.clock_offset_ms !== undefined);
  // A tombstone grace column only where nodes' graces differ: the shortest decides (docs/operations.md).
  const graced = new Set(s.nodes.map((n) => n.tombstone_grace_seconds).filter((g) => g !== undefined)).size > 1;
  // A ring column only while the nodes up hold different rings: a ring change (a join, a leave)
  // that gossip has not brought to every node yet. A dead node's last word is old by nature.
  const up = s.nodes.filter((n) => n.status !== 'dead' && n.status !== 'left');
  const split = new Set(up.map((n) => n.ring_digest).filter((d) => d !== undefined)).size > 1;
  const rows = [
    ['status', 'node', 'address', ...(inDcs ? ['datacenter'] : []), ...(zoned ? ['zone'] : []), 'load', 'data', 'tokens', 'owns (effective)', 'disk used', ...(clocked ? ['clock'] : []), ...(graced ? ['tombstone grace'] : []), ...(split ? ['ring'] : [])],
  ];
  for (const n of [...s.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const share = owns.get(n.id);
    rows.push([
      [n.status, ...(n.reason === undefined ? [] : [`(${n.reason})`]), ...(n.rebuilding === true ? [n.rebuild_ranges_left === undefined ? '(rebuilding)' : `(rebuilding, ${n.rebuild_ranges_left} ranges left)`] : []), ...(n.behind === true ? ['(behind)'] : [])].join(' '),
      n.id,
      n.address,
      ...(inDcs ? [n.datacenter ?? '-'] : []),
      ...(zoned ? [n.zone ?? '-'] : []),
      n.load.toFixed(2),
      n.data_bytes === undefined ? '-' : formatBytes(n.data_bytes),
      String(n.tokens.length),
      share === undefined ? '-' : `${(share * 100).toFixed(1)}%`,
      // Of the data dir's file system, as design.md §11's disk alert counts it.
      n.disk_size_bytes === undefined || n.disk_free_bytes === undefined || n.disk_size_bytes === 0 ? '-' : `${(100 * (1 - n.disk_free_bytes / n.disk_size_bytes)).toFixed(0)}%`,
      ...(clocked ? [n.clock_offset_ms === undefined ? '-' : formatOffset(n.clock_offset_ms)] : []),
      ...(graced ? [n.tombstone_grace_seconds === undefined ? '-' : spanText(n.tombstone_grace_seconds * 1000)] : []),
      ...(split ? [n.ring_digest ?? '-'] : []),
    ]);
  }
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  const head = [
    s.cluster_name === undefined ? 'single node' : `cluster ${s.cluster_name}`,
    s.ring_digest === undefined ? `ring version ${s.ring_version}` : `ring ${s.ring_digest} (version ${s.ring_version} on this node)`,
    `replication ${s.replication_factor}`,
    `about ${s.total_keys} keys`,
  ].join(', ');
  const lines = [head, ...rows.map((r) => r.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd())];
  if (split) lines.push('The nodes up hold different rings: a ring change has not reached every node yet (gossip takes a few rounds), or a node is cut off from the others.');
  return lines.join('\n');
}

function errorLine(name: Name, status: number, body: unknown): string {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const message = typeof b['message'] === 'string' ? b['message'] : JSON.stringify(body);
  return `ringkv ${name}: ${message} (${status === 0 ? 'no answer' : `HTTP ${status}${typeof b['error'] === 'string' ? ` ${b['error']}` : ''}`})\n`;
}

function repairLine(b: Record<string, unknown>): string {
  return `repair: ${b['synced']} of ${b['ranges']} ranges synced, ${b['skipped']} without a live replica, ${b['failed']} failed; ${b['pulled']} records pulled, ${b['pushed']} pushed in ${b['duration_ms']} ms`;
}

/** `ringkv replica`'s lines: the key's replicas, then one line per version the node stores (GET /api/v1/admin/replica/{key}). */
export function formatReplica(b: Record<string, unknown>): string {
  const replicas = Array.isArray(b['replicas']) ? (b['replicas'] as string[]) : [];
  const versions = Array.isArray(b['versions']) ? (b['versions'] as Array<Record<string, unknown>>) : [];
  const nowMs = Date.now();
  const lines = [
    `replica: ${versions.length === 0 ? 'no version' : versions.length === 1 ? '1 version' : `${versions.length} versions`} here; the key's replicas: ${replicas.join(', ')}` +
      (replicas.includes(String(b['node_id'])) ? '' : ` (${b['node_id']} is not one of them)`),
  ];
  for (const v of versions) {
    const at = new Date(Number(v['timestamp'])).toISOString();
    const what = v['tombstone'] === true ? 'tombstone' : formatBytes(Buffer.from(String(v['value']), 'base64').length);
    const expiry = typeof v['expires_at'] === 'number' ? `, ${v['expires_at'] <= nowMs ? 'expired' : 'expires'} ${new Date(v['expires_at']).toISOString()}` : '';
    lines.push(`  ${v['version']}  ${what}, written ${at}${expiry}`);
  }
  return lines.join('\n');
}

/** What people read from the endpoint's answer. */
function summary(name: Exclude<Name, 'status'>, b: Record<string, unknown>): string {
  switch (name) {
    case 'repair':
      return repairLine(b);
    case 'scrub': {
      const q = Array.isArray(b['quarantined']) ? (b['quarantined'] as Array<Record<string, unknown>>) : [];
      const c = Array.isArray(b['corrupt']) ? (b['corrupt'] as Array<Record<string, unknown>>) : [];
      const lines = [
        `scrub: ${b['tables']} tables, ${b['entries']} entries, ${b['bytes_read']} bytes read in ${b['duration_ms']} ms; ${q.length} quarantined` +
          `${c.length > 0 ? `, ${c.length} corrupt left in place` : ''}${b['cut_short'] === true ? '; cut short (the node is stopping)' : ''}`,
      ];
      for (const t of q) {
        const kept = typeof t['salvaged_entries'] === 'number' ? `, ${salvageNote({ salvagedEntries: t['salvaged_entries'], blocksLost: typeof t['blocks_lost'] === 'number' ? t['blocks_lost'] : null })}` : '';
        lines.push(`  quarantined: shard ${t['shard']}: ${t['file']} (level ${t['level']}, ${t['entries']} entries${kept}): ${t['reason']}`);
      }
      for (const t of c) lines.push(`  corrupt, the only copy: shard ${t['shard']}: ${t['file']} (level ${t['level']}, ${t['entries']} entries): ${t['reason']}`);
      if (typeof b['repair'] === 'object' && b['repair'] !== null) lines.push(`  then ${repairLine(b['repair'] as Record<string, unknown>)}`);
      return lines.join('\n');
    }
    case 'cleanup':
      return (
        `cleanup: ${b['ranges_kept']} ranges of ring version ${b['ring_version']} kept; ${b['tables']} tables, ${b['tables_rewritten']} rewritten, ${b['tables_removed']} removed, ` +
        `${b['entries_dropped']} entries dropped, ${b['bytes_before']} -> ${b['bytes_after']} bytes in ${b['duration_ms']} ms${b['cut_short'] === true ? '; cut short' : ''}`
      );
    case 'flush':
      return `flush: done in ${b['duration_ms']} ms`;
    case 'snapshot':
      return `snapshot: ${b['name']} at ${b['path']}: ${b['tables']} tables, ${b['bytes']} bytes, in ${b['duration_ms']} ms`;
    case 'decommission':
      return `decommission: ${b['status']}; ${b['records']} records of ${b['ranges']} ranges sent, ${b['hints_handed_over']} hints handed over, ${b['hints_left']} left, ${b['peers_told']} peers told, in ${b['duration_ms']} ms`;
    case 'addnode':
      return `addnode: ${b['node_id']} at ${b['address']} is ${b['status']} with ${b['num_vnodes']} vnodes; ring version ${b['ring_version']}`;
    case 'removenode':
      return `removenode: ${b['node_id']} is ${b['status']} (was ${b['previous_status']}); ring version ${b['ring_version']}`;
    case 'replica':
      return formatReplica(b);
  }
}

/** The endpoint behind each command (docs/http-api.md). */
function callEndpoint(name: Exclude<Name, 'status'>, a: Args): Promise<JsonAnswer> {
  const [first, second] = a.positionals;
  const long = { timeoutMs: a.timeoutMs, bytesMax: answerBytesMax };
  const short = { timeoutMs: statusTimeoutMs, bytesMax: answerBytesMax };
  switch (name) {
    case 'repair':
    case 'cleanup':
    case 'flush':
    case 'decommission':
      return requestJson(a.node, 'POST', `/api/v1/admin/${name}`, long);
    case 'scrub':
      return requestJson(a.node, 'POST', '/api/v1/admin/scrub', { ...long, ...(a.salvage && { body: JSON.stringify({ salvage: true }) }) });
    case 'snapshot':
      return requestJson(a.node, 'POST', '/api/v1/admin/snapshot', { ...long, ...(first !== undefined && { body: JSON.stringify({ name: first }) }) });
    case 'addnode':
      return requestJson(a.node, 'POST', '/api/v1/cluster/nodes', { ...short, body: JSON.stringify({ node_id: first, address: second, ...(a.vnodes !== undefined && { num_vnodes: a.vnodes }) }) });
    case 'removenode':
      return requestJson(a.node, 'DELETE', `/api/v1/cluster/nodes/${encodeURIComponent(first!)}`, short);
    case 'replica':
      return requestJson(a.node, 'GET', `/api/v1/admin/replica/${keyPathSegment(keyArgument(first!, a.keyEncoding))}`, short);
  }
}

/**
 * callEndpoint, and with --wait again every cleanupRetryMs while the node answers 503 (it refuses
 * for now: the reasons pass by themselves), until a.timeoutMs is spent; each new reason is printed.
 */
async function callWaiting(name: Exclude<Name, 'status'>, a: Args, prefix: string): Promise<JsonAnswer> {
  const deadlineMs = Date.now() + a.timeoutMs;
  let said = '';
  for (;;) {
    const answer = await callEndpoint(name, { ...a, timeoutMs: Math.max(1, deadlineMs - Date.now()) });
    if (!a.wait || answer.status !== 503 || Date.now() + cleanupRetryMs >= deadlineMs) return answer;
    const line = errorLine(name, answer.status, answer.body);
    // Said once per reason: "the ring changed 812 ms ago" and "... 2815 ms ago" are one.
    const reason = line.replace(/\d+/g, 'N');
    if (reason !== said) process.stderr.write(`${prefix}${line.trimEnd()}; asking again every ${cleanupRetryMs / 1000} s (--wait)\n`);
    said = reason;
    await new Promise<void>((r) => setTimeout(r, cleanupRetryMs));
  }
}

/** Runs the command on a.node; prints its outcome (each line after `prefix`) and gives the exit code. */
async function runOn(name: Exclude<Name, 'status'>, a: Args, prefix: string): Promise<number> {
  const answer = await callWaiting(name, a, prefix).catch((err: unknown) => {
    if (prefix === '') throw err; // one node: main() reports it
    return { status: 0, body: { message: err instanceof Error ? err.message : String(err) } };
  });
  if (answer.status !== 200) {
    process.stderr.write(`${prefix}${errorLine(name, answer.status, answer.body)}`);
    return 1;
  }
  const b = (answer.body ?? {}) as Record<string, unknown>;
  const text = a.json ? JSON.stringify(prefix === '' ? b : { node: prefix.slice(0, -2), ...b }) : summary(name, b);
  process.stdout.write(`${text.split('\n').map((l) => `${a.json ? '' : prefix}${l}`).join('\n')}\n`);
  if (name === 'repair') return typeof b['failed'] === 'number' && b['failed'] > 0 ? 1 : 0;
  if (name === 'cleanup') return b['cut_short'] === true ? 1 : 0;
  if (name === 'scrub') return (Array.isArray(b['quarantined']) && b['quarantined'].length > 0) || (Array.isArray(b['corrupt']) && b['corrupt'].length > 0) || b['cut_short'] === true ? 1 : 0;
  return 0;
}

function adminCommand(name: Name, summaryLine: string): CliCommand {
  return {
    summary: summaryLine,
    async run(argv: string[]): Promise<number> {
      const a = parse(name, argv);
      if (a === null) {
        process.stdout.write(`${usage[name]}\n`);
        return 0;
      }
      if (name === 'status') {
        const s = await fetchClusterStatus(a.node, statusTimeoutMs);
        process.stdout.write(`${a.json ? JSON.stringify(s) : formatStatus(s)}\n`);
        return 0;
      }
      if (!a.all) return runOn(name, a, '');
      // Every member that --node's view has up; one that is down is reported (and exits 1), not
      // passed over in silence. Nodes that left are no members.
      const s = await fetchClusterStatus(a.node, statusTimeoutMs);
      const members = s.nodes.filter((n) => n.status !== 'left');
      const up = members.filter((n) => n.status === 'healthy' || n.status === 'degraded');
      for (const n of members) if (!up.includes(n)) process.stderr.write(`ringkv ${name}: ${n.id} at ${n.address} is ${n.status}: left out\n`);
      const codes: number[] = [];
      if (forAll[name] === 'together') codes.push(...(await Promise.all(up.map((n) => runOn(name, { ...a, node: n.address }, `${n.id}: `)))));
      else for (const n of up) codes.push(await runOn(name, { ...a, node: n.address }, `${n.id}: `));
      return up.length === members.length && codes.every((c) => c === 0) ? 0 : 1;
    },
  };
}

export const statusCommand = adminCommand('status', 'show the cluster as a node sees it (like nodetool status)');
export const repairCommand = adminCommand('repair', 'sync every range a node replicates with another replica');
export const scrubCommand = adminCommand('scrub', 'check every table of a node end to end; quarantine corrupt ones');
export const cleanupCommand = adminCommand('cleanup', 'drop the keys a node no longer replicates from its tables (like nodetool cleanup)');
export const snapshotCommand = adminCommand('snapshot', 'link a node\'s tables into a snapshot (a data dir of its own)');
export const flushCommand = adminCommand('flush', 'write a node\'s memtables to tables now');
export const decommissionCommand = adminCommand('decommission', 'hand a node\'s data over and take it out of the ring');
export const addnodeCommand = adminCommand('addnode', 'take a running node into the cluster by address');
export const removenodeCommand = adminCommand('removenode', 'remove a dead node from the ring for good');
export const replicaCommand = adminCommand('replica', 'show what a node\'s own copy of a key holds, every version');
