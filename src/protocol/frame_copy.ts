// The bytes a frame decoder keeps past the frame's handler (values, contexts) must not be views
// into the receive buffer, which its owner reuses. Copying each field alone makes an ArrayBuffer
// per field, and a stand-alone ArrayBuffer of over 64 bytes (V8 keeps smaller typed arrays on
// its heap) cost 2.5-4 us to make on this project's machines, against ~0.2 us for a view into
// one copy of the frame (BENCHMARKS.md, "Frame decoding"); copying each 1 KiB value of a PUT
// frame alone made decoding the top self-time entry of the node's main thread under PUT load
// (a CPU profile, ad hoc). So a decoder copies the frame once, on the first field it keeps, and
// hands out views into that copy. The price: a kept field keeps the whole frame's copy alive, so
// a field kept for long (a key that a hint or a cache holds) is copied alone instead.
import { assert } from '../errors';

export class FrameCopy {
  private copy: Uint8Array | null = null;

  constructor(private readonly frame: Uint8Array) {}

  /** `view` (a view into the frame) as a view into the frame's one copy. */
  keep(view: Uint8Array): Uint8Array {
    assert(view.buffer === this.frame.buffer, 'a kept field is a view into its frame');
    return this.keepRange(view.byteOffset - this.frame.byteOffset, view.byteLength);
  }

  /** The frame's bytes [at, at + length) as a view into the frame's one copy. */
  keepRange(at: number, length: number): Uint8Array {
    assert(at >= 0 && length >= 0 && at + length <= this.frame.byteLength, 'a kept field lies within its frame');
    this.copy ??= this.frame.slice();
    return this.copy.subarray(at, at + length);
  }
}

/**
 * A copy of `view` for a decoder whose frame holds one field worth keeping (a peer message): carved
 * out of Node's shared Buffer pool (8 KiB slabs; ~0.6 us, BENCHMARKS.md "Frame decoding"), which a
 * kept copy holds alive as any pooled Buffer does. Returned as a plain Uint8Array, as decoders
 * return every byte field.
 */
export function copyField(view: Uint8Array): Uint8Array {
  const b = Buffer.allocUnsafe(view.byteLength);
  b.set(view);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
