// ClockOffsets: the estimate of a peer's clock from its round trips (the tightest recent one), and
// when it warns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clockSampleAgeMaxMs, clockSamplesMax } from '../../../src/constants';
import { ClockOffsets } from '../../../src/membership/clock_offsets';

test('an exchange measures the peer clock against the midpoint of its round trip, off by at most half of it', () => {
  const c = new ClockOffsets(500, 16, () => undefined);
  // Sent at 1000, answered at 1040 by us; the peer's clock read 6020 as it answered: 5000 ahead.
  c.record('b', 1000, 6020, 1040);
  assert.deepEqual(c.of('b'), { offsetMs: 5000, uncertaintyMs: 20, atMs: 1040 });
  c.record('b', 2000, 1500, 2000);
  assert.deepEqual(c.of('b'), { offsetMs: -500, uncertaintyMs: 0, atMs: 2000 }, 'a sample that contradicts the last replaces it');
  assert.equal(c.of('c'), undefined);
  assert.deepEqual([...c.all().keys()], ['b']);
});

test('no sample from an exchange our clock stepped back in, or from a peer that does not say its clock', () => {
  const c = new ClockOffsets(500, 16, () => undefined);
  c.record('b', 2000, 5000, 1999);
  c.record('b', 2000, 0, 2010);
  assert.equal(c.of('b'), undefined);
});

test('warns once when a peer is off by more than the limit beyond doubt, says when it is back, and not in between', () => {
  const lines: string[] = [];
  const c = new ClockOffsets(500, 16, (l) => lines.push(l));
  c.record('b', 0, 400, 0);
  c.record('b', 0, 900, 600); // 600 ahead, but ± 300: it may be within 500
  assert.deepEqual(lines, []);
  c.record('b', 0, 1200, 100); // 1150 ahead ± 50
  c.record('b', 0, 1300, 100);
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /WARN b's clock is 1150 ms ahead of this node's \(± 50 ms\), over 500 ms/);
  c.record('b', 0, 700, 400); // 500 ahead ± 200: no longer beyond doubt, not surely within: no word
  assert.equal(lines.length, 1);
  c.record('b', 0, 750, 2000); // 250 behind ± 1000: says nothing either
  assert.equal(lines.length, 1);
  c.record('b', 1000, 1100, 1000);
  assert.equal(lines.length, 2);
  assert.match(lines[1]!, /b's clock is within 500 ms of this node's again \(\+100 ms ± 0 ms\)/);
  c.record('c', 10_000, 1_000, 10_020);
  assert.match(lines[2]!, /WARN c's clock is 9010 ms behind this node's/);
});

test('bounded: a node past nodesMax is not kept; a forgotten one frees its place', () => {
  const c = new ClockOffsets(500, 2, () => undefined);
  c.record('a', 0, 1, 0);
  c.record('b', 0, 1, 0);
  c.record('c', 0, 1, 0);
  assert.deepEqual([...c.all().keys()], ['a', 'b']);
  c.forget('a');
  c.record('c', 0, 1, 0);
  assert.deepEqual([...c.all().keys()], ['b', 'c']);
});

test('the estimate is the recent sample with the shortest round trip: a slow exchange neither widens the doubt nor moves it', () => {
  const c = new ClockOffsets(500, 16, () => undefined);
  c.record('b', 1000, 6002, 1004); // 5000 ± 2
  c.record('b', 2000, 7300, 2400); // 5100 ± 200: agrees, but says less
  assert.deepEqual(c.of('b'), { offsetMs: 5000, uncertaintyMs: 2, atMs: 1004 });
  c.record('b', 3000, 8001, 3000); // 5001 ± 0
  assert.deepEqual(c.of('b'), { offsetMs: 5001, uncertaintyMs: 0, atMs: 3000 });
  assert.deepEqual(c.all().get('b'), c.of('b'));
});

test('a sample that contradicts the kept ones (a clock stepped) drops them: a corrected clock is seen at once', () => {
  const lines: string[] = [];
  const c = new ClockOffsets(500, 16, (l) => lines.push(l));
  c.record('b', 1000, 6001, 1002); // 5000 ± 1
  assert.match(lines[0]!, /WARN b's clock is 5000 ms ahead/);
  // The peer's clock was corrected: 3 ± 20 cannot be 5000 ± 1, whatever the round trip.
  c.record('b', 2000, 2023, 2040);
  assert.deepEqual(c.of('b'), { offsetMs: 3, uncertaintyMs: 20, atMs: 2040 });
  assert.match(lines[1]!, /b's clock is within 500 ms of this node's again \(\+3 ms ± 20 ms\)/);
  // Our own clock stepped back: samples taken "later" than now are no evidence either.
  c.record('b', 500, 501, 500); // 1 ± 0 at 500, before the kept sample's 2040
  assert.deepEqual(c.of('b'), { offsetMs: 1, uncertaintyMs: 0, atMs: 500 });
  c.record('b', 600, 603, 610); // -2 ± 5: agrees with 1 ± 0, which stays the estimate
  assert.deepEqual(c.of('b'), { offsetMs: 1, uncertaintyMs: 0, atMs: 500 });
});

test('samples are kept for at most clockSampleAgeMaxMs and clockSamplesMax exchanges', () => {
  const c = new ClockOffsets(500, 16, () => undefined);
  c.record('b', 0, 100, 0); // 100 ± 0
  c.record('b', clockSampleAgeMaxMs - 20, clockSampleAgeMaxMs + 90, clockSampleAgeMaxMs); // 100 ± 10
  assert.equal(c.of('b')!.uncertaintyMs, 0, 'the tight sample is exactly clockSampleAgeMaxMs old: still used');
  c.record('b', clockSampleAgeMaxMs - 19, clockSampleAgeMaxMs + 91, clockSampleAgeMaxMs + 1); // 100 ± 10
  assert.deepEqual(c.of('b'), { offsetMs: 100, uncertaintyMs: 10, atMs: clockSampleAgeMaxMs + 1 }, 'older than the limit: dropped');

  const d = new ClockOffsets(500, 16, () => undefined);
  d.record('b', 0, 100, 0); // 100 ± 0, then clockSamplesMax looser ones push it out
  for (let i = 1; i < clockSamplesMax; i++) d.record('b', i * 1000, i * 1000 + 105, i * 1000 + 10);
  assert.equal(d.of('b')!.uncertaintyMs, 0, `kept through ${clockSamplesMax - 1} later samples`);
  d.record('b', 9000, 9105, 9010);
  assert.equal(d.of('b')!.uncertaintyMs, 5, `gone after ${clockSamplesMax}`);
});
