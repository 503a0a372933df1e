// Proves what moving flushes and compactions onto the engine's background thread must keep:
// the work really happens off the shard's thread (it finishes while that thread is blocked);
// compaction output holds the same data as a model; a damaged input fails the job with a typed
// RKV_ERR_CORRUPTION that names the file, and the engine then refuses writes with it; close()
// aborts a running compaction without leaving files behind; a scan that is suspended across a
// flush and a compaction still reads its memtable (whose memory is recycled only after it) and
// its input files (deleted only after it); and the thread's own errors arrive typed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openStorage } from '../../../src/storage';
import { BackgroundThread } from '../../../src/storage/background';
import { BackgroundControl } from '../../../src/storage/background-control';
import { BlockCache } from '../../../src/storage/block-cache';
import { Table } from '../../../src/storage/table';
import { currentThreadId } from '../../../src/storage/thread-priority';
import type { StorageEntry } from '../../../src/storage/types';
import { backgroundThreadNiceIncrement } from '../../../src/constants';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { del, prng, put, removeDir, tempDir } from './helpers';
import { flipByte } from '../../helpers/damage';

function tableNumbers(dir: string): number[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.sst'))
    .map((n) => Number(n.slice(0, -4)))
    .sort((a, b) => a - b);
}

async function scanAll(db: Awaited<ReturnType<typeof openStorage>>): Promise<StorageEntry[]> {
  const out: StorageEntry[] = [];
  for await (const e of db.scanRange(0n, 0xffff_ffff_ffff_ffffn)) out.push(e);
  return out;
}

test('a compaction finishes while the engine thread is blocked: it runs on another thread', async () => {
  // If compaction ran on this thread, blocking it would stop all progress and the loop below
  // would only end at its deadline, failing the test. The deadline only turns a hang into a failure.
  const dir = tempDir('offthread');
  const db = await openStorage({ dir, syncMode: 'none', memtableBytes: 256 * 1024, autoCompaction: false });
  try {
    const value = Buffer.alloc(1000, 7);
    for (let t = 0; t < 6; t++) {
      await db.write(Array.from({ length: 1000 }, (_, i) => put(`t${t}-k${i}`, value)));
      await db.flush();
    }
    const before = tableNumbers(dir);
    const done = db.compact();
    const deadline = Date.now() + 60_000;
    let newest = before.at(-1)!;
    while (newest <= before.at(-1)! && Date.now() < deadline) newest = tableNumbers(dir).at(-1) ?? 0; // Blocks this thread.
    assert.ok(newest > before.at(-1)!, 'compaction output appeared while the engine thread was blocked');
    await done;
    assert.equal(db.stats().sstablesPerLevel[0], 0, 'level 0 was compacted');
    assert.equal(Buffer.from((await db.get(Buffer.from('t3-k999')))!.value).toString(), value.toString());
  } finally {
    await db.close();
    removeDir(dir);
  }
});

/** This process's threads at nice value `nice`, from /proc/self/task (field 19 of each stat). */
function threadsAtNice(nice: number): Set<number> {
  const out = new Set<number>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start with field 3, the state.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[19 - 3]) === nice) out.add(Number(tid));
  }
  return out;
}

test('the background thread runs nicer than the thread that serves requests; the caller keeps its priority', async () => {
  const self = currentThreadId();
  assert.ok(self !== null, 'Linux /proc/thread-self names this thread');
  const base = os.getPriority(self);
  const nicer = Math.min(19, base + backgroundThreadNiceIncrement);
  assert.ok(nicer > base, `this test needs room below the process's nice value ${base}`);
  const before = threadsAtNice(nicer);
  const dir = tempDir('nice');
  const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
  try {
    await db.write([put('k', 'v')]);
    await db.flush(); // The first job starts the background thread.
    const added = [...threadsAtNice(nicer)].filter((tid) => !before.has(tid));
    assert.equal(added.length, 1, `one new thread at nice ${nicer} (the engine's background thread), found ${added.length}`);
    assert.equal(os.getPriority(self), base, 'the engine thread keeps its priority');
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('a caller awaiting get() in a tight loop still lets background results be installed', async () => {
  // get() (and write() with syncMode 'none') resolve without I/O. If they always resolved at
  // once, this loop would never give the event loop a turn, the compaction's reply would never be
  // handled, and the loop would run into its deadline (a hang guard, not a timing check).
  const dir = tempDir('starve');
  const db = await openStorage({ dir, syncMode: 'none', memtableBytes: 256 * 1024, autoCompaction: false });
  try {
    for (let t = 0; t < 5; t++) {
      await db.write(Array.from({ length: 500 }, (_, i) => put(`t${t}-k${i}`, 'v'.repeat(500))));
      await db.flush();
    }
    const done = db.compact();
    const deadline = Date.now() + 60_000;
    let reads = 0;
    while (db.stats().compactions === 0 && Date.now() < deadline) {
      assert.ok((await db.get(Buffer.from(`t${reads % 5}-k${reads % 500}`))) !== null);
      reads++;
    }
    assert.ok(db.stats().compactions > 0, `the compaction was installed while the caller looped (${reads} reads)`);
    await done;
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('background compaction output equals a model across overwrites, deletes and TTL', async () => {
  const dir = tempDir('bgmodel');
  let now = 10_000;
  const db = await openStorage({ dir, syncMode: 'none', memtableBytes: 64 * 1024, sstableFileBytes: 32 * 1024, levelBaseBytes: 128 * 1024, tombstoneGraceMs: 1_000, now: () => now });
  const model = new Map<string, string | null>();
  const rnd = prng(7);
  try {
    for (let round = 0; round < 40; round++) {
      const batch: StorageEntry[] = [];
      for (let i = 0; i < 50; i++) {
        const k = `key-${Math.floor(rnd() * 600)}`;
        const r = rnd();
        if (r < 0.15) {
          batch.push(del(k, { timestampMs: now }));
          model.set(k, null);
        } else if (r < 0.25) {
          batch.push(put(k, `ttl-${round}-${i}`, { timestampMs: now, expiresAtMs: now + 500 }));
          model.set(k, null); // Expired by the end (now moves past it below).
        } else {
          const v = `v-${round}-${i}-${'x'.repeat(Math.floor(rnd() * 200))}`;
          batch.push(put(k, v, { timestampMs: now }));
          model.set(k, v);
        }
      }
      await db.write(batch);
      now += 10;
    }
    now += 5_000; // Past every TTL and every tombstone's grace.
    await db.flush();
    await db.compact();
    const s = db.stats();
    assert.ok(s.compactions > 0 && s.flushes > 0, `background jobs ran (${JSON.stringify(s)})`);
    for (const [k, v] of model) {
      const e = await db.get(Buffer.from(k));
      if (v === null) assert.ok(e === null || e.tombstone, `${k} must read as deleted or expired`);
      else assert.equal(e === null ? null : Buffer.from(e.value).toString(), v, k);
    }
    const live = (await scanAll(db)).filter((e) => !e.tombstone).map((e) => Buffer.from(e.key).toString());
    assert.deepEqual(live.sort(), [...model].filter(([, v]) => v !== null).map(([k]) => k).sort(), 'a full scan shows exactly the live keys');
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('a damaged input table fails the compaction with RKV_ERR_CORRUPTION naming it; writes then fail with it (no quarantine: the only copy)', async () => {
  // The engine's default, a single node's: its tables are the only copy, so one it cannot read
  // is not dropped. With quarantineCorruptTables (a cluster node) the compaction takes it out and
  // goes on instead (scrub.test.ts).
  const dir = tempDir('bgcorrupt');
  const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
  try {
    for (let t = 0; t < 2; t++) {
      await db.write(Array.from({ length: 2000 }, (_, i) => put(`t${t}-key-${i}`, `value-${i}-${'v'.repeat(100)}`)));
      await db.flush();
    }
    const victim = tableNumbers(dir)[0]!;
    const file = path.join(dir, `${String(victim).padStart(6, '0')}.sst`);
    const t = Table.open(file, victim);
    const blockAt = t.indexHandles[Math.floor(t.indexHandles.length / 2)]!.offset;
    t.close();
    flipByte(file, blockAt + 20, 0x40);
    const isCorruption = (err: unknown): boolean => {
      assert.ok(isRingkvError(err, ErrorCode.Corruption), `expected RKV_ERR_CORRUPTION, got ${String(err)}`);
      assert.equal(err.details.file, file, 'the error names the damaged table');
      assert.equal(err.details.offset, blockAt, 'and the damaged block');
      return true;
    };
    await assert.rejects(db.compact(), isCorruption);
    await assert.rejects(db.write([put('after', 'x')]), isCorruption);
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('close() aborts a running compaction; reopening finds no stray files and all the data', async () => {
  const dir = tempDir('bgabort');
  try {
    const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
    const value = Buffer.alloc(1024, 3);
    for (let t = 0; t < 5; t++) {
      await db.write(Array.from({ length: 4000 }, (_, i) => put(`t${t}-k${i}`, value)));
      await db.flush();
    }
    const l0 = db.stats().sstablesPerLevel[0];
    const compacting = db.compact(); // Posts the job before returning; close() aborts it at once.
    await db.close();
    await compacting;
    const db2 = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
    try {
      const s = db2.stats();
      assert.equal(s.sstablesPerLevel[0], l0, 'the aborted compaction installed nothing');
      assert.equal(tableNumbers(dir).length, s.sstablesPerLevel.reduce((a, b) => a + b, 0), 'every table on disk is a live one');
      for (let t = 0; t < 5; t++) assert.equal((await db2.get(Buffer.from(`t${t}-k3999`)))!.value.length, 1024);
    } finally {
      await db2.close();
    }
  } finally {
    removeDir(dir);
  }
});

test('a scan suspended across a flush and a compaction reads its pinned memtable and files intact', async () => {
  // Without the pins, the flushed memtable's arena would be reused by later writes and the
  // compacted input files deleted, and the scan would read garbage or fail.
  const dir = tempDir('bgscan');
  const db = await openStorage({ dir, syncMode: 'none', memtableBytes: 64 * 1024, autoCompaction: false });
  try {
    const original = new Map<string, string>();
    for (let i = 0; i < 300; i++) original.set(`orig-${i}`, `value-${i}-${'o'.repeat(i % 50)}`);
    // Half in tables (which the compaction below will replace), half in the memtable.
    const all = [...original].map(([k, v]) => put(k, v));
    await db.write(all.slice(0, 150));
    await db.flush();
    // Small batches, so the records live in the memtable's arena chunks (large ones do not).
    for (let i = 150; i < 300; i += 5) await db.write(all.slice(i, i + 5));
    const pinnedTables = tableNumbers(dir);
    assert.ok(pinnedTables.length > 0);
    const it = db.scanRange(0n, 0xffff_ffff_ffff_ffffn)[Symbol.asyncIterator]();
    const got: StorageEntry[] = [];
    for (let i = 0; i < 10; i++) got.push((await it.next()).value as StorageEntry);
    // Many memtables' worth of other keys: flushes retire the scan's memtable and later ones reuse
    // arena chunks; then a compaction makes every table the scan could hold obsolete.
    for (let round = 0; round < 300; round++) {
      await db.write(Array.from({ length: 5 }, (_, i) => put(`other-${round}-${i}`, 'w'.repeat(200))));
    }
    await db.flush();
    await db.compact();
    const onDisk = new Set(tableNumbers(dir));
    for (const n of pinnedTables) assert.ok(onDisk.has(n), `table ${n}, replaced by the compaction, is kept while the scan may read it`);
    for (let r = await it.next(); !r.done; r = await it.next()) got.push(r.value);
    const seen = new Map(got.map((e) => [Buffer.from(e.key).toString(), Buffer.from(e.value).toString()]));
    for (const [k, v] of original) assert.equal(seen.get(k), v, `${k} read intact by the suspended scan`);
    // The unlinks run off the engine's thread; flush() waits for the ones already started.
    await db.flush();
    assert.equal(tableNumbers(dir).length, db.stats().sstablesPerLevel.reduce((a, b) => a + b, 0), 'obsolete inputs are deleted once the scan ends');
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('the background thread reports a bad job as a typed error and keeps serving jobs', async () => {
  const dir = tempDir('bgthread');
  const control = new BackgroundControl();
  control.raiseFileNumber(1);
  const bg = new BackgroundThread({ dir, control: control.buffer, bloomBitsPerKey: 10 });
  try {
    const sk = Buffer.concat([Buffer.alloc(8, 1), Buffer.from('key')]);
    const payload = Buffer.concat([Buffer.alloc(17), Buffer.from([0]), Buffer.from('value')]);
    const shared = Buffer.from(new SharedArrayBuffer(payload.length + 5));
    payload.copy(shared, 5);
    const run = (valueOffset: number, valueLength: number) => ({
      count: 1,
      keys: sk,
      keyOffsets: new Uint32Array([0, sk.length]),
      valueBuffers: [shared.buffer as SharedArrayBuffer],
      valueBuffer: new Uint32Array([0]),
      valueOffsets: new Uint32Array([valueOffset]),
      valueLengths: new Uint32Array([valueLength]),
    });
    const malformed = (err: unknown): boolean => isRingkvError(err, ErrorCode.Internal) && /malformed packed run/.test((err as Error).message);
    await assert.rejects(bg.run({ kind: 'flush', id: 0, run: { ...run(5, payload.length), count: 2 } }, [], 'test flush'), malformed);
    await assert.rejects(bg.run({ kind: 'flush', id: 0, run: run(6, payload.length) }, [], 'test flush'), (err: unknown) => malformed(err) && /outside its buffer/.test((err as Error).message));
    const r = await bg.run({ kind: 'flush', id: 0, run: run(5, payload.length) }, [], 'test flush');
    assert.equal(r.tables.length, 1);
    assert.equal(r.tables[0]!.entryCount, 1);
    const t = Table.open(path.join(dir, `${String(r.tables[0]!.number).padStart(6, '0')}.sst`), r.tables[0]!.number);
    try {
      const got = t.get(sk, Buffer.from('key'), new BlockCache(0));
      assert.ok(got !== null && got.equals(payload), 'the table holds the payload read from the shared buffer');
    } finally {
      t.close();
    }
  } finally {
    await bg.close();
    removeDir(dir);
  }
});
