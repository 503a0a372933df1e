// What the calling thread's V8 isolate holds: its heap (JavaScript objects) and the memory outside
// the heap in its ArrayBuffers and SharedArrayBuffers (memtable arenas, the block cache, frames
// and values in flight). Every thread of a node has its own isolate (main, each shard, each shard's
// storage background thread), and the process's resident set is all of them together plus code,
// stacks and allocator slack, so /metrics shows each kind of thread
// (ringkv_heap_used_bytes{thread} and its neighbours) for an operator to tell which part of a
// node's memory grows. Plain data: crosses threads.
import { memoryUsage } from 'node:process';

export interface ThreadMemory {
  /** Bytes of live and not yet collected objects on the V8 heap. */
  heapUsedBytes: number;
  /** Bytes V8 has committed for the heap (used plus room it keeps for allocation). */
  heapTotalBytes: number;
  /**
   * Bytes of the isolate's ArrayBuffers and SharedArrayBuffers (Node's per-isolate count;
   * V8's external_memory leaves SharedArrayBuffers out, and memtable arenas are shared: arena.ts).
   * A SharedArrayBuffer two threads hold counts in both: a flush's background thread holds its
   * memtable's arena chunks until the job ends.
   */
  externalBytes: number;
}

export function threadMemory(): ThreadMemory {
  // The calling isolate's heap (V8's used and total heap size) and ArrayBuffers; it also reads the
  // process's resident set (~20 us here): fine for a scrape or a job's end.
  const m = memoryUsage();
  return { heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.arrayBuffers };
}

export function emptyThreadMemory(): ThreadMemory {
  return { heapUsedBytes: 0, heapTotalBytes: 0, externalBytes: 0 };
}

/** Adds `m` into `into` (threads of one kind summed). */
export function addThreadMemory(into: ThreadMemory, m: ThreadMemory): void {
  into.heapUsedBytes += m.heapUsedBytes;
  into.heapTotalBytes += m.heapTotalBytes;
  into.externalBytes += m.externalBytes;
}
