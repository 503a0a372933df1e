// Vector clock algebra, checked property-style over seeded random clocks: dominance is a partial
// order, merge is the least upper bound, increment moves forward, pruning keeps its bounds and
// only forgets, and the binary form round-trips and refuses damage without crashing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vectorClockEntriesMax } from '../../../src/constants';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import type { VectorClock } from '../../../src/versioning';
import { mulberry32, testSeed } from '../../helpers/prng';
import {
  compareClocks,
  counterOf,
  decodeClock,
  descends,
  encodeClock,
  encodedClockBytes,
  incrementClock,
  mergeClocks,
  pruneClock,
} from '../../../src/versioning';

const seed = testSeed(0x5eed);

const nodes = ['a', 'b', 'c', 'd', 'node-e'];

function randomClock(rand: () => number): VectorClock {
  let clock: VectorClock = [];
  for (const n of nodes) {
    const c = Math.floor(rand() * 4);
    for (let i = 0; i < c; i++) clock = incrementClock(clock, n, 1000 + Math.floor(rand() * 1000));
  }
  return clock;
}

function sameCounters(x: VectorClock, y: VectorClock): boolean {
  return nodes.every((n) => counterOf(x, n) === counterOf(y, n));
}

test(`dominance is a partial order and compare is antisymmetric (seed ${seed})`, () => {
  const rand = mulberry32(seed);
  for (let i = 0; i < 500; i++) {
    const a = randomClock(rand);
    const b = randomClock(rand);
    const c = randomClock(rand);
    assert.equal(compareClocks(a, a), 'equal');
    const ab = compareClocks(a, b);
    const ba = compareClocks(b, a);
    const flipped = { before: 'after', after: 'before', equal: 'equal', concurrent: 'concurrent' } as const;
    assert.equal(ba, flipped[ab], `seed ${seed} iteration ${i}`);
    if (ab === 'equal') assert.ok(sameCounters(a, b));
    if (descends(a, b) && descends(b, c)) assert.ok(descends(a, c), `transitivity, seed ${seed} iteration ${i}`);
  }
});

test(`merge is the least upper bound, commutative, associative and idempotent (seed ${seed})`, () => {
  const rand = mulberry32(seed + 1);
  for (let i = 0; i < 500; i++) {
    const a = randomClock(rand);
    const b = randomClock(rand);
    const c = randomClock(rand);
    const m = mergeClocks(a, b);
    assert.ok(descends(m, a) && descends(m, b), 'an upper bound');
    if (descends(c, a) && descends(c, b)) assert.ok(descends(c, m), 'the least one');
    assert.ok(sameCounters(m, mergeClocks(b, a)), 'commutative');
    assert.ok(sameCounters(mergeClocks(m, c), mergeClocks(a, mergeClocks(b, c))), 'associative');
    assert.ok(sameCounters(mergeClocks(a, a), a), 'idempotent');
    for (let j = 1; j < m.length; j++) assert.ok(m[j - 1]!.node < m[j]!.node, 'sorted, unique');
  }
});

test('increment moves a clock strictly forward at one node', () => {
  const rand = mulberry32(seed + 2);
  for (let i = 0; i < 200; i++) {
    const a = randomClock(rand);
    const n = nodes[Math.floor(rand() * nodes.length)]!;
    const b = incrementClock(a, n, 5);
    assert.equal(compareClocks(b, a), 'after');
    assert.equal(counterOf(b, n), counterOf(a, n) + 1);
  }
  // The design's example (§7.3): {A:3} vs {A:2, B:1} is a conflict.
  const a2 = incrementClock(incrementClock([], 'A', 1), 'A', 2);
  const x = incrementClock(a2, 'A', 3);
  const y = incrementClock(a2, 'B', 3);
  assert.equal(compareClocks(x, y), 'concurrent');
});

test('pruning keeps the entry and byte bounds, drops oldest first, and only forgets', () => {
  let clock: VectorClock = [];
  for (let i = 0; i < 100; i++) clock = incrementClock(clock, `node${String(i).padStart(3, '0')}`, 10_000 + i);
  const pruned = pruneClock(clock, vectorClockEntriesMax, 4096, ['node000']);
  assert.ok(pruned.length <= vectorClockEntriesMax);
  assert.ok(encodedClockBytes(pruned) <= 4096);
  assert.ok(pruned.some((e) => e.node === 'node000'), 'the kept node survives though it is the oldest');
  assert.ok(pruned.some((e) => e.node === 'node099'), 'the newest survives');
  assert.ok(!pruned.some((e) => e.node === 'node001'), 'an old one is dropped');
  assert.ok(descends(clock, pruned), 'a pruned clock is an ancestor of the original');
  const tight = pruneClock(clock, 64, 200);
  assert.ok(encodedClockBytes(tight) <= 200, `byte bound: ${encodedClockBytes(tight)}`);
});

test('encode/decode round-trips random clocks', () => {
  const rand = mulberry32(seed + 3);
  for (let i = 0; i < 200; i++) {
    const a = randomClock(rand);
    const bytes = encodeClock(a);
    assert.equal(bytes.length, encodedClockBytes(a));
    assert.deepEqual(decodeClock(bytes), a);
  }
});

test(`damaged context bytes are refused with INVALID_ARGUMENT, never a crash (seed ${seed})`, () => {
  const rand = mulberry32(seed + 4);
  let refused = 0;
  for (let i = 0; i < 2000; i++) {
    const good = encodeClock(randomClock(rand));
    const bad = good.slice(0, rand() < 0.3 ? Math.floor(rand() * good.length) : good.length);
    const flips = 1 + Math.floor(rand() * 3);
    for (let f = 0; f < flips && bad.length > 0; f++) bad[Math.floor(rand() * bad.length)] = Math.floor(rand() * 256);
    try {
      decodeClock(bad);
    } catch (err) {
      assert.ok(isRingkvError(err, ErrorCode.InvalidArgument), `unexpected error ${String(err)}`);
      refused++;
    }
  }
  assert.ok(refused > 500, `most damage is detected (${refused})`);
  // Specific shapes: unsorted entries, a zero counter, a huge count, trailing bytes.
  const unsorted = Uint8Array.from([1, 2, 1, 98, 1, 0, 1, 97, 1, 0]);
  assert.throws(() => decodeClock(unsorted), (e) => isRingkvError(e, ErrorCode.InvalidArgument));
  assert.throws(() => decodeClock(Uint8Array.from([1, 1, 1, 97, 0, 0])), (e) => isRingkvError(e, ErrorCode.InvalidArgument));
  assert.throws(() => decodeClock(Uint8Array.from([1, 0xff, 0x7f])), (e) => isRingkvError(e, ErrorCode.InvalidArgument));
  assert.throws(() => decodeClock(Uint8Array.from([1, 0, 0])), (e) => isRingkvError(e, ErrorCode.InvalidArgument));
  assert.deepEqual(decodeClock(Uint8Array.from([1, 0])), []);
});
