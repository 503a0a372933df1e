// pullKey (rebuild_gate.ts): what a rebuilding or lagging node merges in from the other replicas
// before it answers or issues a version. A replica's record that does not decode counts as a
// replica that did not answer; it must not throw out of the read's callback, which runs in the
// replica batcher's promise reaction (a throw there ended the process). And the gate over a real
// shard router: a read waits for the sources rebuildSources names, and fails when none answers
// only where one must (a joined node's displaced owners are read as a best effort).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RebuildSources } from '../../../src/coordinator/anti_entropy';
import type { LocalReplica } from '../../../src/coordinator/cluster_replica';
import { pullKey, rebuildGate, type PullDeps } from '../../../src/coordinator/rebuild_gate';
import { recordOf } from '../../../src/coordinator/read_repair';
import { ErrorCode, isRingkvError, RingkvError } from '../../../src/errors';
import { ShardRouter } from '../../../src/shards';
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

test('pullKey resolves within its timeout with the sources that answered: one that never does holds it no longer', async () => {
  const good = recordOf(coordinateWrite([], { nodeId: 'A', nowMs: Date.now(), mode: 'vclock', value: b('v'), tombstone: false, ttlMs: 0, context: null }).siblings);
  const applied: WireRecord[] = [];
  const deps: PullDeps = {
    conflictMode: 'vclock',
    // "silent" is up but never answers (its read waits on a batch whose deadline is far later).
    read: (id, _key, _timeoutMs, done) => {
      if (id === 'good') void Promise.resolve().then(() => done(good, null));
    },
    apply: async (_key, record) => (applied.push(record), true),
  };
  const outcome = await Promise.race([pullKey(deps, ['silent', 'good'], b('k'), 200), new Promise((r) => setTimeout(() => r('still waiting'), 5000))]);
  assert.equal(outcome, 1, 'the one that answered, at its timeout');
  assert.equal(applied.length, 1);
  assert.equal(await Promise.race([pullKey(deps, ['silent'], b('k'), 100), new Promise((r) => setTimeout(() => r('still waiting'), 5000))]), 0);
});

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('the gate merges in what its sources hold before a read; where none answers, the read fails only if one must', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-gate-'));
  dirs.push(dataDir);
  const router = await ShardRouter.open({ dataDir, nodeId: 'X', shardCount: 1, storage: { syncMode: 'none' } });
  try {
    const held = recordOf(coordinateWrite([], { nodeId: 'C', nowMs: Date.now(), mode: 'vclock', value: b('on C'), tombstone: false, ttlMs: 0, context: null }).siblings);
    let sources: RebuildSources = { nodes: [], required: false };
    const counters = { rebuildPulls: 0, rebuildPushFailures: 0 };
    // Only the parts the gate uses: reads, merges and writes of a real router.
    const store = { get: (key, timeoutMs) => router.get(key, timeoutMs), apply: (key, record, timeoutMs) => router.apply(key, record, timeoutMs), submitMany: (ops, timeoutMs, onAnswer, onApplied) => router.submitMany(ops, timeoutMs, onAnswer, onApplied) } as Pick<LocalReplica, 'get' | 'apply' | 'submitMany'>;
    const gate = rebuildGate(store as LocalReplica, {
      conflictMode: 'vclock',
      rebuilding: () => true,
      sourcesFor: () => sources,
      // C holds the key; "gone" never answers in time.
      read: (id, _key, _timeoutMs, done) => void Promise.resolve().then(() => (id === 'C' ? done(held, null) : done(null, new RingkvError(ErrorCode.Timeout, 'no answer')))),
      apply: (key, record, timeoutMs) => router.apply(key, record, timeoutMs),
      push: async () => {},
      counters,
    });

    sources = { nodes: ['C'], required: false };
    const got = await gate.get(b('k1'), 2000);
    assert.ok(got !== null);
    assert.deepEqual(decodeSiblingSet(got).map((x) => Buffer.from(x.value).toString()), ['on C'], 'what the displaced owner holds, merged in');
    assert.ok((await router.get(b('k1'), 2000)) !== null, 'and kept in this replica');

    sources = { nodes: ['gone'], required: false };
    assert.equal(await gate.get(b('k2'), 2000), null, 'a best-effort source that does not answer: this replica answers alone');
    sources = { nodes: ['gone'], required: true };
    await assert.rejects(gate.get(b('k2'), 2000), (e: unknown) => isRingkvError(e, ErrorCode.Unavailable));
    assert.equal(counters.rebuildPulls, 3);
  } finally {
    await router.close();
  }
});
