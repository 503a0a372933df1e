// WAL segments written over the files of obsolete ones (log-writer.ts, docs/wal-format.md
// "Recycled segments"): recovery reads exactly the new segment's records and never an earlier
// segment's bytes left after them, tells a torn write from those bytes, and still stops on
// damage that has records of the segment after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStorage } from '../../../src/storage';
import { crc32c } from '../../../src/storage/checksum';
import { readWalSegment } from '../../../src/storage/log-reader';
import { encodeBatchRecord, walEndMarker, walHeaderBytes } from '../../../src/storage/wal-record';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { del, put, removeDir, tempDir } from './helpers';

function walFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => path.join(dir, n));
}

const numberOf = (file: string): number => Number(path.basename(file, '.wal'));

/** Records of `segment`, one single-entry batch each, each followed by the end marker as written. */
function recordsOf(segment: number, keys: string[], value: string): Buffer[] {
  return keys.map((k) => encodeBatchRecord([put(k, value)], segment));
}

/** The bytes a segment's writer leaves: its records back to back, the end marker after the last. */
function written(records: Buffer[]): Buffer {
  return Buffer.concat([...records, walEndMarker]);
}

/** `fresh` written over `old` from offset 0, as in a recycled file. */
function over(old: Buffer, fresh: Buffer): Buffer {
  const out = Buffer.from(old);
  fresh.copy(out, 0);
  return out.length >= fresh.length ? out : Buffer.concat([out, fresh.subarray(out.length)]);
}

function keysIn(payloads: { payload: Buffer }[]): string[] {
  // Single-entry batches: kind u8, count u32, varint key length (< 128 here), key.
  return payloads.map(({ payload }) => payload.subarray(6, 6 + payload[5]!).toString());
}

function withFile(bytes: Buffer, run: (file: string) => void): void {
  const dir = tempDir('walrec');
  try {
    const file = path.join(dir, '000005.wal');
    fs.writeFileSync(file, bytes);
    run(file);
  } finally {
    removeDir(dir);
  }
}

const oldKeys = Array.from({ length: 40 }, (_, i) => `old-${i}`);
const oldBytes = written(recordsOf(3, oldKeys, 'x'.repeat(50)));

test('a recycled segment yields its own records and stops at its end marker, not at the old ones after it', () => {
  const fresh = written(recordsOf(5, ['a', 'b', 'c'], 'new'));
  withFile(over(oldBytes, fresh), (file) => {
    const r = readWalSegment(file, 5, false);
    assert.deepEqual(keysIn(r.payloads), ['a', 'b', 'c']);
    assert.equal(r.tornTail, null, 'the old bytes are not damage');
    assert.equal(r.validEnd, fresh.length - walEndMarker.length);
    assert.deepEqual(r.recycledTail, { offset: r.validEnd, bytes: oldBytes.length - r.validEnd });
  });
});

test('a recycled segment whose first write never reached the disk holds no records', () => {
  withFile(oldBytes, (file) => {
    const r = readWalSegment(file, 5, false);
    assert.equal(r.payloads.length, 0, 'segment 3 records are not segment 5 records');
    assert.equal(r.tornTail, null);
    assert.deepEqual(r.recycledTail, { offset: 0, bytes: oldBytes.length });
  });
});

test('a torn record over old bytes is a torn tail, not corruption', () => {
  const records = recordsOf(5, ['a', 'b', 'c'], 'new'.repeat(40));
  const fresh = written(records);
  // The last record's header reached the disk, the rest of it did not: old bytes follow the header.
  const lastAt = records[0]!.length + records[1]!.length;
  const torn = over(oldBytes, fresh.subarray(0, lastAt + walHeaderBytes + 4));
  withFile(torn, (file) => {
    const r = readWalSegment(file, 5, false);
    assert.deepEqual(keysIn(r.payloads), ['a', 'b']);
    assert.equal(r.tornTail?.offset, lastAt);
    assert.match(r.tornTail!.reason, /payload checksum mismatch; no record of this segment after it/);
  });
});

test('damage followed by a record of the same segment is still corruption in a recycled file', () => {
  const records = recordsOf(5, ['a', 'b', 'c', 'd'], 'new');
  const bytes = over(oldBytes, written(records));
  const second = records[0]!.length;
  for (const [what, at] of [
    ['payload', second + walHeaderBytes + 3],
    ['header', second + 1],
  ] as const) {
    const damaged = Buffer.from(bytes);
    damaged[at] = damaged[at]! ^ 0x10;
    withFile(damaged, (file) => {
      assert.throws(
        () => readWalSegment(file, 5, false),
        (err: unknown) => isRingkvError(err, ErrorCode.Corruption) && err.details.offset === second,
        what,
      );
      const skipping = readWalSegment(file, 5, true);
      assert.deepEqual(keysIn(skipping.payloads), ['a', 'c', 'd'], what);
    });
  }
  // An end marker (12 zero bytes) in the middle of the segment's records is damage too.
  const zeroed = Buffer.from(bytes);
  zeroed.fill(0, second, second + walHeaderBytes);
  withFile(zeroed, (file) => {
    assert.throws(() => readWalSegment(file, 5, false), (err: unknown) => isRingkvError(err, ErrorCode.Corruption) && err.details.offset === second);
  });
});

test('a segment written before records carried their segment number still reads', () => {
  // Such records' header CRC is crc32c(bytes 0..8) alone.
  const legacy = recordsOf(5, ['a', 'b'], 'v').map((r) => {
    const b = Buffer.from(r);
    b.writeUInt32LE(crc32c(b.subarray(0, 8)), 8);
    return b;
  });
  withFile(Buffer.concat(legacy), (file) => {
    const r = readWalSegment(file, 5, false);
    assert.deepEqual(keysIn(r.payloads), ['a', 'b']);
    assert.equal(r.tornTail, null);
    assert.equal(r.validEnd, legacy[0]!.length + legacy[1]!.length);
  });
});

/**
 * Fills a segment with old values, flushes twice so that its file is a spare and then the current
 * segment's file, writes a few tombstones and one new value into it, and copies the directory
 * while the engine is open: the copy is what a crash of the process would leave.
 */
async function crashCopyOfRecycledSegment(dir: string, crashDir: string, walRecycleSegments: number): Promise<string> {
  const db = await openStorage({ dir, syncMode: 'batch', walRecycleSegments, autoCompaction: false });
  try {
    for (let i = 0; i < 100; i++) await db.write([put(`k${i}`, `old-${i}-${'x'.repeat(200)}`)]);
    await db.flush(); // segment 1 is obsolete now: a spare
    await db.write([put('filler', 'f')]);
    await db.flush(); // the next segment is written into segment 1's file
    await db.write(Array.from({ length: 10 }, (_, i) => del(`k${i}`, { timestampMs: 2_000 })));
    await db.write([put('k10', 'new', { timestampMs: 2_000 })]);
    fs.cpSync(dir, crashDir, { recursive: true });
    return walFiles(crashDir).at(-1)!;
  } finally {
    await db.close();
  }
}

test('after a crash, an engine replays only the recycled segment’s own records', async () => {
  for (const walRecycleSegments of [1, 0]) {
    const dir = tempDir('walrec-db');
    const crashDir = tempDir('walrec-crash');
    try {
      const wal = await crashCopyOfRecycledSegment(dir, crashDir, walRecycleSegments);
      const r = readWalSegment(wal, numberOf(wal), false);
      assert.equal(r.payloads.length, 2, 'the tombstones and the new value');
      // Recycling is what leaves an earlier segment's bytes behind the marker; a new file has none.
      assert.equal(r.recycledTail !== null, walRecycleSegments > 0, `walRecycleSegments ${walRecycleSegments}`);
      const db = await openStorage({ dir: crashDir, walRecycleSegments });
      try {
        assert.deepEqual(db.recoveryReport().tornTails, []);
        for (let i = 0; i < 10; i++) assert.equal((await db.get(Buffer.from(`k${i}`)))?.tombstone, true, `k${i} stays deleted`);
        assert.equal(Buffer.from((await db.get(Buffer.from('k10')))!.value).toString(), 'new');
        assert.match(Buffer.from((await db.get(Buffer.from('k11')))!.value).toString(), /^old-11-/);
        // The recovered engine goes on writing and reading.
        await db.write([put('after', 'crash')]);
        assert.equal(Buffer.from((await db.get(Buffer.from('after')))!.value).toString(), 'crash');
      } finally {
        await db.close();
      }
    } finally {
      removeDir(dir);
      removeDir(crashDir);
    }
  }
});
