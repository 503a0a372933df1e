// The key sketch (a HyperLogLog of distinct keys, src/storage/key-sketch.ts) and the key count
// estimate built from it: accuracy against exact counts, duplicates and unions, its place in the
// meta block (version 2, version 1 still read), and the engine's estimate across flush,
// compaction and reopen, where a count of entries written could not be right.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeySketch, keySketchBytes, keySketchRankMax } from '../../../src/storage/key-sketch';
import { sortKeyOf } from '../../../src/storage/sort-key';
import { decodeMeta, encodeMeta, type TableMeta } from '../../../src/storage/table-format';
import { openStorage } from '../../../src/storage';
import { isRingkvError, ErrorCode } from '../../../src/errors';
import { put, removeDir, tempDir } from './helpers';

function sketchOf(keys: Iterable<string>): KeySketch {
  const s = new KeySketch();
  for (const k of keys) s.addSortKey(sortKeyOf(Buffer.from(k)));
  return s;
}

const range = (from: number, to: number, prefix = 'key:'): string[] => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

/** Within `tolerance` (a fraction) of `exact`. */
function near(estimate: number, exact: number, tolerance: number): void {
  assert.ok(Math.abs(estimate - exact) <= tolerance * exact, `estimate ${estimate} for ${exact} distinct keys is off by more than ${tolerance * 100}%`);
}

test('the estimate is within 5% of the distinct key count from 100 to 200,000 keys', () => {
  assert.equal(new KeySketch().estimate(), 0);
  // 5% is about three standard errors (1.6%) for the large counts; small ones use linear counting.
  for (const n of [100, 1_000, 10_000, 50_000, 200_000]) near(sketchOf(range(0, n)).estimate(), n, 0.05);
});

test('adding keys again changes nothing; merging gives the union', () => {
  const once = sketchOf(range(0, 20_000));
  const thrice = sketchOf([...range(0, 20_000), ...range(0, 20_000), ...range(0, 20_000)]);
  assert.deepEqual(thrice.registers, once.registers);
  // Two overlapping sets: [0, 30k) and [20k, 50k): union 50k, not 60k.
  const a = sketchOf(range(0, 30_000));
  const b = sketchOf(range(20_000, 50_000));
  const ab = new KeySketch(new Uint8Array(a.registers));
  ab.merge(b);
  near(ab.estimate(), 50_000, 0.05);
  assert.deepEqual(ab.registers, sketchOf(range(0, 50_000)).registers, 'merging equals sketching the union');
});

test('ranks: the top 12 bits pick the register, the first 1-bit after them sets it', () => {
  const s = new KeySketch();
  s.addToken(0x0000_0000, 0); // register 0, nothing set in 52 bits: the largest rank
  s.addToken(0xfff8_0000, 0); // register 4095, the bit right after the index: rank 1
  s.addToken(0x0010_0000 | 0x1, 0); // register 1, first 1-bit at position 20: rank 20
  s.addToken(0x0020_0000, 0x8000_0000); // register 2, first 1-bit at position 21: rank 21
  assert.equal(s.registers[0], keySketchRankMax);
  assert.equal(s.registers[4095], 1);
  assert.equal(s.registers[1], 20);
  assert.equal(s.registers[2], 21);
});

function meta(keySketch: Uint8Array | null): TableMeta {
  return { entryCount: 3, tombstoneCount: 1, minTimestampMs: 5, maxTimestampMs: 9, dataBlockCount: 1, smallest: sortKeyOf(Buffer.from('a')), largest: sortKeyOf(Buffer.from('z')), keySketch };
}

test('the meta block carries the sketch (version 2) and still reads version 1 without one', () => {
  const registers = sketchOf(range(0, 1000)).registers;
  const back = decodeMeta('t.sst', 0, encodeMeta(meta(registers)));
  assert.deepEqual(back, meta(registers));
  // A version-1 block: the same bytes up to the largest key, without the sketch.
  const v2 = encodeMeta(meta(registers));
  const v1 = Buffer.from(v2.subarray(0, v2.length - keySketchBytes));
  v1.writeUInt32LE(1, 0);
  assert.deepEqual(decodeMeta('t.sst', 0, v1), meta(null));
  // Damage is refused: a version-2 block cut short, a register out of range.
  const short = Buffer.from(v2.subarray(0, v2.length - 1));
  assert.throws(() => decodeMeta('t.sst', 0, short), (e: unknown) => isRingkvError(e, ErrorCode.Corruption));
  const bad = Buffer.from(v2);
  bad[bad.length - 1] = keySketchRankMax + 1;
  assert.throws(() => decodeMeta('t.sst', 0, bad), (e: unknown) => isRingkvError(e, ErrorCode.Corruption));
});

test('the engine counts distinct keys, not writes, in memtables, tables and after a reopen', async () => {
  const dir = tempDir('keys-estimate');
  const keys = range(0, 5_000, 'user:');
  try {
    const db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
    // Every key written four times, in batches of 500.
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < keys.length; i += 500) await db.write(keys.slice(i, i + 500).map((k) => put(k, `v${round}`)));
      if (round === 1) await db.flush(); // half the history in a table, half in the memtable
    }
    assert.equal(db.stats().entriesWritten, 20_000);
    near(db.stats().keysEstimate, 5_000, 0.05);
    await db.flush();
    near(db.stats().keysEstimate, 5_000, 0.05);
    await db.compact();
    near(db.stats().keysEstimate, 5_000, 0.05);
    await db.close();
    const again = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
    try {
      assert.equal(again.stats().entriesWritten, 0);
      near(again.stats().keysEstimate, 5_000, 0.05);
      await again.write(range(0, 1_000, 'other:').map((k) => put(k, 'x')));
      near(again.stats().keysEstimate, 6_000, 0.05);
    } finally {
      await again.close();
    }
  } finally {
    removeDir(dir);
  }
});
