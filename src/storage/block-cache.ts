// A bounded cache of verified data blocks, keyed by (file number, block offset), held in ONE
// preallocated arena used as a ring: a missed block is read from disk straight into the arena at
// the write head (no allocation per read), and the blocks the head runs over are evicted, oldest
// first. Only blocks that passed their CRC stay in, so a hit needs no second check.
//
// Policy: FIFO with a second chance. A hit on a block in the older half of the ring copies it to
// the head, so a block that keeps being read survives the head passing over it (an approximation
// of LRU, as CLOCK and S3-FIFO are, without moving an entry on every hit).
//
// Lifetimes: get() and reserve() return views into the arena that stay valid until the next
// reserve() (which may overwrite them). Callers use a block at once: a point read copies the
// value out, an iterator decodes the block (a copy) before anything else reads.
//
// Keys: a file number's low 21 bits and the block offset (32 bits) pack into one safe integer,
// the map's key. File numbers grow for as long as a shard lives, so two live files may share the
// low bits: each entry keeps its whole file number, and a lookup that finds another file's block
// under its key misses (the block read then replaces that entry).
//
// Why an arena: this project's benchmark machines charge about 3 ms per MiB the first time memory
// is touched; a fresh buffer per block read cost more than the pread itself. The arena is touched
// once and then reused forever.
import { blockCacheBytesMax } from '../constants';
import { assert } from '../errors';

/** Entries the ring's bookkeeping starts with; it doubles as needed. */
const entriesInitial = 1024;

export class BlockCache {
  private arena: Buffer | null = null;
  /** Next free byte of the arena. */
  private head = 0;
  /** key → sequence number of its entry. Entries are numbered in arena order. */
  private readonly map = new Map<number, number>();
  // The ring of entries in arena order, sequence numbers [firstSeq, nextSeq), slot = seq & mask.
  private keys = new Float64Array(entriesInitial);
  private files = new Float64Array(entriesInitial);
  private offsets = new Int32Array(entriesInitial);
  private lengths = new Int32Array(entriesInitial);
  private firstSeq = 0;
  private nextSeq = 0;
  /** A reserve() whose block is not yet committed (its bytes are being read and checked). */
  private pending: { key: number; file: number; offset: number; length: number } | null = null;
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly capacityBytes: number) {
    assert(capacityBytes >= 0 && capacityBytes <= blockCacheBytesMax, 'block cache capacity must be in 0..2^31 - 1');
  }

  get capacity(): number {
    return this.capacityBytes;
  }

  /** Memory the cache holds: its arena (allocated whole at the first block cached), or 0 before. */
  get heldBytes(): number {
    return this.arena?.length ?? 0;
  }

  /** The map key of a block (see the header): 2^21 x 2^32 stays a safe integer. */
  private static keyOf(fileNumber: number, blockOffset: number): number {
    assert(Number.isSafeInteger(fileNumber) && fileNumber >= 0 && blockOffset >= 0 && blockOffset < 0x1_0000_0000, 'block cache key out of range');
    return (fileNumber % 0x20_0000) * 0x1_0000_0000 + blockOffset;
  }

  /** The cached block at `blockOffset` of file `fileNumber` (a view, see the header) or undefined. */
  get(fileNumber: number, blockOffset: number): Buffer | undefined {
    const key = BlockCache.keyOf(fileNumber, blockOffset);
    const seq = this.map.get(key);
    const slot = seq === undefined ? 0 : seq & (this.keys.length - 1);
    if (seq === undefined || this.files[slot] !== fileNumber) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    const offset = this.offsets[slot]!;
    const length = this.lengths[slot]!;
    const live = this.nextSeq - this.firstSeq;
    if (seq - this.firstSeq < live >>> 1 && length <= this.capacityBytes >>> 2) {
      // Second chance: move it to the head before the head comes round to it. The reserve may
      // evict the source's entry and even overlap its bytes; copyWithin copies as if through a
      // temporary, so the block arrives intact either way.
      const to = this.reserve(fileNumber, blockOffset, length)!;
      this.arena!.copyWithin(this.pending!.offset, offset, offset + length);
      this.commit();
      return to;
    }
    return this.arena!.subarray(offset, offset + length);
  }

  /**
   * Room for a block of `length` bytes about to be read, or null when it cannot be cached (no
   * capacity, or larger than a quarter of it). commit() makes it a cache entry; until then, or if
   * the next reserve() comes first, it is not one (a block that fails its check is never cached).
   */
  reserve(fileNumber: number, blockOffset: number, length: number): Buffer | null {
    const key = BlockCache.keyOf(fileNumber, blockOffset);
    if (length > this.capacityBytes >>> 2 || length === 0) return null;
    this.pending = null;
    this.arena ??= Buffer.allocUnsafeSlow(this.capacityBytes);
    for (;;) {
      if (this.firstSeq === this.nextSeq) {
        if (this.head + length > this.capacityBytes) this.head = 0;
        break;
      }
      const oldest = this.offsets[this.firstSeq & (this.keys.length - 1)]!;
      if (oldest >= this.head) {
        // Free space is [head, oldest): evict the oldest until the block fits there.
        if (oldest - this.head >= length) break;
        this.evictOldest();
      } else {
        // The oldest sits before the head, so [head, capacity) is free; else wrap to 0.
        if (this.capacityBytes - this.head >= length) break;
        this.head = 0;
      }
    }
    this.pending = { key, file: fileNumber, offset: this.head, length };
    return this.arena.subarray(this.head, this.head + length);
  }

  /**
   * Makes the last reserve() an entry (replacing any older entry of the same key, another file's
   * too), keeping only its first `length` bytes when given (a block's trailer is not needed once
   * it is checked).
   */
  commit(length?: number): void {
    const p = this.pending;
    assert(p !== null, 'block cache commit without a reserve');
    assert(length === undefined || (length > 0 && length <= p.length), 'block cache commit longer than its reserve');
    if (length !== undefined) p.length = length;
    this.pending = null;
    if (this.nextSeq - this.firstSeq === this.keys.length) this.grow();
    const slot = this.nextSeq & (this.keys.length - 1);
    this.keys[slot] = p.key;
    this.files[slot] = p.file;
    this.offsets[slot] = p.offset;
    this.lengths[slot] = p.length;
    this.map.set(p.key, this.nextSeq); // An older entry of the key becomes stale: see evictOldest.
    this.nextSeq++;
    this.head = p.offset + p.length;
    this.bytes += p.length;
  }

  private evictOldest(): void {
    const seq = this.firstSeq++;
    const slot = seq & (this.keys.length - 1);
    this.bytes -= this.lengths[slot]!;
    const key = this.keys[slot]!;
    if (this.map.get(key) === seq) this.map.delete(key);
  }

  private grow(): void {
    const n = this.keys.length * 2;
    const keys = new Float64Array(n);
    const files = new Float64Array(n);
    const offsets = new Int32Array(n);
    const lengths = new Int32Array(n);
    for (let seq = this.firstSeq; seq < this.nextSeq; seq++) {
      const from = seq & (this.keys.length - 1);
      const to = seq & (n - 1);
      keys[to] = this.keys[from]!;
      files[to] = this.files[from]!;
      offsets[to] = this.offsets[from]!;
      lengths[to] = this.lengths[from]!;
    }
    this.keys = keys;
    this.files = files;
    this.offsets = offsets;
    this.lengths = lengths;
  }

  /** Drops every block of a file (after the file is deleted, so its number's blocks never linger). */
  evictFile(fileNumber: number): void {
    const lo = BlockCache.keyOf(fileNumber, 0);
    const hi = lo + 0x1_0000_0000;
    const mask = this.keys.length - 1;
    // Their ring entries stay until the head passes them (stale: the map no longer points there);
    // their bytes count as used until then, which keeps usedBytes an upper bound.
    for (const [k, seq] of this.map) if (k >= lo && k < hi && this.files[seq & mask] === fileNumber) this.map.delete(k);
    if (this.pending !== null && this.pending.file === fileNumber) this.pending = null;
  }

  /** Bytes of the arena holding entries (live or stale); never above the capacity. */
  get usedBytes(): number {
    return this.bytes;
  }

  /** Checks the ring's bookkeeping (tests). */
  checkInvariants(): void {
    let prevEnd = -1;
    let sum = 0;
    for (let seq = this.firstSeq; seq < this.nextSeq; seq++) {
      const slot = seq & (this.keys.length - 1);
      const o = this.offsets[slot]!;
      const l = this.lengths[slot]!;
      assert(o >= 0 && o + l <= this.capacityBytes, 'block cache entry outside the arena');
      if (prevEnd >= 0 && o !== prevEnd) assert(o === 0, 'block cache entries not in arena order');
      prevEnd = o + l;
      sum += l;
    }
    assert(sum === this.bytes && this.bytes <= this.capacityBytes, 'block cache byte count');
    for (const [key, seq] of this.map) {
      assert(seq >= this.firstSeq && seq < this.nextSeq && this.keys[seq & (this.keys.length - 1)] === key, 'block cache map points outside the ring');
    }
  }
}
