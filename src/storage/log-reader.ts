// Reads one WAL segment back for recovery. Damage is classified, never guessed past:
// - the segment's records end at its end marker (12 zero bytes, written after every record) or at
//   the end of the file. What follows a marker is an earlier segment's bytes when the file was
//   recycled (log-writer.ts): dropped, not reported as damage;
// - a torn tail (the last write was cut short by a crash) is cut off and reported: fewer than 12
//   header bytes left, zeros past the marker, a good header whose payload runs past the end, or
//   a bad header or payload CRC with no record of this segment after it;
// - anything else (damage with a record of this segment after it) is mid-log corruption:
//   recovery stops with an error naming the file and offset, unless the operator asked to skip
//   corrupt records, in which case the reader resynchronises on the next offset where a header
//   of this segment and its payload both check out, and reports what it skipped.
// A record belongs to this segment when its header CRC carries the segment's number
// (wal-record.ts headerTag); segments written before the tag existed carry 0 and are read too.
import * as fs from 'node:fs';
import { walRecordBytesMax } from '../constants';
import { ErrorCode, RingkvError } from '../errors';
import { crc32c } from './checksum';
import { headerTag, segmentTag, walHeaderBytes } from './wal-record';

export interface WalReadResult {
  /** Payloads (record bodies) in log order, CRC-checked. */
  payloads: { offset: number; payload: Buffer }[];
  /** Bytes up to the end of the last good record; the file should be truncated here. */
  validEnd: number;
  fileBytes: number;
  tornTail: { offset: number; bytes: number; reason: string } | null;
  skipped: { offset: number; reason: string }[];
  /** The end marker and an earlier segment's bytes after it (a recycled file): not damage. */
  recycledTail: { offset: number; bytes: number } | null;
}

/** The smallest record payload: a batch's kind byte and count. */
const payloadBytesMin = 5;

function allZero(buf: Buffer, from: number, to: number = buf.length): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}

function payloadOk(buf: Buffer, at: number, end: number): boolean {
  return crc32c(buf.subarray(at + walHeaderBytes, end)) === buf.readUInt32LE(at + 4);
}

/** The first offset >= from where a whole record with one of `tags` checks out; -1 if none. */
function nextRecord(buf: Buffer, from: number, tags: readonly number[]): number {
  // The length test first: it rejects almost every offset of random or zero bytes without a CRC.
  for (let at = from; at + walHeaderBytes <= buf.length; at++) {
    const len = buf.readUInt32LE(at);
    if (len < payloadBytesMin || len > walRecordBytesMax || at + walHeaderBytes + len > buf.length) continue;
    if (tags.includes(headerTag(buf, at)) && payloadOk(buf, at, at + walHeaderBytes + len)) return at;
  }
  return -1;
}

export function corruptionAt(file: string, offset: number, reason: string): RingkvError {
  return new RingkvError(ErrorCode.Corruption, `WAL ${file}: corrupt record at offset ${offset}: ${reason}`, {
    details: { file, offset, reason },
  });
}

export function readWalSegment(file: string, segmentNumber: number, skipCorrupt: boolean): WalReadResult {
  const buf = fs.readFileSync(file);
  const own = segmentTag(segmentNumber);
  const result: WalReadResult = { payloads: [], validEnd: 0, fileBytes: buf.length, tornTail: null, skipped: [], recycledTail: null };
  // Until the first good record decides: this segment's tag, or 0 (written before tags; such a
  // segment is never recycled, so it holds no other segment's bytes).
  let tags: readonly number[] = [own, 0];
  let at = 0;
  while (at < buf.length) {
    const rest = buf.length - at;
    const torn = (reason: string): WalReadResult => {
      result.validEnd = at;
      result.tornTail = { offset: at, bytes: rest, reason };
      return result;
    };
    if (rest < walHeaderBytes) return torn(`${rest} bytes, less than a record header`);
    let problem: string;
    let recycled = false;
    if (allZero(buf, at, at + walHeaderBytes)) {
      result.validEnd = at;
      if (rest === walHeaderBytes) return result; // The end marker, and nothing after it.
      if (allZero(buf, at + walHeaderBytes)) return torn('zero-filled tail');
      problem = 'zeroed record header';
      recycled = true;
    } else {
      const tag = headerTag(buf, at);
      const len = buf.readUInt32LE(at);
      const end = at + walHeaderBytes + len;
      if (tags.includes(tag)) {
        if (end > buf.length) return torn(`record of ${len} bytes runs past the end of the file`);
        if (payloadOk(buf, at, end)) {
          result.payloads.push({ offset: at, payload: buf.subarray(at + walHeaderBytes, end) });
          tags = [tag];
          at = end;
          result.validEnd = at;
          continue;
        }
        problem = 'payload checksum mismatch';
      } else {
        problem = 'header checksum mismatch';
        // A whole record of an earlier segment where this one's first record should be: the
        // file was recycled and its first write never reached the disk.
        recycled = at === 0 && tag !== 0 && tag < own && end <= buf.length && payloadOk(buf, at, end);
      }
    }
    const next = nextRecord(buf, at + 1, tags);
    if (next < 0) {
      if (!recycled) return torn(`${problem}; no record of this segment after it`);
      result.validEnd = at;
      result.recycledTail = { offset: at, bytes: rest };
      return result;
    }
    if (!skipCorrupt) throw corruptionAt(file, at, `${problem} (set skipCorruptWalRecords to skip damaged records)`);
    result.skipped.push({ offset: at, reason: problem });
    at = next;
  }
  result.validEnd = at;
  return result;
}
