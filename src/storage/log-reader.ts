// Reads one WAL segment back for recovery. Damage is classified, never guessed past:
// - a torn tail (the last write was cut short by a crash) is cut off and reported: fewer than 12
//   header bytes left, an all-zero rest of file, a good header whose payload runs past the end,
//   or a bad header or payload CRC with no whole record anywhere after it. A power loss writes
//   no prefix of the unsynced tail: any of its pages may reach the disk and any not, so a
//   damaged record followed by pieces of later ones, none whole, is such a tail too. None of
//   them was acknowledged: a sync that acknowledged them would have written them all;
// - anything else (a bad header or payload CRC with a whole record after it) is mid-log
//   corruption: recovery stops with an error naming the file and offset, unless the operator
//   asked to skip corrupt records, in which case the reader resynchronises on the next offset
//   where a header and its payload both check out, and reports what it skipped.
import * as fs from 'node:fs';
import { ErrorCode, RingkvError } from '../errors';
import { crc32c } from './checksum';
import { walHeaderBytes } from './wal-record';

export interface WalReadResult {
  /** Payloads (record bodies) in log order, CRC-checked. */
  payloads: { offset: number; payload: Buffer }[];
  /** Bytes up to the end of the last good record; the file should be truncated here. */
  validEnd: number;
  fileBytes: number;
  tornTail: { offset: number; bytes: number; reason: string } | null;
  skipped: { offset: number; reason: string }[];
}

function allZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Where the run of zero bytes that ends the file begins (buf.length when the last byte is not zero). */
function zeroTailFrom(buf: Buffer): number {
  let i = buf.length;
  while (i > 0 && buf[i - 1] === 0) i--;
  return i;
}

function headerOk(buf: Buffer, at: number): boolean {
  return at + walHeaderBytes <= buf.length && crc32c(buf.subarray(at, at + 8)) === buf.readUInt32LE(at + 8);
}

function recordOk(buf: Buffer, at: number): boolean {
  if (!headerOk(buf, at)) return false;
  const len = buf.readUInt32LE(at);
  const end = at + walHeaderBytes + len;
  return end <= buf.length && crc32c(buf.subarray(at + walHeaderBytes, end)) === buf.readUInt32LE(at + 4);
}

export function corruptionAt(file: string, offset: number, reason: string): RingkvError {
  return new RingkvError(ErrorCode.Corruption, `WAL ${file}: corrupt record at offset ${offset}: ${reason}`, {
    details: { file, offset, reason },
  });
}

export function readWalSegment(file: string, skipCorrupt: boolean): WalReadResult {
  const buf = fs.readFileSync(file);
  const result: WalReadResult = { payloads: [], validEnd: 0, fileBytes: buf.length, tornTail: null, skipped: [] };
  let at = 0;
  while (at < buf.length) {
    const rest = buf.length - at;
    const torn = (reason: string): WalReadResult => {
      result.validEnd = at;
      result.tornTail = { offset: at, bytes: rest, reason };
      return result;
    };
    if (rest < walHeaderBytes) return torn(`${rest} bytes, less than a record header`);
    if (allZero(buf, at)) return torn('zero-filled tail');
    let problem: string | null = null;
    if (!headerOk(buf, at)) {
      // A crash can leave the file zero-filled from the first page that did not reach the disk,
      // and a page boundary may fall inside a header: nothing after it was written either.
      if (zeroTailFrom(buf) < at + walHeaderBytes) return torn('header checksum mismatch, zero-filled from inside it');
      problem = 'header checksum mismatch';
    } else {
      const len = buf.readUInt32LE(at);
      const end = at + walHeaderBytes + len;
      if (end > buf.length) return torn(`record of ${len} bytes runs past the end of the file`);
      if (crc32c(buf.subarray(at + walHeaderBytes, end)) !== buf.readUInt32LE(at + 4)) {
        if (end === buf.length) return torn('payload checksum mismatch in the last record');
        // A crash can leave the file longer than what reached the disk, zeros past the last
        // page written, from inside a record on: nothing after that record was written either.
        if (allZero(buf, end)) return torn('payload checksum mismatch, zero-filled after it');
        problem = 'payload checksum mismatch';
      } else {
        result.payloads.push({ offset: at, payload: buf.subarray(at + walHeaderBytes, end) });
        at = end;
        result.validEnd = at;
        continue;
      }
    }
    let next = at + 1;
    while (next < buf.length && !recordOk(buf, next)) next++;
    if (next >= buf.length) return torn(`${problem}; no whole record after it`);
    if (!skipCorrupt) throw corruptionAt(file, at, `${problem}, with a whole record at offset ${next} after it (set skipCorruptWalRecords to skip damaged records)`);
    result.skipped.push({ offset: at, reason: problem });
    at = next;
  }
  result.validEnd = at;
  return result;
}
