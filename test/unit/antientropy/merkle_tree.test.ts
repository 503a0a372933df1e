// The Merkle tree's arithmetic and hashing: leaves partition the range exactly (leafOf and
// leafRange are inverses, also at the ends of the 64-bit space), equal data gives equal trees
// whatever the order it is added in, and one changed, added or removed entry changes exactly its
// own leaf and the root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MerkleTree, depthFor, leafOf, leafRange, type TokenRange, type TreeEntry, vnodeRanges } from '../../../src/antientropy';
import { merkleDepthMax } from '../../../src/constants';
import { keyToken } from '../../../src/ring';

const top = (1n << 64n) - 1n;
const b = (s: string) => new Uint8Array(Buffer.from(s));

function entry(k: string, v: string, tombstone = false): TreeEntry {
  const key = b(k);
  return { token: keyToken(key), key, versionVector: b(`vv-${v}`), value: tombstone ? new Uint8Array(0) : b(v), tombstone };
}

test('leaves partition a range: leafRange and leafOf agree, at the ends of the ring too', () => {
  const ranges: TokenRange[] = [
    { from: 0n, to: top },
    { from: 0n, to: 0n },
    { from: 5n, to: 17n },
    { from: top - 1000n, to: top },
    { from: 123456789n, to: 123456789n + 4095n },
  ];
  for (const range of ranges) {
    for (const depth of [0, 1, 3, 8, merkleDepthMax]) {
      const leaves = 1 << depth;
      let expectFrom = range.from;
      for (let i = 0; i < leaves; i++) {
        const r = leafRange(range, depth, i);
        if (r.to < r.from) continue; // a range narrower than the leaf count leaves some leaves empty
        assert.equal(r.from, expectFrom, `leaf ${i} starts where the previous ended (depth ${depth})`);
        assert.equal(leafOf(range, depth, r.from), i);
        assert.equal(leafOf(range, depth, r.to), i);
        expectFrom = r.to + 1n;
      }
      assert.equal(expectFrom, range.to + 1n, 'the leaves cover the whole range');
    }
  }
});

test('equal data gives equal trees in any order; one change moves exactly its leaf and the root', () => {
  const range: TokenRange = { from: 0n, to: top };
  const entries = Array.from({ length: 500 }, (_, i) => entry(`key-${i}`, `value-${i}`));
  const a = MerkleTree.build(range, 6, entries);
  const c = MerkleTree.build(range, 6, [...entries].reverse());
  assert.deepEqual(a.diff(c), []);
  assert.equal(a.root(), c.root());
  assert.equal(a.entries, 500);

  const changed = entries.map((e, i) => (i === 42 ? entry('key-42', 'other') : e));
  const d = MerkleTree.build(range, 6, changed);
  assert.deepEqual(a.diff(d), [leafOf(range, 6, entries[42]!.token)]);
  assert.notEqual(a.root(), d.root());

  const tombstoned = entries.map((e, i) => (i === 7 ? { ...e, tombstone: true } : e));
  assert.deepEqual(a.diff(MerkleTree.build(range, 6, tombstoned)), [leafOf(range, 6, entries[7]!.token)], 'the tombstone flag counts');

  const missing = MerkleTree.build(range, 6, entries.slice(1));
  assert.deepEqual(a.diff(missing), [leafOf(range, 6, entries[0]!.token)]);
  assert.equal(MerkleTree.build(range, 6, []).root(), MerkleTree.empty(range, 6).root());
});

test('a tree from a peer\'s leaves compares like a local one and cannot be hashed into', () => {
  const range: TokenRange = { from: 0n, to: top };
  const a = MerkleTree.build(range, 4, [entry('x', '1'), entry('y', '2')]);
  const peer = MerkleTree.fromLeaves(range, 4, new BigUint64Array(a.leaves));
  assert.deepEqual(a.diff(peer), []);
  assert.equal(a.root(), peer.root());
  assert.throws(() => peer.add(entry('z', '3')), /read-only/);
  assert.throws(() => MerkleTree.fromLeaves(range, 4, new BigUint64Array(15)), /16 leaves/);
  assert.throws(() => MerkleTree.empty(range, merkleDepthMax + 1), /depth/);
  assert.throws(() => MerkleTree.empty({ from: 10n, to: 9n }, 2), /not wrap/);
});

test('depthFor gives a few entries per leaf, capped; vnodeRanges splits the wrap at the top', () => {
  assert.equal(depthFor(0), 0);
  assert.equal(depthFor(8), 0);
  assert.equal(depthFor(9), 1);
  assert.equal(depthFor(1000), 7);
  assert.equal(depthFor(1e12), merkleDepthMax);
  assert.deepEqual(vnodeRanges(10n, 20n), [{ from: 11n, to: 20n }]);
  assert.deepEqual(vnodeRanges(top - 5n, 3n), [
    { from: 0n, to: 3n },
    { from: top - 4n, to: top },
  ]);
  assert.deepEqual(vnodeRanges(top, 3n), [{ from: 0n, to: 3n }], 'nothing above the top token');
  assert.deepEqual(vnodeRanges(7n, 7n), [
    { from: 0n, to: 7n },
    { from: 8n, to: top },
  ], 'a one-vnode ring owns everything');
});
