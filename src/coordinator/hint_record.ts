// Byte layout of one hint on disk (docs/hints-format.md). A hint file is framed exactly as a WAL
// segment (length, payload CRC, header CRC: storage/wal-record.ts), so the WAL's reader
// (storage/log-reader.ts) tells a torn tail from damage in hint files too. The payload:
//
//   u8      kind = 1 (hint)
//   u48 LE  createdMs     when this node took the hint (ms since the epoch)
//   u8      targetLength, target   node id of the replica it is for (ASCII, 1..64 bytes)
//   u16 LE  keyLength, key
//   u8      flags         bit 0: tombstone
//   u32 LE  versionVectorLength, versionVector   (the stored record's encoded sibling set)
//   u32 LE  valueLength, value
import { keyBytesMax, nodeIdBytesMax, siblingsMax, valueBytesMax, versionVectorBytesMax } from '../constants';
import { assert } from '../errors';
import type { WireRecord } from '../shards/messages';
import { walHeaderBytes, writeRecordHeader } from '../storage/wal-record';

export const hintRecordKind = 1;
const fixedBytes = 1 + 6 + 1 + 2 + 1 + 4 + 4;

export interface DecodedHint {
  target: string;
  key: Uint8Array;
  record: WireRecord;
  createdMs: number;
}

/** Bytes of the framed record (header + payload) for this hint. */
export function hintRecordBytes(target: string, key: Uint8Array, record: WireRecord): number {
  return walHeaderBytes + fixedBytes + target.length + key.length + record.versionVector.length + record.value.length;
}

/** What writeHintRecord asserts of a hint, for a caller to check before it reserves room for one (a failure after would leave the room unwritten). */
export function assertHintRecord(target: string, key: Uint8Array, createdMs: number): void {
  assert(target.length >= 1 && target.length <= nodeIdBytesMax, 'hint target is a node id');
  assert(key.length <= keyBytesMax, 'hint key within keyBytesMax');
  assert(Number.isInteger(createdMs) && createdMs >= 0 && createdMs < 2 ** 48, 'hint time fits 48 bits');
}

/**
 * Writes the framed record into `buf` at `at` (hintRecordBytes long) and returns where it ends:
 * written in place, so that a turn's records share one buffer instead of one allocation each.
 */
export function writeHintRecord(buf: Buffer, at: number, target: string, key: Uint8Array, record: WireRecord, createdMs: number): number {
  assertHintRecord(target, key, createdMs);
  const end = at + hintRecordBytes(target, key, record);
  assert(end <= buf.length, 'the record fits where it is written');
  let o = at + walHeaderBytes;
  buf[o++] = hintRecordKind;
  buf.writeUIntLE(createdMs, o, 6);
  o += 6;
  buf[o++] = target.length;
  o += buf.write(target, o, 'latin1');
  buf.writeUInt16LE(key.length, o);
  o += 2;
  buf.set(key, o);
  o += key.length;
  buf[o++] = record.tombstone ? 1 : 0;
  buf.writeUInt32LE(record.versionVector.length, o);
  o += 4;
  buf.set(record.versionVector, o);
  o += record.versionVector.length;
  buf.writeUInt32LE(record.value.length, o);
  o += 4;
  buf.set(record.value, o);
  o += record.value.length;
  assert(o === end, 'hint record filled exactly');
  writeRecordHeader(buf, at, end);
  return end;
}

/**
 * Decodes a CRC-checked payload; a string says what is wrong with it. Lengths are checked against
 * the store's limits, so a payload that passes its CRC but was written by something else is
 * refused rather than trusted. The key and record are copies, not views of the file's buffer.
 */
export function decodeHintPayload(p: Buffer): DecodedHint | string {
  if (p.length < fixedBytes) return `${p.length} bytes, shorter than a hint`;
  let o = 0;
  if (p[o++] !== hintRecordKind) return `unknown record kind ${p[0]}`;
  const createdMs = p.readUIntLE(o, 6);
  o += 6;
  const targetLength = p[o++]!;
  if (targetLength < 1 || targetLength > 64 || o + targetLength > p.length) return `bad target length ${targetLength}`;
  const target = p.toString('latin1', o, o + targetLength);
  o += targetLength;
  if (o + 2 > p.length) return 'cut short before the key';
  const keyLength = p.readUInt16LE(o);
  o += 2;
  if (keyLength > keyBytesMax || o + keyLength + 9 > p.length) return `bad key length ${keyLength}`;
  const key = new Uint8Array(p.subarray(o, o + keyLength));
  o += keyLength;
  const flags = p[o++]!;
  if ((flags & ~1) !== 0) return `unknown flags ${flags}`;
  const vvLength = p.readUInt32LE(o);
  o += 4;
  if (vvLength > versionVectorBytesMax || o + vvLength + 4 > p.length) return `bad version vector length ${vvLength}`;
  const versionVector = new Uint8Array(p.subarray(o, o + vvLength));
  o += vvLength;
  const valueLength = p.readUInt32LE(o);
  o += 4;
  if (valueLength > siblingsMax * valueBytesMax || o + valueLength !== p.length) return `bad value length ${valueLength}`;
  const value = new Uint8Array(p.subarray(o, o + valueLength));
  return { target, key, createdMs, record: { versionVector, value, tombstone: flags === 1 } };
}
