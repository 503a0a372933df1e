// V8's garbage-collection pauses of the calling thread, as latency histograms by kind (Node's
// 'gc' performance entries). Every thread has its own V8 heap and so its own pauses: the main
// thread (HTTP/WebSocket, coordination) starts its timing in startServer, each shard worker when
// its module loads, and /metrics shows both (ringkv_gc_duration_seconds{thread,kind}). Under
// write load on this project's 2-core machines both threads paused several times a second:
// scavenges p50 ~3 ms, p90 ~8 ms, up to ~23 ms (ad hoc, --trace-gc), which is where much of a
// request's tail goes; and, until nodes ran with an old-space floor (constants.ts
// nodeRuntimeFlags), a mark-compact about every 0.5 s as well.
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { emptySnapshot, Histogram, type HistogramSnapshot } from './histogram';

export type GcKind = 'minor' | 'major' | 'incremental' | 'weakcb';
export const gcKinds: readonly GcKind[] = ['minor', 'major', 'incremental', 'weakcb'];

/** One histogram snapshot per kind (plain data: crosses threads). */
export type GcSnapshots = Record<GcKind, HistogramSnapshot>;

const kindOf = new Map<number, GcKind>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
]);

/** One T per kind. */
function perKind<T>(make: (kind: GcKind) => T): Record<GcKind, T> {
  return { minor: make('minor'), major: make('major'), incremental: make('incremental'), weakcb: make('weakcb') };
}

const pauses = perKind(() => new Histogram());
let observer: PerformanceObserver | null = null;

/** Starts timing this thread's GC pauses (once per thread; later calls do nothing). */
export function startGcTiming(): void {
  if (observer !== null) return;
  observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) record(e);
  });
  observer.observe({ type: 'gc' });
}

function record(e: PerformanceEntry): void {
  // `detail` is what Node 16+ fills for 'gc' entries; this @types/node does not declare it.
  const detail = (e as PerformanceEntry & { detail?: { kind?: number } | null }).detail;
  const kind = kindOf.get(detail?.kind ?? -1);
  if (kind !== undefined) pauses[kind].record(e.duration / 1000);
}

/** No pauses of any kind (a sum to add threads' snapshots into). */
export function emptyGcSnapshots(): GcSnapshots {
  return perKind(() => emptySnapshot());
}

/** This thread's pauses since startGcTiming. */
export function gcSnapshots(): GcSnapshots {
  return perKind((kind) => pauses[kind].snapshot());
}
