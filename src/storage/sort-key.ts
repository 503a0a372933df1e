// The engine's one ordering: by (token, key) where token = xxhash64(key, seed 0) unsigned. The
// internal sort key is `token as 8 bytes big-endian ‖ key`, so a plain bytewise compare is the
// order everywhere (memtable, blocks, index, manifest ranges) and a token range is one
// contiguous run of sort keys (docs/ARCHITECTURE.md, "Order of keys on disk").
import { native } from '../native';

export const tokenBytes = 8;
export const tokenMax = 0xffff_ffff_ffff_ffffn;

export function keyToken(key: Uint8Array): bigint {
  return native.xxhash64(key, 0n);
}

export function sortKeyOf(key: Uint8Array): Buffer {
  // Pooled allocation: memtables hold millions of these, and a separate ArrayBuffer each would
  // cost more than the key.
  const sk = Buffer.allocUnsafe(tokenBytes + key.length);
  sk.writeBigUInt64BE(native.xxhash64(key, 0n), 0);
  sk.set(key, tokenBytes);
  return sk;
}

/** The smallest sort key whose token is `token` (no key bytes). */
export function tokenBound(token: bigint): Buffer {
  const b = Buffer.allocUnsafeSlow(tokenBytes);
  b.writeBigUInt64BE(token, 0);
  return b;
}

export function tokenOfSortKey(sk: Buffer): bigint {
  return sk.readBigUInt64BE(0);
}

/** Compares only the token prefix of sk with an 8-byte token bound. */
export function compareToken(sk: Buffer, bound: Buffer): number {
  return sk.compare(bound, 0, tokenBytes, 0, tokenBytes);
}
