// Proves damage on disk is reported precisely (file and offset, RKV_ERR_CORRUPTION) and never
// turns into wrong data: bit flips in a WAL record (mid-log vs the tail), a data block, the
// index block, the footer, and truncated WAL and SSTable files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStorage } from '../../../src/storage';
import { readWalSegment } from '../../../src/storage/log-reader';
import { Table } from '../../../src/storage/table';
import { decodeFooter, footerBytes } from '../../../src/storage/table-format';
import { decodeBatchPayload, recordKindBatch, walHeaderBytes, writeRecordHeader } from '../../../src/storage/wal-record';
import { putVarint32 } from '../../../src/storage/coding';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { put, removeDir, tempDir } from './helpers';
import { flipByte } from '../../helpers/damage';

function filesOf(dir: string, ext: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith(ext))
    .sort()
    .map((n) => path.join(dir, n));
}


function isCorruptionAt(file: string, offset?: number) {
  return (err: unknown): boolean => {
    assert.ok(isRingkvError(err, ErrorCode.Corruption), `expected RKV_ERR_CORRUPTION, got ${String(err)}`);
    assert.equal(err.details.file, file);
    if (offset !== undefined) assert.equal(err.details.offset, offset);
    assert.ok(err.message.includes(file), 'the message names the file');
    return true;
  };
}

/** Writes 10 single-entry records to the WAL and leaves them there (no flush). */
async function walWith10Records(dir: string): Promise<{ wal: string; offsets: number[] }> {
  const db = await openStorage({ dir, syncMode: 'none' });
  for (let i = 0; i < 10; i++) await db.write([put(`k${i}`, `value-${i}`)]);
  await db.close();
  const wal = filesOf(dir, '.wal').at(-1)!;
  const r = readWalSegment(wal, false);
  assert.equal(r.payloads.length, 10);
  return { wal, offsets: r.payloads.map((p) => p.offset) };
}

test('a bit flip in a mid-log WAL record stops recovery naming the file and offset', async () => {
  const dir = tempDir('walmid');
  try {
    const { wal, offsets } = await walWith10Records(dir);
    flipByte(wal, offsets[4]! + 20);
    await assert.rejects(openStorage({ dir }), isCorruptionAt(wal, offsets[4]!));
    // The operator's opt-in skips exactly the damaged record and reports it.
    const db = await openStorage({ dir, skipCorruptWalRecords: true });
    try {
      assert.equal(db.recoveryReport().skipped.length, 1);
      assert.equal(db.recoveryReport().skipped[0]!.offset, offsets[4]);
      assert.equal(await db.get(Buffer.from('k4')), null, 'the damaged record is not applied');
      for (const i of [0, 1, 2, 3, 5, 6, 7, 8, 9]) assert.equal(Buffer.from((await db.get(Buffer.from(`k${i}`)))!.value).toString(), `value-${i}`);
    } finally {
      await db.close();
    }
  } finally {
    removeDir(dir);
  }
});

test('a damaged WAL record header mid-log is corruption, not a torn tail', async () => {
  const dir = tempDir('walhdr');
  try {
    const { wal, offsets } = await walWith10Records(dir);
    flipByte(wal, offsets[2]! + 1); // the length field
    await assert.rejects(openStorage({ dir }), isCorruptionAt(wal, offsets[2]!));
  } finally {
    removeDir(dir);
  }
});

test('a WAL record that passes its checksum but breaks the format (no entries, an empty or oversized key) stops recovery naming the file and offset', async () => {
  /** A whole record holding `count` and then each key with the same entry payload. */
  function record(count: number, keys: Buffer[], entryPayload: Buffer): Buffer {
    const buf = Buffer.alloc(walHeaderBytes + 5 + keys.length * (10 + entryPayload.length) + keys.reduce((n, k) => n + k.length, 0));
    let o = walHeaderBytes;
    buf[o++] = recordKindBatch;
    buf.writeUInt32LE(count, o);
    o += 4;
    for (const key of keys) {
      o = putVarint32(buf, o, key.length);
      o += key.copy(buf, o);
      o = putVarint32(buf, o, entryPayload.length);
      o += entryPayload.copy(buf, o);
    }
    writeRecordHeader(buf, 0, o);
    return buf.subarray(0, o);
  }
  const cases: Array<{ name: string; count: number; keys: Buffer[]; problem: RegExp }> = [
    { name: 'no entries', count: 0, keys: [], problem: /count 0/ },
    { name: 'an empty key', count: 1, keys: [Buffer.alloc(0)], problem: /key of 0 bytes/ },
    { name: 'a 257-byte key', count: 1, keys: [Buffer.alloc(257, 0x6b)], problem: /key of 257 bytes/ },
  ];
  for (const c of cases) {
    const dir = tempDir('walform');
    try {
      const { wal, offsets } = await walWith10Records(dir);
      const first = readWalSegment(wal, false).payloads[0]!.payload;
      const items = decodeBatchPayload(first);
      assert.ok(Array.isArray(items), 'a record the engine wrote decodes');
      const bad = record(c.count, c.keys, items[0]!.payload);
      const badOffset = fs.statSync(wal).size;
      fs.appendFileSync(wal, bad);
      // A good record after it, so that it is not the tail.
      fs.appendFileSync(wal, fs.readFileSync(wal).subarray(offsets[0]!, offsets[1]!));
      await assert.rejects(openStorage({ dir }), (err: unknown) => {
        isCorruptionAt(wal, badOffset)(err);
        assert.match((err as Error).message, /malformed/, c.name);
        assert.match((err as Error).message, c.problem, c.name);
        return true;
      });
    } finally {
      removeDir(dir);
    }
  }
});

test('a torn last WAL record (truncated or bad CRC at the tail) is cut off and reported', async () => {
  for (const damage of ['truncate', 'flip'] as const) {
    const dir = tempDir('waltail');
    try {
      const { wal, offsets } = await walWith10Records(dir);
      const size = fs.statSync(wal).size;
      if (damage === 'truncate') fs.truncateSync(wal, size - 3);
      else flipByte(wal, size - 2);
      const db = await openStorage({ dir });
      try {
        const rep = db.recoveryReport();
        assert.equal(rep.tornTails.length, 1, damage);
        assert.equal(rep.tornTails[0]!.file, wal);
        assert.equal(rep.tornTails[0]!.offset, offsets[9]);
        assert.equal(rep.records, 9);
        assert.equal(await db.get(Buffer.from('k9')), null);
        assert.equal(Buffer.from((await db.get(Buffer.from('k8')))!.value).toString(), 'value-8');
      } finally {
        await db.close();
      }
    } finally {
      removeDir(dir);
    }
  }
});

/** An engine's WAL holding four records of about 3 KB (keys k0..k3), and where each record starts. */
async function fourRecordWal(dir: string): Promise<{ wal: string; offsets: number[] }> {
  const db = await openStorage({ dir, syncMode: 'none' });
  for (let i = 0; i < 4; i++) await db.write([put(`k${i}`, `${i}`.repeat(3000))]);
  await db.close();
  const wal = filesOf(dir, '.wal').at(-1)!;
  return { wal, offsets: readWalSegment(wal, false).payloads.map((p) => p.offset) };
}

test('a WAL zero-filled from a page boundary inside a record on (the size got to disk, the pages did not) is a torn tail there', async () => {
  const dir = tempDir('walzero');
  try {
    const { wal, offsets } = await fourRecordWal(dir);
    const page = 8192;
    const cut = offsets.findIndex((o, i) => o < page && (offsets[i + 1] ?? Infinity) > page);
    assert.ok(cut > 0 && cut < offsets.length - 1, 'a record spans the page boundary and others follow it');
    const bytes = fs.readFileSync(wal);
    bytes.fill(0, page);
    fs.writeFileSync(wal, bytes);
    const again = await openStorage({ dir });
    try {
      const rep = again.recoveryReport();
      assert.equal(rep.tornTails.length, 1);
      assert.equal(rep.tornTails[0]!.offset, offsets[cut]);
      assert.equal(rep.records, cut);
      for (let i = 0; i < 4; i++) assert.equal((await again.get(Buffer.from(`k${i}`))) !== null, i < cut, `k${i}`);
    } finally {
      await again.close();
    }
  } finally {
    removeDir(dir);
  }
});

test('a WAL zero-filled from inside a record header on (a page boundary there) is a torn tail at that record; damage inside a header with data after it is still corruption', async () => {
  const dir = tempDir('walhead');
  try {
    const { wal, offsets } = await fourRecordWal(dir);
    assert.equal(offsets.length, 4);
    const whole = fs.readFileSync(wal);
    // Zeros from the middle of the third record's header on: its first 6 bytes made it.
    const torn = Buffer.from(whole);
    torn.fill(0, offsets[2]! + 6);
    fs.writeFileSync(wal, torn);
    const r = readWalSegment(wal, false);
    assert.equal(r.payloads.length, 2);
    assert.deepEqual(r.tornTail, { offset: offsets[2], bytes: torn.length - offsets[2]!, reason: 'header checksum mismatch, zero-filled from inside it' });
    // The same 6 bytes damaged with the records after them intact: not a crash's tail.
    const damaged = Buffer.from(whole);
    damaged.fill(0, offsets[2]! + 6, offsets[2]! + 12);
    fs.writeFileSync(wal, damaged);
    assert.throws(() => readWalSegment(wal, false), (e: unknown) => isRingkvError(e, ErrorCode.Corruption) && /header checksum mismatch/.test((e as Error).message));
    // Zeroed from the start of the file's last header's CRC on, with a header before it whole:
    // the engine opens, with the first three records.
    const tail = Buffer.from(whole);
    tail.fill(0, offsets[3]! + 8);
    fs.writeFileSync(wal, tail);
    const again = await openStorage({ dir });
    try {
      assert.equal(again.recoveryReport().tornTails.length, 1);
      assert.equal(again.recoveryReport().records, 3);
      for (let i = 0; i < 4; i++) assert.equal((await again.get(Buffer.from(`k${i}`))) !== null, i < 3, `k${i}`);
    } finally {
      await again.close();
    }
  } finally {
    removeDir(dir);
  }
});

test('a power loss that wrote later pages of the unsynced tail but not an earlier one is a torn tail: a damaged record followed by no whole record', async () => {
  // The file ends inside the fourth record (its last pages did not reach the disk), and of the
  // third either the header's page is missing (zeros) or a page of its payload is.
  const cases = [
    { what: 'header', zeroFrom: 0, zeroTo: 12, reason: 'header checksum mismatch; no whole record after it' },
    { what: 'payload', zeroFrom: 100, zeroTo: 200, reason: 'payload checksum mismatch; no whole record after it' },
  ];
  for (const c of cases) {
    const dir = tempDir('walpages');
    try {
      const { wal, offsets } = await fourRecordWal(dir);
      const bytes = Buffer.from(fs.readFileSync(wal).subarray(0, offsets[3]! + 100));
      bytes.fill(0, offsets[2]! + c.zeroFrom, offsets[2]! + c.zeroTo);
      fs.writeFileSync(wal, bytes);
      assert.deepEqual(readWalSegment(wal, false).tornTail, { offset: offsets[2], bytes: bytes.length - offsets[2]!, reason: c.reason }, c.what);
      const again = await openStorage({ dir });
      try {
        assert.equal(again.recoveryReport().records, 2, c.what);
        for (let i = 0; i < 4; i++) assert.equal((await again.get(Buffer.from(`k${i}`))) !== null, i < 2, `${c.what}: k${i}`);
      } finally {
        await again.close();
      }
    } finally {
      removeDir(dir);
    }
  }
});

/** One SSTable of 2000 keys (~60 blocks) and nothing in the WAL. */
async function oneTable(dir: string): Promise<{ sst: string; table: Table }> {
  const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
  const batch = [];
  for (let i = 0; i < 2000; i++) batch.push(put(`key-${i}`, `value-${i}-${'v'.repeat(100)}`));
  await db.write(batch);
  await db.flush();
  await db.close();
  const sst = filesOf(dir, '.sst')[0]!;
  const table = Table.open(sst, Number(path.basename(sst, '.sst')));
  table.close();
  return { sst, table };
}

test('a bit flip in a data block fails reads of that block with file and offset; other blocks still read', async () => {
  const dir = tempDir('sstdata');
  try {
    const { sst, table } = await oneTable(dir);
    const victim = 3;
    const h = table.indexHandles[victim]!;
    flipByte(sst, h.offset + 10);
    const db = await openStorage({ dir, autoCompaction: false });
    try {
      let failed = 0;
      let ok = 0;
      for (let i = 0; i < 2000; i++) {
        try {
          const e = await db.get(Buffer.from(`key-${i}`));
          assert.equal(Buffer.from(e!.value).toString(), `value-${i}-${'v'.repeat(100)}`, 'never wrong data');
          ok++;
        } catch (err) {
          isCorruptionAt(sst, h.offset)(err);
          failed++;
        }
      }
      assert.ok(failed > 0 && failed < 100, `only the damaged block's keys fail (failed ${failed})`);
      assert.equal(ok + failed, 2000);
      // A scan over everything must stop at the damage, not skip it.
      await assert.rejects(
        (async () => {
          for await (const _ of db.scanRange(0n, 0xffff_ffff_ffff_ffffn)) void _;
        })(),
        isCorruptionAt(sst, h.offset),
      );
    } finally {
      await db.close();
    }
  } finally {
    removeDir(dir);
  }
});

test('a bit flip in the index, meta or filter block or the footer fails reads naming the file and block offset', async () => {
  for (const where of ['index', 'meta', 'filter', 'footer'] as const) {
    const dir = tempDir(`sst${where}`);
    try {
      const { sst } = await oneTable(dir);
      const size = fs.statSync(sst).size;
      const footerBuf = Buffer.alloc(footerBytes);
      const fd = fs.openSync(sst, 'r');
      fs.readSync(fd, footerBuf, 0, footerBytes, size - footerBytes);
      fs.closeSync(fd);
      const footer = decodeFooter(sst, size, footerBuf);
      const blockAt = where === 'footer' ? size - footerBytes : footer[where].offset;
      flipByte(sst, blockAt + 3);
      const db = await openStorage({ dir, autoCompaction: false });
      try {
        await assert.rejects(db.get(Buffer.from('key-1')), isCorruptionAt(sst, blockAt));
      } finally {
        await db.close();
      }
    } finally {
      removeDir(dir);
    }
  }
});

test('a truncated SSTable is refused at open, naming the file', async () => {
  const dir = tempDir('ssttrunc');
  try {
    const { sst } = await oneTable(dir);
    fs.truncateSync(sst, fs.statSync(sst).size - 100);
    await assert.rejects(openStorage({ dir }), isCorruptionAt(sst));
  } finally {
    removeDir(dir);
  }
});

test('entries over the limits are refused with typed errors', async () => {
  const dir = tempDir('limits');
  const db = await openStorage({ dir, syncMode: 'none' });
  try {
    await assert.rejects(db.write([put('k'.repeat(257), 'v')]), (e: unknown) => isRingkvError(e, ErrorCode.KeyTooLarge));
    await assert.rejects(db.write([put('k', Buffer.alloc(1024 * 1024 + 1))]), (e: unknown) => isRingkvError(e, ErrorCode.ValueTooLarge));
    await assert.rejects(db.write([put('', 'v')]), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument));
    await assert.rejects(db.write([{ ...put('k', 'v'), tombstone: true }]), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument));
    await assert.rejects(db.write([put('k', 'v', { versionVector: Buffer.alloc(5000) })]), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument));
    // A batch with one bad entry applies none of them (atomic).
    await assert.rejects(db.write([put('good', 'v'), put('k'.repeat(300), 'v')]));
    assert.equal(await db.get(Buffer.from('good')), null);
    await db.write([put('k'.repeat(256), Buffer.alloc(1024 * 1024, 7))]);
    assert.equal((await db.get(Buffer.from('k'.repeat(256))))!.value.length, 1024 * 1024);
  } finally {
    await db.close();
    removeDir(dir);
  }
});
