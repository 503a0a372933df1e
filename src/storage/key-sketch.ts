// A HyperLogLog sketch of the distinct keys a memtable or an SSTable holds (Flajolet et al. 2007;
// Cassandra keeps one per SSTable for its partition-count estimate, for the same reason): the
// sketches of every live table and memtable merge into an estimate of the engine's distinct keys
// (the node's total_keys) in 4 KiB each, without reading a key. The hash is free: a sort key
// starts with its key's token, xxhash64 of the key, which is uniform.
//
// 2^12 one-byte registers: standard error 1.04 / sqrt(4096) = 1.6%. With a 64-bit hash no
// large-range correction is needed; small cardinalities use linear counting, as in the paper.
// What it counts: keys present in some table or memtable, so a deleted key counts until
// compaction drops its tombstone, and an expired one until compaction drops it.
import { assert } from '../errors';
import { tokenBytes, tokenHighOf, tokenLowOf } from './sort-key';

export const keySketchIndexBits = 12;
export const keySketchBytes = 1 << keySketchIndexBits;
/** The largest register value: the rank of the 64 - 12 bits after the index when all are zero. */
export const keySketchRankMax = 64 - keySketchIndexBits + 1;
const rankBitsHigh = 32 - keySketchIndexBits;
const alpha = 0.7213 / (1 + 1.079 / keySketchBytes);

export class KeySketch {
  readonly registers: Uint8Array;

  constructor(registers?: Uint8Array) {
    if (registers === undefined) {
      this.registers = new Uint8Array(keySketchBytes);
    } else {
      assert(registers.length === keySketchBytes, () => `a key sketch has ${keySketchBytes} registers, not ${registers.length}`);
      this.registers = registers;
    }
  }

  /** Counts the key of a sort key (token ‖ key). */
  addSortKey(sk: Uint8Array): void {
    assert(sk.length >= tokenBytes, 'a sort key starts with its 8-byte token');
    this.addToken(tokenHighOf(sk), tokenLowOf(sk));
  }

  /** Counts a 64-bit hash given as its high and low 32-bit halves. */
  addToken(hi: number, lo: number): void {
    const j = hi >>> rankBitsHigh;
    const rest = hi & ((1 << rankBitsHigh) - 1);
    // Position of the first 1-bit in the 52 bits after the index, counting from 1 (53: none).
    const rank = rest !== 0 ? Math.clz32(rest) - keySketchIndexBits + 1 : rankBitsHigh + (lo !== 0 ? Math.clz32(lo) + 1 : 33);
    if (rank > this.registers[j]!) this.registers[j] = rank;
  }

  /** Makes this the sketch of the union of both key sets. */
  merge(other: KeySketch): void {
    const a = this.registers;
    const b = other.registers;
    for (let i = 0; i < keySketchBytes; i++) if (b[i]! > a[i]!) a[i] = b[i]!;
  }

  /** About how many distinct keys were added (0 for none). */
  estimate(): number {
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < keySketchBytes; i++) {
      const r = this.registers[i]!;
      sum += 2 ** -r;
      if (r === 0) zeros++;
    }
    const raw = (alpha * keySketchBytes * keySketchBytes) / sum;
    if (raw <= 2.5 * keySketchBytes && zeros > 0) return Math.round(keySketchBytes * Math.log(keySketchBytes / zeros));
    return Math.round(raw);
  }
}
