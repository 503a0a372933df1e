// Child process for test/process/storage-full.test.ts, run inside a private mount namespace on a
// small tmpfs (argv[2]). Takes one storage engine through three out-of-space episodes and prints
// what it saw as one JSON line (the parent asserts on it):
//  1. a flush that does not fit (the WAL segment it replaces did): writes are refused until a
//     ballast file is removed, then the flush runs again and writes go on;
//  2. a WAL write that does not fit: refused, the segment cut back to its last whole record,
//     writes go on once the ballast is removed again;
//  3. a compaction whose table's end does not fit: it fails, its table is closed and removed,
//     compactions wait for room while writes go on, and a compaction runs once the ballast is
//     removed.
// Then the engine is reopened on the same directory: every acknowledged write is there, no
// refused one is, and recovery found no torn record.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStorage } from '../../../src/storage';
import type { StorageEngine, StorageEntry, StorageStats } from '../../../src/storage/types';
import { isRingkvError } from '../../../src/errors';

const memtableBytes = 1024 * 1024;
const valueBytes = 16 * 1024;
const waitMs = 15_000;
const writesMax = 2000;

interface Refusal {
  code: string;
  message: string;
  /** The refused key read back before the episode ended (null: not applied). */
  readBack: string | null;
}

const entry = (key: string, fill: string): StorageEntry => ({
  key: Buffer.from(key),
  value: Buffer.from(fill.repeat(valueBytes / fill.length)),
  timestampMs: 1,
  versionVector: Buffer.from([1]),
  tombstone: false,
  expiresAtMs: 0,
});

const freeBytes = (dir: string): number => {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
};

/** Fills the file system with `file`, leaving about leaveBytes free (0: as full as it gets). */
function fillUp(file: string, leaveBytes: number): void {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(16 * 1024, 0x5a);
  try {
    while (freeBytes(path.dirname(file)) > leaveBytes + chunk.length) fs.writeSync(fd, chunk);
    if (leaveBytes === 0) {
      for (let n = chunk.length; n > 0; n >>= 1) {
        try {
          for (;;) fs.writeSync(fd, chunk, 0, n);
        } catch {
          /* ENOSPC: try a smaller piece */
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

async function until(what: string, db: StorageEngine, done: (s: StorageStats) => boolean): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (!done(db.stats())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(db.stats())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function refusedWrite(db: StorageEngine, key: string): Promise<Refusal> {
  try {
    await db.write([entry(key, 'r')]);
  } catch (err) {
    const got = db.getSync(Buffer.from(key));
    return { code: isRingkvError(err) ? err.code : String(err), message: (err as Error).message, readBack: got === null ? null : Buffer.from(got.value).toString().slice(0, 1) };
  }
  throw new Error(`write of ${key} was taken while out of space`);
}

async function main(): Promise<void> {
  const mount = process.argv[2]!;
  const dir = path.join(mount, 'db');
  const ballast = path.join(mount, 'ballast');
  const acked: string[] = [];
  let db = await openStorage({ dir, memtableBytes, syncMode: 'batch', autoCompaction: false });
  let n = 0;
  const write = async (): Promise<void> => {
    const key = `k${n++}`;
    await db.write([entry(key, key.slice(-1))]);
    acked.push(key);
  };

  // 1. Room for one memtable's WAL segment and little more: the flush of it cannot fit.
  fillUp(ballast, memtableBytes + memtableBytes / 2);
  while (db.stats().immutableMemtables === 0 && db.stats().outOfSpace === 0 && n < writesMax) await write();
  await until('a failed flush', db, (s) => s.outOfSpace === 1);
  const flushStats = db.stats();
  const flushRefusal = await refusedWrite(db, 'refused-during-flush');
  fs.rmSync(ballast);
  await until('the retried flush', db, (s) => s.outOfSpace === 0 && s.flushes === 1 && s.immutableMemtables === 0);
  await write();
  const afterFlush = db.stats();

  // 2. No room at all: the next WAL write fails and is cut off.
  fillUp(ballast, 0);
  const walFile = (): string => fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).sort().at(-1)!;
  const walBytesBefore = fs.statSync(path.join(dir, walFile())).size;
  const walRefusal = await refusedWrite(db, 'refused-wal');
  const walBytesAfter = fs.statSync(path.join(dir, walFile())).size;
  const walStats = db.stats();
  fs.rmSync(ballast);
  await until('space after the WAL refusal', db, (s) => s.outOfSpace === 0);
  await write();

  // 3. A compaction whose output does not fit, by a little: its data blocks are written, the end
  // of its table (the last block, filter, index, footer) is not. It fails, the table it had begun
  // is closed and removed (no descriptor holds its space), the engine lives on, and with space
  // back a compaction runs and writes go on.
  for (let i = 0; i < 20; i++) await write();
  await db.flush();
  const tableBytes = fs.readdirSync(dir).filter((f) => f.endsWith('.sst')).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  fillUp(ballast, tableBytes - 32 * 1024);
  let compactionError = '';
  try {
    await db.compact();
  } catch (err) {
    compactionError = isRingkvError(err) ? err.code : String(err);
  }
  const deletedTablesOpen = fs
    .readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((l) => l.includes('.sst') && l.includes('(deleted)')).length;
  // Compactions wait for room; writes do not (one compaction needs far more than a write).
  const heldStats = db.stats();
  await write();
  fs.rmSync(ballast);
  await until('space after the failed compaction', db, (s) => s.outOfSpace === 0 && s.compactionsHeldForSpace === 0);
  await db.compact();
  const compactedLevels = db.stats().sstablesPerLevel;
  await write();
  await db.close();

  db = await openStorage({ dir, memtableBytes, syncMode: 'batch', autoCompaction: false });
  const missing = acked.filter((k) => {
    const got = db.getSync(Buffer.from(k));
    return got === null || Buffer.from(got.value).toString() !== k.slice(-1).repeat(valueBytes);
  });
  const refusedPresent = ['refused-during-flush', 'refused-wal'].filter((k) => db.getSync(Buffer.from(k)) !== null);
  const recovery = db.recoveryReport();
  await db.close();
  process.stdout.write(
    `${JSON.stringify({
      acked: acked.length,
      flushStats: { writesRefused: flushStats.writesRefused, outOfSpace: flushStats.outOfSpace, flushes: flushStats.flushes },
      flushRefusal,
      afterFlush: { writesRefused: afterFlush.writesRefused, outOfSpace: afterFlush.outOfSpace, flushes: afterFlush.flushes },
      walRefusal,
      walBytesBefore,
      walBytesAfter,
      walStats: { writesRefused: walStats.writesRefused, outOfSpace: walStats.outOfSpace },
      missing,
      refusedPresent,
      tornTails: recovery.tornTails.length,
      compactionError,
      heldStats: { writesRefused: heldStats.writesRefused, outOfSpace: heldStats.outOfSpace, compactionsHeldForSpace: heldStats.compactionsHeldForSpace },
      deletedTablesOpen,
      compactedLevel0: compactedLevels[0],
    })}\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
