// Proves the histogram handling: percentiles come out in milliseconds from microsecond records,
// latency is charged from the intended start while service time is from the send, and the raw
// HdrHistogram log written per interval reads back (with the official reader) to the same counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as hdr from 'hdr-histogram-js';
import { LatencyRecorder, newHistogram, summarize, toMicros } from '../../../bench/latency/recorder';
import { renderPercentileSvg, percentilePoints } from '../../../bench/latency/svg_plot';

test('percentiles of known values, in milliseconds', () => {
  const h = newHistogram();
  for (let i = 1; i <= 1000; i++) h.recordValue(i * 10); // 10 us .. 10 ms
  const s = summarize(h);
  assert.equal(s.count, 1000);
  assert.ok(Math.abs(s.p50Ms - 5) < 0.01, `p50 ${s.p50Ms}`);
  assert.ok(Math.abs(s.p99Ms - 9.9) < 0.01, `p99 ${s.p99Ms}`);
  assert.ok(Math.abs(s.maxMs - 10) < 0.01, `max ${s.maxMs}`);
  assert.equal(toMicros(0), 1, 'zero rounds up to the smallest trackable value');
  assert.equal(toMicros(1e9), 60_000_000, 'huge values clamp to the top of the range');
});

test('latency counts from the intended start, service time from the send', () => {
  const r = new LatencyRecorder(0);
  r.record('read', 0, 50, 51); // sent 50 ms late, answered in 1 ms
  assert.equal(Math.round(r.summary('latency', 'read').maxMs), 51);
  assert.equal(Math.round(r.summary('service', 'read').maxMs), 1);
  assert.equal(r.summary('latency', 'update').count, 0);
  assert.throws(() => r.record('read', 10, 5, 20), /intended <= sent <= done/);
});

test('the HdrHistogram log reads back interval by interval to the same totals', () => {
  const r = new LatencyRecorder(1000, 1000, 1_700_000_000_000);
  // Three seconds of data: the middle second is slow.
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < 100; i++) {
      const intended = 1000 + s * 1000 + i * 10;
      r.record(i % 2 === 0 ? 'read' : 'update', intended, intended, intended + (s === 1 ? 50 : 0.5));
    }
  }
  const log = r.finish(4000);
  assert.match(log, /Histogram log format version 1\.3/);
  assert.match(log, /StartTime: 1700000000/);
  const reader = new hdr.HistogramLogReader(log);
  const byTag = new Map<string, hdr.Histogram>();
  let intervals = 0;
  for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) {
    intervals++;
    const acc = byTag.get(h.tag) ?? newHistogram();
    acc.add(h);
    byTag.set(h.tag, acc);
  }
  assert.equal(intervals, 3 * 6, 'three intervals of latency/service x read/update/all');
  const all = byTag.get('latency.all')!;
  assert.equal(all.totalCount, 300);
  assert.equal(all.getValueAtPercentile(99), r.histogram('latency', 'all')!.getValueAtPercentile(99));
  assert.equal(byTag.get('service.read')!.totalCount, 150);
});

test('the SVG plot has one curve per series, a legend, and the target line', () => {
  const fast = newHistogram();
  const slow = newHistogram();
  for (let i = 1; i <= 10_000; i++) {
    fast.recordValue(200 + (i % 100));
    slow.recordValue(i < 9_900 ? 1000 : 200_000);
  }
  const svg = renderPercentileSvg(
    [
      { label: 'ringkv <read>', histogram: fast },
      { label: 'redis', histogram: slow, dashed: true },
    ],
    { title: 'workload A & more', targetMs: 10 },
  );
  assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'));
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.match(svg, /ringkv &lt;read&gt; \(n=10000\)/);
  assert.match(svg, /workload A &amp; more/);
  assert.match(svg, /10 ms target/);
  // The slow series' tail is visible: its points reach 200 ms beyond the 99th percentile.
  const pts = percentilePoints(slow);
  assert.ok(pts.some(([x, ms]) => x > 2 && ms > 100));
  assert.ok(pts.every(([x]) => x <= 4 + 1e-9), 'no points past what 10^4 samples can resolve');
});
