// Ordered cursors over (sort key, payload) pairs: one per memtable, per SSTable, per level (a
// concatenation of disjoint files), and a merging cursor that yields, for each sort key, only the
// version from the highest-priority child (children are given newest first). Scans and
// compaction are both built from these (LevelDB's table/merger and two_level_iterator).
import { native } from '../native';
import type { BlockCache } from './block-cache';
import { payloadProblem } from './entry';
import type { MemNode, Memtable } from './memtable';
import type { Table } from './table';
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
  private node: MemNode | null = null;
  constructor(private readonly mem: Memtable) {}
  valid(): boolean {
    return this.node !== null;
  }
  key(): Buffer {
    return this.node!.sk;
  }
  value(): Buffer {
    return this.node!.payload;
  }
  next(): void {
    this.node = this.node!.next[0] ?? null;
  }
  seek(sk: Buffer): void {
    this.node = this.mem.seek(sk);
  }
  seekToFirst(): void {
    this.node = this.mem.first();
  }
}

export class TableIterator implements InternalIterator {
  private blockIndex = 0;
  private keys: Buffer = Buffer.alloc(0);
  private keyOffsets: Uint32Array = new Uint32Array(1);
  private values: Buffer = Buffer.alloc(0);
  private valueOffsets: Uint32Array = new Uint32Array(1);
  private count = 0;
  private i = 0;

  /** `table` is fetched per block so the open-file cache may close and reopen it between steps. */
  constructor(
    private readonly table: () => Table,
    private readonly cache: BlockCache | null,
  ) {}

  private load(blockIndex: number): boolean {
    const t = this.table();
    this.blockIndex = blockIndex;
    this.i = 0;
    if (blockIndex >= t.indexHandles.length) {
      this.count = 0;
      return false;
    }
    const block = t.readBlock(blockIndex, this.cache);
    const offset = t.indexHandles[blockIndex]!.offset;
    let d;
    try {
      d = native.blockDecode(block);
    } catch (err) {
      throw tableCorruption(t.file, offset, `data block malformed: ${(err as Error).message}`);
    }
    this.keys = d.keys;
    this.keyOffsets = d.keyOffsets;
    this.values = d.values;
    this.valueOffsets = d.valueOffsets;
    this.count = d.keyOffsets.length - 1;
    for (let j = 0; j < this.count; j++) {
      const problem = payloadProblem(this.values.subarray(this.valueOffsets[j]!, this.valueOffsets[j + 1]!));
      if (problem) throw tableCorruption(t.file, offset, `data block entry ${j} malformed: ${problem}`);
    }
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
    return this.keys.subarray(this.keyOffsets[this.i]!, this.keyOffsets[this.i + 1]!);
  }
  value(): Buffer {
    return this.values.subarray(this.valueOffsets[this.i]!, this.valueOffsets[this.i + 1]!);
  }
  next(): void {
    this.i++;
    this.skipEmpty();
  }
  seek(sk: Buffer): void {
    const b = this.table().findBlock(sk);
    if (!this.load(b)) return;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys.compare(sk, 0, sk.length, this.keyOffsets[mid]!, this.keyOffsets[mid + 1]!) < 0) lo = mid + 1;
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
export class LevelIterator implements InternalIterator {
  private fileIndex = 0;
  private cur: TableIterator | null = null;
  constructor(
    private readonly files: FileMeta[],
    private readonly open: (f: FileMeta) => TableIterator,
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
  constructor(private readonly children: InternalIterator[]) {}
  private findSmallest(): void {
    let best = -1;
    let bestKey: Buffer | null = null;
    for (let i = 0; i < this.children.length; i++) {
      const c = this.children[i]!;
      if (!c.valid()) continue;
      const k = c.key();
      if (bestKey === null || k.compare(bestKey) < 0) {
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
    const k = Buffer.from(this.key());
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
