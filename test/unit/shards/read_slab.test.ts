// The read slab's copies are independent of what they were copied from (the engine reuses that
// memory), never overlap each other, and keep their bytes whether they share a chunk or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadSlab, readSlabChunkBytes } from '../../../src/shards/read_slab';

test('copies survive their source being overwritten and never overlap one another', () => {
  const slab = new ReadSlab();
  const source = Buffer.alloc(readSlabChunkBytes);
  const copies: { vv: Buffer; value: Buffer; expectVv: Buffer; expectValue: Buffer }[] = [];
  // Sizes from empty to well past the shared limit, enough of them to fill several chunks.
  const sizes = [0, 1, 7, 100, 1024, 4000, 16 * 1024, 16 * 1024 + 1, 40_000, 1024, 1024, 3000];
  for (let round = 0; round < 6; round++) {
    for (const [i, size] of sizes.entries()) {
      const fill = (round * sizes.length + i) % 251;
      source.fill(fill);
      const vvBytes = 1 + (size % 13);
      const vv = source.subarray(0, vvBytes);
      const value = source.subarray(vvBytes, vvBytes + size);
      const [cvv, cvalue] = slab.copyPair(vv, value);
      copies.push({ vv: cvv, value: cvalue, expectVv: Buffer.from(vv), expectValue: Buffer.from(value) });
      source.fill(255 - fill); // the engine reusing its memory
    }
  }
  for (const c of copies) {
    assert.ok(c.vv.equals(c.expectVv), 'version vector copy intact');
    assert.ok(c.value.equals(c.expectValue), 'value copy intact');
  }
  // Distinct byte ranges: writing into one copy shows up in no other.
  for (const c of copies) c.value.fill(0xaa);
  for (const c of copies) assert.ok(c.vv.equals(c.expectVv), 'a value write reached a version vector');
});
