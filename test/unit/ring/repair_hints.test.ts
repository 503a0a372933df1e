// The pure parts of read repair (merging replica answers, finding stale replicas) and the bounded
// hint store of hinted handoff, over real encoded sibling sets from src/versioning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coordinateWrite, type StoredSibling } from '../../../src/versioning';
import { mergeAnswers, mergeRecords, recordOf, siblingsOf, staleReplicas } from '../../../src/coordinator/read_repair';
import { HintStore } from '../../../src/coordinator/hinted_handoff';

const write = (stored: StoredSibling[], nodeId: string, value: string, nowMs: number) =>
  coordinateWrite(stored, { nodeId, nowMs, mode: 'vclock', value: Buffer.from(value), tombstone: false, ttlMs: 0, context: null }).siblings;
const values = (s: StoredSibling[]) => s.map((x) => Buffer.from(x.value).toString()).sort();

test('a replica missing the newest version, or the key, is stale; up-to-date ones are not', () => {
  // Proves read repair targets exactly the replicas behind the merged answer.
  const v1 = write([], 'a', 'one', 1000);
  const v2 = write(v1, 'a', 'two', 2000);
  const answers = [
    { nodeId: 'a', siblings: v2 },
    { nodeId: 'b', siblings: v1 },
    { nodeId: 'c', siblings: [] },
    { nodeId: 'd', siblings: siblingsOf(recordOf(v2)) },
  ];
  const merged = mergeAnswers(answers, 'vclock', 3000);
  assert.deepEqual(values(merged), ['two']);
  assert.deepEqual(staleReplicas(answers, merged, 'vclock', 3000), ['b', 'c']);
});

test('concurrent versions from two replicas merge into siblings, and both replicas are stale', () => {
  // Proves a read across a partition's two sides returns both and repairs both sides.
  const x = write([], 'a', 'x', 1000);
  const y = write([], 'b', 'y', 1001);
  const answers = [{ nodeId: 'a', siblings: x }, { nodeId: 'b', siblings: y }];
  const merged = mergeAnswers(answers, 'vclock', 2000);
  assert.deepEqual(values(merged), ['x', 'y']);
  assert.deepEqual(staleReplicas(answers, merged, 'vclock', 2000), ['a', 'b']);
  assert.deepEqual(values(mergeAnswers(answers, 'lww', 2000)), ['y']);
});

test('the hint store coalesces hints per key and drops the oldest past its bound', () => {
  // Proves hints are bounded (hintsPerNodeMax) and a newer hint for a key merges, not duplicates.
  const h = new HintStore(3);
  const merge = (a: Parameters<typeof mergeRecords>[0], b: Parameters<typeof mergeRecords>[1]) => mergeRecords(a, b, 'vclock', 5000);
  const rec = (v: string, node: string) => recordOf(write([], node, v, 1000));
  for (const k of ['k1', 'k2', 'k3']) h.add('n9', { key: Buffer.from(k), record: rec(k, 'a') }, merge);
  h.add('n9', { key: Buffer.from('k1'), record: rec('k1-other', 'b') }, merge);
  assert.equal(h.size('n9'), 3);
  const first = h.peek('n9', 10);
  assert.deepEqual(first.map((x) => Buffer.from(x.key).toString()), ['k2', 'k3', 'k1']);
  assert.deepEqual(values(siblingsOf(first[2]!.record)), ['k1', 'k1-other']);
  h.add('n9', { key: Buffer.from('k4'), record: rec('k4', 'a') }, merge);
  assert.equal(h.size('n9'), 3);
  assert.equal(h.counters.hintsDropped, 1);
  const batch = h.peek('n9', 2);
  for (const x of batch) h.delivered('n9', x);
  assert.equal(h.size('n9'), 1);
  assert.deepEqual(h.stats(), { hintsQueued: 1, hintsStored: 5, hintsDropped: 1, hintsDelivered: 2 });
});
