// Ordered cursors over (sort key, payload) pairs: one per memtable, per SSTable, per level (a
// concatenation of disjoint files), and a merging cursor that yields, for each sort key, only the
// version from the highest-priority child (children are given newest first). Scans and
// compaction are both built from these (LevelDB's table/merger and two_level_iterator).
import { assert } from '../errors';
import { native } from '../native';
import type { BlockCache } from './block-cache';
import { payloadProblem } from './entry';
import type { Memtable } from './memtable';
import { compareSortKeys } from './sort-key';
import type { Readahead, Table } from './table';
import { tableCorruption } from './table-format';
import type { FileMeta } from './version';

export interface InternalIterator {
  valid(): boolean;
  key(): Buffer;
  value(): Buffer;
  next(): void;
  /** Positions at the first entry with key >= sk. */
  seek(sk: Buffer): void;
  seekToFirst(): void;
}

export class MemtableIterator implements InternalIterator {
  /** Current node index; 0 past the end (the memtable's head is never an entry). */
  private node = 0;
  /** The current node's key view, made once per position (a merge compares it many times). */
  private keyView: Buffer | null = null;
  constructor(private readonly mem: Memtable) {}
  valid(): boolean {
    return this.node !== 0;
  }
  key(): Buffer {
    return (this.keyView ??= this.mem.keyOf(this.node));
  }
  value(): Buffer {
    return this.mem.payloadOf(this.node);
  }
  next(): void {
    this.node = this.mem.nextOf(this.node);
    this.keyView = null;
  }
  seek(sk: Buffer): void {
    this.node = this.mem.seek(sk);
    this.keyView = null;
  }
  seekToFirst(): void {
    this.node = this.mem.first();
    this.keyView = null;
  }
}

/**
 * Where decodeBlock puts a block's entries, reused from block to block: entry j's key is
 * keys[offsets[3j - 3] (0 for j = 0) .. offsets[3j]], its payload the block's bytes
 * offsets[3j + 1] .. offsets[3j + 2].
 */
export interface BlockScratch {
  keys: Buffer;
  offsets: Uint32Array;
}

export function newBlockScratch(): BlockScratch {
  return { keys: Buffer.allocUnsafeSlow(512), offsets: new Uint32Array(0) };
}

/**
 * Decodes data block `block` (at `offset` in table `file`) into `s`, growing it as needed, and
 * returns its entry count; a block or a payload that does not decode is corruption.
 */
export function decodeBlock(file: string, offset: number, block: Buffer, s: BlockScratch): number {
  if (s.offsets.length < block.length) s.offsets = new Uint32Array(Math.max(block.length, 3 * 64));
  let n: number;
  try {
    n = native.blockEntries(block, s.keys, s.offsets);
    if (n < 0) {
      s.keys = Buffer.allocUnsafeSlow(-n * 2);
      n = native.blockEntries(block, s.keys, s.offsets);
    }
  } catch (err) {
    throw tableCorruption(file, offset, `data block malformed: ${(err as Error).message}`);
  }
  assert(n >= 0, 'blockEntries asked for more key room twice');
  for (let j = 0; j < n; j++) {
    const problem = payloadProblem(block.subarray(s.offsets[3 * j + 1]!, s.offsets[3 * j + 2]!));
    if (problem) throw tableCorruption(file, offset, `data block entry ${j} malformed: ${problem}`);
  }
  return n;
}

/**
 * Entries of one SSTable in order. The block being read is this iterator's alone (a private copy
 * of a cached block, or its own readahead window), decoded by the addon into reused arrays: keys
 * rebuilt into `keys`, values left in place. key() and value() are views valid until the
 * iterator moves to another block (the next load); callers copy what they keep.
 */
export class TableIterator implements InternalIterator {
  private blockIndex = 0;
  private block: Buffer = Buffer.alloc(0);
  /** Private copy of a block read through the shared block cache (whose arena is reused). */
  private own: Buffer | null = null;
  private readonly s = newBlockScratch();
  private count = 0;
  private i = 0;

  /**
   * `table` is fetched per block so the open-file cache may close and reopen it between steps.
   * With a readahead window (compaction), blocks are read in large sequential chunks and never
   * go through the block cache.
   */
  constructor(
    private readonly table: () => Table,
    private readonly cache: BlockCache | null,
    private readonly readahead: Readahead | null = null,
  ) {}

  private load(blockIndex: number): boolean {
    const t = this.table();
    this.blockIndex = blockIndex;
    this.i = 0;
    if (blockIndex >= t.indexHandles.length) {
      this.count = 0;
      return false;
    }
    const offset = t.indexHandles[blockIndex]!.offset;
    if (this.readahead !== null) {
      this.block = t.readBlockAhead(blockIndex, this.readahead);
    } else {
      const shared = t.readBlock(blockIndex, this.cache);
      if (this.own === null || this.own.length < shared.length) this.own = Buffer.allocUnsafeSlow(Math.max(shared.length, 8192));
      shared.copy(this.own, 0);
      this.block = this.own.subarray(0, shared.length);
    }
    this.count = decodeBlock(t.file, offset, this.block, this.s);
    return true;
  }

  private skipEmpty(): void {
    while (this.i >= this.count) {
      if (!this.load(this.blockIndex + 1)) return;
    }
  }

  valid(): boolean {
    return this.i < this.count;
  }
  key(): Buffer {
    const i = this.i;
    return this.s.keys.subarray(i === 0 ? 0 : this.s.offsets[3 * i - 3]!, this.s.offsets[3 * i]!);
  }
  value(): Buffer {
    return this.block.subarray(this.s.offsets[3 * this.i + 1]!, this.s.offsets[3 * this.i + 2]!);
  }
  next(): void {
    this.i++;
    this.skipEmpty();
  }
  seek(sk: Buffer): void {
    const b = this.table().findBlock(sk);
    if (!this.load(b)) return;
    const { keys, offsets } = this.s;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const start = mid === 0 ? 0 : offsets[3 * mid - 3]!;
      if (keys.compare(sk, 0, sk.length, start, offsets[3 * mid]!) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.i = lo;
    this.skipEmpty();
  }
  seekToFirst(): void {
    this.load(0);
    this.skipEmpty();
  }
}

/** Concatenates the disjoint, sorted files of one level >= 1 (or any disjoint sorted list). */
export class LevelIterator<F extends { largest: Buffer } = FileMeta> implements InternalIterator {
  private fileIndex = 0;
  private cur: TableIterator | null = null;
  constructor(
    private readonly files: readonly F[],
    private readonly open: (f: F) => TableIterator,
  ) {}
  private openAt(i: number): void {
    this.fileIndex = i;
    this.cur = i < this.files.length ? this.open(this.files[i]!) : null;
  }
  private skipEmpty(): void {
    while (this.cur !== null && !this.cur.valid()) {
      this.openAt(this.fileIndex + 1);
      this.cur?.seekToFirst();
    }
  }
  valid(): boolean {
    return this.cur !== null && this.cur.valid();
  }
  key(): Buffer {
    return this.cur!.key();
  }
  value(): Buffer {
    return this.cur!.value();
  }
  next(): void {
    this.cur!.next();
    this.skipEmpty();
  }
  seek(sk: Buffer): void {
    let lo = 0;
    let hi = this.files.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.files[mid]!.largest.compare(sk) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.openAt(lo);
    this.cur?.seek(sk);
    this.skipEmpty();
  }
  seekToFirst(): void {
    this.openAt(0);
    this.cur?.seekToFirst();
    this.skipEmpty();
  }
}

/**
 * Yields each sort key once, with the value of the first child (highest priority) holding it.
 * Children are few (memtables, L0 files, one per level), so a linear minimum beats a heap.
 */
export class MergingIterator implements InternalIterator {
  private current = -1;
  /** The key being stepped past, copied: children's key views die when they load another block. */
  private scratch = Buffer.allocUnsafeSlow(512);
  constructor(private readonly children: InternalIterator[]) {}
  private findSmallest(): void {
    let best = -1;
    let bestKey: Buffer | null = null;
    for (let i = 0; i < this.children.length; i++) {
      const c = this.children[i]!;
      if (!c.valid()) continue;
      const k = c.key();
      if (bestKey === null || compareSortKeys(k, bestKey) < 0) {
        best = i;
        bestKey = k;
      }
    }
    this.current = best;
  }
  valid(): boolean {
    return this.current >= 0;
  }
  key(): Buffer {
    return this.children[this.current]!.key();
  }
  value(): Buffer {
    return this.children[this.current]!.value();
  }
  next(): void {
    const cur = this.key();
    if (this.scratch.length < cur.length) this.scratch = Buffer.allocUnsafeSlow(cur.length * 2);
    cur.copy(this.scratch, 0);
    const k = this.scratch.subarray(0, cur.length);
    for (const c of this.children) {
      if (c.valid() && c.key().equals(k)) c.next();
    }
    this.findSmallest();
  }
  seek(sk: Buffer): void {
    for (const c of this.children) c.seek(sk);
    this.findSmallest();
  }
  seekToFirst(): void {
    for (const c of this.children) c.seekToFirst();
    this.findSmallest();
  }
}
