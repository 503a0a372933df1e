// The engine's one ordering: by (token, key) where token = xxhash64(key, seed 0) unsigned. The
// internal sort key is `token as 8 bytes big-endian ‖ key`, so a plain bytewise compare is the
// order everywhere (memtable, blocks, index, manifest ranges) and a token range is one
// contiguous run of sort keys (docs/ARCHITECTURE.md, "Order of keys on disk").
import { keyTokens, native } from '../native';

export const tokenBytes = 8;
export const tokenMax = 0xffff_ffff_ffff_ffffn;

/** The token's high 32 bits, read from a sort key's big-endian prefix (no BigInt). */
export function tokenHighOf(sk: Uint8Array): number {
  return ((sk[0]! << 24) | (sk[1]! << 16) | (sk[2]! << 8) | sk[3]!) >>> 0;
}

/** The token's low 32 bits, read from a sort key's big-endian prefix. */
export function tokenLowOf(sk: Uint8Array): number {
  return ((sk[4]! << 24) | (sk[5]! << 16) | (sk[6]! << 8) | sk[7]!) >>> 0;
}

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

/** Host byte order of the tokens array keyTokens returns: which 32-bit half comes first. */
const lowHalfFirst = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * sortKeyOf for every key of a write batch, hashing them in one call into the addon (one N-API
 * crossing and no BigInt per key). The sort keys share one allocation.
 */
export function sortKeysOf(keys: readonly Uint8Array[]): Buffer[] {
  // One key (most writes): the single-key hash is cheaper than packing a batch for the addon.
  if (keys.length === 1) return [sortKeyOf(keys[0]!)];
  const tokens = keyTokens(keys);
  const halves = new Uint32Array(tokens.buffer, tokens.byteOffset, tokens.length * 2);
  const hi = lowHalfFirst ? 1 : 0;
  let total = 0;
  for (const k of keys) total += tokenBytes + k.length;
  const all = Buffer.allocUnsafe(total);
  const out: Buffer[] = new Array<Buffer>(keys.length);
  let at = 0;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    all.writeUInt32BE(halves[2 * i + hi]!, at);
    all.writeUInt32BE(halves[2 * i + 1 - hi]!, at + 4);
    all.set(k, at + tokenBytes);
    out[i] = all.subarray(at, at + tokenBytes + k.length);
    at += tokenBytes + k.length;
  }
  return out;
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

/** Bytewise order of two sort keys, deciding on the token's first 4 bytes in JS when they differ (the usual case). */
export function compareSortKeys(a: Buffer, b: Buffer): number {
  if (a.length >= 4 && b.length >= 4) {
    const x = a.readUInt32BE(0);
    const y = b.readUInt32BE(0);
    if (x !== y) return x < y ? -1 : 1;
  }
  return a.compare(b);
}

/** Compares only the token prefix of sk with an 8-byte token bound. */
export function compareToken(sk: Buffer, bound: Buffer): number {
  return sk.compare(bound, 0, tokenBytes, 0, tokenBytes);
}
