// How late the calling thread's event loop runs what is due: a timer due every
// eventLoopSampleIntervalMs records how late it ran (ringkv_event_loop_delay_seconds{thread}).
// Everything a thread does waits behind the same delay: a socket's frame, a shard batch on its
// lane, an answer from a shard thread. It covers what ringkv_gc_duration_seconds does not: a
// long piece of work on the thread, and the thread waiting for a core after it was woken (on this
// project's 2-core machines, with the load generator beside the node, the larger part of a slow
// thread hop: src/shards/lane_timing.ts). Node's own monitorEventLoopDelay keeps percentiles
// only; Prometheus needs the counts per bucket.
//
// Resolution: libuv's timers count whole milliseconds, so a delay under about 1 ms is the timer's
// own rounding, not the loop's. A stall shorter than the interval may fall between two samples.
import { eventLoopSampleIntervalMs } from './constants';
import { Histogram, type HistogramSnapshot } from './histogram';

const delays = new Histogram();
let timer: NodeJS.Timeout | null = null;

/** Starts sampling this thread's event loop (once per thread; later calls do nothing). */
export function startEventLoopTiming(): void {
  if (timer !== null) return;
  let dueMs = performance.now() + eventLoopSampleIntervalMs;
  const t = setTimeout(() => {
    const nowMs = performance.now();
    delays.record(Math.max(0, nowMs - dueMs) / 1000);
    dueMs = nowMs + eventLoopSampleIntervalMs;
    t.refresh();
  }, eventLoopSampleIntervalMs);
  // A sampler must not keep a thread (or the process) alive by itself.
  t.unref();
  timer = t;
}

/** This thread's delays since startEventLoopTiming. */
export function eventLoopDelaySnapshot(): HistogramSnapshot {
  return delays.snapshot();
}
