// Where a shard batch's time goes, stage by stage (ringkv_shard_lane_duration_seconds{stage}):
// so that a slow answer can be told apart as a long queue, a slow thread hop, a slow shard
// thread, or a slow WAL sync. A request's own histogram (ringkv_request_duration_seconds) says
// only how long it took in all.
//
// Why hops get a stage each: on this project's 2-core machines a thread woken by a message
// often waits for a core. At 20% of a node's PUT peak (--sync-mode none), the batches that took
// over 4 ms from queue to answer spent ~40% of it on the way to the worker and ~25% on the way
// back, against ~23% in the worker itself (ad hoc, per-batch timestamps; `perf sched` put most
// of those waits where both cores were busy, largely with the load generator's threads).
// BENCHMARKS.md "Where a request's time goes" (npm run bench:lane) has the stages' p99s by load.
//
// The stages, in the order a batch passes them:
// - queue: its oldest request waits in the shard's queue (for a batch slot) until it is posted;
// - to_worker: posted until the worker starts on it (the hop, and the batch ahead of it if the
//   worker is still on that one);
// - apply: the worker reads, versions and writes it into the engine (WAL write included);
// - sync: applied until durable (the WAL's group commit; batches that write only);
// - to_main: the worker posts its answer, or an early-answered batch's durability notice, until
//   the main thread takes it up (once per message: an early-answered batch that writes has two).
import { emptySnapshot, Histogram, addSnapshot, type HistogramSnapshot } from '../histogram';

export const laneStages = ['queue', 'to_worker', 'apply', 'sync', 'to_main'] as const;
export type LaneStage = (typeof laneStages)[number];

/** Plain data (crosses threads): one histogram snapshot per stage. */
export type LaneStageSeconds = Record<LaneStage, HistogramSnapshot>;

/** One T per stage, keyed in the order a batch passes them (/metrics renders them in it). */
export function perStage<T>(make: (stage: LaneStage) => T): Record<LaneStage, T> {
  return { queue: make('queue'), to_worker: make('to_worker'), apply: make('apply'), sync: make('sync'), to_main: make('to_main') };
}

// performance.now() counts from each thread's own start, so two threads' readings cannot be
// subtracted; process.hrtime is the one monotonic clock they share, but allocates on every call.
// Each thread reads the shared clock once, with its own now() beside it, and adds the offset.
const originMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();

/** Milliseconds (fractional) on a monotonic clock every thread of the process reads alike. */
export function laneClockMs(): number {
  return originMs + performance.now();
}

export class LaneTiming {
  private readonly stages = perStage(() => new Histogram());

  /** Records a stage from `fromMs` to `toMs` (laneClockMs readings; a reading a hair earlier counts as 0). */
  record(stage: LaneStage, fromMs: number, toMs: number): void {
    this.stages[stage].record(Math.max(0, toMs - fromMs) / 1000);
  }

  snapshot(): LaneStageSeconds {
    return perStage((stage) => this.stages[stage].snapshot());
  }
}

export function emptyLaneStageSeconds(): LaneStageSeconds {
  return perStage(() => emptySnapshot());
}

export function addLaneStageSeconds(into: LaneStageSeconds, from: LaneStageSeconds): void {
  for (const stage of laneStages) addSnapshot(into[stage], from[stage]);
}
