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
