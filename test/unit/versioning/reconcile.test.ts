// Reconciliation: concurrent writes become siblings, a write with the read context resolves them,
// an old context never silently drops a version its writer did not see, LWW keeps one version,
// tombstones are versions, If-Match checks the single current version, sets stay bounded, and a
// node's counters follow the clock, so a key whose versions it lost never gets their dots again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { siblingsMax, vectorClockEntriesMax } from '../../../src/constants';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import type { ConflictMode, StoredSibling, VectorClock } from '../../../src/versioning';
import {
  checkIfMatch,
  contextOf,
  coordinateWrite,
  counterOf,
  decodeClock,
  dotClockEpochMs,
  dotClockTerm,
  dotCountsPerMs,
  encodeClock,
  fullClock,
  liveSiblings,
  mergeClocks,
  parseVersion,
  reconcile,
  versionOf,
} from '../../../src/versioning';
import { decodeSiblingSet, encodeSiblingSet } from '../../../src/versioning/sibling_codec';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

function write(stored: StoredSibling[], node: string, value: string, nowMs: number, context: VectorClock | null = null, mode: ConflictMode = 'vclock') {
  return coordinateWrite(stored, { nodeId: node, nowMs, mode, value: text(value), tombstone: false, ttlMs: 0, context });
}

function del(stored: StoredSibling[], node: string, nowMs: number, context: VectorClock | null = null) {
  return coordinateWrite(stored, { nodeId: node, nowMs, mode: 'vclock', value: new Uint8Array(0), tombstone: true, ttlMs: 0, context });
}

test("the design's partition example: concurrent writes via A and B become siblings; a write with the read context resolves them", () => {
  const w1 = write([], 'A', 'v1', 1000);
  const w2 = write(w1.siblings, 'A', 'v2', 2000, contextOf(w1.siblings));
  assert.equal(w2.siblings.length, 1, 'a write with the context supersedes');
  assert.equal(w2.version, `v2_2_A`);
  const ctx = contextOf(w2.siblings);
  // Partition: X writes via A, Y via B (whose replica also held v2), both from the same read.
  const x = write(w2.siblings, 'A', 'x', 3000, ctx);
  const y = write(w2.siblings, 'B', 'y', 3001, ctx);
  // Heal: replica A receives B's set.
  const healed = reconcile(x.siblings, y.siblings, 'vclock', 4000);
  assert.deepEqual(healed.siblings.map((s) => str(s.value)), ['y', 'x'], 'both kept, newest first');
  assert.equal(healed.changed, true);
  // Either merge order gives the same set.
  const other = reconcile(y.siblings, x.siblings, 'vclock', 4000);
  assert.deepEqual(other.siblings.map(versionOf), healed.siblings.map(versionOf));
  // The client reads both and writes a merge with the context.
  const merged = write(healed.siblings, 'A', 'x+y', 5000, contextOf(healed.siblings));
  assert.deepEqual(merged.siblings.map((s) => str(s.value)), ['x+y']);
  // Merging again changes nothing (idempotent).
  assert.equal(reconcile(merged.siblings, merged.siblings, 'vclock', 6000).changed, false);
  // A replica still holding the old siblings is superseded by the merge.
  assert.deepEqual(reconcile(healed.siblings, merged.siblings, 'vclock', 6000).siblings.map(versionOf), [merged.version]);
});

test('a write with an old context keeps the version its writer never saw (no silent loss)', () => {
  const w1 = write([], 'A', 'v1', 1000);
  const oldCtx = contextOf(w1.siblings);
  const w2 = write(w1.siblings, 'A', 'v2', 2000, oldCtx);
  // Another client, still holding the context of v1, writes through the same node.
  const w3 = write(w2.siblings, 'A', 'v3', 3000, oldCtx);
  assert.deepEqual(w3.siblings.map((s) => str(s.value)), ['v3', 'v2']);
  // The version strings stay unique even though both writers started from {A:1}.
  assert.notEqual(parseVersion(w3.version).counter, parseVersion(w2.version).counter);
  assert.equal(counterOf(contextOf(w3.siblings), 'A'), 3);
});

test('a write without a context supersedes everything the coordinating replica holds', () => {
  const a = write([], 'A', 'a', 1000);
  const b = write([], 'B', 'b', 1001);
  const both = reconcile(a.siblings, b.siblings, 'vclock', 2000).siblings;
  assert.equal(both.length, 2);
  const w = write(both, 'C', 'c', 3000);
  assert.deepEqual(w.siblings.map((s) => str(s.value)), ['c']);
});

test('LWW keeps the highest timestamp, ties broken by node id, and a local write always wins locally', () => {
  const a = write([], 'A', 'a', 5000, null, 'lww');
  const b = write([], 'B', 'b', 4000, null, 'lww');
  assert.deepEqual(reconcile(a.siblings, b.siblings, 'lww', 6000).siblings.map((s) => str(s.value)), ['a']);
  assert.deepEqual(reconcile(b.siblings, a.siblings, 'lww', 6000).siblings.map((s) => str(s.value)), ['a']);
  const tieA = write([], 'A', 'ta', 7000, null, 'lww');
  const tieB = write([], 'B', 'tb', 7000, null, 'lww');
  assert.deepEqual(reconcile(tieA.siblings, tieB.siblings, 'lww', 8000).siblings.map((s) => str(s.value)), ['tb']);
  // This node's clock lags the stored version's writer: the write still wins here.
  const lagging = write(a.siblings, 'C', 'c', 1000, null, 'lww');
  assert.deepEqual(lagging.siblings.map((s) => str(s.value)), ['c']);
  assert.ok(lagging.sibling.timestampMs > 5000);
});

test('a delete is a versioned tombstone; a concurrent put survives it as a sibling', () => {
  const w1 = write([], 'A', 'v1', 1000);
  const ctx = contextOf(w1.siblings);
  const d = del(w1.siblings, 'A', 2000, ctx);
  assert.equal(d.siblings.length, 1);
  assert.equal(d.siblings[0]!.tombstone, true);
  assert.deepEqual(liveSiblings(d.siblings, 3000), [], 'reads as not found');
  const concurrent = write(w1.siblings, 'B', 'v2', 2500, ctx);
  const merged = reconcile(d.siblings, concurrent.siblings, 'vclock', 3000);
  assert.equal(merged.siblings.length, 2);
  assert.deepEqual(liveSiblings(merged.siblings, 3000).map((s) => str(s.value)), ['v2']);
});

test('TTL: an expired version reads as absent and stays in the set, so what it superseded cannot come back', () => {
  const w = coordinateWrite([], { nodeId: 'A', nowMs: 1000, mode: 'vclock', value: text('t'), tombstone: false, ttlMs: 500, context: null });
  assert.equal(w.sibling.expiresAtMs, 1500);
  assert.equal(liveSiblings(w.siblings, 1499).length, 1);
  assert.equal(liveSiblings(w.siblings, 1500).length, 0);
  const kept = reconcile(w.siblings, [], 'vclock', 2000);
  assert.equal(kept.changed, false, 'nothing to write: the stored set is what it was');
  assert.deepEqual(kept.siblings, w.siblings);
});

for (const mode of ['vclock', 'lww'] as const) {
  test(`TTL (${mode}): a value overwritten by a write with a TTL does not come back once that TTL has passed`, () => {
    // x on every replica; y (TTL 10 s, its past covers x) reaches two of them; the third still has
    // x when y has expired, and hears of y (a hint) or hands x to the others (a repair).
    const x = write([], 'A', 'x', 1000, null, mode);
    const y = coordinateWrite(x.siblings, { nodeId: 'B', nowMs: 2000, mode, value: text('y'), tombstone: false, ttlMs: 10_000, context: contextOf(x.siblings) });
    assert.deepEqual(y.siblings, [y.sibling], 'y superseded x');
    const later = 20_000;
    const atStale = reconcile(x.siblings, y.siblings, mode, later);
    assert.equal(atStale.changed, true, 'the stale replica takes the expired y');
    assert.deepEqual(atStale.siblings, [y.sibling]);
    assert.deepEqual(liveSiblings(atStale.siblings, later), [], 'and reads as absent');
    const atFresh = reconcile(y.siblings, x.siblings, mode, later);
    assert.equal(atFresh.changed, false, 'a replica holding the expired y refuses x');
    assert.deepEqual(liveSiblings(atFresh.siblings, later), []);
  });
}

test('TTL: a set over its bounds drops an expired version before a live one, even an older live one', () => {
  const expiredOne = coordinateWrite([], { nodeId: 'N0', nowMs: 5000, mode: 'vclock', value: text('expired'), tombstone: false, ttlMs: 1000, context: null });
  let set = expiredOne.siblings;
  for (let i = 1; i <= siblingsMax; i++) set = reconcile(set, write([], `N${i}`, `v${i}`, 1000 + i).siblings, 'vclock', 10_000).siblings;
  assert.equal(set.length, siblingsMax);
  assert.equal(liveSiblings(set, 10_000).length, siblingsMax, 'the expired version went, not the oldest live one');
  assert.ok(liveSiblings(set, 10_000).some((s) => str(s.value) === 'v1'));
});

test('If-Match passes only for the single current version; otherwise CONFLICT with current_version', () => {
  const w1 = write([], 'A', 'v1', 1000);
  checkIfMatch(w1.siblings, w1.version, 2000);
  const conflict = (stored: StoredSibling[], ifMatch: string, current: string | null, siblings: number) =>
    assert.throws(
      () => checkIfMatch(stored, ifMatch, 2000),
      (e) => isRingkvError(e, ErrorCode.Conflict) && e.details.current_version === current && e.details.siblings === siblings,
    );
  conflict(w1.siblings, 'v9_1_A', w1.version, 1);
  conflict([], w1.version, null, 0);
  const other = write([], 'B', 'b', 1500);
  const both = reconcile(w1.siblings, other.siblings, 'vclock', 2000).siblings;
  conflict(both, w1.version, versionOf(both[0]!), 2);
});

test(`many concurrent writers: the set stays within ${siblingsMax} versions and the drop is counted`, () => {
  let set: StoredSibling[] = [];
  let dropped = 0;
  for (let i = 0; i < siblingsMax + 5; i++) {
    const w = write([], `n${i}`, `v${i}`, 1000 + i);
    const r = reconcile(set, w.siblings, 'vclock', 5000);
    set = r.siblings;
    dropped += r.dropped;
  }
  assert.equal(set.length, siblingsMax);
  assert.equal(dropped, 5);
  assert.equal(str(set[0]!.value), `v${siblingsMax + 4}`, 'the newest are kept');
});

test('siblings that together name more node ids than a set can hold (255) are dropped until it can be written', () => {
  // Each write's context names 31 ids (a client's context may name up to vectorClockEntriesMax):
  // eight such concurrent versions name 256, each version alone well within every bound. Merged
  // on a replica or in a coordinator's read repair, the set could not be encoded (an assert, in a
  // promise reaction: the node ended).
  const contextNaming = (i: number): VectorClock => Array.from({ length: vectorClockEntriesMax - 1 }, (_, j) => ({ node: `c${i}-${String(j).padStart(2, '0')}`, counter: 1, timestampMs: 1000 }));
  let set: StoredSibling[] = [];
  let dropped = 0;
  for (let i = 0; i < siblingsMax; i++) {
    const w = write([], `w${i}`, `v${i}`, 2000 + i, contextNaming(i));
    assert.equal(w.siblings.length, 1);
    encodeSiblingSet(w.siblings); // one alone is fine
    const r = reconcile(set, w.siblings, 'vclock', 5000);
    set = r.siblings;
    dropped += r.dropped;
  }
  assert.equal(dropped, 1);
  assert.equal(set.length, siblingsMax - 1);
  assert.equal(str(set[0]!.value), `v${siblingsMax - 1}`, 'the newest are kept');
  const back = decodeSiblingSet(encodeSiblingSet(set));
  assert.equal(back.length, siblingsMax - 1);
});

test('large sibling values are bounded by the storage entry value limit', () => {
  const big = new Uint8Array(600 * 1024);
  const a = coordinateWrite([], { nodeId: 'A', nowMs: 1, mode: 'vclock', value: big, tombstone: false, ttlMs: 0, context: null });
  const b = coordinateWrite([], { nodeId: 'B', nowMs: 2, mode: 'vclock', value: big, tombstone: false, ttlMs: 0, context: null });
  const r = reconcile(a.siblings, b.siblings, 'vclock', 3);
  assert.equal(r.siblings.length, 1, 'two 600 KiB siblings do not fit one 1 MiB entry');
  assert.equal(r.dropped, 1);
});

test('a full set never drops the write being coordinated, even when a skewed clock makes it the oldest', () => {
  let set: StoredSibling[] = [];
  for (let i = 0; i < siblingsMax; i++) set = reconcile(set, write([], `n${i}`, `future${i}`, 10_000 + i).siblings, 'vclock', 0).siblings;
  assert.equal(set.length, siblingsMax);
  // This node's clock is behind every stored version, and the client sends an empty context.
  const w = write(set, 'late', 'mine', 5_000, []);
  assert.ok(w.siblings.includes(w.sibling), 'the new version is kept');
  assert.equal(w.siblings.length, siblingsMax);
  assert.equal(w.dropped, 1);
});

test('a write with a context that a set over its bounds must drop from is dropped by no replica: its version is the newest, whatever this node\'s clock says', () => {
  // V (600 KiB) from a node whose clock is 40 ms ahead; N (600 KiB) coordinated here with a
  // context that has not seen V: siblings, together over the entry's value bound.
  const big = (fill: number) => new Uint8Array(600 * 1024).fill(fill);
  const v = coordinateWrite([], { nodeId: 'B', nowMs: 10_040, mode: 'vclock', value: big(1), tombstone: false, ttlMs: 0, context: null });
  const n = coordinateWrite(v.siblings, { nodeId: 'A', nowMs: 10_000, mode: 'vclock', value: big(2), tombstone: false, ttlMs: 0, context: [] });
  assert.deepEqual(n.siblings, [n.sibling], 'the coordinator keeps the write it acknowledges');
  assert.equal(n.dropped, 1);
  // Another replica holding V merges N as it arrives: it keeps N too, so the replicas agree.
  const other = reconcile(v.siblings, [n.sibling], 'vclock', 10_050);
  assert.deepEqual(other.siblings, [n.sibling], 'the other replica dropped V, not the acknowledged N');
  assert.ok(n.sibling.timestampMs > v.sibling.timestampMs);
});

test('a TTL runs from the coordinating node\'s clock, not from a timestamp raised over a stored version from a node ahead', () => {
  const ahead = write([], 'B', 'from the future', 1000 + 3_600_000, null, 'lww');
  const t = coordinateWrite(ahead.siblings, { nodeId: 'A', nowMs: 1000, mode: 'lww', value: text('short'), tombstone: false, ttlMs: 60_000, context: null });
  assert.ok(t.sibling.timestampMs > ahead.sibling.timestampMs, 'it still wins under LWW');
  assert.equal(t.sibling.expiresAtMs, 61_000);
  assert.deepEqual(liveSiblings(t.siblings, 61_000), [], 'expired a minute after the write');
});

test('an expired version meets its tombstone form (made by a replica\'s compaction): both replicas keep the tombstone form, so their sets are the same', () => {
  const o = coordinateWrite([], { nodeId: 'A', nowMs: 1000, mode: 'vclock', value: text('short-lived'), tombstone: false, ttlMs: 500, context: null });
  const compacted: StoredSibling = { ...o.sibling, tombstone: true, value: new Uint8Array(0), expiresAtMs: 0 };
  // A concurrent version reaches both replicas, one of which has compacted o.
  const n = write([], 'B', 'concurrent', 3000);
  const atCompacted = reconcile(reconcile([compacted], n.siblings, 'vclock', 4000).siblings, [o.sibling], 'vclock', 4000);
  const atOther = reconcile(reconcile([o.sibling], n.siblings, 'vclock', 4000).siblings, [compacted], 'vclock', 4000);
  assert.equal(atCompacted.changed, false, 'the replica that compacted keeps its form');
  assert.equal(atOther.changed, true, 'the other takes the tombstone form');
  assert.deepEqual(atOther.siblings, atCompacted.siblings);
  assert.deepEqual(atOther.siblings.map((s) => [s.tombstone, s.value.length]), [[false, 10], [true, 0]]);
  assert.deepEqual(liveSiblings(atOther.siblings, 4000).map((s) => str(s.value)), ['concurrent']);
});

test('a write without a context (and any LWW write) takes the shortcut, with the result reconcile itself gives', () => {
  // Random stored sets (concurrent writers, deletes, expired TTLs, skewed clocks), then the
  // shortcut's answer against the full reconcile of the same new version.
  let seed = 7;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let round = 0; round < 300; round++) {
    const mode: ConflictMode = rand(3) === 0 ? 'lww' : 'vclock';
    let stored: StoredSibling[] = [];
    for (let i = 0, n = rand(6); i < n; i++) {
      const node = `n${rand(4)}`;
      const nowMs = 1000 + rand(50);
      const w =
        rand(4) === 0
          ? del([], node, nowMs)
          : coordinateWrite([], { nodeId: node, nowMs, mode: 'vclock', value: text(`v${i}`), tombstone: false, ttlMs: rand(2) * 20, context: null });
      stored = reconcile(stored, w.siblings, mode, 1000).siblings;
    }
    const context = mode === 'lww' && rand(2) === 0 ? contextOf(stored.slice(0, 1)) : null;
    const nowMs = 1000 + rand(100);
    const cw = coordinateWrite(stored, { nodeId: `n${rand(4)}`, nowMs, mode, value: text('new'), tombstone: false, ttlMs: 0, context });
    const full = reconcile(stored, [cw.sibling], mode, nowMs, cw.sibling);
    assert.deepEqual(cw.siblings, full.siblings, `round ${round}`);
    assert.equal(cw.dropped, full.dropped);
    assert.equal(cw.changed, full.changed);
  }
});

test('counters follow the clock: a key whose versions this node lost is counted on past them, not from 1', () => {
  const t0 = Date.UTC(2026, 11, 6, 12, 0, 0);
  assert.equal(dotClockTerm(dotClockEpochMs - 5), 0);
  assert.equal(dotClockTerm(dotClockEpochMs + 1), dotCountsPerMs);
  const century = 100 * 365.25 * 86_400_000;
  assert.ok(Number.isSafeInteger(dotClockTerm(dotClockEpochMs + 2.7 * century)), 'exact for 270 years');

  const first = write([], 'A', 'a1', t0);
  assert.equal(first.sibling.dot.counter, dotClockTerm(t0), 'a new key starts at the clock term');
  // Many writes within one millisecond count on by one, past the clock term.
  let stored = first.siblings;
  for (let i = 0; i < 3; i++) stored = write(stored, 'A', `a${i + 2}`, t0).siblings;
  assert.equal(stored[0]!.dot.counter, dotClockTerm(t0) + 3);
  // What is stored wins over a clock that has not moved on (or stepped back).
  const back = write(stored, 'A', 'b', t0 - 60_000);
  assert.equal(back.sibling.dot.counter, dotClockTerm(t0) + 4);

  // The node loses the key (a lost WAL tail, an older copy restored, a purge) while replica B
  // keeps its last version; a write a millisecond later gets a new dot, so B keeps both.
  const atB = stored;
  const again = write([], 'A', 'c', t0 + 1);
  assert.ok(again.sibling.dot.counter > atB[0]!.dot.counter, `${again.version} is above ${versionOf(atB[0]!)}`);
  const merged = reconcile(atB, again.siblings, 'vclock', t0 + 2);
  assert.deepEqual(merged.siblings.map((x) => str(x.value)).sort(), ['a4', 'c'], 'neither hides the other');
});

test('a pruned past keeps the dots of the versions it supersedes: a write over a set with a long history supersedes it on every replica, not only on its coordinator', () => {
  // A version with a past of vectorClockEntriesMax writers, beside an old concurrent one whose
  // dot is the oldest entry of their context: pruning the context to fit dropped that entry, so
  // the coordinator (its shortcut) kept the new version alone while every other replica, holding
  // the same set, kept the old one as its sibling and spread it back.
  let chain: StoredSibling[] = [];
  for (let i = 0; i < vectorClockEntriesMax + 8; i++) {
    chain = write(chain, `w${String(i).padStart(2, '0')}`, `c${i}`, 2000 + i, chain.length === 0 ? null : contextOf(chain)).siblings;
  }
  const old = write([], 'X', 'old', 1000).siblings;
  const stored = reconcile(chain, old, 'vclock', 3000).siblings;
  assert.equal(stored.length, 2, 'the old version is concurrent with the chain');
  assert.ok(mergeClocks(fullClock(stored[0]!), fullClock(stored[1]!)).length > vectorClockEntriesMax, 'their clocks together are over the entries bound');
  for (const context of [null, contextOf(stored)]) {
    const w = write(stored, 'A', 'new', 4000, context);
    assert.deepEqual(w.siblings.map((s) => str(s.value)), ['new'], 'the coordinator keeps the new version alone');
    assert.ok(w.sibling.past.length <= vectorClockEntriesMax);
    // Another replica holding the same set receives the write.
    const elsewhere = reconcile(stored, [w.sibling], 'vclock', 4000);
    assert.deepEqual(elsewhere.siblings.map(versionOf), [w.version], `context ${context === null ? 'none' : 'read'}: no sibling left elsewhere`);
  }
});

test('a read context stays within the clock bounds, so it can be sent back, and a write with it supersedes every version read', () => {
  // A key written through more coordinators than a clock keeps entries, each write with the
  // context read before it: the last version's past is pruned to vectorClockEntriesMax entries
  // and its dot adds one. Then two such histories side by side (siblings).
  const chain = (prefix: string, startMs: number): StoredSibling[] => {
    let stored: StoredSibling[] = [];
    for (let i = 0; i <= vectorClockEntriesMax; i++) {
      stored = write(stored, `${prefix}${String(i).padStart(2, '0')}`, `${prefix}${i}`, startMs + i, stored.length === 0 ? null : contextOf(stored)).siblings;
    }
    return stored;
  };
  const one = chain('a', 2000);
  const two = reconcile(one, chain('b', 3000), 'vclock', 4000).siblings;
  assert.equal(two.length, 2, 'the two histories are concurrent');
  for (const stored of [one, two]) {
    // As a client gets it and sends it back (checkContext decodes it the same way).
    const context = decodeClock(encodeClock(contextOf(stored)));
    assert.ok(context.length <= vectorClockEntriesMax);
    const w = write(stored, 'Z', 'new', 5000, context);
    assert.deepEqual(w.siblings.map((s) => str(s.value)), ['new'], 'the coordinator keeps the new version alone');
    assert.deepEqual(reconcile(stored, [w.sibling], 'vclock', 5000).siblings.map(versionOf), [w.version], 'so does a replica holding the set read');
  }
});

test('under LWW a write never reuses the counter of a version of its node that lost here in the same millisecond', () => {
  // a1 is written at A; b1 (B's clock a millisecond ahead, its past without a1) reaches A in the
  // same millisecond and wins, so a1's counter is gone from A's set; a2, still in that
  // millisecond, must not be given a1's version string (If-Match would take one for the other).
  const t = dotClockEpochMs + 86_400_000;
  const base = write([], 'A', 'base', t - 10, null, 'lww');
  const a1 = write(base.siblings, 'A', 'a1', t, null, 'lww');
  const b1 = write(base.siblings, 'B', 'b1', t + 1, null, 'lww');
  const atA = reconcile(a1.siblings, b1.siblings, 'lww', t).siblings;
  assert.deepEqual(atA.map((s) => str(s.value)), ['b1'], 'b1 wins at A');
  const a2 = write(atA, 'A', 'a2', t, null, 'lww');
  assert.notEqual(a2.version, a1.version);
  assert.ok(a2.sibling.dot.counter > a1.sibling.dot.counter);
});
