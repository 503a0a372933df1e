// Proves the shared latency histogram: values land in the first bucket whose bound holds them,
// snapshots merge and subtract bucket by bucket, and quantiles are read back as Prometheus'
// histogram_quantile() reads them (linear inside the bucket).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addSnapshot, emptySnapshot, Histogram, latencyBucketsSeconds, quantileSeconds, renderHistogram, snapshotDelta } from '../../src/histogram';

const at = (bound: number): number => latencyBucketsSeconds.indexOf(bound);

test('a value goes to the first bucket whose upper bound holds it; past the last, to +Inf', () => {
  const h = new Histogram();
  for (const s of [0.00005, 0.0001, 0.00011, 0.003, 10, 11]) h.record(s);
  const c = h.snapshot().counts;
  assert.equal(c[at(0.0001)], 2, 'a bound is inclusive (le)');
  assert.equal(c[at(0.00025)], 1);
  assert.equal(c[at(0.005)], 1);
  assert.equal(c[at(10)], 1);
  assert.equal(c[latencyBucketsSeconds.length], 1, '+Inf');
  assert.equal(h.count, 6);
  assert.ok(Math.abs(h.sumSeconds - 21.00326) < 1e-9);
});

test('snapshots add up across histograms and subtract to what was recorded in between', () => {
  const a = new Histogram();
  const b = new Histogram();
  a.record(0.002);
  b.record(0.002);
  b.record(0.2);
  const merged = emptySnapshot();
  addSnapshot(merged, a.snapshot());
  addSnapshot(merged, b.snapshot());
  assert.equal(merged.count, 3);
  assert.equal(merged.counts[at(0.0025)], 2);
  const before = b.snapshot();
  b.record(0.04);
  const delta = snapshotDelta(b.snapshot(), before);
  assert.equal(delta.count, 1);
  assert.equal(delta.counts[at(0.05)], 1);
  assert.equal(delta.counts.reduce((x, y) => x + y, 0), 1);
});

test('quantiles interpolate inside their bucket, as histogram_quantile() does', () => {
  const h = new Histogram();
  // 90 values in (0.001, 0.0025], 10 in (0.01, 0.025].
  for (let i = 0; i < 90; i++) h.record(0.002);
  for (let i = 0; i < 10; i++) h.record(0.02);
  const s = h.snapshot();
  assert.ok(Math.abs(quantileSeconds(s, 0.5) - (0.001 + 0.0015 * (50 / 90))) < 1e-12);
  assert.ok(Math.abs(quantileSeconds(s, 0.99) - (0.01 + 0.015 * (9 / 10))) < 1e-12);
  assert.ok(Number.isNaN(quantileSeconds(emptySnapshot(), 0.99)), 'no values, no quantile');
  const slow = new Histogram();
  slow.record(100);
  assert.equal(quantileSeconds(slow.snapshot(), 0.99), latencyBucketsSeconds.at(-1), 'the +Inf bucket reads as the largest bound');
});

test('rendered buckets are cumulative and end in +Inf = count', () => {
  const h = new Histogram();
  for (const s of [0.0002, 0.0002, 0.3]) h.record(s);
  const lines = renderHistogram('x_seconds', 'a="b"', h);
  assert.equal(lines[at(0.00025)], 'x_seconds_bucket{a="b",le="0.00025"} 2');
  assert.equal(lines[at(0.5)], 'x_seconds_bucket{a="b",le="0.5"} 3');
  assert.equal(lines[latencyBucketsSeconds.length], 'x_seconds_bucket{a="b",le="+Inf"} 3');
  assert.deepEqual(lines.slice(-2), ['x_seconds_sum{a="b"} 0.3004', 'x_seconds_count{a="b"} 3']);
  assert.equal(renderHistogram('y', '', h).at(-1), 'y_count 3', 'no labels, no braces');
});
