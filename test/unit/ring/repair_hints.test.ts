// The pure parts of read repair (merging replica answers, finding stale replicas) and the bounded
// hint store of hinted handoff, over real encoded sibling sets from src/versioning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coordinateWrite, type StoredSibling } from '../../../src/versioning';
import { answerOf, mergeAnswers, mergeRecords, recordOf, type ReplicaAnswer, siblingsOf, staleReplicas } from '../../../src/coordinator/read_repair';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { HintStore } from '../../../src/coordinator/hinted_handoff';

const write = (stored: StoredSibling[], nodeId: string, value: string, nowMs: number) =>
  coordinateWrite(stored, { nodeId, nowMs, mode: 'vclock', value: Buffer.from(value), tombstone: false, ttlMs: 0, context: null }).siblings;
const values = (s: StoredSibling[]) => s.map((x) => Buffer.from(x.value).toString()).sort();

/** Answers as the coordinator makes them: each replica's record, decoded unless it repeats the first. */
function answersOf(held: Array<[string, StoredSibling[] | null]>): ReplicaAnswer[] {
  const out: ReplicaAnswer[] = [];
  for (const [nodeId, siblings] of held) out.push(answerOf(nodeId, siblings === null ? null : recordOf(siblings), out[0]));
  return out;
}

test('a replica missing the newest version, or the key, is stale; up-to-date ones are not', () => {
  // Proves read repair targets exactly the replicas behind the merged answer.
  const v1 = write([], 'a', 'one', 1000);
  const v2 = write(v1, 'a', 'two', 2000);
  const answers = answersOf([
    ['a', v2],
    ['b', v1],
    ['c', null],
    ['d', siblingsOf(recordOf(v2))],
  ]);
  const merged = mergeAnswers(answers, 'vclock', 3000);
  assert.deepEqual(values(merged), ['two']);
  const repair = staleReplicas(answers, 'vclock', 3000);
  assert.deepEqual(repair.stale, ['b', 'c']);
  assert.deepEqual(values(repair.merged), ['two']);
});

test('concurrent versions from two replicas merge into siblings, and both replicas are stale', () => {
  // Proves a read across a partition's two sides returns both and repairs both sides.
  const x = write([], 'a', 'x', 1000);
  const y = write([], 'b', 'y', 1001);
  const answers = answersOf([
    ['a', x],
    ['b', y],
  ]);
  const merged = mergeAnswers(answers, 'vclock', 2000);
  assert.deepEqual(values(merged), ['x', 'y']);
  assert.deepEqual(staleReplicas(answers, 'vclock', 2000).stale, ['a', 'b']);
  assert.deepEqual(values(mergeAnswers(answers, 'lww', 2000)), ['y']);
});

test('replicas that hold the same bytes are decoded once, merge to that set, and need no repair', () => {
  // Proves the agreeing read's short cut: later answers share the first one's decoded siblings
  // (no decode), the merge is the set itself, nobody is stale; and that one differing replica
  // (or a missing key beside a present one) still takes the full path.
  const v1 = write([], 'a', 'one', 1000);
  const v2 = write(v1, 'b', 'two', 2000);
  const same = answersOf([
    ['a', v2],
    ['b', v2],
    ['c', v2],
  ]);
  assert.ok(same[1]!.siblings === same[0]!.siblings && same[2]!.siblings === same[0]!.siblings, 'equal records share one decoded set');
  assert.deepEqual(values(mergeAnswers(same, 'vclock', 3000)), ['two']);
  assert.deepEqual(staleReplicas(same, 'vclock', 3000).stale, []);
  const none = answersOf([
    ['a', null],
    ['b', null],
  ]);
  assert.deepEqual(mergeAnswers(none, 'vclock', 3000), []);
  assert.deepEqual(staleReplicas(none, 'vclock', 3000).stale, []);
  const oneBehind = answersOf([
    ['a', v2],
    ['b', v2],
    ['c', v1],
  ]);
  assert.notEqual(oneBehind[2]!.siblings, oneBehind[0]!.siblings);
  assert.deepEqual(staleReplicas(oneBehind, 'vclock', 3000).stale, ['c']);
  const missing = answersOf([
    ['a', null],
    ['b', v1],
  ]);
  assert.deepEqual(staleReplicas(missing, 'vclock', 3000).stale, ['a']);
  // A record that does not decode is refused, unless it repeats the first answer's bytes (which
  // decoded already).
  const bad = { versionVector: new Uint8Array([0xff, 0xff, 0xff]), value: new Uint8Array(0), tombstone: false };
  assert.throws(() => answerOf('x', bad, same[0]), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument));
});

test('the hint store coalesces hints per key and drops the oldest past its bound', () => {
  // Proves hints are bounded (hintsPerNodeMax) and a newer hint for a key merges, not duplicates.
  const h = new HintStore({ perNodeMax: 3, merge: (a, b) => mergeRecords(a, b, 'vclock', 5000) });
  const rec = (v: string, node: string) => recordOf(write([], node, v, 1000));
  for (const k of ['k1', 'k2', 'k3']) h.add('n9', Buffer.from(k), rec(k, 'a'));
  h.add('n9', Buffer.from('k1'), rec('k1-other', 'b'));
  assert.equal(h.size('n9'), 3);
  const first = h.peek('n9', 10);
  // k1 merged keeps its place: it is as old as its first write.
  assert.deepEqual(first.map((x) => Buffer.from(x.key).toString()), ['k1', 'k2', 'k3']);
  assert.deepEqual(values(siblingsOf(first[0]!.record)), ['k1', 'k1-other']);
  h.add('n9', Buffer.from('k4'), rec('k4', 'a'));
  assert.equal(h.size('n9'), 3);
  assert.equal(h.stats().hintsDropped, 1);
  const batch = h.peek('n9', 2);
  assert.deepEqual(batch.map((x) => Buffer.from(x.key).toString()), ['k2', 'k3'], 'the oldest, k1, was dropped');
  for (const x of batch) h.delivered('n9', x);
  assert.equal(h.size('n9'), 1);
  assert.deepEqual(h.stats(), { hintsQueued: 1, hintsStored: 5, hintsDropped: 1, hintsExpired: 0, hintsDelivered: 2, hintsRecovered: 0, hintsDiskBytes: 0, hintWriteFailures: 0 });
});
