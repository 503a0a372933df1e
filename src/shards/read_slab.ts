// Copies of the stored records one shard batch reads. A read's record must outlive the engine
// memory it came from (the batch's later ops and its answer use it), so it is copied; carving the
// copies of a batch out of a few shared chunks gives one ArrayBuffer per chunk instead of one per
// read: each ArrayBuffer has its own malloc'ed backing store that the GC tracks and frees, and a
// 32-op GET batch made 32 of them.
import { assert } from '../errors';

/** Bytes of one chunk; a batch of 32 reads of 1 KiB values fits in one. */
export const readSlabChunkBytes = 64 * 1024;
/** A copy larger than this gets a buffer of its own rather than most of a chunk. */
const readSlabSharedBytesMax = readSlabChunkBytes / 4;

export class ReadSlab {
  private chunk: Buffer | null = null;
  private used = 0;

  /** One copy of `a` then `b`, side by side; returns views of the two halves. */
  copyPair(a: Uint8Array, b: Uint8Array): [Buffer, Buffer] {
    const n = a.length + b.length;
    let out: Buffer;
    if (n > readSlabSharedBytesMax) {
      out = Buffer.allocUnsafeSlow(n);
    } else {
      if (this.chunk === null || this.used + n > this.chunk.length) {
        this.chunk = Buffer.allocUnsafeSlow(readSlabChunkBytes);
        this.used = 0;
      }
      out = this.chunk.subarray(this.used, this.used + n);
      this.used += n;
      assert(this.used <= this.chunk.length, 'read slab overran its chunk');
    }
    out.set(a, 0);
    out.set(b, a.length);
    return [out.subarray(0, a.length), out.subarray(a.length)];
  }
}
