// Byte layout of one WAL record and of the write batch inside it (docs/wal-format.md). A record
// is written with one write(2), so a crash leaves at most one partial record, at the tail.
//
//   offset 0  u32 LE  length       payload bytes
//   offset 4  u32 LE  payloadCrc   crc32c(payload)
//   offset 8  u32 LE  headerCrc    crc32c(bytes 0..8)  — lets recovery tell a damaged length
//                                  from a torn tail, and resynchronise when skipping damage
//   offset 12 payload:
//     u8 kind = 1 (batch), u32 LE count,
//     count × { varint32 keyLength, key, varint32 payloadLength, entry payload (entry.ts) }
import { keyBytesMax, storageBatchEntriesMax, walRecordBytesMax } from '../constants';
import { ErrorCode, RingkvError } from '../errors';
import { crc32c } from './checksum';
import { getVarint32, putVarint32, varint32Length, type VarintCursor } from './coding';
import { payloadLength, payloadProblem, writePayload } from './entry';
import type { StorageEntry } from './types';

export const walHeaderBytes = 12;
export const recordKindBatch = 1;

/** Encodes a batch as a complete record (header + payload) ready for one write; when `items` is
 * given, pushes views of each key and entry payload inside the record (for the memtable). The
 * record's memory comes from `alloc` (the memtable's arena), else a fresh allocation. */
export function encodeBatchRecord(batch: readonly StorageEntry[], items?: BatchItem[], alloc: (bytes: number) => Buffer = Buffer.allocUnsafeSlow): Buffer {
  let size = walHeaderBytes + 5;
  for (const e of batch) {
    const pl = payloadLength(e);
    size += varint32Length(e.key.length) + e.key.length + varint32Length(pl) + pl;
  }
  if (size - walHeaderBytes > walRecordBytesMax) {
    throw new RingkvError(ErrorCode.InvalidArgument, `write batch of ${size} bytes exceeds walRecordBytesMax=${walRecordBytesMax}`);
  }
  const buf = alloc(size);
  let o = walHeaderBytes;
  buf[o++] = recordKindBatch;
  buf.writeUInt32LE(batch.length, o);
  o += 4;
  for (const e of batch) {
    o = putVarint32(buf, o, e.key.length);
    buf.set(e.key, o);
    const keyStart = o;
    o += e.key.length;
    o = putVarint32(buf, o, payloadLength(e));
    const pStart = o;
    o = writePayload(buf, o, e);
    items?.push({ key: buf.subarray(keyStart, keyStart + e.key.length), payload: buf.subarray(pStart, o) });
  }
  if (o !== size) throw new Error(`assertion failed: batch record size ${o} != computed ${size}`);
  writeRecordHeader(buf, 0, size);
  return buf;
}

/**
 * Fills the 12-byte header at `at` for the payload written after it, up to `end`: the framing
 * above, which other logs read with log-reader.ts too (the hint files, coordinator/hint_record.ts).
 */
export function writeRecordHeader(buf: Buffer, at: number, end: number): void {
  const payload = buf.subarray(at + walHeaderBytes, end);
  buf.writeUInt32LE(payload.length, at);
  buf.writeUInt32LE(crc32c(payload), at + 4);
  buf.writeUInt32LE(crc32c(buf.subarray(at, at + 8)), at + 8);
}

export interface BatchItem {
  key: Buffer;
  payload: Buffer;
}

const cursor: VarintCursor = { value: 0, offset: 0 };

/**
 * Splits a record payload (already CRC-checked) into views of its keys and entry payloads.
 * Returns an error string when the structure is wrong despite a good CRC (a writer bug).
 */
export function decodeBatchPayload(payload: Buffer): BatchItem[] | string {
  if (payload.length < 5 || payload[0] !== recordKindBatch) return `unknown record kind ${payload[0]}`;
  const count = payload.readUInt32LE(1);
  // The writer never makes these; replaying one would put an empty key in the memtable, which the
  // flush writes into a table that Table.open then refuses, far from this record.
  if (count === 0 || count > storageBatchEntriesMax) return `batch count ${count} outside 1..storageBatchEntriesMax`;
  const items: BatchItem[] = [];
  cursor.offset = 5;
  for (let i = 0; i < count; i++) {
    if (!getVarint32(payload, payload.length, cursor)) return `entry ${i}: bad key length`;
    if (cursor.value === 0 || cursor.value > keyBytesMax) return `entry ${i}: key of ${cursor.value} bytes outside 1..${keyBytesMax}`;
    const keyStart = cursor.offset;
    const keyEnd = keyStart + cursor.value;
    cursor.offset = keyEnd;
    if (keyEnd > payload.length || !getVarint32(payload, payload.length, cursor)) return `entry ${i}: bad payload length`;
    const pStart = cursor.offset;
    const pEnd = pStart + cursor.value;
    if (pEnd > payload.length) return `entry ${i}: payload overruns the record`;
    const p = payload.subarray(pStart, pEnd);
    const problem = payloadProblem(p);
    if (problem) return `entry ${i}: ${problem}`;
    items.push({ key: payload.subarray(keyStart, keyEnd), payload: p });
    cursor.offset = pEnd;
  }
  if (cursor.offset !== payload.length) return 'trailing bytes after the last entry';
  return items;
}
