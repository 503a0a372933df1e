// The entry codec: validation of StorageEntry against the limits of design.md §6, and the byte
// form of an entry's "payload" (everything but the key), which is the value stored in SSTable
// data blocks and, with the key, inside WAL records. Checksums live one level up (WAL record CRC,
// SSTable block CRC), so a payload carries none of its own.
//
// Payload layout (docs/sstable-format.md §Entry payload):
//   u8       flags        bit 0 = tombstone; bits 1..7 must be zero
//   u64 LE   timestampMs
//   u64 LE   expiresAtMs  0 = never
//   varint32 vvLength, then vvLength bytes of version vector
//   value bytes           the rest of the payload
import { keyBytesMax, valueBytesMax, versionVectorBytesMax } from '../constants';
import { ErrorCode, RingkvError } from '../errors';
import { getU64, getVarint32, putU64, putVarint32, varint32Length, type VarintCursor } from './coding';
import type { StorageEntry } from './types';

export const payloadFixedBytes = 17;
const flagTombstone = 1;

/** Throws a typed RingkvError when the entry breaks a limit; callers validate a whole batch first. */
export function validateEntry(e: StorageEntry): void {
  if (!(e.key instanceof Uint8Array) || e.key.length === 0) {
    throw new RingkvError(ErrorCode.InvalidArgument, 'storage entry key must be a non-empty Uint8Array');
  }
  if (e.key.length > keyBytesMax) {
    throw new RingkvError(ErrorCode.KeyTooLarge, `key of ${e.key.length} bytes exceeds keyBytesMax=${keyBytesMax}`, {
      details: { bytes: e.key.length, max: keyBytesMax },
    });
  }
  if (!(e.value instanceof Uint8Array)) throw new RingkvError(ErrorCode.InvalidArgument, 'storage entry value must be a Uint8Array');
  if (e.value.length > valueBytesMax) {
    throw new RingkvError(ErrorCode.ValueTooLarge, `value of ${e.value.length} bytes exceeds valueBytesMax=${valueBytesMax}`, {
      details: { bytes: e.value.length, max: valueBytesMax },
    });
  }
  if (e.tombstone && e.value.length !== 0) throw new RingkvError(ErrorCode.InvalidArgument, 'a tombstone must have an empty value');
  if (!(e.versionVector instanceof Uint8Array) || e.versionVector.length > versionVectorBytesMax) {
    throw new RingkvError(ErrorCode.InvalidArgument, `version vector must be a Uint8Array of at most ${versionVectorBytesMax} bytes`);
  }
  if (!Number.isSafeInteger(e.timestampMs) || e.timestampMs < 0) {
    throw new RingkvError(ErrorCode.InvalidArgument, `timestampMs must be a non-negative safe integer, got ${e.timestampMs}`);
  }
  if (!Number.isSafeInteger(e.expiresAtMs) || e.expiresAtMs < 0) {
    throw new RingkvError(ErrorCode.InvalidArgument, `expiresAtMs must be a non-negative safe integer (0 = never), got ${e.expiresAtMs}`);
  }
}

export function payloadLength(e: StorageEntry): number {
  return payloadFixedBytes + varint32Length(e.versionVector.length) + e.versionVector.length + e.value.length;
}

/** Writes the payload of e at offset; returns the offset after it. */
export function writePayload(buf: Buffer, offset: number, e: StorageEntry): number {
  buf[offset] = e.tombstone ? flagTombstone : 0;
  putU64(buf, offset + 1, e.timestampMs);
  putU64(buf, offset + 9, e.expiresAtMs);
  let o = putVarint32(buf, offset + payloadFixedBytes, e.versionVector.length);
  buf.set(e.versionVector, o);
  o += e.versionVector.length;
  buf.set(e.value, o);
  return o + e.value.length;
}

export function encodePayload(e: StorageEntry): Buffer {
  const buf = Buffer.allocUnsafe(payloadLength(e));
  const end = writePayload(buf, 0, e);
  return end === buf.length ? buf : buf.subarray(0, end);
}

/** The cheap fields of a payload, read without copying (compaction and scans look at these first). */
export function payloadIsTombstone(p: Uint8Array): boolean {
  return (p[0]! & flagTombstone) !== 0;
}
export function payloadTimestampMs(p: Uint8Array): number {
  return getU64(p, 1);
}
export function payloadExpiresAtMs(p: Uint8Array): number {
  return getU64(p, 9);
}

const cursor: VarintCursor = { value: 0, offset: 0 };

/**
 * Where a well-formed payload's version vector starts; leaves its length in cursor.value (read
 * it before the next call). The decoders below share this walk over the fixed fields.
 */
function versionVectorAt(p: Uint8Array): number {
  cursor.offset = payloadFixedBytes;
  getVarint32(p, p.length, cursor);
  return cursor.offset;
}

/** Checks a payload's structure; returns null when well formed, else what is wrong. */
export function payloadProblem(p: Uint8Array): string | null {
  if (p.length < payloadFixedBytes + 1) return `payload of ${p.length} bytes is shorter than its fixed fields`;
  if ((p[0]! & ~flagTombstone) !== 0) return `unknown flag bits 0x${p[0]!.toString(16)}`;
  if (getU64(p, 1) < 0 || getU64(p, 9) < 0) return 'timestamp beyond 2^53';
  cursor.offset = payloadFixedBytes;
  if (!getVarint32(p, p.length, cursor)) return 'malformed version-vector length';
  if (cursor.value > versionVectorBytesMax || cursor.offset + cursor.value > p.length) return 'version vector overruns the payload';
  const valueLen = p.length - cursor.offset - cursor.value;
  if (valueLen > valueBytesMax) return 'value longer than valueBytesMax';
  if ((p[0]! & flagTombstone) !== 0 && valueLen !== 0) return 'tombstone with a value';
  return null;
}

/**
 * Decodes a payload known to be well formed (checked by payloadProblem when it came off disk).
 * The returned key, version vector and value are views of ONE fresh allocation that the caller
 * owns (never a view of engine buffers, which the engine reuses): one copy per read, not three.
 */
export function decodePayload(key: Uint8Array, p: Uint8Array): StorageEntry {
  const vvStart = versionVectorAt(p);
  const vvLength = cursor.value;
  // Version vector and value are adjacent in the payload: one copy takes both.
  const out = Buffer.allocUnsafeSlow(key.length + p.length - vvStart);
  out.set(key, 0);
  out.set(p.subarray(vvStart), key.length);
  const valueAt = key.length + vvLength;
  return {
    key: out.subarray(0, key.length),
    value: out.subarray(valueAt),
    timestampMs: getU64(p, 1),
    versionVector: out.subarray(key.length, valueAt),
    tombstone: (p[0]! & flagTombstone) !== 0,
    expiresAtMs: getU64(p, 9),
  };
}

/** decodePayload without the copy: the version vector and value are views of `p` (see StorageEngine.peekSync). */
export function viewPayload(key: Uint8Array, p: Uint8Array): StorageEntry {
  const vvStart = versionVectorAt(p);
  const valueAt = vvStart + cursor.value;
  return {
    key,
    value: p.subarray(valueAt),
    timestampMs: getU64(p, 1),
    versionVector: p.subarray(vvStart, valueAt),
    tombstone: (p[0]! & flagTombstone) !== 0,
    expiresAtMs: getU64(p, 9),
  };
}

/** A tombstone payload that replaces an expired TTL entry in compaction; keeps time and version. */
export function expiredToTombstone(p: Uint8Array): Buffer {
  const end = versionVectorAt(p) + cursor.value;
  const out = Buffer.allocUnsafe(end);
  out.set(p.subarray(0, end), 0);
  out[0] = flagTombstone;
  return out;
}
