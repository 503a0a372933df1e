// Length-prefixed framing for the inter-node stream: every frame is [u32 little-endian length]
// [payload of that many bytes]. TCP delivers arbitrary slices of the stream, so the decoder keeps
// the partial tail between chunks; a declared length of zero, or over the cap, is a protocol
// violation (RKV_ERR_FRAME_TOO_LARGE / RKV_ERR_MALFORMED_FRAME) and the caller closes the
// connection, because after a bad length nothing later in the stream can be trusted.
import { internodeFrameBytesMax } from '../constants';
import { assert, ErrorCode, RingkvError } from '../errors';

export const frameHeaderBytes = 4;

/** The bytes to write for one payload: header and payload in one buffer. */
export function frame(payload: Uint8Array, frameBytesMax = internodeFrameBytesMax): Buffer {
  assert(payload.byteLength > 0 && payload.byteLength <= frameBytesMax, () => `frame payload of ${payload.byteLength} bytes outside 1..${frameBytesMax}`);
  const out = Buffer.allocUnsafe(frameHeaderBytes + payload.byteLength);
  out.writeUInt32LE(payload.byteLength, 0);
  out.set(payload, frameHeaderBytes);
  return out;
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly frameBytesMax: number;
  /** The first frame's cap until it is out (an answering connection's Hello), then frameBytesMax. */
  private capNow: number;

  constructor(frameBytesMax = internodeFrameBytesMax, firstFrameBytesMax = frameBytesMax) {
    assert(frameBytesMax > 0 && firstFrameBytesMax > 0 && firstFrameBytesMax <= frameBytesMax, 'frame caps must be positive, the first one no larger');
    this.frameBytesMax = frameBytesMax;
    this.capNow = firstFrameBytesMax;
  }

  /** Bytes held waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Adds a chunk and returns every frame it completes, in order. Throws on a bad length. */
  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.buffered < frameHeaderBytes) break;
      const head = this.peekHeader();
      if (head === 0) throw new RingkvError(ErrorCode.MalformedFrame, 'inter-node frame with zero length');
      if (head > this.capNow) {
        throw new RingkvError(ErrorCode.FrameTooLarge, `inter-node frame of ${head} bytes over the ${this.capNow}-byte cap`, { details: { bytes: head, max: this.capNow } });
      }
      if (this.buffered < frameHeaderBytes + head) break;
      this.take(frameHeaderBytes);
      out.push(this.take(head));
      this.capNow = this.frameBytesMax;
    }
    return out;
  }

  private peekHeader(): number {
    const first = this.chunks[0]!;
    if (first.length >= frameHeaderBytes) return first.readUInt32LE(0);
    const head = Buffer.alloc(frameHeaderBytes);
    let got = 0;
    for (const c of this.chunks) {
      const n = Math.min(c.length, frameHeaderBytes - got);
      c.copy(head, got, 0, n);
      got += n;
      if (got === frameHeaderBytes) break;
    }
    return head.readUInt32LE(0);
  }

  /** Removes and returns the next `n` bytes (a view when they lie in one chunk, else a copy). */
  private take(n: number): Buffer {
    assert(n <= this.buffered, 'take beyond buffered bytes');
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - got);
      c.copy(out, got, 0, k);
      got += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
