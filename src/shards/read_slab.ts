// Copies of the stored records one shard batch reads. A read's record must outlive the engine
// memory it came from (the batch's later ops and its answer use it), so it is copied; carving the
// copies of a batch out of a few shared chunks gives one ArrayBuffer per chunk instead of one per
// read: each ArrayBuffer has its own malloc'ed backing store that the GC tracks and frees, and a
// 32-op GET batch made 32 of them. The carving is the storage engine's Arena; its chunks are never
// released to a pool (nothing says when the last view of a read goes), the GC takes them.
import { Arena, ArenaPool } from '../storage/arena';

/** Bytes of one chunk; a batch of 32 reads of 1 KiB values fits in one. Copies over a quarter get their own buffer. */
export const readSlabChunkBytes = 64 * 1024;
/** Keeps no free chunks: a slab's chunks are never given back. */
const chunkSource = new ArenaPool(readSlabChunkBytes, 0, 'private');

export class ReadSlab {
  private readonly arena = new Arena(chunkSource);

  /** One copy of `a` then `b`, side by side; returns views of the two halves. */
  copyPair(a: Uint8Array, b: Uint8Array): [Buffer, Buffer] {
    const out = this.arena.alloc(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return [out.subarray(0, a.length), out.subarray(a.length)];
  }
}
