// The bytes a frame decoder keeps past the frame's handler (values, contexts) must not be views
// into the receive buffer, which its owner reuses. Copying each field alone makes an ArrayBuffer
// per field, and a stand-alone ArrayBuffer of over 64 bytes (V8 keeps smaller typed arrays on
// its heap) cost 3-5 us to make on this project's machines, against ~0.2 us for a view into one
// copy of the frame (BENCHMARKS.md, "Frame decoding"): for a 32-op PUT frame of 1 KiB values
// that was most of the node's main-thread work per op. So a decoder copies the frame once, on
// the first field it keeps, and hands out views into that copy. The price: a kept field keeps
// the whole frame's copy alive, so a field kept for long (a key that a hint or a cache holds)
// is copied alone instead.
import { assert } from '../errors';

export class FrameCopy {
  private copy: Uint8Array | null = null;

  constructor(private readonly frame: Uint8Array) {}

  /** `view` (a view into the frame) as a view into the frame's one copy. */
  keep(view: Uint8Array): Uint8Array {
    const at = view.byteOffset - this.frame.byteOffset;
    assert(view.buffer === this.frame.buffer && at >= 0 && at + view.byteLength <= this.frame.byteLength, 'a kept field is a view into its frame');
    this.copy ??= this.frame.slice();
    return this.copy.subarray(at, at + view.byteLength);
  }
}
