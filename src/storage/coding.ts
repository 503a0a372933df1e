// Little-endian fixed-width and varint helpers shared by the WAL, entry codec, SSTable footer and
// meta block. Numbers above 2^32 (timestamps, file offsets) are written as two u32 halves so the
// hot paths never touch BigInt; every such number must stay a safe integer (< 2^53).
import { assert } from '../errors';

export function putU64(buf: Buffer, offset: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, () => `u64 field out of range: ${value}`);
  buf.writeUInt32LE(value % 0x1_0000_0000, offset);
  buf.writeUInt32LE(Math.floor(value / 0x1_0000_0000), offset + 4);
}

/** Reads a u64 written by putU64; returns -1 when it exceeds 2^53 (the caller reports corruption). */
export function getU64(buf: Uint8Array, offset: number): number {
  const lo = buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! * 0x100_0000);
  const hi = buf[offset + 4]! | (buf[offset + 5]! << 8) | (buf[offset + 6]! << 16) | (buf[offset + 7]! * 0x100_0000);
  if (hi >= 0x20_0000) return -1;
  return hi * 0x1_0000_0000 + (lo >>> 0);
}

export function varint32Length(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value >>>= 7;
    n++;
  }
  return n;
}

/** Writes value as a LEB128 varint at offset; returns the offset after it. */
export function putVarint32(buf: Uint8Array, offset: number, value: number): number {
  assert(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff, () => `varint32 out of range: ${value}`);
  while (value >= 0x80) {
    buf[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[offset++] = value;
  return offset;
}

/** Result slot for getVarint32, reused to avoid an allocation per call. */
export interface VarintCursor {
  value: number;
  offset: number;
}

/** Reads a varint at cursor.offset into cursor.value; returns false when malformed or past `end`. */
export function getVarint32(buf: Uint8Array, end: number, cursor: VarintCursor): boolean {
  let result = 0;
  let shift = 0;
  let offset = cursor.offset;
  while (offset < end && shift <= 28) {
    const byte = buf[offset++]!;
    result += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) {
      if (result > 0xffff_ffff) return false;
      cursor.value = result;
      cursor.offset = offset;
      return true;
    }
    shift += 7;
  }
  return false;
}
