// Where a request's time goes: open-loop WS 32 ops/frame PUT and GET at 20%, 50% and 80% of the
// closed-loop peak, each row with the nodes' own view of it from /metrics over the row: their
// request latency (ringkv_request_duration_seconds: receipt to answer ready, so what the
// client's figure adds is the sockets, uWS and the load generator), that latency's shard batch
// stages (ringkv_shard_lane_duration_seconds: queue, the hop to the shard thread, apply, WAL
// sync, the hop back; src/shards/lane_timing.ts), and in a cluster the round trips of the
// replica batches the coordinators sent (ringkv_internode_round_trip_seconds), with the GC
// pauses, the event loops' delay (ringkv_event_loop_delay_seconds) and how long the nodes'
// threads waited for a core.
// Default: one `ringkv start --sync-mode batch` node, default shards and V8 flags, 10,000 keys of
// 1 KiB written first, QUORUM (= the one replica), 4 sockets x 4 frames. --cluster: the 3-node
// cluster of bench/cluster.bench.ts (`ringkv cluster`, N=3, one shard per node), QUORUM, its
// load shape (2 sockets per node x 3 frames); every node's figures added together.
//   flock /tmp/ringkv-heavy.lock npm run bench:lane -- [--cluster] [--write] [--rounds 3] [--seconds 3] [--warmup 3] [--damon-off]
// --write replaces the section between <!-- lane-bench:start --> and <!-- lane-bench:end -->
// (--cluster: lane-cluster-bench; with --damon-off: ...-damon-off) in BENCHMARKS.md.
import { assert } from '../src/errors';
import { addSnapshot, emptySnapshot, quantileSeconds, snapshotDelta, type HistogramSnapshot } from '../src/histogram';
import { emptyLaneStageSeconds, laneStages, perStage, type LaneStage } from '../src/shards/lane_timing';
import { startCluster, wsOptions as clusterWsOptions } from './cluster.bench';
import { damonOffNote, emitSection, fmtShare, median, ops, p99BarMs, parseBenchArgs, RowSet, rowsTable, runMain, sectionHead, sectionTail, type Op } from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, fmtMs, markdownTable, addNodeHistograms, emptyNodeHistograms, parseHistogram, startNodeProcess, stopDamonFor, waitQuiet, withServerCpu, type NodeHistograms } from './harness';
import { sideBySideShape, ws32Command, ws32Options } from './side_by_side';
import { measureWs, preload, runWsLoad, type LoadResult, type WsLoadOptions } from './ws.bench';

const shares = [0.2, 0.5, 0.8] as const;

/** What the load goes to. */
interface Target {
  /** The system cell of the closed-loop table. */
  name: string;
  ws: string[];
  http: string[];
  pids: number[];
  /** The open-loop and closed-loop load of one op (rate aside). */
  options: (op: Op) => WsLoadOptions;
  /** The concurrency cell of the closed-loop table. */
  concurrency: string;
}

/** What the nodes' /metrics say of one row, every node added together, as snapshots. */
interface NodeView {
  request: HistogramSnapshot;
  stages: Record<LaneStage, HistogramSnapshot>;
  /** The round trips of the replica batches the op makes (writes for PUT, reads for GET), every peer. */
  replicas: HistogramSnapshot;
  /** ringkv_event_loop_delay_seconds of the main threads and of the shard threads. */
  loopMain: HistogramSnapshot;
  loopShard: HistogramSnapshot;
  gc: NodeHistograms;
}

/** Every series of a histogram whose labels include `labels` (the peer label varies), added together. */
function sumSeries(text: string, url: string, name: string, labels: string): HistogramSnapshot {
  const sum = emptySnapshot();
  const found = new Set<string>();
  for (const m of text.matchAll(new RegExp(`^${name}_count\\{([^}]*)\\} `, 'gm'))) if (m[1]!.includes(labels)) found.add(m[1]!);
  for (const l of found) addSnapshot(sum, parseHistogram(text, url, name, l));
  return sum;
}

async function nodeView(http: readonly string[], op: Op): Promise<NodeView> {
  const view: NodeView = {
    request: emptySnapshot(),
    stages: emptyLaneStageSeconds(),
    replicas: emptySnapshot(),
    loopMain: emptySnapshot(),
    loopShard: emptySnapshot(),
    gc: emptyNodeHistograms(),
  };
  for (const url of http) {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    addNodeHistograms(view.gc, text, url);
    for (const stage of laneStages) addSnapshot(view.stages[stage], parseHistogram(text, url, 'ringkv_shard_lane_duration_seconds', `stage="${stage}"`));
    addSnapshot(view.request, parseHistogram(text, url, 'ringkv_request_duration_seconds', `transport="ws",op="${op.toLowerCase()}",consistency="QUORUM"`));
    addSnapshot(view.loopMain, parseHistogram(text, url, 'ringkv_event_loop_delay_seconds', 'thread="main"'));
    addSnapshot(view.loopShard, parseHistogram(text, url, 'ringkv_event_loop_delay_seconds', 'thread="shard"'));
    addSnapshot(view.replicas, sumSeries(text, url, 'ringkv_internode_round_trip_seconds', `kind="${op === 'PUT' ? 'replicaWriteBatch' : 'replicaReadBatch'}"`));
  }
  return view;
}

/** A histogram's p99 and mean over a row, in ms (NaN where the row had none of it). */
interface Figures {
  p99Ms: number;
  meanMs: number;
}

interface RowRun {
  load: LoadResult;
  node: Figures;
  stages: Record<LaneStage, Figures>;
  replicas: Figures;
  gcMainP99Ms: number;
  gcShardP99Ms: number;
  loopMainP99Ms: number;
  loopShardP99Ms: number;
  cpu: string;
}

interface LaneRow {
  op: Op;
  share: number;
  peak: number;
  rate: number;
  runs: RowRun[];
}

function figures(s: HistogramSnapshot): Figures {
  return { p99Ms: quantileSeconds(s, 0.99) * 1000, meanMs: s.count === 0 ? NaN : (s.sumSeconds / s.count) * 1000 };
}

function medianOf(runs: readonly RowRun[], pick: (r: RowRun) => number): number {
  const xs = runs.map(pick).filter((v) => !Number.isNaN(v));
  return xs.length === 0 ? NaN : median(xs);
}

const cell = (ms: number): string => (Number.isNaN(ms) ? '-' : fmtMs(ms));
const both = (runs: readonly RowRun[], pick: (r: RowRun) => Figures): string => `${cell(medianOf(runs, (x) => pick(x).p99Ms))} / ${cell(medianOf(runs, (x) => pick(x).meanMs))}`;

function stagesTable(rows: readonly LaneRow[], cluster: boolean): string {
  return markdownTable(
    [
      'op',
      'share of peak',
      'target ops/s',
      'achieved ops/s',
      'client p99 ms (median)',
      'client p99 ms per round',
      'node p99 / mean ms',
      ...laneStages.map((s) => `${s} p99 / mean ms`),
      ...(cluster ? ['replica round trip p99 / mean ms'] : []),
      'GC pause p99 ms, main / shard',
      'event loop delay p99 ms, main / shard',
      'ringkv CPU (main + other threads)',
    ],
    rows.map((r) => [
      r.op,
      fmtShare(r.share),
      fmtInt(r.rate),
      fmtInt(median(r.runs.map((x) => x.load.opsPerSecond))),
      fmtMs(median(r.runs.map((x) => x.load.p99Ms))),
      r.runs.map((x) => fmtMs(x.load.p99Ms)).join(' / '),
      both(r.runs, (x) => x.node),
      ...laneStages.map((s) => both(r.runs, (x) => x.stages[s])),
      ...(cluster ? [both(r.runs, (x) => x.replicas)] : []),
      `${cell(medianOf(r.runs, (x) => x.gcMainP99Ms))} / ${cell(medianOf(r.runs, (x) => x.gcShardP99Ms))}`,
      `${cell(medianOf(r.runs, (x) => x.loopMainP99Ms))} / ${cell(medianOf(r.runs, (x) => x.loopShardP99Ms))}`,
      r.runs.map((x) => x.cpu).join(' / '),
    ]),
    [false, true, true, true, true, true, true, ...laneStages.map(() => true), ...(cluster ? [true] : []), true, true, false],
  );
}

/** "- PUT 32/frame at 80% (47,539 ops/s): client p99 52.1 ms, node p99 48.4 ms; p99s, largest first: ..." per row. */
function summary(rows: readonly LaneRow[], cluster: boolean): string[] {
  return rows.map((r) => {
    const parts = [
      ...laneStages.map((s) => ({ s: s as string, p99: medianOf(r.runs, (x) => x.stages[s].p99Ms) })),
      ...(cluster ? [{ s: 'replica round trip', p99: medianOf(r.runs, (x) => x.replicas.p99Ms) }] : []),
    ]
      .filter((x) => !Number.isNaN(x.p99))
      .sort((x, y) => y.p99 - x.p99)
      .map((x) => `${x.s} ${fmtMs(x.p99)} ms`);
    return `- ${r.op} 32/frame at ${fmtShare(r.share)} (${fmtInt(r.rate)} ops/s): client p99 ${fmtMs(median(r.runs.map((x) => x.load.p99Ms)))} ms, node p99 ${cell(medianOf(r.runs, (x) => x.node.p99Ms))} ms; p99s, largest first: ${parts.join(', ')}.`;
  });
}

async function startTarget(run: BenchRun, cluster: boolean, a: ReturnType<typeof parseBenchArgs>): Promise<Target> {
  if (cluster) {
    const c = await startCluster(run);
    const shape = clusterWsOptions(c, 'PUT', 'QUORUM', a);
    return {
      name: 'ringkv cluster, 3 nodes (N=3)',
      ws: c.urls,
      http: c.http,
      pids: c.pids,
      options: (op) => clusterWsOptions(c, op, 'QUORUM', a),
      concurrency: `${shape.connections} sockets × ${shape.depth} frames × ${shape.batch} ops`,
    };
  }
  const node = await startNodeProcess(run, 'ringkv', ['--sync-mode', 'batch']);
  const { connections, depth } = sideBySideShape;
  return {
    name: 'ringkv --sync-mode batch',
    ws: [node.ws],
    http: [node.http],
    pids: [node.child.pid],
    options: (op) => ws32Options(node.ws, op, a),
    concurrency: `${connections} sockets × ${depth} frames × 32 ops`,
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const clusterFlag = argv.includes('--cluster');
  const a = parseBenchArgs(argv.filter((x) => x !== '--cluster'), false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-lane-bench-');
  if (a.damonOff) stopDamonFor(run);
  const rows = new RowSet();
  const lanes: LaneRow[] = [];
  let t: Target | null = null;
  try {
    t = await startTarget(run, clusterFlag, a);
    const target = t;
    await preload(target.ws[0]!, benchKeySpace, benchValueBytes, 'QUORUM');
    for (let round = 1; round <= a.rounds; round++) {
      log(`round ${round} of ${a.rounds}: closed-loop peaks`);
      for (const op of ops) {
        const cells = [target.name, 'WAL, fdatasync before ack', 'WebSocket, 32 ops/frame', op, 'QUORUM', target.concurrency];
        await measureWs(rows, op, cells, target.pids, target.options(op), 1, log);
      }
    }
    for (const op of ops) for (const share of shares) lanes.push({ op, share, peak: rows.medianOps(op), rate: Math.round(rows.medianOps(op) * share), runs: [] });
    for (let round = 1; round <= a.rounds; round++) {
      log(`round ${round} of ${a.rounds}: open loop`);
      for (const r of lanes) {
        await waitQuiet(target.pids);
        const opts = target.options(r.op);
        const m = await withServerCpu(target.pids, async () => {
          // The nodes' view starts as the warm-up ends, as the client's does: the first second of
          // GET after PUT load can hold most of a row's slow requests.
          const started: { before: Promise<NodeView> | null } = { before: null };
          const load = await runWsLoad({ ...opts, framesPerSecond: r.rate / opts.batch }, 1, () => {
            started.before = new Promise((resolve, reject) => setTimeout(() => nodeView(target.http, r.op).then(resolve, reject), a.warmupSeconds * 1000));
          });
          assert(started.before !== null, 'the load started');
          return { before: await started.before, load, after: await nodeView(target.http, r.op) };
        });
        const { before, after, load } = m.value;
        const stages = perStage((s) => figures(snapshotDelta(after.stages[s], before.stages[s])));
        const x: RowRun = {
          load,
          node: figures(snapshotDelta(after.request, before.request)),
          stages,
          replicas: figures(snapshotDelta(after.replicas, before.replicas)),
          gcMainP99Ms: figures(snapshotDelta(after.gc.gcMain, before.gc.gcMain)).p99Ms,
          gcShardP99Ms: figures(snapshotDelta(after.gc.gcShard, before.gc.gcShard)).p99Ms,
          loopMainP99Ms: figures(snapshotDelta(after.loopMain, before.loopMain)).p99Ms,
          loopShardP99Ms: figures(snapshotDelta(after.loopShard, before.loopShard)).p99Ms,
          cpu: m.cpu,
        };
        r.runs.push(x);
        log(
          `  ${r.op} at ${fmtShare(r.share)} (${fmtInt(r.rate)} ops/s): client p99 ${fmtMs(load.p99Ms)} ms, node p99 ${cell(x.node.p99Ms)} ms, ${laneStages.map((s) => `${s} ${cell(stages[s].p99Ms)}`).join(', ')}${clusterFlag ? `, replica round trip ${cell(x.replicas.p99Ms)}` : ''}, event loop delay p99 main ${cell(x.loopMainP99Ms)} / shard ${cell(x.loopShardP99Ms)}, server CPU ${m.cpu}`,
        );
      }
    }
  } finally {
    await run.close();
  }
  assert(t !== null, 'the target started');
  const what = clusterFlag
    ? `The 3-node cluster of bench/cluster.bench.ts (\`ringkv cluster --nodes 3 --shards 1 --sync-mode batch\`, N=3, default V8 flags; ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written first), the load spread over its nodes; consistency QUORUM; every node's figures added together (each coordinates a third of the load, and each is a replica of every key).`
    : `One \`ringkv start --sync-mode batch\` node (default shards and V8 flags; ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written first); consistency QUORUM (= the one replica).`;
  const section = [
    ...sectionHead(`Where a request's time goes, ${clusterFlag ? '3-node cluster' : 'single node'}${a.damonOff ? ', DAMON stopped' : ''} (bench/lane.bench.ts)`, 'bench:lane', 'dist/bench/lane.bench.js', argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `${what} WS 32 ops/frame, ${t.concurrency}. ${a.rounds} rounds: closed-loop peaks, then open loop at ${shares.map(fmtShare).join(', ')} of each op's median peak (rows interleaved within a round); each row starts once the nodes are quiet, then ${a.warmupSeconds} s of warm-up and ${a.seconds} s measured.`,
    '',
    rowsTable(rows.all(), [], 'ringkv CPU (main + other threads)'),
    '',
    "Open loop, latency from each frame's scheduled send time (no coordinated omission). The nodes' own figures come from their /metrics, read as each row's warm-up ends and after it, as p99 within a histogram bucket (linear, as Prometheus' histogram_quantile: at most one bucket wide; buckets 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50 ms, ...) and as the mean: \"node\" is ringkv_request_duration_seconds (an operation's receipt to its answer being ready, so the client's figure adds the sockets, uWebSockets.js and the load generator); the stages are ringkv_shard_lane_duration_seconds, one observation per batch (docs/http-api.md says what each stage holds; to_main once per message back)" +
      (clusterFlag ? '; "replica round trip" is ringkv_internode_round_trip_seconds of the replica batches the coordinators sent (replicaWriteBatch for PUT, replicaReadBatch for GET), from a batch being made to its reply being taken up, the peer\'s own lane stages inside it.' : '.') +
      ' "Event loop delay" is ringkv_event_loop_delay_seconds: how late a timer due every 20 ms ran on the main threads and on the shard threads (a busy loop, a GC, or the thread waiting for a core; under ~1 ms is timer rounding). A p99 per stage is not a share of the request\'s p99: the slowest batches of two stages need not be the same batches.',
    '',
    stagesTable(lanes, clusterFlag),
    '',
    `By their median p99 (bar for the client p99: ${p99BarMs} ms):`,
    ...summary(lanes, clusterFlag),
    ...sectionTail(rows.all(), [clusterFlag ? `node dist/bench/ws.bench.js --url ws://127.0.0.1:P0/api/v1/ws,ws://127.0.0.1:P1/api/v1/ws,ws://127.0.0.1:P2/api/v1/ws --op put|get --consistency QUORUM --batch 32 --connections ${t.options('PUT').connections} --depth ${t.options('PUT').depth} --seconds ${a.seconds} [--rate FRAMES_PER_S]` : ws32Command(a)]),
  ].join('\n');
  const marker = `lane-${clusterFlag ? 'cluster-' : ''}bench${a.damonOff ? '-damon-off' : ''}`;
  emitSection(section, marker, a.write);
}

if (require.main === module) runMain('lane bench', main);
