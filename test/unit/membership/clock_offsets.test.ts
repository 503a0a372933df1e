// ClockOffsets: the one-round-trip estimate of a peer's clock, and when it warns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClockOffsets } from '../../../src/membership/clock_offsets';

test('an exchange measures the peer clock against the midpoint of its round trip, off by at most half of it', () => {
  const c = new ClockOffsets(500, 16, () => undefined);
  // Sent at 1000, answered at 1040 by us; the peer's clock read 6020 as it answered: 5000 ahead.
  c.record('b', 1000, 6020, 1040);
  assert.deepEqual(c.of('b'), { offsetMs: 5000, uncertaintyMs: 20, atMs: 1040 });
  c.record('b', 2000, 1500, 2000);
  assert.deepEqual(c.of('b'), { offsetMs: -500, uncertaintyMs: 0, atMs: 2000 }, 'the newest sample replaces the last');
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
