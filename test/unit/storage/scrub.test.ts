// Proves the engine's scrub and quarantine (db.ts scrub, table-scrub.ts): a clean engine reads
// every table and finds nothing; a bit flip anywhere in a table (a data block, the index, the
// footer) gets that table, and only it, taken out: the manifest no longer names it, the file
// waits in quarantine/, what still reads is salvaged into its place (without the index, by a
// scan for the blocks), the keys of what does not read as the older versions below it (or not
// at all), the engine keeps taking writes, and it reopens as it was left. A compaction that meets
// a corrupt input quarantines it and goes on, where it used to fail the engine until a restart
// (and again after). A get or a scan that meets a damaged block fails and gets the table
// quarantined at once. All of that with quarantineCorruptTables (a cluster node's engines);
// without it (a single node, whose only copy the table is) a scrub reports the table and leaves
// it, and reads of the damaged block fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStorage } from '../../../src/storage';
import { Table } from '../../../src/storage/table';
import { decodeFooter, footerBytes } from '../../../src/storage/table-format';
import type { StorageEngine } from '../../../src/storage/types';
import { tokenMax } from '../../../src/storage/sort-key';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { damageBlock, keysOfBlock, put, removeDir, tempDir } from './helpers';
import { flipByte } from '../../helpers/damage';


const tables = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.sst')).sort();
const text = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : Buffer.from(v).toString());

/**
 * Two level-0 tables: the older holds old-0..499 = 'a' (and shared-*), the newer new-0..499 = 'b'
 * and shared-* = 'b'. Returns the newer table's path.
 */
async function twoTables(db: StorageEngine, dir: string): Promise<string> {
  const first = [];
  for (let i = 0; i < 500; i++) first.push(put(`old-${i}`, `a${i}`.padEnd(120, '.')), put(`shared-${i}`, `a${i}`));
  await db.write(first);
  await db.flush();
  const second = [];
  for (let i = 0; i < 500; i++) second.push(put(`new-${i}`, `b${i}`.padEnd(120, '.')), put(`shared-${i}`, `b${i}`));
  await db.write(second);
  await db.flush();
  const names = tables(dir);
  assert.equal(names.length, 2);
  return path.join(dir, names[1]!);
}

test('a clean engine scrubs every table and finds nothing', async () => {
  const dir = tempDir('scrub-clean');
  const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
  try {
    await twoTables(db, dir);
    const r = await db.scrub();
    assert.deepEqual({ ...r, bytesRead: r.bytesRead > 0 }, { tables: 2, entries: 2000, bytesRead: true, quarantined: [], corrupt: [], cutShort: false });
    assert.equal(db.stats().tablesQuarantined, 0);
  } finally {
    await db.close();
    removeDir(dir);
  }
});

/**
 * After the newer of twoTables' tables lost the keys in `lost` (and only those): they read as the
 * older table's versions (shared-*) or not at all (new-*); every other key as the newer table has it.
 */
async function checkSalvaged(db: StorageEngine, lost: Set<string>): Promise<void> {
  assert.ok(lost.size > 0 && lost.size < 1000, `a block holds some of the table's keys: ${lost.size}`);
  for (let i = 0; i < 500; i++) {
    assert.equal(text((await db.get(Buffer.from(`shared-${i}`)))?.value), lost.has(`shared-${i}`) ? `a${i}` : `b${i}`, `shared-${i}`);
    assert.equal(text((await db.get(Buffer.from(`new-${i}`)))?.value), lost.has(`new-${i}`) ? undefined : `b${i}`.padEnd(120, '.'), `new-${i}`);
    assert.equal(text((await db.get(Buffer.from(`old-${i}`)))?.value), `a${i}`.padEnd(120, '.'));
  }
}

test('a bit flip in a data block gets that table quarantined and its other blocks salvaged into a table in its place; writes go on, the engine reopens so', async () => {
  const dir = tempDir('scrub-flip');
  let db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
  try {
    const newer = await twoTables(db, dir);
    const lost = damageBlock(newer, 2);
    const r = await db.scrub();
    assert.equal(r.tables, 2);
    assert.equal(r.quarantined.length, 1, JSON.stringify(r));
    const q = r.quarantined[0]!;
    assert.deepEqual([q.file, q.level, q.entries, q.salvagedEntries, q.blocksLost], [path.join(dir, 'quarantine', path.basename(newer)), 0, 1000, 1000 - lost.size, 1]);
    assert.match(q.reason, new RegExp(`SSTable ${newer.replace(/[.]/g, '\\.')}: .*checksum mismatch`));
    assert.ok(fs.existsSync(q.file), 'the damaged file is kept in quarantine/');
    assert.equal(tables(dir).length, 2, 'the older table and the salvaged one');
    assert.ok(!tables(dir).includes(path.basename(newer)));
    assert.equal(db.stats().tablesQuarantined, 1);
    await checkSalvaged(db, lost);
    await db.write([put('after', 'x')]);
    assert.deepEqual((await db.scrub()).quarantined, [], 'a second scrub finds nothing more: the salvaged table is sound');
    await db.flush();
    await db.close();
    db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
    assert.equal(text((await db.get(Buffer.from('after')))?.value), 'x');
    await checkSalvaged(db, lost);
    assert.ok(fs.existsSync(q.file), 'open leaves quarantine/ alone');
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('a salvaged level-0 table keeps the damaged one\'s place: below a table flushed after it, before and after a reopen and a compaction', async () => {
  // The salvaged table gets a new, higher file number; ordered by number it would shadow the
  // third table's newer shared-* values with the damaged table's older ones.
  const dir = tempDir('scrub-rank');
  let db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
  try {
    const middle = await twoTables(db, dir);
    await db.write(Array.from({ length: 500 }, (_, i) => put(`shared-${i}`, `c${i}`)));
    await db.flush();
    const lost = damageBlock(middle, 2);
    const r = await db.scrub();
    assert.equal(r.quarantined.length, 1, JSON.stringify(r));
    assert.equal(tables(dir).length, 3);
    const check = async (when: string): Promise<void> => {
      for (let i = 0; i < 500; i++) {
        assert.equal(text((await db.get(Buffer.from(`shared-${i}`)))?.value), `c${i}`, `shared-${i} ${when}`);
        assert.equal(text((await db.get(Buffer.from(`new-${i}`)))?.value), lost.has(`new-${i}`) ? undefined : `b${i}`.padEnd(120, '.'), `new-${i} ${when}`);
      }
    };
    await check('after the salvage');
    await db.close();
    const manifest = fs.readFileSync(path.join(dir, 'MANIFEST'));
    assert.equal(JSON.parse(manifest.subarray(16).toString()).formatVersion, 2, 'a manifest with a ranked table says so');
    db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
    await check('after a reopen');
    await db.compact();
    await check('after a compaction');
  } finally {
    await db.close();
    removeDir(dir);
  }
});

/** The footer of `file`, decoded. */
function footerOf(file: string): ReturnType<typeof decodeFooter> {
  const bytes = fs.readFileSync(file);
  return decodeFooter(file, bytes.length, bytes.subarray(bytes.length - footerBytes));
}

test('a bit flip in the index block: the data blocks are found by a scan and every entry is salvaged', async () => {
  const dir = tempDir('scrub-index');
  let db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
  try {
    const newer = await twoTables(db, dir);
    flipByte(newer, footerOf(newer).index.offset + 3);
    const r = await db.scrub();
    assert.equal(r.quarantined.length, 1, JSON.stringify(r));
    const q = r.quarantined[0]!;
    assert.deepEqual([q.file, q.level, q.entries, q.salvagedEntries, q.blocksLost], [path.join(dir, 'quarantine', path.basename(newer)), 0, 1000, 1000, 0]);
    assert.equal(tables(dir).length, 2, 'the salvaged table took the damaged one\'s place');
    // Its keys read as they were written, before and after a reopen.
    assert.equal(text((await db.get(Buffer.from('shared-7')))?.value), 'b7');
    assert.equal(text((await db.get(Buffer.from('new-7')))?.value), 'b7'.padEnd(120, '.'));
    await db.close();
    db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
    assert.equal(text((await db.get(Buffer.from('shared-9')))?.value), 'b9');
    assert.equal((await db.scrub()).quarantined.length, 0, 'the salvaged table is whole');
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('a damaged footer: the scan finds every data block, but cannot tell where they end, so blocks_lost is null', async () => {
  const dir = tempDir('scrub-footer');
  const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
  try {
    const newer = await twoTables(db, dir);
    flipByte(newer, fs.statSync(newer).size - footerBytes + 2);
    const r = await db.scrub();
    assert.equal(r.quarantined.length, 1, JSON.stringify(r));
    assert.deepEqual([r.quarantined[0]!.salvagedEntries, r.quarantined[0]!.blocksLost], [1000, null]);
    assert.equal(text((await db.get(Buffer.from('new-499')))?.value), 'b499'.padEnd(120, '.'));
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('the index and a data block both damaged: the scan keeps the blocks before the damaged one, and cannot say how many followed', async () => {
  const dir = tempDir('scrub-index-data');
  const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
  try {
    const newer = await twoTables(db, dir);
    const t = Table.open(newer, Number(path.basename(newer, '.sst')));
    const blocks = t.blockCount;
    t.close();
    assert.ok(blocks >= 6, `${blocks} blocks`);
    const kept = [...keysOfBlock(newer, 0), ...keysOfBlock(newer, 1)];
    const after = keysOfBlock(newer, 3);
    damageBlock(newer, 2);
    flipByte(newer, footerOf(newer).index.offset + 3);
    const r = await db.scrub();
    assert.equal(r.quarantined.length, 1, JSON.stringify(r));
    assert.deepEqual([r.quarantined[0]!.salvagedEntries, r.quarantined[0]!.blocksLost], [kept.length, null]);
    for (const k of kept.slice(0, 5)) assert.equal(text((await db.get(Buffer.from(k)))?.value)?.[0], 'b', k);
    // Past the damage, the older table's versions show, or nothing.
    for (const k of [...after].slice(0, 5)) assert.notEqual(text((await db.get(Buffer.from(k)))?.value)?.[0], 'b', k);
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('a compaction that meets a corrupt table quarantines it, salvages the rest and goes on; the engine keeps taking writes', async () => {
  const dir = tempDir('scrub-compact');
  const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
  try {
    const newer = await twoTables(db, dir);
    const offset = (() => {
      const t = Table.open(newer, Number(path.basename(newer, '.sst')));
      const o = t.indexHandles[1]!.offset;
      t.close();
      return o;
    })();
    const lost = damageBlock(newer, 1);
    await db.compact();
    const s = db.stats();
    assert.equal(s.tablesQuarantined, 1);
    const q = db.quarantinedTables();
    assert.equal(q.length, 1);
    assert.ok(q[0]!.reason.includes(`SSTable ${newer}: `) && q[0]!.reason.includes(`at offset ${offset}`), `the reason names the table and the block: ${q[0]!.reason}`);
    assert.deepEqual([q[0]!.salvagedEntries, q[0]!.blocksLost], [1000 - lost.size, 1]);
    assert.equal(s.writesRefused, 0, 'no sticky background error');
    assert.ok(fs.existsSync(path.join(dir, 'quarantine', path.basename(newer))));
    assert.ok(!tables(dir).includes(path.basename(newer)));
    assert.ok(db.stats().sstablesPerLevel[0] === 0, 'the compaction went on with the salvaged table');
    await db.write([put('after', 'y')]);
    await db.flush();
    await checkSalvaged(db, lost);
    assert.equal(text((await db.get(Buffer.from('after')))?.value), 'y');
    assert.deepEqual((await db.scrub()).quarantined, []);
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('without quarantineCorruptTables (a single node: the only copy) a scrub reports a corrupt table and leaves it', async () => {
  const dir = tempDir('scrub-report');
  const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
  try {
    const newer = await twoTables(db, dir);
    const t = Table.open(newer, Number(path.basename(newer, '.sst')));
    const offset = t.indexHandles[4]!.offset + 10;
    t.close();
    flipByte(newer, offset);
    const r = await db.scrub();
    assert.deepEqual(r.quarantined, []);
    assert.deepEqual(r.corrupt.map((c) => [c.file, c.level, c.entries]), [[newer, 0, 1000]]);
    assert.ok(r.corrupt[0]!.reason.includes(`at offset ${offset - 10}`), r.corrupt[0]!.reason);
    assert.equal(tables(dir).length, 2, 'both tables still in the engine');
    assert.equal(fs.existsSync(path.join(dir, 'quarantine')), false);
    assert.equal(text((await db.get(Buffer.from('shared-499')))?.value), 'b499', 'the rest of the table still reads');
  } finally {
    await db.close();
    removeDir(dir);
  }
});

/**
 * Closes db, damages one data block (the third) of the newer of twoTables' tables, and reopens it
 * with a cold block cache (a flush warms the cache with the new table, which would hide the damage
 * from reads). Returns the reopened engine.
 */
async function damageNewerAndReopen(db: StorageEngine, dir: string, newer: string, quarantineCorruptTables: boolean): Promise<StorageEngine> {
  await db.close();
  const t = Table.open(newer, Number(path.basename(newer, '.sst')));
  const offset = t.indexHandles[2]!.offset + 10;
  t.close();
  flipByte(newer, offset);
  return openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables });
}

/** The newer table's keys, tried in turn: the first whose read fails, with that error. */
function firstFailingRead(db: StorageEngine): { key: string; err: unknown } | null {
  for (let i = 0; i < 500; i++) {
    for (const key of [`new-${i}`, `shared-${i}`]) {
      try {
        db.getSync(Buffer.from(key));
      } catch (err) {
        return { key, err };
      }
    }
  }
  return null;
}

test('a read that meets a damaged block fails, and the table is quarantined at once: the block\'s keys read as their older versions, the rest as they were', async () => {
  const dir = tempDir('scrub-read');
  let db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
  try {
    const newer = await twoTables(db, dir);
    const lost = keysOfBlock(newer, 2);
    db = await damageNewerAndReopen(db, dir, newer, true);
    const failed = firstFailingRead(db);
    assert.ok(failed !== null, 'some key of the damaged block fails to read');
    assert.ok(lost.has(failed.key), `${failed.key} is in the damaged block`);
    assert.ok(isRingkvError(failed.err, ErrorCode.Corruption) && failed.err.message.includes(`SSTable ${newer}: `), String(failed.err));
    for (let i = 0; i < 500 && db.quarantinedTables().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    const q = db.quarantinedTables();
    assert.deepEqual(q.map((x) => [x.file, x.level, x.entries, x.salvagedEntries, x.blocksLost]), [[path.join(dir, 'quarantine', path.basename(newer)), 0, 1000, 1000 - lost.size, 1]]);
    assert.match(q[0]!.reason, /^read: SSTable .*checksum mismatch/);
    assert.ok(fs.existsSync(q[0]!.file), 'the damaged file is kept in quarantine/');
    await checkSalvaged(db, lost);
    await db.write([put('after', 'x')]);
    assert.equal(text((await db.get(Buffer.from('after')))?.value), 'x');
    assert.equal(db.stats().writesRefused, 0);
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('a scan that meets a damaged block fails and gets the table quarantined and salvaged', async () => {
  const dir = tempDir('scrub-scan');
  let db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
  try {
    const newer = await twoTables(db, dir);
    const lost = keysOfBlock(newer, 2);
    db = await damageNewerAndReopen(db, dir, newer, true);
    await assert.rejects(
      async () => {
        for await (const e of db.scanRange(0n, tokenMax)) void e;
      },
      (err: unknown) => isRingkvError(err, ErrorCode.Corruption),
    );
    await db.close(); // waits for the quarantine the scan asked for
    db = await openStorage({ dir, syncMode: 'none', autoCompaction: false, quarantineCorruptTables: true });
    assert.ok(fs.existsSync(path.join(dir, 'quarantine', path.basename(newer))));
    let entries = 0;
    for await (const e of db.scanRange(0n, tokenMax)) {
      entries++;
      const k = Buffer.from(e.key).toString();
      if (k.startsWith('shared-')) assert.equal(text(e.value)![0], lost.has(k) ? 'a' : 'b', k);
    }
    const lostNew = [...lost].filter((k) => k.startsWith('new-')).length;
    assert.equal(entries, 1500 - lostNew, 'every key but the new ones of the damaged block');
  } finally {
    await db.close();
    removeDir(dir);
  }
});

test('without quarantineCorruptTables a read of a damaged block fails every time and the table stays', async () => {
  const dir = tempDir('scrub-read-report');
  let db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
  try {
    const newer = await twoTables(db, dir);
    db = await damageNewerAndReopen(db, dir, newer, false);
    const failed = firstFailingRead(db);
    assert.ok(failed !== null && isRingkvError(failed.err, ErrorCode.Corruption), String(failed?.err));
    await db.close(); // would wait for a quarantine, had one been asked for
    db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
    assert.equal(tables(dir).length, 2);
    assert.equal(fs.existsSync(path.join(dir, 'quarantine')), false);
    assert.deepEqual(db.quarantinedTables(), []);
    assert.throws(() => db.getSync(Buffer.from(failed.key)), (err: unknown) => isRingkvError(err, ErrorCode.Corruption));
  } finally {
    await db.close();
    removeDir(dir);
  }
});
