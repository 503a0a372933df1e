// Anti-entropy between two real replicas (ShardRouters over real worker threads and engines, with
// different shard counts so leaves are XORed across shard boundaries): identical replicas hash to
// the same leaves and sync nothing; diverged ones (keys on one side only, a newer version on one
// side, concurrent versions, a tombstone) converge in one sync, pages cut at the entry bound
// join up, leavesMax bounds what one sync repairs, and a pull-only sync changes only the local side;
// pullRange copies a whole range in over many pages without asking either side for Merkle leaves.
// A scan page of large values reads about its bytes from the shards, and the router's byte
// bound and cursor give the same entries as a whole scan cut where they say.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyEach, localRangeReplica, pullRange, scanPages, syncRange, type RangeReplica, type RangeStore, type TokenRange } from '../../../src/antientropy';
import { rangeScanPageBytesMax, rangeScanPageEntriesMax, tombstoneGraceMsDefault } from '../../../src/constants';
import { ShardRouter, keyToken, type WriteOp } from '../../../src/shards';
import { contextOf, coordinateWrite, decodeSiblingSet, encodeSiblingSet } from '../../../src/versioning';
import { ErrorCode, RingkvError, isRingkvError } from '../../../src/errors';

const grace = (): number => tombstoneGraceMsDefault;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
async function open(nodeId: string, shardCount: number): Promise<ShardRouter> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-ae-'));
  dirs.push(dataDir);
  return ShardRouter.open({ dataDir, nodeId, shardCount, storage: { syncMode: 'none' } });
}
const b = (s: string) => new Uint8Array(Buffer.from(s));
function put(key: string, value: string, extra: Partial<WriteOp> = {}): WriteOp {
  return { op: 'put', key: b(key), value: b(value), ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: null, returnRecord: true, notAfterMs: 0, ...extra };
}
const everything: TokenRange = { from: 0n, to: (1n << 64n) - 1n };

/** Every key's sibling values on a replica, for comparing two replicas. */
async function contents(r: ShardRouter): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const e of await r.scanRange(everything.from, everything.to, { limit: 100_000 })) {
    out.set(Buffer.from(e.key).toString(), decodeSiblingSet(e.record).map((s) => (s.tombstone ? '<deleted>' : Buffer.from(s.value).toString())).sort());
  }
  return out;
}

test('identical replicas sync nothing; diverged ones converge in one sync, siblings kept', async () => {
  const a = await open('A', 2);
  const c = await open('C', 3);
  try {
    // 300 keys written at A and copied to C: the same data on both.
    for (let i = 0; i < 300; i++) {
      const w = await a.write(put(`same-${i}`, `v${i}`));
      await c.apply(b(`same-${i}`), w.record!);
    }
    const la = localRangeReplica('A', a, 5000, grace);
    const lc = localRangeReplica('C', c, 5000, grace);
    const quiet = await syncRange(la, lc, everything, 6);
    assert.equal(quiet.leavesDiffering, 0);
    assert.equal(quiet.pulled + quiet.pushed, 0);
    assert.equal(quiet.localEntries, 300);
    assert.equal(quiet.remoteEntries, 300);

    // Diverge: keys only on A, only on C, a newer version on A, concurrent versions, a delete on C.
    for (let i = 0; i < 20; i++) await a.write(put(`only-a-${i}`, 'a'));
    for (let i = 0; i < 30; i++) await c.write(put(`only-c-${i}`, 'c'));
    await a.write(put('same-1', 'newer'));
    const conflictA = await a.write(put('conflict', 'from-a'));
    await c.write(put('conflict', 'from-c'));
    assert.ok(conflictA.version.length > 0);
    await c.write({ ...put('same-2', ''), op: 'delete', value: new Uint8Array(0) });

    const res = await syncRange(la, lc, everything, 6);
    assert.ok(res.leavesDiffering > 0 && res.leavesDiffering <= 64);
    assert.equal(res.leavesSynced, res.leavesDiffering);
    assert.equal(res.pulled, 30 + 1 + 1, 'C-only keys, the conflict and the delete changed A');
    assert.equal(res.pushed, 20 + 1 + 1, 'A-only keys, the conflict and the newer same-1 changed C');

    const ca = await contents(a);
    assert.deepEqual(ca, await contents(c), 'the replicas hold the same data');
    assert.deepEqual(ca.get('conflict'), ['from-a', 'from-c'], 'concurrent versions became siblings');
    assert.deepEqual(ca.get('same-1'), ['newer']);
    assert.deepEqual(ca.get('same-2'), ['<deleted>']);
    const again = await syncRange(lc, la, everything, 6);
    assert.equal(again.leavesDiffering, 0, 'converged: the trees are equal now');
  } finally {
    await a.close();
    await c.close();
  }
});

test('a leaf bigger than one scan page syncs over several pages; leavesMax bounds one sync', async () => {
  const a = await open('A', 1);
  const c = await open('C', 2);
  try {
    const n = rangeScanPageEntriesMax * 2 + 17;
    const writes = Array.from({ length: n }, (_, i) => a.write(put(`bulk-${i}`, `value-${i}`)));
    await Promise.all(writes);
    const la = localRangeReplica('A', a, 5000, grace);
    const lc = localRangeReplica('C', c, 5000, grace);
    // Depth 0: one leaf holds every key, so the sync must page through it.
    const res = await syncRange(la, lc, everything, 0);
    assert.equal(res.leavesDiffering, 1);
    assert.equal(res.pushed, n);
    assert.equal((await contents(c)).size, n);

    // Now 40 differing keys spread over a deep tree, and a sync allowed 3 leaves fixes only those.
    for (let i = 0; i < 40; i++) await c.write(put(`late-${i}`, 'x'));
    const bounded = await syncRange(la, lc, everything, 10, { leavesMax: 3 });
    assert.ok(bounded.leavesDiffering > 3);
    assert.equal(bounded.leavesSynced, 3);
    assert.ok(bounded.pulled >= 3 && bounded.pulled < 40, `pulled ${bounded.pulled}`);
    const rest = await syncRange(la, lc, everything, 10);
    assert.equal(rest.leavesDiffering, bounded.leavesDiffering - 3);
    assert.equal(bounded.pulled + rest.pulled, 40);
  } finally {
    await a.close();
    await c.close();
  }
});

test('a pull-only sync copies the remote side in and leaves the remote side as it was', async () => {
  const a = await open('A', 2);
  const c = await open('C', 1);
  try {
    for (let i = 0; i < 25; i++) await a.write(put(`mine-${i}`, 'a'));
    for (let i = 0; i < 40; i++) await c.write(put(`theirs-${i}`, 'c'));
    const before = await contents(c);
    const la = localRangeReplica('A', a, 5000, grace);
    const lc = localRangeReplica('C', c, 5000, grace);
    const res = await syncRange(la, lc, everything, 4, { pullOnly: true });
    assert.ok(res.leavesDiffering > 0);
    assert.equal(res.pulled, 40);
    assert.equal(res.pushed, 0);
    assert.deepEqual(await contents(c), before, 'nothing was pushed');
    const ca = await contents(a);
    assert.equal(ca.size, 65);
    for (let i = 0; i < 40; i++) assert.deepEqual(ca.get(`theirs-${i}`), ['c']);
  } finally {
    await a.close();
    await c.close();
  }
});

test('pullRange copies every record of the range over many pages, merging, asks for no Merkle leaves, and pushes nothing', async () => {
  const a = await open('A', 1);
  const c = await open('C', 2);
  try {
    const n = rangeScanPageEntriesMax * 3 + 5;
    for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, j) => c.write(put(`bulk-${i + j}`, `c-${i + j}`))));
    // What a rebuilding node already holds: a key of its own, and a version concurrent with C's.
    await a.write(put('own', 'a'));
    await a.write(put('bulk-7', 'from-a'));
    const before = await contents(c);
    let merkleCalls = 0;
    const counting = (r: RangeReplica): RangeReplica => ({ ...r, merkleLeaves: (range, depth) => (merkleCalls++, r.merkleLeaves(range, depth)) });
    const la = counting(localRangeReplica('A', a, 5000, grace));
    const lc = counting(localRangeReplica('C', c, 5000, grace));
    const res = await pullRange(la, lc, everything);
    assert.equal(merkleCalls, 0);
    assert.equal(res.remoteEntries, n);
    assert.equal(res.pulled, n, 'every record changed A (bulk-7 by becoming siblings)');
    assert.equal(res.pushed, 0);
    assert.equal(res.leavesSynced, res.leavesDiffering);
    const ca = await contents(a);
    assert.equal(ca.size, n + 1);
    assert.deepEqual(ca.get('own'), ['a'], 'what A held alone is kept');
    assert.deepEqual(ca.get('bulk-7'), ['c-7', 'from-a'], 'concurrent versions became siblings');
    assert.deepEqual(ca.get(`bulk-${n - 1}`), [`c-${n - 1}`], 'the last page arrived');
    assert.deepEqual(await contents(c), before, 'nothing was pushed');
    const again = await pullRange(la, lc, everything);
    assert.equal(again.pulled, 0, 'a second pull changes nothing');
  } finally {
    await a.close();
    await c.close();
  }
});

test('pullRange: a page fetched ahead that fails while the page before is applied fails the pull, and is no unhandled rejection', async () => {
  // The fetch ahead had no handler until its turn came: failing meanwhile (a peer gone, a timeout)
  // it was an unhandled rejection, which ends a node process.
  const a = await open('A', 1);
  const c = await open('C', 1);
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const n = rangeScanPageEntriesMax + 5;
    for (let i = 0; i < n; i += 200) await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, j) => c.write(put(`ahead-${i + j}`, 'c'))));
    const lc = localRangeReplica('C', c, 5000, grace);
    const la = localRangeReplica('A', a, 5000, grace);
    const failing: RangeReplica = { ...lc, scanPage: (range, cursor) => (cursor === null ? lc.scanPage(range, cursor) : Promise.reject(new Error('peer gone'))) };
    const slow: RangeReplica = { ...la, apply: async (entries) => (await new Promise((r) => setTimeout(r, 50)), la.apply(entries)) };
    await assert.rejects(pullRange(slow, failing, everything), /peer gone/);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(unhandled, []);
    assert.equal((await contents(a)).size, rangeScanPageEntriesMax, 'the first page was applied');
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await a.close();
    await c.close();
  }
});

test('a record one side refuses (one it cannot decode) fails the sync and the pull, but every other record of the range still lands', async () => {
  // C refuses the records of bad-* as a replica does one it cannot decode (InvalidArgument); one
  // such failure made each sync stop at its run of leaves, and a pull at its page, so every later
  // key of the range never synced, every round.
  const a = await open('A', 2);
  const c = await open('C', 1);
  try {
    // More than two scan pages (rangeScanPageEntriesMax), so a pull has later pages to lose.
    const keys = Array.from({ length: 2 * rangeScanPageEntriesMax + 500 }, (_, i) => `only-a-${i}`);
    const bad = Array.from({ length: 20 }, (_, i) => `bad-${i}`);
    const all = [...keys, ...bad];
    for (let i = 0; i < all.length; i += 500) await Promise.all(all.slice(i, i + 500).map((k) => a.write(put(k, `v-${k}`))));
    const refusing = (r: RangeReplica): RangeReplica => ({
      ...r,
      apply: (entries) =>
        applyEach(entries, async (e) => {
          if (Buffer.from(e.key).toString().startsWith('bad-')) throw new RingkvError(ErrorCode.InvalidArgument, 'sibling set: unknown format');
          return (await r.apply([e])) === 1;
        }, 64),
    });
    const la = localRangeReplica('A', a, 5000, grace);
    const lc = refusing(localRangeReplica('C', c, 5000, grace));
    await assert.rejects(syncRange(la, lc, everything, 8, { leavesMax: 1 << 8 }), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument));
    const onC = await contents(c);
    assert.equal(onC.size, keys.length, 'every key but the refused ones');
    assert.ok(bad.every((k) => !onC.has(k)));

    const d = await open('D', 1);
    await assert.rejects(pullRange(refusing(localRangeReplica('D', d, 5000, grace)), la, everything), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument));
    assert.equal((await contents(d)).size, keys.length, 'pulled: every key but the refused ones');
    await d.close();
  } finally {
    await a.close();
    await c.close();
  }
});

test("a delete past the cluster's grace is not sent to a replica that purged it; one a grace younger, or over a value, is", async () => {
  // The trees leave purgeable sets out, so a leaf differs through other keys; a sync of that leaf
  // sent the old tombstone along, and the replica that had purged it stored it again.
  const a = await open('A', 1);
  const c = await open('C', 1);
  try {
    const graceMs = 60_000;
    const nowMs = Date.now();
    const deleted = (nodeId: string, atMs: number) => {
      const rec = encodeSiblingSet(coordinateWrite([], { nodeId, nowMs: atMs, mode: 'vclock', value: new Uint8Array(0), tombstone: true, ttlMs: 0, context: null }).siblings);
      return { versionVector: rec.versionVector, value: rec.value, tombstone: rec.tombstone };
    };
    await a.apply(b('purged-on-c'), deleted('A', nowMs - 2 * graceMs));
    await a.apply(b('young'), deleted('A', nowMs - graceMs / 2));
    // C holds a value under this one: the old delete must still reach it.
    const old = await c.write(put('over-a-value', 'stale'));
    const seen = decodeSiblingSet(old.record!);
    const over = coordinateWrite(seen, { nodeId: 'A', nowMs: nowMs - 2 * graceMs, mode: 'vclock', value: new Uint8Array(0), tombstone: true, ttlMs: 0, context: contextOf(seen) });
    const overRec = encodeSiblingSet(over.siblings);
    await a.apply(b('over-a-value'), { versionVector: overRec.versionVector, value: overRec.value, tombstone: overRec.tombstone });
    for (let i = 0; i < 50; i++) await a.write(put(`live-${i}`, 'v'));
    // One leaf: every key is in the sync's one run.
    const r = await syncRange(localRangeReplica('A', a, 5000, () => graceMs), localRangeReplica('C', c, 5000, () => graceMs), everything, 0, { tombstoneGraceMs: graceMs });
    assert.equal(r.leavesDiffering, 1);
    const onC = await contents(c);
    assert.ok(!onC.has('purged-on-c'), 'not sent: C had purged it');
    assert.deepEqual(onC.get('young'), ['<deleted>'], 'within the grace: sent');
    assert.ok(onC.has('live-49'));
    assert.deepEqual(onC.get('over-a-value'), ['<deleted>'], 'over a value C holds: sent');
    assert.equal(r.pushed, 50 + 2, `pushed ${r.pushed}, pulled ${r.pulled}`);
  } finally {
    await a.close();
    await c.close();
  }
});

test('a scan page of large values reads about its bytes from the shards, not a page count of entries', async () => {
  // 48 values of 256 KiB, 12 MiB: two pages under the 8 MiB bound. Before, each page read up to
  // 1,001 entries from the shards whatever their size, and cut the page afterwards.
  const c = await open('C', 3);
  try {
    const valueBytes = 256 * 1024;
    const n = 48;
    for (let i = 0; i < n; i++) await c.write(put(`big-${i}`, String(i % 10).repeat(valueBytes)));
    let readMax = 0;
    const store: RangeStore = {
      scanRange: async (from, to, opts) => {
        const got = await c.scanRange(from, to, opts);
        readMax = Math.max(readMax, got.length);
        return got;
      },
      merkleLeaves: (range, depth, graceMs) => c.merkleLeaves(range, depth, graceMs),
      apply: (key, record, timeoutMs) => c.apply(key, record, timeoutMs),
    };
    const pages: number[] = [];
    const seen = new Set<string>();
    for await (const entries of scanPages(localRangeReplica('C', store, 5000, grace), everything)) {
      pages.push(entries.length);
      for (const e of entries) seen.add(Buffer.from(e.key).toString());
    }
    assert.equal(seen.size, n, 'every key once');
    assert.equal(pages.reduce((a, x) => a + x, 0), n);
    const perPage = Math.ceil(rangeScanPageBytesMax / valueBytes);
    assert.ok(pages.length >= 2 && pages.every((p) => p <= perPage), `pages of at most ${perPage}: ${pages.join(', ')}`);
    assert.ok(readMax <= perPage + 1, `the shards read at most a page and one entry: ${readMax}`);
  } finally {
    await c.close();
  }
});

test("the router's byte bound and cursor: the same entries as a whole scan, cut one entry past the bound, across shard edges", async () => {
  const c = await open('C', 3);
  try {
    for (let i = 0; i < 60; i++) await c.write(put(`cut-${i}`, 'v'.repeat(100 + i * 7)));
    const all = await c.scanRange(everything.from, everything.to, { limit: 1000 });
    assert.equal(all.length, 60);
    const size = (e: (typeof all)[number]) => e.key.length + e.record.versionVector.length + e.record.value.length;
    const keysOf = (es: typeof all) => es.map((e) => Buffer.from(e.key).toString());
    const total = all.reduce((a, e) => a + size(e), 0);
    for (const bytesMax of [0, 1, 500, 2_000, 4_321, 9_000, total - 1, total, total + 1]) {
      // The shortest prefix whose entries but the last hold bytesMax bytes; all of them if none.
      let want: number = all.length;
      let before = 0;
      for (let k = 0; k < all.length; k++) {
        if (before >= bytesMax) {
          want = k + 1;
          break;
        }
        before += size(all[k]!);
      }
      const got = await c.scanRange(everything.from, everything.to, { limit: 1000, bytesMax });
      assert.deepEqual(keysOf(got), keysOf(all.slice(0, want)), `bytesMax ${bytesMax}`);
    }
    for (const at of [0, 1, 19, 20, 21, 39, 40, 58, 59]) {
      const cursor = all[at]!;
      const got = await c.scanRange(keyToken(cursor.key), everything.to, { limit: 1000, afterKey: cursor.key });
      assert.deepEqual(keysOf(got), keysOf(all.slice(at + 1)), `after entry ${at}`);
    }
  } finally {
    await c.close();
  }
});
