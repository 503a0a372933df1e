// Tokens: positions on the 64-bit hash ring. A key's token is xxhash64(key, seed 0) as an
// unsigned 64-bit integer (the same token the storage engine sorts by, docs/ARCHITECTURE.md), and
// a node's vnode tokens are derived from its id alone, so every node computes the same ring from
// the membership table without exchanging token lists (riak_core's chash keeps placement as pure
// math in the same way).
import { assert } from '../errors';
import { native } from '../native';

/** The ring is [0, 2^64). */
export const tokenSpace = 1n << 64n;
const utf8 = new TextEncoder();

/** Position of a key on the ring. */
export function keyToken(key: Uint8Array): bigint {
  assert(key.length > 0, 'a key has at least one byte');
  return native.xxhash64(key, 0n);
}

/** The token of vnode `index` of node `nodeId`: xxhash64(`${nodeId}#${index}`). */
export function vnodeToken(nodeId: string, index: number): bigint {
  assert(nodeId.length > 0, 'node id must not be empty');
  assert(Number.isInteger(index) && index >= 0, 'vnode index must be a non-negative integer');
  return native.xxhash64(utf8.encode(`${nodeId}#${index}`), 0n);
}

/** All `count` tokens of a node, in vnode index order. */
export function nodeTokens(nodeId: string, count: number): bigint[] {
  assert(Number.isInteger(count) && count >= 1, 'a node owns at least one vnode');
  const out: bigint[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = vnodeToken(nodeId, i);
  return out;
}

/** Tokens go to JSON as decimal strings: 64-bit values do not fit a JSON number. */
export function tokenToString(token: bigint): string {
  return token.toString(10);
}

export function tokenFromString(text: string): bigint {
  assert(/^[0-9]{1,20}$/.test(text), () => `not a decimal token: ${text}`);
  const token = BigInt(text);
  assert(token < tokenSpace, () => `token out of range: ${text}`);
  return token;
}
