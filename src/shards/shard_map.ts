// Which shard of this node holds a key: pure math, no I/O.
//
// The choice: the 64-bit token space [0, 2^64) is cut into `shardCount` equal contiguous ranges,
// shard = floor(token × shardCount / 2^64), where token = xxhash64(key, seed 0) is the key's ring
// token (the same as src/ring keyToken and the storage engine's sort order). Why contiguous ranges
// rather than token modulo shardCount: a vnode's token range (what anti-entropy and streaming
// scan) then lies in one shard, or two at a boundary, and is one contiguous scan in each engine.
// The mapping depends only on the shard count, so it is stable across restarts for a given count;
// shard_layout.ts records the count in the data directory so a restart with another count fails.
import { shardCountMax } from '../constants';
import { assert } from '../errors';
import { native } from '../native';

export const tokenSpace = 1n << 64n;
export const tokenMax = tokenSpace - 1n;

/** The key's ring token: xxhash64(key, seed 0), unsigned. */
export function keyToken(key: Uint8Array): bigint {
  return native.xxhash64(key, 0n);
}

export function shardOfToken(token: bigint, shardCount: number): number {
  assert(token >= 0n && token < tokenSpace, 'token outside [0, 2^64)');
  const shard = Number((token * BigInt(shardCount)) >> 64n);
  assert(shard >= 0 && shard < shardCount, 'shard index out of range');
  return shard;
}

export function shardOfKey(key: Uint8Array, shardCount: number): number {
  return shardOfToken(keyToken(key), shardCount);
}

/** The inclusive token range shard `index` owns. */
export function shardTokenRange(index: number, shardCount: number): { fromToken: bigint; toToken: bigint } {
  assert(Number.isInteger(shardCount) && shardCount >= 1 && shardCount <= shardCountMax, 'bad shard count');
  assert(Number.isInteger(index) && index >= 0 && index < shardCount, 'bad shard index');
  const n = BigInt(shardCount);
  // Smallest t with floor(t * n / 2^64) >= i is ceil(i * 2^64 / n).
  const lo = (BigInt(index) * tokenSpace + n - 1n) / n;
  const hi = (BigInt(index + 1) * tokenSpace + n - 1n) / n - 1n;
  return { fromToken: lo, toToken: hi };
}
