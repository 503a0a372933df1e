// A Merkle tree over one token range of a replica's data (design.md §7.4), the "validate" step of
// anti-entropy. Pure: it sees (token, key, record) triples in (token, key) order and nothing else.
//
// Shape: the range [from, to] (inclusive, never wrapping) is cut into 2^depth leaves of equal
// token width (the last leaf takes the remainder). A leaf's hash is the XOR of one 64-bit digest
// per entry in it, digest = xxhash64(key ‖ tombstone byte ‖ versionVector ‖ value), so the leaf
// does not depend on the order entries arrive in and an empty leaf is 0 (Cassandra's Merkle trees
// XOR row hashes into leaves the same way). Inner nodes hash their two children with xxhash64, up
// to the root; two replicas with equal roots hold the same data in the range.
//
// Replicas exchange the whole leaf level (2^depth × 8 bytes, at most merkleDepthMax) in one round
// trip instead of walking down level by level: at the depths used here that is a few KiB, and one
// round trip costs more than the bytes.
import { merkleDepthMax } from '../constants';
import { assert } from '../errors';
import { xxhash64 } from '../native';

/** A token range, both ends inclusive, from <= to (a wrapping vnode range is split in two). */
export interface TokenRange {
  from: bigint;
  to: bigint;
}

/** What a tree needs of one stored entry. */
export interface TreeEntry {
  token: bigint;
  key: Uint8Array;
  versionVector: Uint8Array;
  value: Uint8Array;
  tombstone: boolean;
}

export function assertRange(r: TokenRange): void {
  assert(r.from >= 0n && r.to < 1n << 64n && r.from <= r.to, () => `token range [${r.from}, ${r.to}] must be in [0, 2^64) and not wrap`);
}

function assertDepth(depth: number): void {
  assert(Number.isInteger(depth) && depth >= 0 && depth <= merkleDepthMax, () => `Merkle depth must be 0..${merkleDepthMax}: ${depth}`);
}

/** The leaf a token falls in. */
export function leafOf(range: TokenRange, depth: number, token: bigint): number {
  assert(token >= range.from && token <= range.to, 'token outside the tree range');
  const width = range.to - range.from + 1n;
  const leaves = 1n << BigInt(depth);
  // floor((token - from) * leaves / width): exact in bigint, and the last leaf gets the remainder.
  return Number(((token - range.from) * leaves) / width);
}

/** The token range of leaf `i`: the inverse of leafOf. */
export function leafRange(range: TokenRange, depth: number, i: number): TokenRange {
  assertDepth(depth);
  const leaves = 1n << BigInt(depth);
  assert(Number.isInteger(i) && i >= 0 && BigInt(i) < leaves, () => `leaf ${i} out of 0..${leaves - 1n}`);
  const width = range.to - range.from + 1n;
  // The smallest offset whose leaf is i: ceil(i * width / leaves).
  const start = (n: bigint): bigint => (n * width + leaves - 1n) / leaves;
  const from = range.from + start(BigInt(i));
  const to = range.from + start(BigInt(i) + 1n) - 1n;
  return { from, to };
}

const digestScratch = { buf: new Uint8Array(1024) };

/** The 64-bit digest of one entry (see the header). */
export function entryDigest(e: Pick<TreeEntry, 'key' | 'versionVector' | 'value' | 'tombstone'>): bigint {
  const size = e.key.length + 1 + e.versionVector.length + e.value.length;
  if (digestScratch.buf.length < size) digestScratch.buf = new Uint8Array(Math.max(size, digestScratch.buf.length * 2));
  const b = digestScratch.buf;
  b.set(e.key, 0);
  b[e.key.length] = e.tombstone ? 1 : 0;
  b.set(e.versionVector, e.key.length + 1);
  b.set(e.value, e.key.length + 1 + e.versionVector.length);
  return xxhash64(b.subarray(0, size), 0n);
}

export class MerkleTree {
  private count = 0;

  private constructor(
    readonly range: TokenRange,
    readonly depth: number,
    /** 2^depth leaf hashes. */
    readonly leaves: BigUint64Array,
    /** False for a tree made from a peer's leaves: nothing can be hashed into it. */
    private readonly local: boolean,
  ) {}

  /** An empty tree, to which entries are added one by one (in any order). */
  static empty(range: TokenRange, depth: number): MerkleTree {
    assertRange(range);
    assertDepth(depth);
    return new MerkleTree(range, depth, new BigUint64Array(1 << depth), true);
  }

  /** A tree from leaves received from a peer. */
  static fromLeaves(range: TokenRange, depth: number, leaves: BigUint64Array): MerkleTree {
    assertRange(range);
    assertDepth(depth);
    assert(leaves.length === 1 << depth, () => `a depth-${depth} tree has ${1 << depth} leaves, not ${leaves.length}`);
    return new MerkleTree(range, depth, leaves, false);
  }

  static build(range: TokenRange, depth: number, entries: Iterable<TreeEntry>): MerkleTree {
    const t = MerkleTree.empty(range, depth);
    for (const e of entries) t.add(e);
    return t;
  }

  /** Entries hashed into this tree. */
  get entries(): number {
    return this.count;
  }

  /** Hashes one entry in; each key must be added once. */
  add(e: TreeEntry): void {
    assert(this.local, 'a tree from a peer is read-only');
    const i = leafOf(this.range, this.depth, e.token);
    this.leaves[i] = this.leaves[i]! ^ entryDigest(e);
    this.count++;
  }

  /** The root hash: children hashed pairwise, level by level. */
  root(): bigint {
    let level = this.leaves;
    const pair = new BigUint64Array(2);
    const bytes = new Uint8Array(pair.buffer);
    while (level.length > 1) {
      const up = new BigUint64Array(level.length / 2);
      for (let i = 0; i < up.length; i++) {
        pair[0] = level[2 * i]!;
        pair[1] = level[2 * i + 1]!;
        up[i] = xxhash64(bytes, 0n);
      }
      level = up;
    }
    return level[0]!;
  }

  /** Leaves whose hashes differ from `other`'s (same range and depth), in token order. */
  diff(other: MerkleTree): number[] {
    assert(other.depth === this.depth && other.range.from === this.range.from && other.range.to === this.range.to, 'only trees of the same range and depth compare');
    const out: number[] = [];
    for (let i = 0; i < this.leaves.length; i++) if (this.leaves[i] !== other.leaves[i]) out.push(i);
    return out;
  }
}

/** The depth at which a range of about `entries` entries has a few entries per leaf. */
export function depthFor(entries: number): number {
  let depth = 0;
  while (depth < merkleDepthMax && entries > 8 * (1 << depth)) depth++;
  return depth;
}

/**
 * The ranges of a ring position, as scans want them: (previous vnode token, vnode token] with
 * the wrap at the top of the ring split in two.
 */
export function vnodeRanges(previousToken: bigint, token: bigint): TokenRange[] {
  if (previousToken < token) return [{ from: previousToken + 1n, to: token }];
  // The first vnode: (last token, 2^64) ∪ [0, token]. A one-vnode ring owns everything.
  const out: TokenRange[] = [{ from: 0n, to: token }];
  if (previousToken < (1n << 64n) - 1n) out.push({ from: previousToken + 1n, to: (1n << 64n) - 1n });
  return out;
}
