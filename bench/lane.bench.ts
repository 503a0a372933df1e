// Where a single node's request time goes: the open-loop WS 32 ops/frame PUT and GET rows of
// node.bench at 20%, 50% and 80% of the node's own closed-loop peak, each with the node's own
// view of it from /metrics over the row: its request latency (ringkv_request_duration_seconds:
// receipt to answer ready, so what the client's figure adds is the sockets, uWS and the load
// generator) and that latency's shard batch stages (ringkv_shard_lane_duration_seconds: queue,
// the hop to the shard thread, apply, WAL sync, the hop back; src/shards/lane_timing.ts), with
// the GC pauses and how long the node's threads waited for a core. One `ringkv start
// --sync-mode batch` node, default shards and V8 flags, 10,000 keys of 1 KiB written first.
//   flock /tmp/ringkv-heavy.lock npm run bench:lane -- [--write] [--rounds 3] [--seconds 3] [--warmup 3] [--damon-off]
// --write replaces the section between <!-- lane-bench:start --> and <!-- lane-bench:end -->
// (with --damon-off: lane-bench-damon-off) in BENCHMARKS.md.
import { assert } from '../src/errors';
import { quantileSeconds, snapshotDelta, type HistogramSnapshot } from '../src/histogram';
import { laneStages, type LaneStage } from '../src/shards/lane_timing';
import { damonOffNote, emitSection, fmtShare, median, ops, p99BarMs, parseBenchArgs, RowSet, rowsTable, runMain, sectionHead, sectionTail, type Op } from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, fmtMs, markdownTable, nodeHistograms, parseHistogram, startNodeProcess, stopDamonFor, waitQuiet, withServerCpu, type NodeHistograms } from './harness';
import { sideBySideShape, ws32Command, ws32Options } from './side_by_side';
import { measureWs, preload, runWsLoad, type LoadResult } from './ws.bench';

const shares = [0.2, 0.5, 0.8] as const;

/** What the node's /metrics say of one row: its request latency and the lane stages, as snapshots. */
interface NodeView {
  request: HistogramSnapshot;
  stages: Record<LaneStage, HistogramSnapshot>;
  gc: NodeHistograms;
}

async function nodeView(http: string, op: Op): Promise<NodeView> {
  const text = await (await fetch(`${http}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const stages = {} as Record<LaneStage, HistogramSnapshot>;
  for (const stage of laneStages) stages[stage] = parseHistogram(text, http, 'ringkv_shard_lane_duration_seconds', `stage="${stage}"`);
  return {
    request: parseHistogram(text, http, 'ringkv_request_duration_seconds', `transport="ws",op="${op.toLowerCase()}",consistency="QUORUM"`),
    stages,
    gc: await nodeHistograms([http]),
  };
}

/** A stage's p99 and mean over a row, in ms (NaN where the row had none of it). */
interface StageFigures {
  p99Ms: number;
  meanMs: number;
}

interface RowRun {
  load: LoadResult;
  nodeP99Ms: number;
  stages: Record<LaneStage, StageFigures>;
  gcMainP99Ms: number;
  gcShardP99Ms: number;
  cpu: string;
}

interface LaneRow {
  op: Op;
  share: number;
  peak: number;
  rate: number;
  runs: RowRun[];
}

function figures(s: HistogramSnapshot): StageFigures {
  return { p99Ms: quantileSeconds(s, 0.99) * 1000, meanMs: s.count === 0 ? NaN : (s.sumSeconds / s.count) * 1000 };
}

function medianOf(runs: readonly RowRun[], pick: (r: RowRun) => number): number {
  const xs = runs.map(pick).filter((v) => !Number.isNaN(v));
  return xs.length === 0 ? NaN : median(xs);
}

const cell = (ms: number): string => (Number.isNaN(ms) ? '-' : fmtMs(ms));

function stagesTable(rows: readonly LaneRow[]): string {
  return markdownTable(
    [
      'op',
      'share of peak',
      'target ops/s',
      'achieved ops/s',
      'client p99 ms (median)',
      'client p99 ms per round',
      'node p99 ms (median)',
      ...laneStages.map((s) => `${s} p99 / mean ms`),
      'GC pause p99 ms, main / shard',
      'ringkv CPU (main + other threads)',
    ],
    rows.map((r) => [
      r.op,
      fmtShare(r.share),
      fmtInt(r.rate),
      fmtInt(median(r.runs.map((x) => x.load.opsPerSecond))),
      fmtMs(median(r.runs.map((x) => x.load.p99Ms))),
      r.runs.map((x) => fmtMs(x.load.p99Ms)).join(' / '),
      cell(medianOf(r.runs, (x) => x.nodeP99Ms)),
      ...laneStages.map((s) => `${cell(medianOf(r.runs, (x) => x.stages[s].p99Ms))} / ${cell(medianOf(r.runs, (x) => x.stages[s].meanMs))}`),
      `${cell(medianOf(r.runs, (x) => x.gcMainP99Ms))} / ${cell(medianOf(r.runs, (x) => x.gcShardP99Ms))}`,
      r.runs.map((x) => x.cpu).join(' / '),
    ]),
    [false, true, true, true, true, true, true, ...laneStages.map(() => true), true, false],
  );
}

/** "- PUT at 80%: client p99 20.1 ms, node 12.0 ms; the stages' p99: to_worker 4.50 ms, ..." per row. */
function summary(rows: readonly LaneRow[]): string[] {
  return rows.map((r) => {
    const byStage = laneStages
      .map((s) => ({ s, p99: medianOf(r.runs, (x) => x.stages[s].p99Ms) }))
      .filter((x) => !Number.isNaN(x.p99))
      .sort((x, y) => y.p99 - x.p99)
      .map((x) => `${x.s} ${fmtMs(x.p99)} ms`);
    return `- ${r.op} 32/frame at ${fmtShare(r.share)} (${fmtInt(r.rate)} ops/s): client p99 ${fmtMs(median(r.runs.map((x) => x.load.p99Ms)))} ms, node p99 ${cell(medianOf(r.runs, (x) => x.nodeP99Ms))} ms; stage p99s, largest first: ${byStage.join(', ')}.`;
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const a = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-lane-bench-');
  if (a.damonOff) stopDamonFor(run);
  const rows = new RowSet();
  const lanes: LaneRow[] = [];
  const { connections, depth } = sideBySideShape;
  try {
    const node = await startNodeProcess(run, 'ringkv', ['--sync-mode', 'batch']);
    await preload(node.ws, benchKeySpace, benchValueBytes, 'QUORUM');
    const pids = [node.child.pid];
    for (let round = 1; round <= a.rounds; round++) {
      log(`round ${round} of ${a.rounds}: closed-loop peaks`);
      for (const op of ops) {
        const cells = ['ringkv --sync-mode batch', 'WAL, fdatasync before ack', 'WebSocket, 32 ops/frame', op, 'QUORUM', `${connections} sockets × ${depth} frames × 32 ops`];
        await measureWs(rows, op, cells, pids, ws32Options(node.ws, op, a), 1, log);
      }
    }
    for (const op of ops) for (const share of shares) lanes.push({ op, share, peak: rows.medianOps(op), rate: Math.round(rows.medianOps(op) * share), runs: [] });
    for (let round = 1; round <= a.rounds; round++) {
      log(`round ${round} of ${a.rounds}: open loop`);
      for (const r of lanes) {
        await waitQuiet(pids);
        const opts = ws32Options(node.ws, r.op, a);
        const m = await withServerCpu(pids, async () => {
          // The node's view starts as the warm-up ends, as the client's does: the first second of
          // GET after PUT load can hold most of a row's slow requests.
          const started: { before: Promise<NodeView> | null } = { before: null };
          const load = await runWsLoad({ ...opts, framesPerSecond: r.rate / opts.batch }, 1, () => {
            started.before = new Promise((resolve, reject) => setTimeout(() => nodeView(node.http, r.op).then(resolve, reject), a.warmupSeconds * 1000));
          });
          assert(started.before !== null, 'the load started');
          return { before: await started.before, load, after: await nodeView(node.http, r.op) };
        });
        const { before, after, load } = m.value;
        const stages = {} as Record<LaneStage, StageFigures>;
        for (const s of laneStages) stages[s] = figures(snapshotDelta(after.stages[s], before.stages[s]));
        const x: RowRun = {
          load,
          nodeP99Ms: figures(snapshotDelta(after.request, before.request)).p99Ms,
          stages,
          gcMainP99Ms: figures(snapshotDelta(after.gc.gcMain, before.gc.gcMain)).p99Ms,
          gcShardP99Ms: figures(snapshotDelta(after.gc.gcShard, before.gc.gcShard)).p99Ms,
          cpu: m.cpu,
        };
        r.runs.push(x);
        log(`  ${r.op} at ${fmtShare(r.share)} (${fmtInt(r.rate)} ops/s): client p99 ${fmtMs(load.p99Ms)} ms, node p99 ${cell(x.nodeP99Ms)} ms, ${laneStages.map((s) => `${s} ${cell(stages[s].p99Ms)}`).join(', ')}, server CPU ${m.cpu}`);
      }
    }
  } finally {
    await run.close();
  }
  const section = [
    ...sectionHead(`Where a shard batch's time goes, single node${a.damonOff ? ', DAMON stopped' : ''} (bench/lane.bench.ts)`, 'bench:lane', 'dist/bench/lane.bench.js', argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `One \`ringkv start --sync-mode batch\` node (default shards and V8 flags; ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written first); WS 32 ops/frame over ${connections} sockets, consistency QUORUM (= the one replica). ${a.rounds} rounds: closed-loop peaks, then open loop at ${shares.map(fmtShare).join(', ')} of each op's median peak (rows interleaved within a round); each row starts once the node is quiet, then ${a.warmupSeconds} s of warm-up and ${a.seconds} s measured.`,
    '',
    rowsTable(rows.all(), [], 'ringkv CPU (main + other threads)'),
    '',
    "Open loop, latency from each frame's scheduled send time (no coordinated omission). The node's own figures come from its /metrics, read as each row's warm-up ends and after it, as p99 within a histogram bucket (linear, as Prometheus' histogram_quantile: at most one bucket wide; buckets 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25 ms, ...) and as the mean: \"node p99\" is ringkv_request_duration_seconds (an operation's receipt to its answer being ready, so the client's figure adds the sockets, uWebSockets.js and the load generator); the stages are ringkv_shard_lane_duration_seconds, one observation per batch (docs/http-api.md says what each stage holds; to_main once per message back). A p99 per stage is not a share of the request's p99: the slowest batches of two stages need not be the same batches.",
    '',
    stagesTable(lanes),
    '',
    `Stages by their median p99 (bar for the client p99: ${p99BarMs} ms):`,
    ...summary(lanes),
    ...sectionTail(rows.all(), [ws32Command(a)]),
  ].join('\n');
  emitSection(section, a.damonOff ? 'lane-bench-damon-off' : 'lane-bench', a.write);
}

if (require.main === module) runMain('lane bench', main);
