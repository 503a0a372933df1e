// A bounded LRU of verified block contents, keyed by (file number, block offset). Only blocks
// that passed their CRC go in, so a hit needs no second check. A Map keeps insertion order, so
// the least recently used entry is the first key; a hit re-inserts. Memory is bounded by the
// sum of block sizes (blocks are about 4 KiB, so the Map's own overhead is a small fraction).
import { assert } from '../errors';

export class BlockCache {
  private readonly map = new Map<number, Buffer>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly capacityBytes: number) {
    assert(capacityBytes >= 0, 'block cache capacity must be >= 0');
  }

  static keyOf(fileNumber: number, offset: number): number {
    // 2^21 files x 2^32 offsets stays a safe integer.
    assert(fileNumber < 0x20_0000 && offset < 0x1_0000_0000, 'block cache key out of range');
    return fileNumber * 0x1_0000_0000 + offset;
  }

  get(key: number): Buffer | undefined {
    const b = this.map.get(key);
    if (b === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, b);
    return b;
  }

  insert(key: number, block: Buffer): void {
    if (block.length > this.capacityBytes) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.bytes -= old.length;
      this.map.delete(key);
    }
    this.map.set(key, block);
    this.bytes += block.length;
    while (this.bytes > this.capacityBytes) {
      const first = this.map.keys().next();
      if (first.done) break;
      this.bytes -= this.map.get(first.value)!.length;
      this.map.delete(first.value);
    }
  }

  /** Drops every block of a file (after the file is deleted, so its number's blocks never linger). */
  evictFile(fileNumber: number): void {
    const lo = fileNumber * 0x1_0000_0000;
    const hi = lo + 0x1_0000_0000;
    for (const [k, b] of this.map) {
      if (k >= lo && k < hi) {
        this.bytes -= b.length;
        this.map.delete(k);
      }
    }
  }

  get usedBytes(): number {
    return this.bytes;
  }
}
