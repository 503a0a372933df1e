// Single-node benchmark: one ringkv node against Redis on the same machine, in one run.
//   Redis (Debian redis-server, AOF on, appendfsync everysec, data in a temp dir): redis-benchmark
//     -d 1024 SET and GET, 50 clients, not pipelined and with -P 32 (for reference).
//   ringkv (`ringkv start`, default shards), once with --sync-mode batch (the default: group
//     commit, a write is acknowledged after its fdatasync) and once with --sync-mode none (WAL
//     written, not synced: the durability class of Redis everysec): PUT and GET of 1 KiB values
//     over HTTP (wrk, 50 connections) and over the binary WebSocket protocol (bench/ws.bench.ts)
//     with 1 and with 32 ops per frame, 512 ops in flight either way.
//   An in-flight check: WS batch-32 PUT and GET on the batch node with 2x and 4x the frames in
//     flight per socket, and Redis not pipelined with 4x the clients, so the table shows whether
//     512 ops in flight (and 50 Redis clients) reach each system's peak. The bars are judged on the
//     standard rows, as in every run before the check was added.
//   Then, on the batch node, open loop at 80% of its own measured peak for WS batch-32 and batch-1
//     PUT and GET (latency from each frame's scheduled send time): the bar is p99 < 10 ms. And a
//     sweep of WS batch-32 PUT and GET at 20%, 40% and 60% of that peak, which says up to what
//     share of the peak p99 stays under the bar. Then WS batch-32 PUT at those same rates on the
//     --sync-mode none node: the difference is what waiting for the disk's fdatasync costs.
// Every row runs once per round, rounds interleaved so that drift on the shared box hits all rows
// alike; tables give medians. Each row reports the load generator's CPU (so a saturated client is
// visible) and the ringkv node's CPU, main thread apart from its other threads (shard workers,
// libuv pool, GC). One WS batch-1 GET row is repeated from 2 load processes: if that does not raise
// throughput, the generator was not the limit. Run it under the team's lock:
//   flock /tmp/ringkv-heavy.lock npm run bench:node -- [--write] [--rounds 3] [--seconds 3] [--warmup 3] [--damon-off]
// --write replaces the section between <!-- node-bench:start --> and <!-- node-bench:end --> in
// BENCHMARKS.md (with --damon-off, which stops the kernel's DAMON monitors for the run as root,
// harness.ts stopDamonFor: the node-bench-damon-off section). --profile DIR instead runs only WS
// batch-1 PUT and GET against a node started with `node --cpu-prof` and prints where each
// thread's time went (bench/cpuprofile.ts).
import path from 'node:path';
import { profileReport } from './cpuprofile';
import {
  damonOffNote,
  emitSection,
  fmtShare,
  largestShareUnderBar,
  median,
  medianMeasured,
  openLoadShare,
  openLoopTable,
  openP99Ms,
  openRow,
  ops,
  p99BarMs,
  parseBenchArgs,
  rowsTable,
  runMain,
  RowSet,
  sectionHead,
  sectionTail,
  sweepShares,
  type BenchArgs,
  type Column,
  type Op,
  type OpenRow,
} from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, fmtMs, startNodeProcess, stopDamonFor, withServerCpu, type NodeProcess } from './harness';
import { runHttpLoad } from './http.bench';
import { startRedis } from './latency/processes';
import { measureRedis, measureRedisClients, redisClients, redisLoadNote, redisVersion } from './redis';
import { measureWs, openLoopRounds, preload, type WsLoadOptions } from './ws.bench';

const httpConnections = 50;
/** 512 ops in flight for every WebSocket row, whatever the frame size. */
const wsShapes: Record<1 | 32, { connections: number; depth: number }> = { 1: { connections: 32, depth: 16 }, 32: { connections: 4, depth: 4 } };
/** The in-flight check: WS 32 ops/frame with this many times the standard frames per socket, Redis with this many times the clients. */
const inFlightScales = [2, 4] as const;
const redisClientsScaled = 200;

type SyncMode = 'batch' | 'none';

/** Short labels for the table; durabilityNote says what each means. */
const durability: Record<'redis' | SyncMode, string> = {
  redis: 'AOF, fsync every second',
  batch: 'WAL, fdatasync before ack',
  none: 'WAL, no fsync',
};

const durabilityNote =
  'Durability: Redis with `appendonly yes`, `appendfsync everysec` acknowledges a write once it is in the AOF (page cache) and fsyncs once a second, so a power failure or OS crash can lose about the last second of acknowledged writes; ' +
  'ringkv `--sync-mode batch` (the default) acknowledges a write only after the fdatasync of its group commit, so nothing acknowledged is lost; ' +
  '`--sync-mode none` acknowledges after the WAL write() (page cache, never synced by ringkv): the same class as Redis everysec (survives a process crash, not a power failure).';

interface Node extends NodeProcess {
  mode: SyncMode;
}

/** Starts a node owned by `run` and writes every key once. */
async function startNode(mode: SyncMode, run: BenchRun, nodeArgs: string[] = []): Promise<Node> {
  const node = { ...(await startNodeProcess(run, `ringkv-${mode}`, ['--sync-mode', mode], { nodeArgs })), mode };
  await preload(node.ws, benchKeySpace, benchValueBytes, 'QUORUM');
  return node;
}

function wsOptions(node: Node, op: Op, batch: 1 | 32, a: BenchArgs): WsLoadOptions {
  return {
    urls: [node.ws],
    op: op === 'PUT' ? 'put' : 'get',
    batch,
    valueBytes: benchValueBytes,
    keySpace: benchKeySpace,
    consistency: 'QUORUM',
    ...wsShapes[batch],
    seconds: a.seconds,
    warmupSeconds: a.warmupSeconds,
  };
}

/** One round of every ringkv row of one node. Keys: <mode>-http-<op>, <mode>-ws<batch>-<op>, batch-ws1-GET-2procs. */
async function measureNode(rows: RowSet, node: Node, a: BenchArgs, commands: Set<string>, log: (s: string) => void): Promise<void> {
  const pids = [node.child.pid];
  const cells = (protocol: string, op: Op, concurrency: string): string[] => [`ringkv --sync-mode ${node.mode}`, durability[node.mode], protocol, op, 'QUORUM', concurrency];
  for (const op of ops) {
    const m = await withServerCpu(pids, () => runHttpLoad({ url: node.http, op: op === 'PUT' ? 'put' : 'get', connections: httpConnections, seconds: a.seconds, valueBytes: benchValueBytes, keySpace: benchKeySpace }));
    rows.add(`${node.mode}-http-${op}`, cells('HTTP/1.1 (wrk, 1 thread)', op, `${httpConnections} connections`), m.value, m.cpu);
    commands.add(m.value.command.replace(node.http, 'http://127.0.0.1:PORT'));
    log(`  ${node.mode}-http-${op}: ${fmtInt(m.value.opsPerSecond)} ops/s, client CPU ${m.value.clientCpu}, server CPU ${m.cpu}`);
  }
  for (const batch of [1, 32] as const) {
    const s = wsShapes[batch];
    for (const op of ops) {
      const protocol = `WebSocket, ${batch} op${batch > 1 ? 's' : ''}/frame`;
      const concurrency = `${s.connections} sockets × ${s.depth} frames${batch > 1 ? ` × ${batch} ops` : ''}`;
      await measureWs(rows, `${node.mode}-ws${batch}-${op}`, cells(protocol, op, concurrency), pids, wsOptions(node, op, batch, a), 1, log);
    }
  }
  if (node.mode === 'batch') {
    // The generator check: the same load from 2 processes, each with half the sockets.
    const s = wsShapes[1];
    const concurrency = `2 × ${s.connections / 2} sockets × ${s.depth} frames`;
    await measureWs(rows, 'batch-ws1-GET-2procs', cells('WebSocket, 1 op/frame, 2 load processes', 'GET', concurrency), pids, { ...wsOptions(node, 'GET', 1, a), connections: s.connections / 2 }, 2, log);
    for (const scale of inFlightScales) {
      const depth = wsShapes[32].depth * scale;
      for (const op of ops) {
        const shape = `${wsShapes[32].connections} sockets × ${depth} frames × 32 ops`;
        await measureWs(rows, `batch-ws32-${op}-x${scale}`, cells('WebSocket, 32 ops/frame, in-flight check', op, shape), pids, { ...wsOptions(node, op, 32, a), depth }, 1, log);
      }
    }
  }
}

/** "- In-flight check ...": the standard rows beside the ones with more in flight, per op. */
function inFlightVerdict(rows: RowSet): string {
  const opsInFlight = (scale: number): string => fmtInt(wsShapes[32].connections * wsShapes[32].depth * scale * 32);
  const parts = ops.map((op) => {
    const ws = [rows.medianOps(`batch-ws32-${op}`), ...inFlightScales.map((k) => rows.medianOps(`batch-ws32-${op}-x${k}`))];
    const redis = [rows.medianOps(`redis-p1-${op}`), rows.medianOps(`redis-p1-c${redisClientsScaled}-${op}`)];
    return (
      `${op}: ringkv ${ws.map(fmtInt).join(' / ')} ops/s with ${[1, ...inFlightScales].map(opsInFlight).join(' / ')} ops in flight, ` +
      `Redis ${redis.map(fmtInt).join(' / ')} ops/s with ${[redisClients, redisClientsScaled].join(' / ')} clients; highest against highest ${(Math.max(...ws) / Math.max(...redis)).toFixed(2)}x`
    );
  });
  return `- In-flight check (closed loop, --sync-mode batch, WS 32 ops/frame; Redis not pipelined), medians: ${parts.join('; ')}. Bar 1 above is judged on the standard rows (${opsInFlight(1)} ops in flight, ${redisClients} clients), as in every run before this check.`;
}

/** Per op, the largest share of the peak whose median p99 was under the bar, from the sweep and the 80% row. */
function sweepVerdict(sweep: OpenRow[], open: OpenRow[]): string {
  const parts = ops.map((op) => largestShareUnderBar(`${op} 32/frame`, [...sweep, ...open].filter((o) => o.cells[0] === op && o.cells[1] === '32')));
  return `- Largest share of the closed-loop peak measured with median p99 < ${p99BarMs} ms: ${parts.join('; ')}.`;
}

/** "- PUT 32/frame p99 with / without the fdatasync, same rates: 20% 21.9 / 9.5 ms, ..." */
function syncCostVerdict(synced: OpenRow[], unsynced: OpenRow[]): string {
  const matched = unsynced.map((u) => ({ u, s: synced.find((o) => o.cells[0] === 'PUT' && o.cells[1] === '32' && o.share === u.share) }));
  const pairs = matched.map(({ u, s }) => `${fmtShare(u.share)} ${s === undefined ? '?' : fmtMs(openP99Ms(s))} / ${fmtMs(openP99Ms(u))} ms`);
  // What one sync cost while those rows ran (the node's own histogram): a write waits for the sync
  // under way when it arrives and then for its own, so a sync p99 near the bar rules the bar out.
  const syncs = matched.map(({ u, s }) => {
    const ms = s === undefined ? NaN : medianMeasured(s.walSyncP99Ms);
    return `${fmtShare(u.share)} ${Number.isNaN(ms) ? '?' : fmtMs(ms)} ms`;
  });
  return (
    `- WS 32 ops/frame PUT median p99 with / without waiting for the fdatasync, same target rates: ${pairs.join(', ')}. ` +
    `The WAL fdatasync's own p99 during the synced rows (ringkv_wal_sync_duration_seconds, estimated within its bucket): ${syncs.join(', ')}.`
  );
}

function verdicts(rows: RowSet, open: OpenRow[]): string[] {
  const out: string[] = [];
  let met = true;
  for (const op of ops) {
    const redis = rows.medianOps(`redis-p1-${op}`);
    for (const mode of ['batch', 'none'] as const) {
      const ws = rows.medianOps(`${mode}-ws32-${op}`);
      if (mode === 'batch') met &&= ws >= redis;
      out.push(`- WS 32 ops/frame ${op}, --sync-mode ${mode}: ${fmtInt(ws)} ops/s vs Redis ${op === 'PUT' ? 'SET' : 'GET'} not pipelined ${fmtInt(redis)} ops/s = ${(ws / redis).toFixed(2)}x${ws >= redis ? '' : ' (below)'}.`);
    }
  }
  const openMet = open.every((o) => openP99Ms(o) < p99BarMs);
  return [
    `**Bar 1, WS batched throughput >= Redis non-pipelined throughput (default --sync-mode batch, medians, PUT and GET): ${met ? 'MET' : 'NOT MET'}.**`,
    ...out,
    `**Bar 2, p99 < ${p99BarMs} ms at ${Math.round(openLoadShare * 100)}% of ringkv's own peak (open loop, WS 32 and 1 ops/frame, PUT and GET, median p99 over the rounds): ${openMet ? 'MET' : 'NOT MET'}** (${open.map((o) => `${o.cells[0]} ${o.cells[1]}/frame ${fmtMs(openP99Ms(o))} ms`).join(', ')}).`,
  ];
}

async function runProfile(a: BenchArgs, dir: string, log: (s: string) => void): Promise<void> {
  const run = new BenchRun('ringkv-node-profile-');
  const rows = new RowSet();
  try {
    const node = await startNode('batch', run, ['--cpu-prof', '--cpu-prof-dir', path.resolve(dir)]);
    for (const op of ops) await measureWs(rows, `profiled ws1-${op}`, [], [node.child.pid], wsOptions(node, op, 1, a), 1, log);
  } finally {
    await run.close();
  }
  process.stdout.write(`${profileReport(dir, 15)}\n`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const a = parseBenchArgs(argv, true);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  if (a.profile !== null) return runProfile(a, a.profile, log);
  const version = redisVersion();
  const run = new BenchRun('ringkv-node-bench-');
  if (a.damonOff) stopDamonFor(run);
  const rows = new RowSet();
  const open: OpenRow[] = [];
  const sweep: OpenRow[] = [];
  const unsynced: OpenRow[] = [];
  const commands = new Set<string>();
  let shards = '?';
  try {
    const redis = run.own(await startRedis('everysec'));
    const nodes: Node[] = [];
    for (const mode of ['batch', 'none'] as const) {
      const n = await startNode(mode, run);
      nodes.push(n);
      shards = n.shards;
    }
    for (let round = 1; round <= a.rounds; round++) {
      log(`round ${round} of ${a.rounds}`);
      await measureRedis(rows, redis.port, false, `Redis ${version}`, durability.redis, commands, log);
      await measureRedisClients(rows, redis.port, redisClientsScaled, `Redis ${version}`, durability.redis, commands, log);
      for (const n of nodes) await measureNode(rows, n, a, commands, log);
    }
    for (const batch of [32, 1] as const) {
      for (const op of ops) {
        const peak = rows.medianOps(`batch-ws${batch}-${op}`);
        open.push(openRow([op, String(batch)], peak, openLoadShare));
        if (batch === 32) for (const share of sweepShares) sweep.push(openRow([op, String(batch)], peak, share));
        if (batch === 32 && op === 'PUT') for (const share of [...sweepShares, openLoadShare]) unsynced.push(openRow([op, String(batch), 'none'], peak, share));
      }
    }
    const openOptions = (o: OpenRow): WsLoadOptions => wsOptions(nodes[0]!, o.cells[0] as Op, Number(o.cells[1]) as 1 | 32, a);
    await openLoopRounds(open, openOptions, [nodes[0]!.child.pid], a.rounds, log, [nodes[0]!.http]);
    await openLoopRounds(sweep, openOptions, [nodes[0]!.child.pid], a.rounds, log, [nodes[0]!.http]);
    await openLoopRounds(unsynced, () => wsOptions(nodes[1]!, 'PUT', 32, a), [nodes[1]!.child.pid], a.rounds, log);
  } finally {
    await run.close();
  }
  const all = rows.all();
  const vsRedis: Column = {
    title: 'vs Redis not pipelined',
    right: true,
    cell: (r) => `${(median(r.runs.map((m) => m.opsPerSecond)) / rows.medianOps(`redis-p1-${r.cells[3] === 'GET' ? 'GET' : 'PUT'}`)).toFixed(2)}x`,
  };
  const section = [
    ...sectionHead(`Single node vs Redis${a.damonOff ? ', DAMON stopped' : ''} (bench/node.bench.ts)`, 'bench:node', 'dist/bench/node.bench.js', argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    durabilityNote,
    '',
    `Everything on 127.0.0.1, data in temp dirs on one disk, all processes sharing the machine's cores. ${a.rounds} rounds, interleaved (every row once per round); each ringkv row starts once the node is quiet (under 10% of a core for 250 ms, bench/harness.ts waitQuiet: not the previous row's flushes and compactions), then runs ${a.warmupSeconds} s of warm-up and ${a.seconds} s measured.`,
    `Redis: ${redisLoadNote}; the in-flight check's Redis rows the same with ${redisClientsScaled} clients. ringkv: one node per sync mode, ${shards} shard threads (the default: one per core but one), consistency QUORUM (= the one replica), ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written before the first GET;`,
    `HTTP rows: wrk, one thread, ${httpConnections} keep-alive connections, latency from send to answer; WebSocket rows: bench/ws.bench.ts, ${wsShapes[32].connections * wsShapes[32].depth * 32} ops in flight (the in-flight check's rows: ${inFlightScales.map((k) => fmtInt(wsShapes[32].connections * wsShapes[32].depth * k * 32)).join(' and ')}), one load process unless the row says 2, latency per frame (every op of a frame shares it) from send to answer.`,
    'Load generator CPU is % of one core over the run; ringkv CPU is % of one core used by the node\'s main thread (uWebSockets.js, protocol, coordinator) and by all its other threads (shard workers, libuv pool, GC helpers), from /proc. "Waiting for a core" is how long those threads were runnable but not running (the kernel\'s run queue, /proc/PID/task/TID/schedstat), in % of the run\'s wall time: a request waits while the thread that must move it waits.',
    '',
    rowsTable(all, [vsRedis], 'ringkv CPU (main + other threads)'),
    '',
    `Open loop on the --sync-mode batch node: frames due at a fixed rate (${Math.round(openLoadShare * 100)}% of that row's median closed-loop peak), latency from each frame's scheduled send time (no coordinated omission), ${a.warmupSeconds} s warm-up + ${a.seconds} s per round, the closed-loop row's sockets; "achieved" counts ops answered inside the measured window; "WAL sync p99" is the p99 of the node's WAL syncs (fdatasync) during the row, warm-up included, from its /metrics histogram (ringkv_wal_sync_duration_seconds, linear within a bucket: 5-10 ms, 10-25 ms, ...; "-" where the row made none); "GC pause p99" is the p99 of V8's garbage-collection pauses on the node's main thread and on its shard threads during the row, from ringkv_gc_duration_seconds the same way (each pause stops that thread's requests).`,
    '',
    openLoopTable(['op', 'ops/frame'], open),
    '',
    `Load sweep, the same way at lower shares of the same peaks (WS 32 ops/frame, ${a.rounds} rounds, after the rows above):`,
    '',
    openLoopTable(['op', 'ops/frame'], sweep),
    '',
    `The cost of the fdatasync: WS 32 ops/frame PUT at the same target rates (shares of the --sync-mode batch node's PUT peak) on the --sync-mode none node, ${a.rounds} rounds, after the rows above:`,
    '',
    openLoopTable(['op', 'ops/frame', 'sync mode'], unsynced),
    '',
    ...verdicts(rows, open),
    sweepVerdict(sweep, open),
    inFlightVerdict(rows),
    syncCostVerdict([...sweep, ...open], unsynced),
    `- Generator check: WS 1 op/frame GET from 2 load processes ${fmtInt(rows.medianOps('batch-ws1-GET-2procs'))} ops/s against ${fmtInt(rows.medianOps('batch-ws1-GET'))} ops/s from one; if two are not faster, one process was not the limit. Closed-loop errors: ${rows.errors()}.`,
    ...sectionTail(rows.all(), [
      ...commands,
      ...([32, 1] as const).map((b) => `node dist/bench/ws.bench.js --url ws://127.0.0.1:PORT/api/v1/ws --op put|get --consistency QUORUM --batch ${b} --connections ${wsShapes[b].connections} --depth ${wsShapes[b].depth} --seconds ${a.seconds} [--rate FRAMES_PER_S]`),
    ]),
  ].join('\n');
  emitSection(section, a.damonOff ? 'node-bench-damon-off' : 'node-bench', a.write);
}

if (require.main === module) runMain('node bench', main);
