// A key's sibling set survives its one-storage-entry encoding exactly, keeps a single value as
// the entry's value, and damaged bytes are refused with the caller's error code, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import type { StoredSibling } from '../../../src/versioning';
import { contextOf, coordinateWrite, decodeSiblingSet, encodeSiblingSet, reconcile } from '../../../src/versioning';

const text = (s: string) => new TextEncoder().encode(s);

function prng(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function threeSiblings(): StoredSibling[] {
  const base = coordinateWrite([], { nodeId: 'A', nowMs: 1000, mode: 'vclock', value: text('base'), tombstone: false, ttlMs: 0, context: null });
  const ctx = contextOf(base.siblings);
  const x = coordinateWrite(base.siblings, { nodeId: 'node-x', nowMs: 2000, mode: 'vclock', value: text('x'), tombstone: false, ttlMs: 60_000, context: ctx });
  const y = coordinateWrite(base.siblings, { nodeId: 'node-y', nowMs: 2001, mode: 'vclock', value: text('yy'), tombstone: false, ttlMs: 0, context: ctx });
  const z = coordinateWrite(base.siblings, { nodeId: 'node-z', nowMs: 2002, mode: 'vclock', value: new Uint8Array(0), tombstone: true, ttlMs: 0, context: ctx });
  const r = reconcile(reconcile(x.siblings, y.siblings, 'vclock', 3000).siblings, z.siblings, 'vclock', 3000);
  assert.equal(r.siblings.length, 3);
  return r.siblings;
}

test('a single version stores its value as the entry value; round trip is exact', () => {
  const w = coordinateWrite([], { nodeId: 'A', nowMs: 1234, mode: 'vclock', value: text('hello'), tombstone: false, ttlMs: 5000, context: null });
  const rec = encodeSiblingSet(w.siblings);
  assert.equal(rec.value, w.siblings[0]!.value, 'no copy for one version');
  assert.equal(rec.timestampMs, 1234);
  assert.equal(rec.expiresAtMs, 6234);
  assert.equal(rec.tombstone, false);
  assert.deepEqual(decodeSiblingSet(rec), w.siblings);
});

test('several versions (values, TTL, tombstone) round-trip; entry flags summarize the set', () => {
  const set = threeSiblings();
  const rec = encodeSiblingSet(set);
  assert.equal(rec.value.length, 3, "'x' + 'yy' + tombstone");
  assert.equal(rec.tombstone, false);
  assert.equal(rec.expiresAtMs, 0, 'a tombstone in the set keeps the entry from expiring');
  assert.equal(rec.timestampMs, 2002);
  const back = decodeSiblingSet(rec);
  assert.deepEqual(back.map((s) => ({ ...s, value: Array.from(s.value) })), set.map((s) => ({ ...s, value: Array.from(s.value) })));
});

test('node tables of every size round-trip: few ids (sorted by insertion) and many (sorted whole), shared ids named once', () => {
  const rand = prng(4242);
  for (const [versions, pastLength] of [[1, 0], [1, 3], [3, 5], [3, 20], [8, 31]] as const) {
    const set: StoredSibling[] = [];
    for (let v = 0; v < versions; v++) {
      // Pasts drawn from 40 ids, so versions share some: the table names each once.
      const nodes = new Set<string>();
      while (nodes.size < pastLength) nodes.add(`n${String(Math.floor(rand() * 40)).padStart(2, '0')}`);
      const past = [...nodes].sort().map((node) => ({ node, counter: 1 + Math.floor(rand() * 1000), timestampMs: Math.floor(rand() * 1e6) }));
      set.push({ value: text(`v${v}`), tombstone: false, timestampMs: 10_000 - v, expiresAtMs: 0, dot: { node: `w${v}`, counter: 1 + v }, past });
    }
    const rec = encodeSiblingSet(set);
    const back = decodeSiblingSet(rec);
    assert.deepEqual(back.map((x) => ({ ...x, value: Array.from(x.value) })), set.map((x) => ({ ...x, value: Array.from(x.value) })), `${versions} x ${pastLength}`);
    const named = new Set(set.flatMap((x) => [x.dot.node, ...x.past.map((e) => e.node)]));
    assert.equal(rec.versionVector[1], named.size, `${versions} x ${pastLength}: the table names each id once`);
  }
});

test('an all-tombstone set is a tombstone entry; an engine-expired entry decodes as tombstones', () => {
  const d = coordinateWrite([], { nodeId: 'A', nowMs: 1, mode: 'vclock', value: new Uint8Array(0), tombstone: true, ttlMs: 0, context: null });
  const rec = encodeSiblingSet(d.siblings);
  assert.equal(rec.tombstone, true);
  assert.equal(decodeSiblingSet(rec)[0]!.tombstone, true);
  // Compaction turned an expired TTL entry into a tombstone: value gone, metadata kept.
  const ttl = coordinateWrite([], { nodeId: 'A', nowMs: 1, mode: 'vclock', value: text('gone'), tombstone: false, ttlMs: 10, context: null });
  const expired = { ...encodeSiblingSet(ttl.siblings), value: new Uint8Array(0), tombstone: true };
  const back = decodeSiblingSet(expired);
  assert.equal(back[0]!.tombstone, true);
  assert.deepEqual(back[0]!.dot, ttl.sibling.dot, 'causality survives');
  // The same for a version whose value was empty (nothing to drop, yet a tombstone entry now).
  const empty = coordinateWrite([], { nodeId: 'A', nowMs: 1, mode: 'vclock', value: new Uint8Array(0), tombstone: false, ttlMs: 10, context: null });
  const emptyExpired = { ...encodeSiblingSet(empty.siblings), tombstone: true };
  assert.equal(emptyExpired.value.length, 0);
  const emptyBack = decodeSiblingSet(emptyExpired);
  assert.deepEqual(emptyBack.map((x) => [x.tombstone, x.value.length, x.expiresAtMs]), [[true, 0, 0]]);
  assert.deepEqual(emptyBack[0]!.dot, empty.sibling.dot);
  // A tombstone entry that still holds value bytes is no such entry: a live version there is corruption.
  assert.throws(() => decodeSiblingSet({ ...encodeSiblingSet(ttl.siblings), tombstone: true }), (e: unknown) => isRingkvError(e, ErrorCode.Corruption) && /holds a live version/.test(e.message));
});

test('damaged records are refused with the requested code, never a crash', () => {
  const rand = prng(77);
  const rec = encodeSiblingSet(threeSiblings());
  let refused = 0;
  for (let i = 0; i < 3000; i++) {
    const vv = rec.versionVector.slice(0, rand() < 0.3 ? Math.floor(rand() * rec.versionVector.length) : rec.versionVector.length);
    for (let f = 0; f < 1 + Math.floor(rand() * 3) && vv.length > 0; f++) vv[Math.floor(rand() * vv.length)] = Math.floor(rand() * 256);
    const value = rand() < 0.1 ? rec.value.subarray(1) : rec.value;
    try {
      decodeSiblingSet({ versionVector: vv, value, tombstone: false }, ErrorCode.Corruption);
    } catch (err) {
      assert.ok(isRingkvError(err, ErrorCode.Corruption), `unexpected ${String(err)}`);
      refused++;
    }
  }
  assert.ok(refused > 1000, `most damage is detected (${refused})`);
  assert.throws(
    () => decodeSiblingSet({ versionVector: new Uint8Array([9]), value: new Uint8Array(0), tombstone: false }, ErrorCode.InvalidArgument),
    (e) => isRingkvError(e, ErrorCode.InvalidArgument),
  );
  assert.throws(() => decodeSiblingSet({ versionVector: new Uint8Array(0), value: new Uint8Array(0), tombstone: false }), (e) => isRingkvError(e, ErrorCode.Corruption));
});
