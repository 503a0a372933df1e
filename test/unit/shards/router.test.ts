// The shard router over real worker threads and the real storage engine: concurrent requests
// share Piscina tasks, batch buffers are moved (detached) not copied, a full queue answers BUSY,
// a slow shard answers TIMEOUT, storage errors keep their code across the thread, the shard count
// is pinned in the data dir, replicated records apply idempotently and scan back by token, and
// submitMany answers each op of a group once, by index, under one shared deadline, and GETs a
// batch's answer had no room for are sent again.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, RingkvError, isRingkvError } from '../../../src/errors';
import { fromWireError, ShardRouter } from '../../../src/shards';
import type { OpResult, ShardOp, WriteDone, WriteOp } from '../../../src/shards';
import { tokenMax } from '../../../src/shards/shard_map';
import { shardBatchReadBytesMax, valueBytesMax, versionVectorBytesMax } from '../../../src/constants';
import { decodeSiblingSet, emptyClock, encodeClock } from '../../../src/versioning';
import { laneClockMs } from '../../../src/shards/lane_timing';
import { heldFileName, releaseFileName } from './helpers/held_storage';
import { writeDelayMs } from './helpers/slow_storage';
import { forceFullGc } from '../../helpers/full_gc';
import { waitFor } from '../../helpers/cluster';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-router-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const b = (s: string) => new Uint8Array(Buffer.from(s));
/** 'closed' once `router.close()` resolves, or a note that it is still waiting after `ms`. */
async function closedWithin(router: ShardRouter, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([router.close().then(() => 'closed'), new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`close() still waiting after ${ms} ms`), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function put(key: string, value: string, extra: Partial<WriteOp> = {}): WriteOp {
  return { op: 'put', key: b(key), value: b(value), ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: null, returnRecord: false, notAfterMs: 0, ...extra };
}
const helper = (name: string) => path.join(__dirname, 'helpers', `${name}.js`);
const writeDelaySeconds = writeDelayMs / 1000;

/** One write through submitMany with an early answer: resolves once durable, rejects with its error. */
function writeEarly(router: ShardRouter, op: WriteOp, timeoutMs: number, onApplied: (r: WriteDone) => void): Promise<WriteDone> {
  return new Promise((resolve, reject) => {
    router.submitMany(
      [op],
      timeoutMs,
      (_i, result, error) => {
        if (error !== null) reject(error);
        else if (!result!.ok) reject(fromWireError(result!.error));
        else resolve(result as WriteDone);
      },
      (_i, r) => onApplied(r),
    );
  });
}

test('many concurrent requests to one shard share few batches; every batch buffer is moved (detached)', async () => {
  const sentSizes: number[] = [];
  const router = await ShardRouter.open({
    dataDir: tempDir(),
    nodeId: 'A',
    shardCount: 1,
    storage: { syncMode: 'none' },
    hooks: { onBatchSent: (_shard, buffer) => sentSizes.push(buffer.byteLength) },
  });
  try {
    const n = 1000;
    const done = await Promise.all(Array.from({ length: n }, (_, i) => router.write(put(`key-${i}`, `value-${i}`))));
    assert.equal(done.length, n);
    const c = router.clients[0]!.counters;
    assert.equal(c.opsSent, n);
    // All arrive in one turn: they leave as full batches of shardBatchOpsMax (512), not one by one.
    assert.equal(c.batchTasks, Math.ceil(n / 512), `${n} ops went in ${c.batchTasks} tasks`);
    assert.equal(sentSizes.length, c.batchTasks);
    assert.ok(sentSizes.every((size) => size === 0), `source buffers detached after sending: ${sentSizes.join(',')}`);
    const rec = await router.get(b('key-777'));
    assert.ok(rec !== null);
    assert.equal(Buffer.from(decodeSiblingSet(rec)[0]!.value).toString(), 'value-777');
    assert.equal(await router.get(b('absent')), null);
  } finally {
    await router.close();
  }
});

test("GETs past a batch's read bytes are sent again in later batches: every one is answered, in full, with no error", async () => {
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' } });
  try {
    const n = Math.ceil((2 * shardBatchReadBytesMax) / valueBytesMax) + 3;
    const value = (i: number): string => `${i}:`.padEnd(valueBytesMax, 'v');
    await Promise.all(Array.from({ length: n }, (_, i) => router.write(put(`big-${i}`, value(i)))));
    const c = router.clients[0]!.counters;
    const batchesBefore = c.batchTasks;
    const ops: ShardOp[] = Array.from({ length: n }, (_, i) => ({ op: 'get', key: b(`big-${i}`) }));
    const answers = await submitMany(router, ops, 30_000).answers;
    answers.forEach((r, i) => {
      if (r instanceof RingkvError || !r.ok || r.op !== 'get' || r.record === null) assert.fail(`GET ${i}: ${r instanceof RingkvError ? r.message : r.ok ? 'not found' : r.error.message}`);
      assert.equal(Buffer.from(decodeSiblingSet(r.record)[0]!.value).toString(), value(i));
    });
    assert.ok(c.readsAskedAgain > 0, 'some GETs were sent again');
    const batches = c.batchTasks - batchesBefore;
    assert.ok(batches >= 3, `${n} GETs of ${valueBytesMax} bytes went in ${batches} batches`);
  } finally {
    await router.close();
  }
});

test("writes that answer with their record, past a batch's answer bytes, are applied in later batches, in order, each answering its own record", async () => {
  const dataDir = tempDir();
  // A sibling set's values fit valueBytesMax together: half of it is the largest that leaves room.
  const bigBytes = valueBytesMax / 2;
  const n = Math.ceil((2 * shardBatchReadBytesMax) / bigBytes) + 3;
  const big = 'b'.repeat(bigBytes);
  // The big values are node B's versions, so node A's writes (with a context of nothing seen)
  // stand beside them as siblings: every record A's writes answer with is over half a MiB.
  const other = await ShardRouter.open({ dataDir, nodeId: 'B', shardCount: 1, storage: { syncMode: 'none' } });
  await Promise.all(Array.from({ length: n }, (_, i) => other.write(put(`rec-${i}`, big))));
  await other.close();
  const router = await ShardRouter.open({ dataDir, nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' } });
  try {
    const c = router.clients[0]!.counters;
    const batchesBefore = c.batchTasks;
    // Two writes per key, the second after all the firsts: the seconds are among the ones put
    // off. Neither context has seen anything, so each write stands beside what it found: a
    // second's record holds its first, and a first's does not hold its second.
    const context = encodeClock(emptyClock);
    const ops: ShardOp[] = [
      ...Array.from({ length: n }, (_, i) => put(`rec-${i}`, `first-${i}`, { returnRecord: true, context })),
      ...Array.from({ length: n }, (_, i) => put(`rec-${i}`, `second-${i}`, { returnRecord: true, context })),
    ];
    const answers = await submitMany(router, ops, 30_000).answers;
    const values = (r: OpResult | RingkvError | undefined, what: string): string[] => {
      if (r === undefined || r instanceof RingkvError || !r.ok || r.op === 'apply' || r.record === null) return assert.fail(`${what}: ${r instanceof RingkvError ? r.message : JSON.stringify(r)}`);
      return decodeSiblingSet(r.record)
        .map((x) => (x.value.length === bigBytes ? 'big' : Buffer.from(x.value).toString()))
        .sort();
    };
    for (let i = 0; i < n; i++) {
      assert.deepEqual(values(answers[i], `first write ${i}`), ['big', `first-${i}`]);
      assert.deepEqual(values(answers[n + i], `second write ${i}`), ['big', `first-${i}`, `second-${i}`]);
    }
    assert.ok(c.writesAskedAgain > 0, 'some writes were sent again');
    const batches = c.batchTasks - batchesBefore;
    assert.ok(batches >= 3, `${2 * n} writes answering over half a MiB each went in ${batches} batches`);
    for (let i = 0; i < n; i++) {
      const stored = await router.get(b(`rec-${i}`));
      assert.deepEqual(values({ ok: true, op: 'get', record: stored }, `get ${i}`), ['big', `first-${i}`, `second-${i}`]);
    }
  } finally {
    await router.close();
  }
});

test('past shardQueueOpsMax queued requests a newcomer gets RKV_ERR_BUSY; the accepted ones complete', async () => {
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' }, limits: { queueOpsMax: 4, batchOpsMax: 2, batchesInFlightMax: 2 } });
  try {
    const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => router.write(put(`k${i}`, 'v'))));
    const busy = settled.filter((s) => s.status === 'rejected' && isRingkvError(s.reason, ErrorCode.Busy));
    const ok = settled.filter((s) => s.status === 'fulfilled');
    assert.equal(busy.length + ok.length, 20, 'nothing else happened');
    assert.equal(ok.length, 4, 'four queued: nothing leaves before the end of the turn they all arrived in');
    assert.equal(router.clients[0]!.counters.busyRejections, 16);
  } finally {
    await router.close();
  }
});

test('a record whose version metadata is over versionVectorBytesMax is refused as invalid, and the shard goes on', async () => {
  // Records reach apply from other nodes; one too large must not end the node.
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' } });
  try {
    const record = { versionVector: new Uint8Array(70_000), value: b('x'), tombstone: false };
    await assert.rejects(router.apply(b('k'), record), (err: unknown) => isRingkvError(err, ErrorCode.InvalidArgument) && /version metadata of 70000 bytes exceeds 4096/.test(err.message));
    await assert.rejects(router.apply(b('k'), { ...record, versionVector: new Uint8Array(versionVectorBytesMax + 1) }), (err: unknown) => isRingkvError(err, ErrorCode.InvalidArgument));
    assert.match((await router.write(put('k', 'v'))).version, /^v/, 'the shard still writes');
  } finally {
    await router.close();
  }
});

test('past queueBytesMax held a newcomer gets RKV_ERR_BUSY; a request over the bound is taken when nothing is held; bytes come back as requests settle', async () => {
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' }, limits: { queueBytesMax: 64 * 1024 } });
  try {
    const value = 'v'.repeat(16 * 1024);
    const wave = async (from: number): Promise<{ ok: number; busy: RingkvError[] }> => {
      const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => router.write(put(`k${from + i}`, value))));
      const busy = settled.flatMap((s) => (s.status === 'rejected' && isRingkvError(s.reason, ErrorCode.Busy) ? [s.reason] : []));
      const ok = settled.filter((s) => s.status === 'fulfilled').length;
      assert.equal(ok + busy.length, 20, 'nothing else happened');
      return { ok, busy };
    };
    // Four payloads of a little over 16 KiB pass 64 KiB: three are held (all arrive in one turn).
    const first = await wave(0);
    assert.equal(first.ok, 3);
    assert.equal(first.busy[0]!.details.max_bytes, 64 * 1024);
    assert.ok((first.busy[0]!.details.held_bytes as number) > 3 * 16 * 1024, JSON.stringify(first.busy[0]!.details));
    assert.match(first.busy[0]!.message, /holds \d+ bytes of requests/);
    // Settled, they gave their bytes back: the next wave is held the same.
    assert.equal((await wave(100)).ok, 3);
    const big = 'w'.repeat(100 * 1024);
    assert.match((await router.write(put('big', big))).version, /^v/, 'one request over the bound, alone');
    assert.equal(router.clients[0]!.counters.busyRejections, 34);
  } finally {
    await router.close();
  }
});

test('a request the shard cannot answer in time gets RKV_ERR_TIMEOUT with needed/answered/timeout_ms', async () => {
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' }, storageModule: helper('slow_storage') });
  try {
    const first = router.write(put('slow', 'v'), 2000);
    const behind = router.write(put('queued', 'v'), 50);
    await assert.rejects(behind, (e) => isRingkvError(e, ErrorCode.Timeout) && e.details.timeout_ms === 50 && e.details.needed === 1 && e.details.answered === 0);
    assert.equal(/^v[1-9]\d*_/.test((await first).version), true, 'the slow one still completes within its own timeout');
  } finally {
    await router.close();
  }
});

test('a storage error reaches the caller with its code and details across the thread boundary', async () => {
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storageModule: helper('failing_storage') });
  try {
    await assert.rejects(router.write(put('k', 'v')), (e) => isRingkvError(e, ErrorCode.Io) && e.details.errno === 'ENOSPC' && /disk full/.test(e.message));
  } finally {
    await router.close();
  }
});

/** Runs router.submitMany and collects each index's answer, failing on a second answer for one index. */
function submitMany(router: ShardRouter, ops: ShardOp[], timeoutMs: number): { refusedAtOnce: number; answers: Promise<(OpResult | RingkvError)[]> } {
  const answers = new Array<OpResult | RingkvError>(ops.length);
  let left = ops.length;
  let resolve!: (a: (OpResult | RingkvError)[]) => void;
  const all = new Promise<(OpResult | RingkvError)[]>((r) => (resolve = r));
  router.submitMany(ops, timeoutMs, (i, result, error) => {
    assert.equal(answers[i], undefined, `index ${i} answered twice`);
    answers[i] = error ?? result!;
    if (--left === 0) resolve(answers);
  });
  return { refusedAtOnce: ops.length - left, answers: all };
}

test('submitMany: ops spread over three shards, each answered once by its index; a full queue refuses the rest at once', async () => {
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 3, storage: { syncMode: 'none' } });
  try {
    const n = 60;
    const puts = submitMany(router, Array.from({ length: n }, (_, i) => put(`many-${i}`, `value-${i}`)), 5000);
    assert.equal(puts.refusedAtOnce, 0);
    const written = await puts.answers;
    written.forEach((r, i) => assert.ok(!(r instanceof RingkvError) && r.ok && r.op === 'put', `put ${i}: ${String(r)}`));
    const perShard = router.clients.map((c) => c.counters.opsSent);
    assert.ok(perShard.every((sent) => sent > 0), `every shard got some of the ops: ${perShard.join(',')}`);
    // Reads in reverse order: each answer must be the value of its own index's key.
    const gets = submitMany(router, Array.from({ length: n }, (_, i) => ({ op: 'get', key: b(`many-${n - 1 - i}`) })), 5000);
    (await gets.answers).forEach((r, i) => {
      assert.ok(!(r instanceof RingkvError) && r.ok && r.op === 'get' && r.record !== null, `get ${i}`);
      assert.equal(Buffer.from(decodeSiblingSet(r.record)[0]!.value).toString(), `value-${n - 1 - i}`);
    });
  } finally {
    await router.close();
  }
  const small = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' }, limits: { queueOpsMax: 4, batchOpsMax: 2, batchesInFlightMax: 2 } });
  try {
    const many = submitMany(small, Array.from({ length: 10 }, (_, i) => put(`q${i}`, 'v')), 5000);
    assert.equal(many.refusedAtOnce, 6, 'the six past the queue bound are refused before submitMany returns');
    const answers = await many.answers;
    answers.slice(0, 4).forEach((r, i) => assert.ok(!(r instanceof RingkvError) && r.ok, `accepted ${i}`));
    answers.slice(4).forEach((r) => assert.ok(isRingkvError(r, ErrorCode.Busy)));
    assert.equal(small.clients[0]!.counters.busyRejections, 6);
  } finally {
    await small.close();
  }
});

test('requests that expire while the shard is stalled are let go at once, not kept in its queue until it moves again', async () => {
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' }, storageModule: helper('slow_storage'), limits: { batchesInFlightMax: 1, batchOpsMax: 1 } });
  try {
    // The only batch out waits writeDelayMs in the engine; nothing else is taken meanwhile.
    const first = router.write(put('slow', 'v'), 5000);
    await new Promise((resolve) => setImmediate(resolve));
    let held: WeakRef<Uint8Array> | undefined;
    // Counted, not kept: an error whose stack is not formatted yet holds its frames' objects.
    const timeouts = async (): Promise<number> => {
      const big = new Uint8Array(1024 * 1024);
      held = new WeakRef(big);
      const answers = [router.write({ ...put('big', ''), value: big }, 5), ...Array.from({ length: 2000 }, (_, i) => router.write(put(`e${i}`, 'v'), 5))];
      return (await Promise.allSettled(answers)).filter((s) => s.status === 'rejected' && isRingkvError(s.reason, ErrorCode.Timeout)).length;
    };
    assert.equal(await timeouts(), 2001);
    assert.equal(router.clients[0]!.queuedOps, 0);
    await new Promise((resolve) => setImmediate(resolve));
    forceFullGc();
    assert.equal(held!.deref(), undefined, 'the expired request\'s value is not kept');
    assert.match((await first).version, /^v/);
  } finally {
    await router.close();
  }
});

test('submitMany: ops that share a deadline all time out at it, each with its own timeout error', async () => {
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' }, storageModule: helper('slow_storage') });
  try {
    const first = router.write(put('slow', 'v'), 2000);
    const behind = submitMany(router, [put('a', 'v'), { op: 'get', key: b('b') }, put('c', 'v')], 50);
    const answers = await behind.answers;
    assert.equal(answers.length, 3);
    for (const e of answers) assert.ok(isRingkvError(e, ErrorCode.Timeout) && e.details.timeout_ms === 50 && e.details.needed === 1, String(e));
    assert.notEqual(answers[0], answers[2], 'one error per op: callers may annotate their own');
    assert.equal(router.clients[0]!.counters.timeouts, 3);
    assert.equal(/^v[1-9]\d*_/.test((await first).version), true);
  } finally {
    await router.close();
  }
});

test('the shard count is recorded in the data dir; a restart with another count fails clearly', async () => {
  const dir = tempDir();
  const r1 = await ShardRouter.open({ dataDir: dir, nodeId: 'A', shardCount: 2 });
  await r1.write(put('x', '1'));
  await r1.close();
  await assert.rejects(ShardRouter.open({ dataDir: dir, nodeId: 'A', shardCount: 3 }), (e) => isRingkvError(e, ErrorCode.InvalidArgument) && e.details.recorded_shards === 2);
  const r2 = await ShardRouter.open({ dataDir: dir, nodeId: 'A' });
  try {
    assert.equal(r2.shardCount, 2, 'no count given: the recorded one');
    assert.notEqual(await r2.get(b('x')), null, 'data written before the restart is found');
  } finally {
    await r2.close();
  }
});

test('replicated records apply idempotently, concurrent ones become siblings, and scan back in token order', async () => {
  const a = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 2, storage: { syncMode: 'none' } });
  const bRouter = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'B', shardCount: 3, storage: { syncMode: 'none' } });
  try {
    const keys = Array.from({ length: 50 }, (_, i) => `rk-${i}`);
    for (const k of keys) {
      const w = await a.write(put(k, `from-A-${k}`, { returnRecord: true }));
      assert.ok(w.record !== null);
      assert.equal(await bRouter.apply(b(k), w.record), true, 'new to B');
      assert.equal(await bRouter.apply(b(k), w.record), false, 'applying again changes nothing');
    }
    // A write at B without A's context, applied to A: concurrent, so A keeps both.
    const wb = await bRouter.write(put('conflict', 'b-side', { returnRecord: true }));
    await a.write(put('conflict', 'a-side'));
    assert.equal(await a.apply(b('conflict'), wb.record!), true);
    const both = decodeSiblingSet((await a.get(b('conflict')))!);
    assert.deepEqual(both.map((s) => Buffer.from(s.value).toString()).sort(), ['a-side', 'b-side']);

    const scanned = await bRouter.scanRange(0n, tokenMax, { limit: 1000 });
    assert.equal(scanned.length, keys.length + 1);
    const names = scanned.map((e) => Buffer.from(e.key).toString());
    assert.deepEqual([...names].sort(), [...keys, 'conflict'].sort());
    const limited = await bRouter.scanRange(0n, tokenMax, { limit: 7 });
    assert.deepEqual(limited.map((e) => Buffer.from(e.key).toString()), names.slice(0, 7), 'token order across shards; limit respected');
    await assert.rejects(bRouter.apply(b('bad'), { versionVector: new Uint8Array([7, 7]), value: new Uint8Array(0), tombstone: false }), (e) => isRingkvError(e, ErrorCode.InvalidArgument));
  } finally {
    await a.close();
    await bRouter.close();
  }
});

test('a write with onApplied hears its result before it is durable; its promise waits for the sync', async () => {
  // Proves the early answer the cluster coordinator replicates from: with every engine write held
  // back 400 ms (slow_storage), onApplied fires long before the write resolves, carries the
  // record, and a read in between already sees the write (it is applied, only not yet synced).
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' }, storageModule: helper('slow_storage') });
  try {
    const started = Date.now();
    let appliedAtMs = -1;
    let appliedVersion = '';
    const write = writeEarly(router, put('early', 'v1', { returnRecord: true }), 5000, (r) => {
      appliedAtMs = Date.now() - started;
      appliedVersion = r.version;
      assert.ok(r.record !== null, 'the record to replicate comes with the early answer');
    });
    while (appliedAtMs < 0 && Date.now() - started < 3000) await new Promise((r) => setTimeout(r, 5));
    assert.ok(appliedAtMs >= 0, 'onApplied was called');
    const seen = await router.get(b('early'));
    assert.ok(seen !== null, 'a read after the early answer sees the write');
    const done = await write;
    const doneAtMs = Date.now() - started;
    assert.equal(done.version, appliedVersion);
    assert.ok(doneAtMs >= 400, `the write resolved only after the held-back engine write (${doneAtMs} ms)`);
    assert.ok(appliedAtMs < doneAtMs, `applied at ${appliedAtMs} ms, durable at ${doneAtMs} ms`);
    const plain = await router.write(put('plain', 'v'), 5000);
    assert.match(plain.version, /^v[1-9]\d*_/);
  } finally {
    await router.close();
  }
});

test("a shard's lane timing puts a batch's time in its stages: the held-back engine write in sync, a read in none of it", async () => {
  // slow_storage holds every engine write back 400 ms before it is made: that wait is between
  // the batch being applied (the write handed to the engine) and its being durable, so it must
  // show in the sync stage. Each batch counts once in queue, to_worker and apply, and once in
  // to_main per message it sends back (an early-answered write's durability notice is a second).
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' }, storageModule: helper('slow_storage') });
  try {
    const lane = router.clients[0]!.laneTiming;
    const counts = () => Object.fromEntries(Object.entries(lane.snapshot()).map(([stage, s]) => [stage, s.count]));
    assert.deepEqual(counts(), { queue: 0, to_worker: 0, apply: 0, sync: 0, to_main: 0 });

    const startedMs = laneClockMs();
    await router.write(put('k', 'v1'), 5000);
    const elapsedSeconds = (laneClockMs() - startedMs) / 1000;
    const afterWrite = lane.snapshot();
    // The stages follow one another, timed on both threads by one clock: together they fit in the
    // write's own time as this thread saw it (two clocks apart would add their offset to a hop).
    const stagesSeconds = Object.values(afterWrite).reduce((sum, st) => sum + st.sumSeconds, 0);
    assert.ok(stagesSeconds <= elapsedSeconds, `stages ${stagesSeconds} s within the write's ${elapsedSeconds} s`);
    assert.deepEqual(counts(), { queue: 1, to_worker: 1, apply: 1, sync: 1, to_main: 1 });
    assert.ok(afterWrite.sync.sumSeconds >= writeDelaySeconds, `sync ${afterWrite.sync.sumSeconds} s holds the ${writeDelaySeconds} s the engine write was held back`);
    assert.ok(afterWrite.apply.sumSeconds < afterWrite.sync.sumSeconds, `apply ${afterWrite.apply.sumSeconds} s is not where the wait went`);

    assert.ok((await router.get(b('k'))) !== null);
    assert.deepEqual(counts(), { queue: 2, to_worker: 2, apply: 2, sync: 1, to_main: 2 }, 'a read batch has no sync');
    assert.equal(lane.snapshot().sync.sumSeconds, afterWrite.sync.sumSeconds);

    await writeEarly(router, put('k', 'v2'), 5000, () => {});
    assert.deepEqual(counts(), { queue: 3, to_worker: 3, apply: 3, sync: 2, to_main: 4 }, 'an early answer and its durability notice are two messages back');
    assert.ok(lane.snapshot().sync.sumSeconds >= 2 * writeDelaySeconds);
  } finally {
    await router.close();
  }
});

test('submitMany with onApplied: the writes across three shards hear their results by index once applied, then once durable', async () => {
  // Proves the cluster coordinator's batched local writes: every write's early answer comes by
  // its own index (the index map across shards) before its durable answer, which carries the same
  // version; a get in the same submission is answered but never told early.
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 3, storage: { syncMode: 'batch' } });
  try {
    const n = 24;
    const ops: ShardOp[] = Array.from({ length: n }, (_, i) => (i === 5 ? { op: 'get', key: b('none') } : put(`early-${i}`, `v${i}`, { returnRecord: true })));
    const appliedVersion = new Map<number, string>();
    const wrong: number[] = [];
    const durable = await new Promise<Map<number, OpResult>>((resolve, reject) => {
      const out = new Map<number, OpResult>();
      router.submitMany(
        ops,
        5000,
        (i, result, error) => {
          if (error !== null) return reject(error);
          if (ops[i]!.op !== 'get' && !appliedVersion.has(i)) return reject(new Error(`write ${i} durable before it was applied`));
          out.set(i, result!);
          if (out.size === n) resolve(out);
        },
        (i, r) => {
          // Noted, not asserted here: a throw would land in the shard client, not in this test.
          const own = ops[i]!.op === 'put' && r.record !== null && Buffer.from(decodeSiblingSet(r.record)[0]!.value).toString() === `v${i}`;
          if (appliedVersion.has(i) || !own) wrong.push(i);
          appliedVersion.set(i, r.version);
        },
      );
    });
    assert.deepEqual(wrong, [], 'early answers for another index, twice, or not the write itself');
    assert.equal(appliedVersion.size, n - 1);
    for (const [i, r] of durable) {
      if (i === 5) assert.deepEqual(r, { ok: true, op: 'get', record: null });
      else assert.ok(r.ok && r.op === 'put' && r.version === appliedVersion.get(i));
    }
    assert.equal(new Set(ops.filter((op) => op.op === 'put').map((op) => router.shardOfKey(op.key))).size, 3, 'the writes spread over all three shards');
  } finally {
    await router.close();
  }
});

test('an early-answered write whose storage write fails still fails, with the storage error', async () => {
  // Proves durability is never assumed: onApplied may have fired, but the promise rejects.
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storageModule: helper('failing_storage') });
  try {
    let applied = 0;
    await assert.rejects(
      writeEarly(router, put('k', 'v', { returnRecord: true }), 5000, () => applied++),
      (e) => isRingkvError(e, ErrorCode.Io) && e.details.errno === 'ENOSPC',
    );
    assert.equal(applied, 1);
    assert.equal(router.clients[0]!.queuedOps, 0);
  } finally {
    await router.close();
  }
});

test('a shard worker that dies fails its batch in flight, is replaced, and the shard serves on from disk', async () => {
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'always' }, storageModule: helper('dying_storage') });
  try {
    await router.write(put('kept', 'v1'));
    await assert.rejects(router.write(put('die', 'x'), 5000), (e) => isRingkvError(e, ErrorCode.Internal) && /worker thread/.test(e.message));
    assert.equal(router.clients[0]!.counters.workerRestarts, 1);
    // The replacement opened the same engine: the synced write is there, and writes go on.
    const kept = await router.get(b('kept'), 5000);
    assert.ok(kept !== null && Buffer.from(kept.value).toString() === 'v1');
    await router.write(put('after', 'v2'), 5000);
    assert.ok((await router.get(b('after'), 5000)) !== null);
  } finally {
    await router.close();
  }
});

test('a worker that dies while the router closes fails what it had in flight, and the close completes', async () => {
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'always' }, storageModule: helper('dying_storage') });
  const dying = assert.rejects(router.write(put('die', 'x'), 60_000), (e) => isRingkvError(e, ErrorCode.Internal) && /worker thread/.test(e.message));
  await new Promise((resolve) => setImmediate(resolve)); // the batch is on the lane
  assert.equal(await closedWithin(router, 20_000), 'closed');
  await dying;
  assert.equal(router.clients[0]!.counters.workerRestarts, 0, 'no worker is opened again while closing');
});

test("stats are answered while a scrub and a cleanup hold both of the worker's control-task slots", async () => {
  // held_storage keeps scrub() and cleanup() waiting inside the worker until RELEASE exists; /health,
  // /metrics and gossip's storage poll ask for stats all along and must not wait for them.
  const dataDir = tempDir();
  const router = await ShardRouter.open({ dataDir, nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' }, storageModule: helper('held_storage') });
  try {
    await router.write(put('k', 'v'));
    const scrub = router.scrub(0, false);
    const cleanup = router.cleanup([{ from: 0n, to: tokenMax }]);
    for (const method of ['scrub', 'cleanup']) await waitFor(`${method} to run in the worker`, () => fs.existsSync(path.join(dataDir, heldFileName(method))), 20_000);
    let timer: NodeJS.Timeout | undefined;
    const stats = await Promise.race([
      router.stats(),
      new Promise<'waiting'>((resolve) => (timer = setTimeout(() => resolve('waiting'), 20_000))),
    ]);
    clearTimeout(timer);
    assert.notEqual(stats, 'waiting', 'stats waited behind the scrub and the cleanup');
    assert.equal(stats !== 'waiting' && stats[0]!.storage.entriesWritten, 1);
    fs.writeFileSync(path.join(dataDir, releaseFileName), '');
    assert.equal((await scrub)[0]!.quarantined.length, 0);
    assert.equal((await cleanup)[0]!.entriesDropped, 0);
  } finally {
    fs.writeFileSync(path.join(dataDir, releaseFileName), '');
    await router.close();
  }
});

test('close stops two scrubs that hold both control-task slots, instead of waiting for them to finish', async () => {
  // Two scrubs at 1 byte/s: each waits a second between looks at its pace, and the table is long
  // enough for a minute of that. A shutdown queued its close task behind them and waited.
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'none' } });
  for (let i = 0; i < 64_000; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, j) => router.write(put(`s-${i + j}`, 'x'))));
  await router.flush();
  // Settled as they end: one may end with its thread, before the test looks.
  const scrubs = [router.scrub(1, false), router.scrub(1, false)].map((p) => p.then((reports) => ({ reports }), (error: unknown) => ({ error })));
  assert.equal(await closedWithin(router, 20_000), 'closed');
  // One ended cut short, which freed the slot the close task ran in; the other was cut short too,
  // or ended with its thread (waiting out its pace when the pool was destroyed).
  const ended = await Promise.all(scrubs);
  assert.ok(ended.some((e) => 'reports' in e && e.reports[0]!.cutShort), JSON.stringify(ended));
  for (const e of ended) if ('reports' in e) assert.equal(e.reports[0]!.cutShort, true);
});

test("a replaced worker's counters go on from the dead one's last figures; its gauges are its own", async () => {
  const router = await ShardRouter.open({ dataDir: tempDir(), nodeId: 'A', shardCount: 1, storage: { syncMode: 'always' }, storageModule: helper('dying_storage') });
  try {
    for (const k of ['a', 'b', 'c']) await router.write(put(k, 'v'));
    const [before] = await router.stats();
    assert.ok(before!.opsApplied >= 3 && before!.storage.entriesWritten === 3 && before!.storage.walSyncs >= 1, JSON.stringify(before));
    await assert.rejects(router.write(put('die', 'x'), 5000), (e) => isRingkvError(e, ErrorCode.Internal));
    const [replaced] = await router.stats();
    assert.equal(router.clients[0]!.counters.workerRestarts, 1);
    assert.ok(replaced!.opsApplied >= before!.opsApplied, `opsApplied ${replaced!.opsApplied} < ${before!.opsApplied}`);
    assert.ok(replaced!.storage.walSyncs >= before!.storage.walSyncs, `walSyncs ${replaced!.storage.walSyncs} < ${before!.storage.walSyncs}`);
    assert.ok(replaced!.storage.walSyncSeconds.count >= before!.storage.walSyncSeconds.count);
    assert.ok(replaced!.gcSeconds.minor.count >= before!.gcSeconds.minor.count);
    await router.write(put('d', 'v'));
    const [after] = await router.stats();
    assert.equal(after!.storage.entriesWritten, before!.storage.entriesWritten + 1, 'the new worker counts on from the last figures');
    // A gauge is the live engine's: it holds a, b and c (recovered from the WAL) and d ('die' ended
    // the worker before it was written), not those plus the dead one's three.
    assert.equal(before!.storage.keysEstimate, 3);
    assert.equal(after!.storage.keysEstimate, 4);
  } finally {
    await router.close();
  }
});
