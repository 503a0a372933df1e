// The shard worker's batch semantics, in-process over the real engine: ops in one batch see the
// earlier ops' writes (two writes to one key keep both in causal order, a read after a write
// reads it), a duplicate idempotency key in one batch is applied once, a failing op does not
// fail its neighbours, and the batch's writes are durable before the answer (read after reopen).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from '../../../src/errors';
import type { GetDone, OpResult, WriteDone, WriteOp } from '../../../src/shards/messages';
import { ShardCore } from '../../../src/shards/shard_core';
import { openStorage } from '../../../src/storage';
import { decodeSiblingSet } from '../../../src/versioning';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const b = (s: string) => new Uint8Array(Buffer.from(s));
function put(key: string, value: string, extra: Partial<WriteOp> = {}): WriteOp {
  return { op: 'put', key: b(key), value: b(value), ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: null, returnRecord: false, ...extra };
}
function ok<T extends OpResult>(r: OpResult | undefined): T {
  assert.ok(r !== undefined && r.ok, `expected success, got ${JSON.stringify(r)}`);
  return r as T;
}

test('one batch: later ops see earlier writes, duplicates of an idempotency key apply once, errors stay per op', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-core-'));
  dirs.push(dir);
  const engine = await openStorage({ dir, syncMode: 'always' });
  const core = new ShardCore(engine, { nodeId: 'A', conflictMode: 'vclock', idempotencyKeysMax: 100, idempotencyTtlMs: 60_000 });
  const results = await core.execute([
    put('k', 'one'),
    put('k', 'two'),
    { op: 'get', key: b('k') },
    put('i', 'x', { idempotencyKey: 'same' }),
    put('i', 'y', { idempotencyKey: 'same' }),
    put('k', 'bad', { ifMatch: 'v1_0_A' }),
    put('z', 'bad-context', { context: b('not a clock') }),
  ]);
  assert.equal(results.length, 7);
  const w1 = ok<WriteDone>(results[0]);
  const w2 = ok<WriteDone>(results[1]);
  assert.match(w1.version, /^v1_/);
  assert.match(w2.version, /^v2_/, 'the second write saw the first');
  const read = ok<GetDone>(results[2]);
  assert.deepEqual(decodeSiblingSet(read.record!).map((s) => Buffer.from(s.value).toString()), ['two']);
  const i1 = ok<WriteDone>(results[3]);
  const i2 = ok<WriteDone>(results[4]);
  assert.equal(i2.replayed, true);
  assert.equal(i2.version, i1.version);
  assert.equal(results[5]!.ok, false);
  assert.equal(!results[5]!.ok && results[5]!.error.code, ErrorCode.Conflict);
  assert.equal(!results[5]!.ok && results[5]!.error.details.current_version, w2.version);
  assert.equal(!results[6]!.ok && results[6]!.error.code, ErrorCode.InvalidArgument);
  assert.equal(core.counters.idempotentReplays, 1);
  await engine.close();

  // Everything answered was durable: a fresh engine on the same directory reads it.
  const again = await openStorage({ dir });
  try {
    const k = again.getSync(b('k'));
    assert.ok(k !== null);
    assert.deepEqual(decodeSiblingSet(k).map((s) => Buffer.from(s.value).toString()), ['two']);
    const i = again.getSync(b('i'));
    assert.deepEqual(decodeSiblingSet(i!).map((s) => Buffer.from(s.value).toString()), ['x'], 'the duplicate was not written');
    assert.equal(again.getSync(b('z')), null);
  } finally {
    await again.close();
  }
});
