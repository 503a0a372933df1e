// Cluster benchmark: a local 3-node ringkv cluster (N = 3, started with `ringkv cluster`) beside
// one ringkv node and beside a 3-master Redis Cluster, all on 127.0.0.1 in one run.
//   ringkv cluster: PUT and GET of 1 KiB values at ONE, QUORUM and ALL over the binary WebSocket
//     protocol (bench/ws.bench.ts), 32 ops per frame, sockets spread evenly over the 3 nodes
//     (with N = 3 every node holds every key, so whichever node a socket reaches coordinates);
//   one ringkv node (`ringkv start`, N = 1): the same load at QUORUM;
//   Redis Cluster, 3 masters and no replicas (`redis-cli --cluster create`), AOF everysec:
//     `redis-benchmark --cluster` SET and GET, 50 clients, not pipelined and -P 32;
//   then open loop at 80% of the cluster's own QUORUM peak, PUT and GET, latency from each frame's
//     scheduled send time (no coordinated omission): the bar is p99 < 10 ms; and the same at 20%,
//     40% and 60% of that peak, which says up to what share of the peak p99 stays under the bar.
// All servers use free ports and temp dirs (removed after); every child is stopped on success,
// error or Ctrl-C. Rounds are interleaved; tables give medians. Run it under the team's lock:
//   flock /tmp/ringkv-heavy.lock npm run bench:cluster -- [--write] [--rounds 3] [--seconds 3] [--damon-off]
// --write replaces the section between <!-- cluster-bench:start --> and <!-- cluster-bench:end -->
// in BENCHMARKS.md (with --damon-off, which stops the kernel's DAMON monitors for the run as root,
// harness.ts stopDamonFor: the cluster-bench-damon-off section).
import path from 'node:path';
import { peerPortOffset } from '../src/constants';
import type { ConsistencyLevel } from '../src/coordinator/types';
import {
  damonOffNote,
  emitSection,
  largestShareUnderBar,
  openLoadShare,
  openLoopTable,
  openRow,
  openP99Ms,
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
  type Op,
  type OpenRow,
} from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, fmtMs, freeBasePort, startClusterProcess, startNodeProcess, stopDamonFor } from './harness';
import { measureRedis, redisLoadNote, redisVersion, startRedisCluster } from './redis';
import { measureWs, openLoopRounds, preload, type WsLoadOptions } from './ws.bench';

export const nodesN = 3;
export const shardsPerNode = 1;
export const batch = 32;
/** 2 sockets per node x 3 frames x 32 ops = 576 ops in flight. */
export const socketsPerNode = 2;
export const depth = 3;
const levels: ConsistencyLevel[] = ['ONE', 'QUORUM', 'ALL'];
const redisPersistence = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''];
const clusterName = `ringkv, ${nodesN} nodes (N=3)`;
const singleName = 'ringkv, 1 node (N=1)';


/** The servers ringkv load goes to, and the processes whose CPU is ringkv's. */
export interface RingkvTarget {
  name: string;
  urls: string[];
  /** The nodes' HTTP addresses (their /metrics). */
  http: string[];
  pids: number[];
}

/** A started `ringkv cluster`: node i listens on basePort + i, its data in dataDir/node-i. */
export interface StartedCluster extends RingkvTarget {
  basePort: number;
  dataDir: string;
}

/**
 * Starts `ringkv cluster`, owned by `run`, in its own process group; waits for convergence and
 * the nodes' pids. `spareNodes` more port pairs after the cluster's are free too (for nodes that
 * join later). `shards`: shard threads per node (null: the launcher's default).
 */
export async function startCluster(run: BenchRun, spareNodes = 0, shards: number | null = shardsPerNode): Promise<StartedCluster> {
  const base = await freeBasePort(Array.from({ length: nodesN + spareNodes }, (_, i) => [i, i + peerPortOffset]).flat());
  const dataDir = path.join(run.dir, 'cluster');
  const { pids } = await startClusterProcess(run, { nodes: nodesN, basePort: base, dataDir, args: [...(shards === null ? [] : ['--shards', String(shards)]), '--sync-mode', 'batch'] });
  const ports = Array.from({ length: nodesN }, (_, i) => base + i);
  return { name: clusterName, urls: ports.map((p) => `ws://127.0.0.1:${p}/api/v1/ws`), http: ports.map((p) => `http://127.0.0.1:${p}`), pids, basePort: base, dataDir };
}

async function startSingle(run: BenchRun): Promise<RingkvTarget> {
  const n = await startNodeProcess(run, 'single', ['--sync-mode', 'batch']);
  return { name: singleName, urls: [n.ws], http: [n.http], pids: [n.child.pid] };
}

export function wsOptions(t: RingkvTarget, op: Op, level: ConsistencyLevel, a: BenchArgs): WsLoadOptions {
  return {
    urls: t.urls,
    op: op === 'PUT' ? 'put' : 'get',
    batch,
    valueBytes: benchValueBytes,
    keySpace: benchKeySpace,
    consistency: level,
    connections: socketsPerNode * nodesN,
    depth,
    seconds: a.seconds,
    warmupSeconds: a.warmupSeconds,
  };
}

/** One round of `t` at each level. Keys: <name>-<level>-<op>. */
async function measureRingkv(rows: RowSet, t: RingkvTarget, lv: ConsistencyLevel[], a: BenchArgs, log: (s: string) => void): Promise<void> {
  const concurrency = `${socketsPerNode * nodesN} sockets × ${depth} frames × ${batch} ops`;
  for (const level of lv) {
    for (const op of ops) {
      const cells = [t.name, 'WAL, fdatasync before ack', `WebSocket, ${batch} ops/frame`, op, level, concurrency];
      await measureWs(rows, `${t.name}-${level}-${op}`, cells, t.pids, wsOptions(t, op, level, a), 1, log);
    }
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const a = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const version = redisVersion();
  const run = new BenchRun('ringkv-cluster-bench-');
  if (a.damonOff) stopDamonFor(run);
  const rows = new RowSet();
  const commands = new Set<string>();
  const open: OpenRow[] = [];
  const sweep: OpenRow[] = [];
  try {
    const single = await startSingle(run);
    const cluster = await startCluster(run);
    const redis = run.own(await startRedisCluster(nodesN, run.dir, redisPersistence));
    // ALL, so that every replica holds every key before the first GET.
    await preload(cluster.urls[0]!, benchKeySpace, benchValueBytes, 'ALL');
    await preload(single.urls[0]!, benchKeySpace, benchValueBytes, 'QUORUM');
    for (let round = 1; round <= a.rounds; round++) {
      log(`round ${round} of ${a.rounds}`);
      await measureRingkv(rows, cluster, levels, a, log);
      await measureRingkv(rows, single, ['QUORUM'], a, log);
      await measureRedis(rows, redis.port, true, `Redis ${version} Cluster, ${nodesN} masters, no replicas`, 'AOF, fsync every second', commands, log);
    }
    for (const op of ops) {
      const peak = rows.medianOps(`${clusterName}-QUORUM-${op}`);
      open.push(openRow([op], peak, openLoadShare));
      for (const share of sweepShares) sweep.push(openRow([op], peak, share));
    }
    const openOptions = (o: OpenRow): WsLoadOptions => wsOptions(cluster, o.cells[0] as Op, 'QUORUM', a);
    // Every node's WAL syncs together: a QUORUM write waits for two of the three replicas' syncs.
    await openLoopRounds(open, openOptions, cluster.pids, a.rounds, log, cluster.http);
    await openLoopRounds(sweep, openOptions, cluster.pids, a.rounds, log, cluster.http);
  } finally {
    await run.close();
  }

  const openMet = open.every((o) => openP99Ms(o) < p99BarMs);
  const ratio = (x: string, y: string): string => `${(rows.medianOps(x) / rows.medianOps(y)).toFixed(2)}x`;
  const section = [
    ...sectionHead(`${nodesN}-node cluster vs 1 node vs Redis Cluster${a.damonOff ? ', DAMON stopped' : ''} (bench/cluster.bench.ts)`, 'bench:cluster', 'dist/bench/cluster.bench.js', argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `All servers share the machine's cores with each other and with the load generators, on 127.0.0.1, data in temp dirs on one disk. ${a.rounds} rounds, interleaved; ringkv rows start once the nodes are quiet (under 10% of a core each for 250 ms, bench/harness.ts waitQuiet: not the previous row's flushes, compactions and replication backlog), then run ${a.warmupSeconds} s warm-up + ${a.seconds} s measured; tables give medians.`,
    `ringkv cluster: \`ringkv cluster --nodes ${nodesN} --shards ${shardsPerNode} --sync-mode batch\` (N = 3, defaults otherwise: read-repair chance 0.1), so every write is stored ${nodesN} times whatever the level, which only sets how many acks the coordinator waits for (and how many replicas a GET asks).`,
    `One node: \`ringkv start --sync-mode batch\` (default shards, one per core). Both acknowledge a write after its WAL fdatasync (group commit). ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written (at ALL) before the first GET.`,
    `ringkv load: bench/ws.bench.ts, one process, ${socketsPerNode * nodesN} sockets (${socketsPerNode} per cluster node, all ${socketsPerNode * nodesN} to the single node) × ${depth} frames × ${batch} ops = ${socketsPerNode * nodesN * depth * batch} ops in flight; latency per frame from send to answer.`,
    `Redis Cluster: ${nodesN} redis-server masters, no replicas (nothing is replicated), \`appendonly yes\`, \`appendfsync everysec\` (acknowledged before fsync); ${redisLoadNote}, with --cluster.`,
    'Load generator CPU is % of one core; ringkv CPU is summed over its node processes, main threads apart from their other threads (shard workers, libuv pool, GC), from /proc. "Waiting for a core" is how long those threads were runnable but not running (the kernel\'s run queue, /proc/PID/task/TID/schedstat), in % of the run\'s wall time: a request waits while the thread that must move it waits.',
    '',
    rowsTable(rows.all(), [], 'ringkv CPU, all nodes (main + other threads)'),
    '',
    `Open loop at ${Math.round(openLoadShare * 100)}% of the cluster's own QUORUM closed-loop peak (median), frames of ${batch} ops due at a fixed rate over the same sockets, latency from each frame's scheduled send time (no coordinated omission); "achieved" counts ops answered inside the measured window; "WAL sync p99" is the p99 of all three nodes' WAL syncs (fdatasync) during the row, warm-up included, from their /metrics histograms (ringkv_wal_sync_duration_seconds, linear within a bucket; "-" where the row made none); "GC pause p99" the same for V8's garbage-collection pauses of the nodes' main threads and shard threads (ringkv_gc_duration_seconds):`,
    '',
    openLoopTable(['op'], open),
    '',
    `Load sweep, the same way at lower shares of the same peaks (${a.rounds} rounds, after the rows above):`,
    '',
    openLoopTable(['op'], sweep),
    '',
    `**Bar, p99 < ${p99BarMs} ms at ${Math.round(openLoadShare * 100)}% of the cluster's QUORUM peak: ${openMet ? 'MET' : 'NOT MET'}** (${open.map((o) => `${o.cells[0]} ${fmtMs(openP99Ms(o))} ms`).join(', ')}).`,
    `- Largest share of the QUORUM closed-loop peak measured with median p99 < ${p99BarMs} ms: ${ops.map((op) => largestShareUnderBar(op, [...sweep, ...open].filter((o) => o.cells[0] === op))).join('; ')}.`,
    `- Cluster QUORUM vs one node: PUT ${ratio(`${clusterName}-QUORUM-PUT`, `${singleName}-QUORUM-PUT`)}, GET ${ratio(`${clusterName}-QUORUM-GET`, `${singleName}-QUORUM-GET`)}. Cluster QUORUM vs Redis Cluster not pipelined: PUT ${ratio(`${clusterName}-QUORUM-PUT`, 'redis-p1-PUT')}, GET ${ratio(`${clusterName}-QUORUM-GET`, 'redis-p1-GET')}. Closed-loop errors: ${rows.errors()}.`,
    ...sectionTail(rows.all(), [
      ...commands,
      `node dist/bench/ws.bench.js --url ws://127.0.0.1:P0/api/v1/ws,ws://127.0.0.1:P1/api/v1/ws,ws://127.0.0.1:P2/api/v1/ws --op put|get --consistency ONE|QUORUM|ALL --batch ${batch} --connections ${socketsPerNode * nodesN} --depth ${depth} --seconds ${a.seconds} [--rate FRAMES_PER_S]`,
    ]),
  ].join('\n');
  emitSection(section, a.damonOff ? 'cluster-bench-damon-off' : 'cluster-bench', a.write);
}

if (require.main === module) runMain('cluster bench', main);
