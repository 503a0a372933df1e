// pullKey (rebuild_gate.ts): what a rebuilding or lagging node merges in from the other replicas
// before it answers or issues a version. A replica's record that does not decode counts as a
// replica that did not answer; it must not throw out of the read's callback, which runs in the
// replica batcher's promise reaction (a throw there ended the process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pullKey, type PullDeps } from '../../../src/coordinator/rebuild_gate';
import { recordOf } from '../../../src/coordinator/read_repair';
import type { WireRecord } from '../../../src/shards/messages';
import { coordinateWrite, decodeSiblingSet } from '../../../src/versioning';

const b = (s: string) => new Uint8Array(Buffer.from(s));

test('pullKey merges what the replicas that answer hold, and counts a replica whose record does not decode as not answering', async () => {
  const good = recordOf(coordinateWrite([], { nodeId: 'A', nowMs: Date.now(), mode: 'vclock', value: b('v'), tombstone: false, ttlMs: 0, context: null }).siblings);
  const garbage: WireRecord = { versionVector: b('not a sibling set'), value: b('x'), tombstone: false };
  const applied: WireRecord[] = [];
  const deps: PullDeps = {
    conflictMode: 'vclock',
    // Answers the way the replica batcher does: from a promise reaction.
    read: (id, _key, _timeoutMs, done) => void Promise.resolve().then(() => done(id === 'bad' ? garbage : good, null)),
    apply: async (_key, record) => (applied.push(record), true),
  };
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  try {
    assert.equal(await pullKey(deps, ['bad', 'good'], b('k'), 1000), 1);
    assert.equal(await pullKey(deps, ['bad'], b('k'), 1000), 0);
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
  assert.equal(applied.length, 1, 'only the pull with an answer merged anything');
  assert.deepEqual(decodeSiblingSet(applied[0]!).map((s) => Buffer.from(s.value).toString()), ['v']);
});
