// Memory for one memtable's WAL records (LevelDB's util/arena): records are carved one after
// another out of large chunks, and the memtable keeps its payloads as places in them. When the
// memtable is on disk and no scan still reads it, its chunks go back to an engine-wide pool and
// the next memtables reuse them.
//
// Why recycle rather than allocate per record: memory the process touches for the first time is
// expensive (a page fault each 4 KiB; about 3 ms per MiB on the VMs this project benchmarks on),
// and a memtable of fresh records paid that for every byte written. Reused chunks are already
// resident. The pool is bounded, so memory returns to the allocator past that bound.
//
// A memtable's arena is shared memory (SharedArrayBuffer): its flush hands the background thread
// the chunks themselves to read the payloads from (flush.ts), instead of a copy of every payload.
// Nothing writes into a chunk the memtable holds once the memtable is immutable, and its chunks
// return to the pool only after the flush is done (Memtable.retire), so the two threads never
// touch the same bytes at once.
import { arenaChunkBytesMax } from '../constants';
import { assert } from '../errors';

const arenaChunkBytesMin = 16 * 1024;

/** The chunk size for memtables of memtableBytes: 16 chunks a memtable, within [16 KiB, 4 MiB]. */
export function arenaChunkBytesFor(memtableBytes: number): number {
  return Math.min(arenaChunkBytesMax, Math.max(arenaChunkBytesMin, Math.ceil(memtableBytes / 16)));
}

/** Whether an arena's memory may be read by another thread (a memtable's, by its flush) or stays on its own. */
export type ArenaMemory = 'shared' | 'private';

export class ArenaPool {
  private readonly free: ArrayBufferLike[] = [];
  private readonly chunksMax: number;

  /** Keeps up to `bytesMax` of free chunks of `chunkBytes` each. */
  constructor(
    readonly chunkBytes: number,
    bytesMax: number,
    readonly memory: ArenaMemory,
  ) {
    assert(chunkBytes >= 1024 && bytesMax >= 0, 'arena pool sizes out of range');
    this.chunksMax = Math.ceil(bytesMax / chunkBytes);
  }

  take(): ArrayBufferLike {
    return this.free.pop() ?? this.fresh(this.chunkBytes);
  }

  /** New memory of the pool's kind (a SharedArrayBuffer comes zeroed; a private one is left as it is). */
  fresh(bytes: number): ArrayBufferLike {
    return this.memory === 'shared' ? new SharedArrayBuffer(bytes) : Buffer.allocUnsafeSlow(bytes).buffer;
  }

  give(chunk: ArrayBufferLike): void {
    assert(chunk.byteLength === this.chunkBytes, 'only whole arena chunks return to the pool');
    if (this.free.length < this.chunksMax) this.free.push(chunk);
  }

  get pooledChunks(): number {
    return this.free.length;
  }

  /** Memory in the free chunks. */
  get pooledBytes(): number {
    return this.free.length * this.chunkBytes;
  }
}

export class Arena {
  private readonly chunks: ArrayBufferLike[] = [];
  private current: ArrayBufferLike | null = null;
  private used = 0;
  private released = false;
  /** Memory this arena holds: its chunks, whole, and the records too large for a chunk. */
  bytes = 0;

  constructor(private readonly pool: ArenaPool) {}

  /** n bytes of uninitialized memory that stay valid until release(). */
  alloc(n: number): Buffer {
    assert(!this.released, 'alloc from a released arena');
    if (n > this.pool.chunkBytes / 4) {
      this.bytes += n;
      return Buffer.from(this.pool.fresh(n));
    }
    if (this.current === null || this.used + n > this.pool.chunkBytes) {
      this.current = this.pool.take();
      this.chunks.push(this.current);
      this.used = 0;
      this.bytes += this.pool.chunkBytes;
    }
    const b = Buffer.from(this.current, this.used, n);
    this.used += n;
    return b;
  }

  /** Gives the chunks back to the pool. REQUIRES: no view into this arena is read again. */
  release(): void {
    assert(!this.released, 'arena released twice');
    this.released = true;
    for (const c of this.chunks) this.pool.give(c);
    this.chunks.length = 0;
    this.current = null;
  }
}
