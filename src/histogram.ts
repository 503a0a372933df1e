// Latency histograms with fixed bucket bounds, Prometheus style: recording one value is an array
// increment (no allocation), merging two is adding counts, and a quantile is read back the way
// Prometheus' histogram_quantile() does it (linear within the bucket). One implementation for the
// request latencies the server keeps (server/metrics.ts) and the WAL sync latencies every storage
// engine keeps (storage/log-writer.ts), which cross from the shard threads as snapshots.
import { assert } from './errors';

/** Upper bounds of the buckets, in seconds; the last bucket, +Inf, is implicit. */
export const latencyBucketsSeconds: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Plain data (structured-clone safe): counts per bucket, NOT cumulative; index bounds.length is +Inf. */
export interface HistogramSnapshot {
  counts: number[];
  sumSeconds: number;
  count: number;
}

export function emptySnapshot(): HistogramSnapshot {
  return { counts: new Array<number>(latencyBucketsSeconds.length + 1).fill(0), sumSeconds: 0, count: 0 };
}

export class Histogram {
  readonly counts = new Float64Array(latencyBucketsSeconds.length + 1);
  sumSeconds = 0;
  count = 0;

  record(seconds: number): void {
    const b = latencyBucketsSeconds;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    this.counts[i]! += 1;
    this.sumSeconds += seconds;
    this.count += 1;
  }

  snapshot(): HistogramSnapshot {
    return { counts: Array.from(this.counts), sumSeconds: this.sumSeconds, count: this.count };
  }
}

/** Adds `from` into `into`. */
export function addSnapshot(into: HistogramSnapshot, from: HistogramSnapshot): void {
  assert(into.counts.length === from.counts.length, 'histograms with different buckets cannot be merged');
  for (let i = 0; i < from.counts.length; i++) into.counts[i]! += from.counts[i]!;
  into.sumSeconds += from.sumSeconds;
  into.count += from.count;
}

/** `later` minus `earlier`: what was recorded between two snapshots of one histogram. */
export function snapshotDelta(later: HistogramSnapshot, earlier: HistogramSnapshot): HistogramSnapshot {
  assert(later.counts.length === earlier.counts.length, 'histograms with different buckets cannot be compared');
  return { counts: later.counts.map((n, i) => n - earlier.counts[i]!), sumSeconds: later.sumSeconds - earlier.sumSeconds, count: later.count - earlier.count };
}

/**
 * The q-quantile (0 < q < 1) in seconds, interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile() does (so it is an estimate, at most one bucket wide); NaN when empty; the
 * largest finite bound when it falls in the +Inf bucket.
 */
export function quantileSeconds(s: HistogramSnapshot, q: number): number {
  assert(q > 0 && q < 1, 'a quantile is between 0 and 1');
  if (s.count === 0) return NaN;
  const rank = q * s.count;
  let below = 0;
  for (let i = 0; i < latencyBucketsSeconds.length; i++) {
    const n = s.counts[i]!;
    if (below + n >= rank) {
      const lower = i === 0 ? 0 : latencyBucketsSeconds[i - 1]!;
      return lower + (latencyBucketsSeconds[i]! - lower) * ((rank - below) / n);
    }
    below += n;
  }
  return latencyBucketsSeconds[latencyBucketsSeconds.length - 1]!;
}

/** Prometheus text lines of one histogram series: cumulative _bucket lines, _sum and _count. */
export function renderHistogram(name: string, labels: string, s: { counts: ArrayLike<number>; sumSeconds: number; count: number }): string[] {
  const out: string[] = [];
  const sep = labels === '' ? '' : ',';
  let cumulative = 0;
  for (let i = 0; i < latencyBucketsSeconds.length; i++) {
    cumulative += s.counts[i]!;
    out.push(`${name}_bucket{${labels}${sep}le="${latencyBucketsSeconds[i]}"} ${cumulative}`);
  }
  cumulative += s.counts[latencyBucketsSeconds.length]!;
  out.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${cumulative}`);
  const braces = labels === '' ? '' : `{${labels}}`;
  out.push(`${name}_sum${braces} ${s.sumSeconds}`, `${name}_count${braces} ${s.count}`);
  return out;
}
