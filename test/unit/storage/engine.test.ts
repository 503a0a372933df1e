// Proves the engine's specific promises beyond the Map model: group commit shares fdatasyncs,
// tombstones outlive their grace period only as long as needed (and deleted data never comes
// back: LevelDB issue 178), TTL entries expire and become tombstones in compaction, scans honour
// inclusive token bounds and limits, and operations after close fail with RKV_ERR_CLOSED; and a
// shard's file numbers go on past 2^21 and 2^32 (a long-lived shard takes one per table).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readManifest, writeManifest } from '../../../src/storage/manifest';
import { openStorage, keyToken } from '../../../src/storage';
import { bloomBitsPerKeyMax } from '../../../src/constants';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { del, put, removeDir, tempDir } from './helpers';

test('batch mode: concurrent writers share fdatasyncs (group commit); always mode syncs before ack', async () => {
  const dir = tempDir('group');
  try {
    const db = await openStorage({ dir, syncMode: 'batch', walBatchWindowMs: 5 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => db.write([put(`k${i}`, 'v')])));
    const s = db.stats();
    assert.ok(s.walSyncs >= 1 && s.walSyncs <= 20, `200 concurrent writes took ${s.walSyncs} syncs`);
    await db.close();
    const db2 = await openStorage({ dir, syncMode: 'always' });
    for (let i = 0; i < 5; i++) await db2.write([put(`a${i}`, 'v')]);
    const s2 = db2.stats();
    assert.equal(s2.walSyncs, 5, 'one sync per sequential write');
    // Every sync's duration is recorded; each took some time.
    assert.equal(s2.walSyncSeconds.count, 5);
    assert.equal(s2.walSyncSeconds.counts.reduce((n, c) => n + c, 0), 5);
    assert.ok(s2.walSyncSeconds.sumSeconds > 0);
    await db2.close();
  } finally {
    removeDir(dir);
  }
});

test('a tombstone is kept until its grace period passes and then dropped at the bottom; the value never returns', async () => {
  const dir = tempDir('grace');
  let now = 1_000_000;
  const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, tombstoneGraceMs: 10_000, now: () => now });
  try {
    await db.write([put('victim', 'old', { timestampMs: now }), put('other', 'x', { timestampMs: now })]);
    await db.flush();
    await db.compact(); // 'victim' now sits in level 1
    await db.write([del('victim', { timestampMs: now })]);
    await db.flush();
    await db.compact(); // merges the tombstone with the old value: grace not over, tombstone kept
    let e = await db.get(Buffer.from('victim'));
    assert.ok(e !== null && e.tombstone, 'tombstone kept during grace');
    now += 10_001;
    await db.write([put('other', 'y', { timestampMs: now })]);
    await db.flush();
    await db.compact();
    e = await db.get(Buffer.from('victim'));
    assert.equal(e, null, 'tombstone dropped after grace at the bottom level');
    const all = [];
    for await (const x of db.scanRange(0n, 0xffff_ffff_ffff_ffffn)) all.push(Buffer.from(x.key).toString());
    assert.deepEqual(all, ['other']);
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('TTL: an entry reads as absent after expiry and becomes a tombstone (keeping its version) in compaction', async () => {
  const dir = tempDir('ttl');
  let now = 5_000;
  const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, now: () => now });
  try {
    await db.write([put('t', 'short-lived', { expiresAtMs: 6_000, versionVector: Buffer.from([9, 9]) }), put('keep', 'v')]);
    assert.equal(Buffer.from((await db.get(Buffer.from('t')))!.value).toString(), 'short-lived');
    now = 6_000;
    assert.equal(await db.get(Buffer.from('t')), null, 'expired at expiresAtMs');
    let seen = [];
    for await (const x of db.scanRange(0n, 0xffff_ffff_ffff_ffffn)) seen.push(Buffer.from(x.key).toString());
    assert.deepEqual(seen, ['keep'], 'scans skip expired entries');
    seen = [];
    for await (const x of db.scanRange(0n, 0xffff_ffff_ffff_ffffn, { includeExpired: true })) seen.push(Buffer.from(x.key).toString());
    assert.equal(seen.length, 2, 'includeExpired shows them');
    await db.flush();
    await db.compact();
    const e = await db.get(Buffer.from('t'));
    assert.ok(e !== null && e.tombstone && e.value.length === 0, 'compaction turned it into a tombstone');
    assert.deepEqual([...e.versionVector], [9, 9]);
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('scanRange: inclusive token bounds, (token, key) order, limit', async () => {
  const dir = tempDir('scan');
  const db = await openStorage({ dir, syncMode: 'none', memtableBytes: 64 * 1024, autoCompaction: false });
  try {
    const keys = Array.from({ length: 3000 }, (_, i) => `key${i}`);
    for (let i = 0; i < keys.length; i += 100) await db.write(keys.slice(i, i + 100).map((k) => put(k, `val-${k}`)));
    await db.flush();
    const tokens = keys.map((k) => keyToken(Buffer.from(k))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const lo = tokens[1000]!;
    const hi = tokens[1999]!;
    const got = [];
    for await (const e of db.scanRange(lo, hi)) got.push(keyToken(e.key));
    assert.equal(got.length, 1000, 'both bounds are inclusive');
    assert.deepEqual(got, tokens.slice(1000, 2000));
    let n = 0;
    for await (const _ of db.scanRange(0n, 0xffff_ffff_ffff_ffffn, { limit: 7 })) n++;
    assert.equal(n, 7);
    assert.throws(() => db.scanRange(5n, 4n), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument));
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('writes stall (and then proceed in order) while immutable memtables pile up', async () => {
  const dir = tempDir('stall');
  const db = await openStorage({ dir, syncMode: 'none', memtableBytes: 64 * 1024 });
  try {
    const value = Buffer.alloc(8 * 1024, 1);
    // 64 writes of 8 KiB without awaiting: more than two memtables' worth arrives at once.
    const writes = Array.from({ length: 64 }, (_, i) => db.write([put(`k${i}`, value), put('same-key', 'v', { timestampMs: i })]));
    await Promise.all(writes);
    assert.ok(db.stats().writeStalls > 0, 'some writes waited for a flush');
    assert.equal((await db.get(Buffer.from('same-key')))!.timestampMs, 63, 'stalled writes kept their order');
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('operations after close fail with RKV_ERR_CLOSED', async () => {
  const dir = tempDir('closed');
  const db = await openStorage({ dir });
  await db.close();
  try {
    await assert.rejects(db.write([put('k', 'v')]), (e: unknown) => isRingkvError(e, ErrorCode.Closed));
    await assert.rejects(db.get(Buffer.from('k')), (e: unknown) => isRingkvError(e, ErrorCode.Closed));
  } finally {
    removeDir(dir);
  }
});

test('overwriting one key over and over switches memtables by the memory its arena holds', async () => {
  // Proves the memtable limit bounds memory, not just live entries: every overwritten record stays
  // in the arena until the memtable is dropped (LevelDB counts its arena the same way).
  const dir = tempDir('overwrite');
  const limit = 256 * 1024;
  const db = await openStorage({ dir, syncMode: 'none', memtableBytes: limit, autoCompaction: false });
  try {
    const value = 'x'.repeat(1000);
    let held = 0;
    for (let i = 0; i < 2000; i++) {
      await db.write([put('hot', `${i}:${value}`)]);
      held = Math.max(held, db.stats().memtableBytes);
    }
    const s = db.stats();
    // About 2 MB written into a 256 KiB budget: several memtables were written out.
    assert.ok(s.flushes >= 4, `flushes ${s.flushes}`);
    assert.ok(held <= 2 * limit + 64 * 1024, `memtables held ${held} bytes under a ${limit}-byte limit`);
    const got = await db.get(Buffer.from('hot'));
    assert.ok(got !== null && Buffer.from(got.value).toString().startsWith('1999:'));
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('memory by part: a new memtable grows into the arena chunks the last flush freed; the block cache and open tables say what they hold', async () => {
  const dir = tempDir('memparts');
  const limit = 256 * 1024; // arena chunks of 16 KiB, at most 16 of them free
  const cacheBytes = 1024 * 1024;
  const db = await openStorage({ dir, syncMode: 'none', memtableBytes: limit, autoCompaction: false, blockCacheBytes: cacheBytes });
  try {
    const fresh = db.stats();
    assert.deepEqual([fresh.arenaFreeBytes, fresh.blockCacheHeldBytes, fresh.tableIndexFilterBytes], [0, 0, 0]);
    const value = Buffer.alloc(1000, 3);
    let n = 0;
    // One entry a write: a WAL record over a quarter chunk (4 KiB here) would get a buffer of its own.
    const writeBytes = async (bytes: number): Promise<void> => {
      for (const end = n + Math.ceil(bytes / value.length); n < end; ) await db.write([put(`mem-${n++}`, value)]);
    };
    // One memtable switched by size, a second by flush(): both on disk, their chunks free.
    await writeBytes(limit * 1.5);
    await db.flush();
    const flushed = db.stats();
    assert.equal(flushed.immutableMemtables, 0);
    assert.equal(flushed.arenaFreeBytes, limit, 'the pool keeps one memtable of free chunks');
    // Half a memtable more: its chunks come out of the pool (memtableBytes counts entries with
    // their overhead, a little more than the chunks their WAL records fill).
    await writeBytes(limit / 2);
    const half = db.stats();
    const taken = limit - half.arenaFreeBytes;
    assert.ok(half.memtableBytes >= limit / 2, `memtable ${half.memtableBytes}`);
    assert.ok(taken >= limit / 4 && taken <= half.memtableBytes + 16 * 1024, `chunks taken from the pool: ${taken} bytes for a memtable of ${half.memtableBytes}`);
    // Each flush opened its table (filter, index) to put its blocks into the cache, which is then
    // its one buffer, whole.
    const got = await db.get(Buffer.from('mem-0'));
    assert.ok(got !== null && Buffer.from(got.value).equals(value));
    const read = db.stats();
    assert.equal(read.blockCacheHeldBytes, cacheBytes);
    assert.ok(read.tableIndexFilterBytes > 0, `index and filter bytes ${read.tableIndexFilterBytes}`);
    // Compaction merges the two tables into one: theirs leave the count as they are closed (about
    // as many bytes come back with the one that holds the same keys).
    assert.equal(read.sstablesPerLevel.reduce((a, b) => a + b, 0), 2);
    await db.compact();
    const compacted = db.stats();
    assert.equal(compacted.sstablesPerLevel.reduce((a, b) => a + b, 0), 1);
    assert.ok(
      compacted.tableIndexFilterBytes > 0 && compacted.tableIndexFilterBytes < read.tableIndexFilterBytes * 1.5,
      `after compaction ${compacted.tableIndexFilterBytes}, before ${read.tableIndexFilterBytes}`,
    );
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test("a flushed table's blocks are in the block cache before its first read; a table over a quarter of the cache is left out", async () => {
  const value = Buffer.alloc(200, 7);
  const keys = Array.from({ length: 2000 }, (_, i) => `warm-${i}`); // ~440 KB of table
  const readAll = async (db: Awaited<ReturnType<typeof openStorage>>): Promise<void> => {
    for (const k of keys) {
      const e = await db.get(Buffer.from(k));
      assert.ok(e !== null && Buffer.from(e.value).equals(value), `read back ${k}`);
    }
  };
  for (const [cacheBytes, warmed] of [
    [4 * 1024 * 1024, true],
    [1024 * 1024, false],
  ] as const) {
    const dir = tempDir('warm');
    const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, blockCacheBytes: cacheBytes });
    try {
      for (let i = 0; i < keys.length; i += 100) await db.write(keys.slice(i, i + 100).map((k) => put(k, value)));
      await db.flush();
      const before = db.stats();
      await readAll(db);
      const after = db.stats();
      if (warmed) {
        // Every data block, ~100 of 4 KiB: each read then hits.
        assert.ok(before.blockCacheBlocksWarmed >= 100, `warmed ${before.blockCacheBlocksWarmed} blocks`);
        assert.equal(after.blockCacheMisses, 0, 'no read of the flushed keys missed');
        assert.equal(after.blockCacheHits - before.blockCacheHits, keys.length);
      } else {
        assert.equal(before.blockCacheBlocksWarmed, 0, 'a table over a quarter of the cache is not warmed');
        assert.ok(after.blockCacheMisses >= 100, `the first reads missed (${after.blockCacheMisses})`);
      }
    } finally {
      await db.close();
      removeDir(dir);
    }
  }
});

test('a flush warming the block cache while reads open other tables: the new table evicted from the open-file cache between slices is reopened, and the flush completes', async () => {
  // Warming runs in slices with turns between; reads in those turns open the old tables, and
  // with two open files at most the new one is evicted (closed) before its warming ends.
  const dir = tempDir('warm-evicted');
  const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, openFilesMax: 2, memtableBytes: 64 * 1024 * 1024 });
  try {
    for (const t of ['a', 'b', 'c']) {
      await db.write([put(`${t}-old`, t)]);
      await db.flush();
    }
    const value = Buffer.alloc(1000, 9);
    for (let i = 0; i < 6000; i += 200) await db.write(Array.from({ length: 200 }, (_, j) => put(`new-${i + j}`, value)));
    let reading = true;
    let reads = 0;
    const readOld = (): void => {
      if (!reading) return;
      for (const t of ['a', 'b', 'c']) assert.equal(Buffer.from(db.getSync(Buffer.from(`${t}-old`))!.value).toString(), t);
      reads++;
      setImmediate(readOld);
    };
    setImmediate(readOld);
    try {
      await db.flush();
    } finally {
      reading = false;
    }
    assert.ok(reads > 0);
    assert.ok(db.stats().blockCacheBlocksWarmed > 1000, `warmed ${db.stats().blockCacheBlocksWarmed} blocks`);
    await db.write([put('after', 'x')]);
    assert.equal(Buffer.from(db.getSync(Buffer.from('new-5999'))!.value).equals(value), true);
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('blockCacheBytes: up to 2^31 - 1 opens (the arena is allocated only as blocks are cached); 2^31 is an option error, not an assertion', async () => {
  const dir = tempDir('cache-size');
  try {
    const db = await openStorage({ dir, syncMode: 'none', blockCacheBytes: 2 ** 31 - 1 });
    await db.write([put('k', 'v')]);
    await db.close();
    await assert.rejects(openStorage({ dir, syncMode: 'none', blockCacheBytes: 2 ** 31 }), (e: unknown) => e instanceof Error && !/assertion failed/.test(e.message) && /blockCacheBytes/.test(e.message));
  } finally {
    removeDir(dir);
  }
});

test('bloomBitsPerKey over what the addon builds is an option error at open, not a failed flush that stops every write', async () => {
  const dir = tempDir('bloom-bits');
  try {
    const db = await openStorage({ dir, syncMode: 'none', bloomBitsPerKey: bloomBitsPerKeyMax, memtableBytes: 64 * 1024 });
    for (let i = 0; i < 2000; i++) await db.write([put(`k${i}`, 'v'.repeat(64))]);
    await db.flush();
    assert.ok(db.stats().sstablesPerLevel[0]! >= 1, 'a table was built with the most bits per key');
    await db.close();
    await assert.rejects(openStorage({ dir, syncMode: 'none', bloomBitsPerKey: bloomBitsPerKeyMax + 1 }), (e: unknown) => e instanceof Error && /bloomBitsPerKey/.test(e.message));
  } finally {
    removeDir(dir);
  }
});

test('file numbers past 2^21 and 2^32: tables are written, compacted, cached, read and reopened', async () => {
  // A shard takes a number per table and WAL segment for as long as it lives; compaction alone
  // takes about one per 8 MiB written, so 2^21 numbers were days of heavy writing.
  const dir = tempDir('file-numbers');
  try {
    let db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
    await db.write([put('before', 'b')]);
    await db.flush();
    await db.close();
    for (const next of [2 ** 21 + 3, 2 ** 32 + 5]) {
      const m = readManifest(dir)!;
      await writeManifest(dir, { ...m, nextFileNumber: next });
      db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, blockCacheBytes: 1024 * 1024 });
      for (let round = 0; round < 3; round++) {
        await db.write(Array.from({ length: 50 }, (_, i) => put(`k${next}-${round}-${i}`, `v${round}`.repeat(20))));
        await db.flush();
      }
      await db.compact();
      for (let pass = 0; pass < 2; pass++) {
        // Twice: the second time from the block cache.
        assert.equal(Buffer.from((await db.get(Buffer.from(`k${next}-2-7`)))!.value).toString(), 'v2'.repeat(20));
        assert.equal(Buffer.from((await db.get(Buffer.from('before')))!.value).toString(), 'b');
      }
      assert.ok(db.stats().blockCacheHits > 0, 'reads were served from the cache');
      await db.close();
      const numbers = fs.readdirSync(dir).filter((n) => n.endsWith('.sst')).map((n) => Number(n.slice(0, -4)));
      assert.ok(numbers.some((n) => n >= next), `tables numbered past ${next}: ${numbers.join(' ')}`);
      db = await openStorage({ dir, syncMode: 'none' });
      assert.equal(Buffer.from((await db.get(Buffer.from(`k${next}-0-49`)))!.value).toString(), 'v0'.repeat(20));
      await db.close();
    }
  } finally {
    removeDir(dir);
  }
});

test('a new WAL segment that cannot be opened (not for space) refuses writes from then on; the write that switched stands', async () => {
  const dir = tempDir('switch');
  const db = await openStorage({ dir, syncMode: 'always', memtableBytes: 64 * 1024 });
  let closed = false;
  try {
    // Where the next segment goes (the next file number), a folder: opening it fails with EISDIR.
    const numbers = fs.readdirSync(dir).filter((n) => /^\d+\.(wal|sst)$/.test(n)).map((n) => Number(n.slice(0, 6)));
    const blocked = path.join(dir, `${String(Math.max(...numbers) + 1).padStart(6, '0')}.wal`);
    fs.mkdirSync(blocked);
    const value = 'v'.repeat(8 * 1024);
    let switched = -1;
    for (let i = 0; i < 64 && switched < 0; i++) {
      await db.write([put(`k${i}`, value)]);
      if (db.stats().writesRefused === 1) switched = i;
    }
    assert.ok(switched > 0, 'the memtable filled and the switch failed');
    assert.equal((await db.get(Buffer.from(`k${switched}`)))?.value.length, value.length, 'the write that switched stands');
    await assert.rejects(db.write([put('after', value)]), /EISDIR|illegal operation on a directory/);
    assert.equal(await db.get(Buffer.from('after')), null, 'a refused write is not applied');
    closed = true;
    await db.close();
    fs.rmdirSync(blocked);
    const again = await openStorage({ dir, syncMode: 'always' });
    try {
      for (let i = 0; i <= switched; i++) assert.ok((await again.get(Buffer.from(`k${i}`))) !== null, `k${i} after reopening`);
      await again.write([put('after', 'x')]);
    } finally {
      await again.close();
    }
  } finally {
    if (!closed) await db.close().catch(() => undefined);
    removeDir(dir);
  }
});
