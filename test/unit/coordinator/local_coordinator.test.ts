// The single-node coordinator end to end over real shard workers and the real engine in a temp
// dir: put/get/delete, TTL, If-Match 409 with current_version, an idempotent retry applied once,
// siblings from stale contexts resolved by a write with the read context, LWW mode, input
// checks with their codes, a restart that reads everything back under the same node id, a data
// dir put back to an older copy that issues no version string again, and batches (a WebSocket
// frame's operations) answered per operation without a promise chain each, their reads held to
// the caller's room for answers.
import { createHook } from 'node:async_hooks';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { keyBytesMax, tombstoneGraceMsDefault, valueBytesMax } from '../../../src/constants';
import { createLocalCoordinator } from '../../../src/coordinator';
import { readSyncedSince } from '../../../src/coordinator/sync_coverage';
import { batchEach } from '../../helpers/batch_each';
import type { BatchOp, BatchOutcome, GetResult } from '../../../src/coordinator';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { contextCounterMax, encodeClock, parseVersion } from '../../../src/versioning';

const counterOfVersion = (version: string): number => parseVersion(version).counter;

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-local-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const b = (s: string) => new Uint8Array(Buffer.from(s));
const s = (u: Uint8Array) => Buffer.from(u).toString();
function found(r: GetResult): Extract<GetResult, { found: true }> {
  assert.equal(r.found, true);
  return r as Extract<GetResult, { found: true }>;
}

test('put, get, delete, If-Match, idempotent retry, then a restart reads everything back', async () => {
  const dir = tempDir();
  let c = await createLocalCoordinator({ dataDir: dir, shardCount: 2, syncMode: 'batch' });
  const nodeId = c.nodeId;
  try {
    const p1 = await c.put({ key: b('user:1'), value: b('alice'), consistency: 'QUORUM' });
    assert.match(p1.version, new RegExp(`^v[1-9]\\d*_\\d+_${nodeId}$`));
    assert.equal(p1.acks, 1);
    const g1 = found(await c.get({ key: b('user:1'), consistency: 'ALL' }));
    assert.equal(s(g1.value), 'alice');
    assert.equal(g1.version, p1.version);
    assert.equal(g1.timestampMs, p1.timestampMs);
    assert.equal(g1.siblings.length, 1);

    // Conditional write: the current version passes, a stale one is a 409 naming the current.
    const p2 = await c.put({ key: b('user:1'), value: b('alice-2'), consistency: 'ONE', ifMatch: p1.version });
    await assert.rejects(
      c.put({ key: b('user:1'), value: b('lost'), consistency: 'ONE', ifMatch: p1.version }),
      (e) => isRingkvError(e, ErrorCode.Conflict) && e.details.current_version === p2.version,
    );
    await assert.rejects(c.put({ key: b('nobody'), value: b('x'), consistency: 'ONE', ifMatch: p1.version }), (e) => isRingkvError(e, ErrorCode.Conflict) && e.details.current_version === null);

    // A retried write with the same idempotency key is applied once and answers the same.
    const first = await c.put({ key: b('order:9'), value: b('paid'), consistency: 'ONE', idempotencyKey: 'req-42' });
    const retry = await c.put({ key: b('order:9'), value: b('paid'), consistency: 'ONE', idempotencyKey: 'req-42' });
    assert.deepEqual(retry, first);
    const stats = await c.stats();
    assert.equal(stats.idempotentReplays, 1);
    assert.equal(found(await c.get({ key: b('order:9'), consistency: 'ONE' })).version, first.version, 'no second version was written');

    const d = await c.delete({ key: b('user:1'), consistency: 'QUORUM' });
    assert.equal(d.tombstoneExpiryMs, d.timestampMs + tombstoneGraceMsDefault);
    assert.deepEqual(await c.get({ key: b('user:1'), consistency: 'ONE' }), { found: false, key: b('user:1') });
    const again = await c.put({ key: b('user:1'), value: b('back'), consistency: 'ONE' });
    assert.ok(again.version !== p1.version && again.version !== p2.version, 'versions are never reused');

    const status = await c.clusterStatus();
    assert.equal(status.nodes.length, 1);
    assert.equal(status.nodes[0]!.id, nodeId);
    assert.equal(status.nodes[0]!.status, 'healthy');
    assert.equal(status.replication_factor, 1);
    assert.ok(status.total_keys >= 2);
  } finally {
    await c.close();
  }
  await assert.rejects(c.get({ key: b('user:1'), consistency: 'ONE' }), (e) => isRingkvError(e, ErrorCode.Closed));

  c = await createLocalCoordinator({ dataDir: dir });
  try {
    assert.equal(c.nodeId, nodeId, 'the node id is kept in the data dir');
    assert.equal(s(found(await c.get({ key: b('user:1'), consistency: 'ONE' })).value), 'back');
    assert.equal(s(found(await c.get({ key: b('order:9'), consistency: 'ONE' })).value), 'paid');
  } finally {
    await c.close();
  }
  await assert.rejects(createLocalCoordinator({ dataDir: dir, nodeId: 'someone-else' }), (e) => isRingkvError(e, ErrorCode.InvalidArgument));
});

test('writes from a stale context become siblings; a write with the read context resolves them', async () => {
  const c = await createLocalCoordinator({ dataDir: tempDir(), shardCount: 1, syncMode: 'none' });
  try {
    await c.put({ key: b('cart'), value: b('[]'), consistency: 'ONE' });
    const read = found(await c.get({ key: b('cart'), consistency: 'ONE' }));
    await c.put({ key: b('cart'), value: b('[milk]'), consistency: 'ONE', context: read.context });
    await c.put({ key: b('cart'), value: b('[eggs]'), consistency: 'ONE', context: read.context });
    const conflicted = found(await c.get({ key: b('cart'), consistency: 'ONE' }));
    assert.deepEqual(conflicted.siblings.map((x) => s(x.value)).sort(), ['[eggs]', '[milk]']);
    assert.equal(s(conflicted.value), s(conflicted.siblings[0]!.value), 'value is the newest sibling');
    // The replica's own view holds the same two versions, newest first, neither a tombstone.
    const view = await c.replica(b('cart'));
    assert.deepEqual(view.replicas, [c.nodeId]);
    const byValue = <T extends { value: Uint8Array }>(xs: readonly T[]): T[] => [...xs].sort((x, y) => s(x.value).localeCompare(s(y.value)));
    assert.deepEqual(
      byValue(view.versions).map((v) => [s(v.value), v.version, v.timestampMs, v.tombstone, v.expiresAtMs]),
      byValue(conflicted.siblings).map((x) => [s(x.value), x.version, x.timestampMs, false, 0]),
    );
    assert.ok(view.versions[0]!.timestampMs >= view.versions[1]!.timestampMs, 'newest first');
    await assert.rejects(
      c.put({ key: b('cart'), value: b('x'), consistency: 'ONE', ifMatch: conflicted.version }),
      (e) => isRingkvError(e, ErrorCode.Conflict) && e.details.siblings === 2,
      'If-Match never passes while siblings exist',
    );
    await c.put({ key: b('cart'), value: b('[eggs,milk]'), consistency: 'ONE', context: conflicted.context });
    const resolved = found(await c.get({ key: b('cart'), consistency: 'ONE' }));
    assert.deepEqual(resolved.siblings.map((x) => s(x.value)), ['[eggs,milk]']);
    await assert.rejects(c.put({ key: b('cart'), value: b('x'), consistency: 'ONE', context: b('garbage') }), (e) => isRingkvError(e, ErrorCode.InvalidArgument));
    // A crafted context whose counter for this node is near 2^53: refused, and the key stays writable.
    for (const counter of [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, contextCounterMax + 1]) {
      const crafted = encodeClock([{ node: c.nodeId, counter, timestampMs: 1 }]);
      await assert.rejects(
        c.put({ key: b('cart'), value: b('x'), consistency: 'ONE', context: crafted }),
        (e) => isRingkvError(e, ErrorCode.InvalidArgument) && /context counter \d+ for node .* exceeds 4503599627370496/.test(e.message),
        String(counter),
      );
      assert.match((await c.put({ key: b('cart'), value: b('y'), consistency: 'ONE' })).version, /^v/);
    }
    const highest = encodeClock([{ node: c.nodeId, counter: contextCounterMax, timestampMs: 1 }]);
    assert.equal(counterOfVersion((await c.put({ key: b('cart'), value: b('z'), consistency: 'ONE', context: highest })).version), contextCounterMax + 1);
    assert.match((await c.put({ key: b('cart'), value: b('w'), consistency: 'ONE' })).version, /^v/);
  } finally {
    await c.close();
  }
});

test('LWW mode keeps one version under the same stale-context writes', async () => {
  const c = await createLocalCoordinator({ dataDir: tempDir(), shardCount: 1, syncMode: 'none', conflictMode: 'lww' });
  try {
    await c.put({ key: b('k'), value: b('0'), consistency: 'ONE' });
    const read = found(await c.get({ key: b('k'), consistency: 'ONE' }));
    await c.put({ key: b('k'), value: b('1'), consistency: 'ONE', context: read.context });
    await c.put({ key: b('k'), value: b('2'), consistency: 'ONE', context: read.context });
    const g = found(await c.get({ key: b('k'), consistency: 'ONE' }));
    assert.deepEqual(g.siblings.map((x) => s(x.value)), ['2']);
  } finally {
    await c.close();
  }
});

test('TTL: a value past its TTL reads as not found', async () => {
  const c = await createLocalCoordinator({ dataDir: tempDir(), shardCount: 1, syncMode: 'none' });
  try {
    const p = await c.put({ key: b('session'), value: b('tok'), consistency: 'ONE', ttlSeconds: 1 });
    await c.put({ key: b('forever'), value: b('v'), consistency: 'ONE' });
    assert.equal(found(await c.get({ key: b('session'), consistency: 'ONE' })).version, p.version);
    await new Promise((r) => setTimeout(r, 1100 - Math.max(0, Date.now() - p.timestampMs)));
    assert.equal((await c.get({ key: b('session'), consistency: 'ONE' })).found, false);
    assert.equal((await c.get({ key: b('forever'), consistency: 'ONE' })).found, true);
  } finally {
    await c.close();
  }
});

test('bad requests fail with the code the HTTP layer maps, and the node keeps serving', async () => {
  const c = await createLocalCoordinator({ dataDir: tempDir(), shardCount: 1, syncMode: 'none' });
  try {
    const code = (e: unknown, want: string) => isRingkvError(e) && e.code === want;
    await assert.rejects(c.put({ key: new Uint8Array(keyBytesMax + 1), value: b('v'), consistency: 'ONE' }), (e) => code(e, ErrorCode.KeyTooLarge));
    await assert.rejects(c.put({ key: b('k'), value: new Uint8Array(valueBytesMax + 1), consistency: 'ONE' }), (e) => code(e, ErrorCode.ValueTooLarge));
    await assert.rejects(c.put({ key: new Uint8Array(0), value: b('v'), consistency: 'ONE' }), (e) => code(e, ErrorCode.InvalidArgument));
    await assert.rejects(c.get({ key: b('k'), consistency: 'TWO' as 'ONE' }), (e) => code(e, ErrorCode.InvalidArgument));
    await assert.rejects(c.put({ key: b('k'), value: b('v'), consistency: 'ONE', ttlSeconds: -1 }), (e) => code(e, ErrorCode.InvalidArgument));
    await assert.rejects(c.put({ key: b('k'), value: b('v'), consistency: 'ONE', ttlSeconds: 1.5 }), (e) => code(e, ErrorCode.InvalidArgument));
    await assert.rejects(c.get({ key: b('k'), consistency: 'ONE', timeoutMs: 0 }), (e) => code(e, ErrorCode.InvalidArgument));
    // Any byte string is a key, including non-UTF-8 bytes and '/'.
    const odd = Uint8Array.from([0xff, 0x00, 0x2f, 0x25, 0x20]);
    await c.put({ key: odd, value: b('odd'), consistency: 'ALL' });
    assert.equal(s(found(await c.get({ key: odd, consistency: 'ALL' })).value), 'odd');
    const big = new Uint8Array(valueBytesMax).fill(7);
    await c.put({ key: new Uint8Array(keyBytesMax).fill(1), value: big, consistency: 'ONE' });
    assert.equal(found(await c.get({ key: new Uint8Array(keyBytesMax).fill(1), consistency: 'ONE' })).value.length, valueBytesMax);
  } finally {
    await c.close();
  }
});

test('a data dir put back to an older copy never issues a version string again: If-Match with a lost version is a 409', async () => {
  // As after a power loss that took the WAL's tail, or a restored backup: the node's store goes
  // back in time while clients (and, in a cluster, other replicas) hold versions made after it.
  const dir = tempDir();
  const older = tempDir();
  let c = await createLocalCoordinator({ dataDir: dir, shardCount: 1, syncMode: 'batch' });
  const v0 = await c.put({ key: b('account'), value: b('v0'), consistency: 'ONE' });
  await c.close();
  fs.cpSync(dir, older, { recursive: true });
  c = await createLocalCoordinator({ dataDir: dir });
  const lost = await c.put({ key: b('account'), value: b('v1'), consistency: 'ONE' });
  await c.close();

  c = await createLocalCoordinator({ dataDir: older });
  try {
    assert.equal(found(await c.get({ key: b('account'), consistency: 'ONE' })).version, v0.version, 'the copy holds v0 only');
    const next = await c.put({ key: b('account'), value: b('v2'), consistency: 'ONE' });
    assert.ok(counterOfVersion(next.version) > counterOfVersion(lost.version), `${next.version} counts past the lost ${lost.version}`);
    await assert.rejects(
      c.put({ key: b('account'), value: b('v3'), consistency: 'ONE', ifMatch: lost.version }),
      (e) => isRingkvError(e, ErrorCode.Conflict) && e.details.current_version === next.version,
    );
  } finally {
    await c.close();
  }
});

test('a batch answers each operation in order, refusals on their own, with a few promises for the lot', async () => {
  const c = await createLocalCoordinator({ dataDir: tempDir(), shardCount: 3, syncMode: 'none' });
  try {
    const n = 32;
    const puts: BatchOp[] = Array.from({ length: n }, (_, i) => ({ op: 'put', req: { key: b(`frame-${i}`), value: b(`value-${i}`), consistency: 'QUORUM' } }));
    // Promises made while a batch is submitted and answered: per frame and shard, not per
    // operation. The same puts one by one (batchEach over put) show that the hook counts them.
    const promisesMade = async (run: () => Promise<BatchOutcome[]>): Promise<{ promises: number; outcomes: BatchOutcome[] }> => {
      let promises = 0;
      const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && promises++) }).enable();
      try {
        const outcomes = await run();
        return { promises, outcomes };
      } finally {
        hook.disable();
      }
    };
    const oneByOne = await promisesMade(() => batchEach(c, puts));
    assert.ok(oneByOne.promises >= 2 * n, `${oneByOne.promises} promises for ${n} puts one by one`);
    const together = await promisesMade(() => c.batch(puts));
    assert.ok(together.promises < n / 4, `${together.promises} promises for a batch of ${n}`);
    const written = together.outcomes;
    // The second version of each key: its counter is above the first one's.
    const firstCounter = (i: number): number => {
      const o = oneByOne.outcomes[i]!;
      return o.ok && o.op === 'put' ? counterOfVersion(o.result.version) : NaN;
    };
    written.forEach((o, i) => assert.ok(o.ok && o.op === 'put' && counterOfVersion(o.result.version) > firstCounter(i) && s(o.result.key) === `frame-${i}`, `put ${i}`));

    const mixed: BatchOp[] = [
      { op: 'get', req: { key: b('frame-7'), consistency: 'ONE' } },
      { op: 'put', req: { key: b('k'), value: new Uint8Array(valueBytesMax + 1), consistency: 'ONE' } },
      { op: 'delete', req: { key: b('frame-3'), consistency: 'ALL', ifMatch: 'v9_1_nobody' } },
      { op: 'get', req: { key: b('absent'), consistency: 'QUORUM' } },
      { op: 'get', req: { key: b('frame-8'), consistency: 'TWO' as 'ONE' } },
      { op: 'delete', req: { key: b('frame-1'), consistency: 'ONE' } },
      { op: 'get', req: { key: b('frame-2'), consistency: 'ONE', timeoutMs: 1234 } },
    ];
    const [get7, tooBig, conflict, absent, badLevel, deleted, get2] = await c.batch(mixed);
    assert.ok(get7!.ok && get7!.op === 'get' && get7!.result.found && s(get7!.result.value) === 'value-7');
    assert.ok(!tooBig!.ok && isRingkvError(tooBig!.error, ErrorCode.ValueTooLarge));
    assert.ok(!conflict!.ok && isRingkvError(conflict!.error, ErrorCode.Conflict) && conflict!.error.details.current_version === (written[3] as { result: { version: string } }).result.version);
    assert.ok(absent!.ok && absent!.op === 'get' && !absent!.result.found);
    assert.ok(!badLevel!.ok && isRingkvError(badLevel!.error, ErrorCode.InvalidArgument));
    assert.ok(deleted!.ok && deleted!.op === 'delete' && deleted!.result.tombstoneExpiryMs === deleted!.result.timestampMs + tombstoneGraceMsDefault);
    assert.ok(get2!.ok && get2!.op === 'get' && get2!.result.found && s(get2!.result.value) === 'value-2', 'a request with its own timeout joins its own group');
    assert.equal((await c.get({ key: b('frame-1'), consistency: 'ONE' })).found, false, 'the delete in the batch applied');
    assert.deepEqual(await c.batch([]), []);
  } finally {
    await c.close();
  }
  const batch = c.batch([{ op: 'get', req: { key: b('frame-1'), consistency: 'ONE' } }]);
  const [closed] = await batch;
  assert.ok(!closed!.ok && isRingkvError(closed!.error, ErrorCode.Closed), 'a closed coordinator refuses each operation, and the batch still resolves');
});

test("a batch's reads hold to the caller's room: a found value that does not fit is answered busy; writes and misses take none", async () => {
  const c = await createLocalCoordinator({ dataDir: tempDir(), shardCount: 2, syncMode: 'none' });
  try {
    const value = new Uint8Array(10_000).fill(1);
    const keys = Array.from({ length: 6 }, (_, i) => b(`roomy-${i}`));
    await c.batch(keys.map((key) => ({ op: 'put', req: { key, value, consistency: 'ONE' } })));
    const asked: number[] = [];
    let heldBytes = 0;
    const room = {
      take: (bytes: number): boolean => {
        asked.push(bytes);
        if (heldBytes + bytes > 25_000) return false;
        heldBytes += bytes;
        return true;
      },
    };
    const ops: BatchOp[] = [
      ...keys.map((key): BatchOp => ({ op: 'get', req: { key, consistency: 'ONE' } })),
      { op: 'get', req: { key: b('absent'), consistency: 'ONE' } },
      { op: 'put', req: { key: b('roomy-new'), value, consistency: 'ONE' } },
    ];
    const outcomes = await c.batch(ops, room);
    const served = outcomes.filter((o) => o.ok && o.op === 'get' && o.result.found);
    const refused = outcomes.filter((o) => !o.ok);
    assert.equal(served.length, 2, 'two values of 10,000 bytes and their contexts fit 25,000 bytes');
    assert.equal(refused.length, 4);
    assert.ok(refused.every((o) => !o.ok && isRingkvError(o.error, ErrorCode.Busy)));
    assert.equal(asked.length, 6, 'asked once per found value, not for the miss or the write');
    assert.ok(asked.every((n) => n > value.byteLength), `each counts its value and context: ${asked.join(',')}`);
    const last = outcomes.slice(-2);
    assert.ok(last[0]!.ok && last[0]!.op === 'get' && !last[0]!.result.found);
    assert.ok(last[1]!.ok && last[1]!.op === 'put');
  } finally {
    await c.close();
  }
});

test("a read of a key with siblings takes room for what its answer carries: each sibling's value, the newest again as the value, and the context", async () => {
  const c = await createLocalCoordinator({ dataDir: tempDir(), shardCount: 1, syncMode: 'none' });
  try {
    await c.put({ key: b('twins'), value: b('seed'), consistency: 'ONE' });
    const read = found(await c.get({ key: b('twins'), consistency: 'ONE' }));
    await c.put({ key: b('twins'), value: new Uint8Array(1000).fill(7), consistency: 'ONE', context: read.context });
    await c.put({ key: b('twins'), value: new Uint8Array(3000).fill(8), consistency: 'ONE', context: read.context });
    const asked: number[] = [];
    const [o] = await c.batch([{ op: 'get', req: { key: b('twins'), consistency: 'ONE' } }], { take: (bytes) => (asked.push(bytes), true) });
    assert.ok(o!.ok && o!.op === 'get' && o!.result.found);
    const r = o!.result;
    assert.equal(r.siblings.length, 2);
    assert.deepEqual(asked, [r.context.byteLength + 1000 + 3000 + r.value.byteLength]);
  } finally {
    await c.close();
  }
});

test('the tombstone grace reaches every engine: 0 lets compaction purge a delete, the default keeps its tombstone; DELETE tells the expiry', async () => {
  for (const graceMs of [0, tombstoneGraceMsDefault, undefined]) {
    const dir = tempDir();
    // Background compaction off: compact() below is the one that runs, after the four flushes
    // that make level 0 need it.
    const c = await createLocalCoordinator({ dataDir: dir, shardCount: 1, syncMode: 'batch', storage: { autoCompaction: false }, ...(graceMs !== undefined && { tombstoneGraceMs: graceMs }) });
    try {
      await c.put({ key: b('gone'), value: b('v'), consistency: 'ONE' });
      const d = await c.delete({ key: b('gone'), consistency: 'ONE' });
      assert.equal(d.tombstoneExpiryMs, d.timestampMs + (graceMs ?? tombstoneGraceMsDefault));
      for (let i = 0; i < 4; i++) {
        await c.put({ key: b(`kept:${i}`), value: b('v'), consistency: 'ONE' });
        await c.router.flush();
      }
      const before = await c.replica(b('gone'));
      assert.deepEqual(before.versions.map((v) => v.tombstone), [true], 'the tombstone is on disk before the compaction');
      await c.router.compact();
      const after = await c.replica(b('gone'));
      assert.deepEqual(after.versions.map((v) => v.tombstone), graceMs === 0 ? [] : [true], `grace ${String(graceMs)}`);
      for (let i = 0; i < 4; i++) assert.equal(s(found(await c.get({ key: b(`kept:${i}`), consistency: 'ONE' })).value), 'v');
    } finally {
      await c.close();
    }
  }
});

test('a snapshot keeps its own LAST_RUN, and the SYNCED_SINCE a cluster node gives it; a single node\'s has none', async () => {
  const dir = tempDir();
  const c = await createLocalCoordinator({ dataDir: dir, shardCount: 1 });
  try {
    const before = Date.now();
    const single = await c.snapshot('single');
    assert.ok(Number(fs.readFileSync(path.join(single.path, 'LAST_RUN'), 'utf8')) >= before);
    assert.equal(fs.existsSync(path.join(single.path, 'SYNCED_SINCE')), false);
    const syncedSinceMs = before - 3 * 86_400_000;
    const clustered = await c.snapshot('clustered', syncedSinceMs);
    assert.equal(fs.readFileSync(path.join(clustered.path, 'SYNCED_SINCE'), 'utf8'), `${syncedSinceMs}\n`);
    assert.equal(readSyncedSince(path.join(clustered.path, 'SYNCED_SINCE'), () => assert.fail('a well-formed file')), syncedSinceMs, 'what a node started on it reads');
  } finally {
    await c.close();
  }
});
