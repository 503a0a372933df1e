// Proves the LSM engine behaves like a plain Map (newest write wins, deletes, TTL, token-ordered
// range scans) across memtable, immutable memtables, many SSTables, compaction and reopen, under
// random operation sequences with fixed seeds; a failure prints the seed and operation number.
// Point reads go through get, getSync and peekSync (the copy-free read) alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage, keyToken } from '../../../src/storage';
import type { StorageEngine, StorageEntry, StorageOptions } from '../../../src/storage/types';
import { prng, removeDir, tempDir } from './helpers';

const graceMs = 5_000;

interface ModelEntry {
  value: Buffer;
  timestampMs: number;
  vv: Buffer;
  tombstone: boolean;
  expiresAtMs: number;
}

function sortKey(k: string): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(keyToken(Buffer.from(k, 'latin1')));
  return Buffer.concat([b, Buffer.from(k, 'latin1')]);
}

async function runModel(seed: number, ops: number): Promise<{ flushes: number; compactions: number; reopens: number; scans: number; tables: number }> {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const dir = tempDir('model');
  let now = 1_000_000;
  const options: StorageOptions = {
    dir,
    syncMode: 'none',
    memtableBytes: 64 * 1024,
    sstableFileBytes: 16 * 1024,
    levelBaseBytes: 64 * 1024,
    tombstoneGraceMs: graceMs,
    blockCacheBytes: 32 * 1024,
    openFilesMax: 8,
    now: () => now,
  };
  let db: StorageEngine = await openStorage(options);
  const model = new Map<string, ModelEntry>();
  const keys = Array.from({ length: 1500 }, (_, i) => `key-${i}-${'x'.repeat(i % 40)}`);
  const stats = { flushes: 0, compactions: 0, reopens: 0, scans: 0, tables: 0 };
  const isDeadForRead = (m: ModelEntry): boolean => !m.tombstone && m.expiresAtMs !== 0 && m.expiresAtMs <= now;
  const check = (op: number, k: string, got: StorageEntry | null): void => {
    const m = model.get(k);
    const where = `seed=${seed} op=${op} key=${k}`;
    if (m === undefined) return assert.equal(got, null, `${where}: expected absent`);
    if (isDeadForRead(m) || (m.tombstone && now >= Math.max(m.timestampMs, m.expiresAtMs) + graceMs)) {
      // Expired: absent, or the tombstone compaction made of it; an old tombstone may be dropped.
      if (got !== null) assert.ok(got.tombstone && got.value.length === 0, `${where}: expired/deleted key came back with a value`);
      return;
    }
    if (m.tombstone) {
      assert.ok(got !== null && got.tombstone, `${where}: expected a tombstone, got ${got === null ? 'null' : 'a value'}`);
      return;
    }
    assert.ok(got !== null, `${where}: expected a value, got null`);
    assert.equal(got.tombstone, false, `${where}`);
    assert.ok(Buffer.from(got.value).equals(m.value), `${where}: wrong value`);
    assert.equal(got.timestampMs, m.timestampMs, where);
    assert.equal(got.expiresAtMs, m.expiresAtMs, where);
    assert.ok(Buffer.from(got.versionVector).equals(m.vv), `${where}: wrong version vector`);
  };
  try {
    for (let op = 0; op < ops; op++) {
      const r = rnd();
      if (r < 0.5) {
        // A batch of 1..4 writes (puts, TTL puts, deletes), applied in order.
        const batch: StorageEntry[] = [];
        const n = 1 + int(4);
        for (let i = 0; i < n; i++) {
          const k = keys[int(keys.length)]!;
          const kind = rnd();
          const e: StorageEntry = {
            key: Buffer.from(k, 'latin1'),
            value: kind < 0.2 ? Buffer.alloc(0) : Buffer.alloc(int(120), int(256)),
            timestampMs: now,
            versionVector: Buffer.from([op & 0xff, int(256)]),
            tombstone: kind < 0.2,
            expiresAtMs: kind > 0.85 ? now + 1 + int(3_000) : 0,
          };
          batch.push(e);
          model.set(k, { value: Buffer.from(e.value), timestampMs: e.timestampMs, vv: Buffer.from(e.versionVector), tombstone: e.tombstone, expiresAtMs: e.expiresAtMs });
        }
        await db.write(batch);
      } else if (r < 0.9) {
        const k = keys[int(keys.length)]!;
        // peekSync's views are checked at once, before the next engine call, as its contract says.
        const key = Buffer.from(k, 'latin1');
        check(op, k, r < 0.6 ? db.getSync(key) : r < 0.7 ? db.peekSync(key) : await db.get(key));
      } else if (r < 0.95) {
        now += int(400);
      } else if (r < 0.952) {
        stats.scans++;
        const a = BigInt.asUintN(64, BigInt(Math.floor(rnd() * 2 ** 32)) << 32n);
        const b = rnd() < 0.2 ? 0xffff_ffff_ffff_ffffn : a + (BigInt(Math.floor(rnd() * 2 ** 30)) << 32n);
        const hi = b > 0xffff_ffff_ffff_ffffn ? 0xffff_ffff_ffff_ffffn : b;
        const got: StorageEntry[] = [];
        for await (const e of db.scanRange(a, hi)) got.push(e);
        for (let i = 1; i < got.length; i++) {
          assert.ok(sortKey(Buffer.from(got[i - 1]!.key).toString('latin1')).compare(sortKey(Buffer.from(got[i]!.key).toString('latin1'))) < 0, `seed=${seed} op=${op}: scan out of (token,key) order`);
        }
        for (const e of got) {
          const t = keyToken(e.key);
          assert.ok(t >= a && t <= hi, `seed=${seed} op=${op}: scan returned a token outside the range`);
          check(op, Buffer.from(e.key).toString('latin1'), e);
        }
        const liveGot = got.filter((e) => !e.tombstone).map((e) => Buffer.from(e.key).toString('latin1'));
        const liveWant = [...model.entries()]
          .filter(([k, m]) => !m.tombstone && !isDeadForRead(m) && keyToken(Buffer.from(k, 'latin1')) >= a && keyToken(Buffer.from(k, 'latin1')) <= hi)
          .map(([k]) => k)
          .sort((x, y) => sortKey(x).compare(sortKey(y)));
        assert.deepEqual(liveGot, liveWant, `seed=${seed} op=${op}: scan returned the wrong live keys`);
      } else if (r < 0.956) {
        stats.flushes++;
        await db.flush();
      } else if (r < 0.9575) {
        stats.compactions++;
        await db.compact();
      } else if (r < 0.958) {
        stats.reopens++;
        await db.close();
        db = await openStorage(options);
      } else {
        now += int(20);
      }
    }
    // Final full check of every key after a flush and a full compaction.
    await db.flush();
    await db.compact();
    for (const k of keys) check(ops, k, db.getSync(Buffer.from(k, 'latin1')));
    stats.tables = db.stats().sstablesPerLevel.reduce((a, b) => a + b, 0);
    return stats;
  } finally {
    await db.close();
    removeDir(dir);
  }
}

for (const seed of [1, 2, 3, 4]) {
  test(`storage engine matches a Map model over 25k random ops (seed ${seed})`, async () => {
    const s = await runModel(seed, 25_000);
    // The run must have exercised what it claims to: several flushes, compactions, reopens, scans.
    assert.ok(s.flushes > 10 && s.compactions > 5 && s.reopens > 3 && s.scans > 10, JSON.stringify(s));
  });
}
