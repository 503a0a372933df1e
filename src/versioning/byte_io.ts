// Bounds-checked byte reading and writing for the versioning formats (clocks, sibling sets).
// The reader never trusts its input: every length and count is checked against what is left,
// and a failure becomes a RingkvError with the code the caller picked (INVALID_ARGUMENT for a
// client's context, CORRUPTION for bytes read back from disk), never a RangeError or a crash.
//
// Integers are unsigned LEB128 varints limited to Number.MAX_SAFE_INTEGER (8 bytes of payload at
// most), so counters and millisecond timestamps stay exact JavaScript numbers.
import { ErrorCode, RingkvError, assert } from '../errors';

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

// Short strings here are node ids: a handful per cluster, encoded and decoded with every version
// a shard writes or reads. Caching them keeps a TextEncoder/TextDecoder call and its garbage off
// that path (they were ~6% of a shard's time per PUT). Bounded: past shortStringCacheMax distinct
// strings the encoding cache starts over, so a stream of odd ids cannot grow it.
const shortStringCacheMax = 256;
const encodedShortStrings = new Map<string, Uint8Array>();
/**
 * Decoded ids, direct-mapped by a hash of their bytes (a slot holds the last id that hashed
 * there): a hit compares the bytes in place, so it makes no object at all, where a Map keyed by
 * the bytes needed a string of them (and a view to make it from) per id per decode.
 */
const decodedSlots = 256;
const decodedBytes: Array<Uint8Array | undefined> = new Array(decodedSlots);
const decodedStrings: Array<string | undefined> = new Array(decodedSlots);

/** FNV-1a of buf[from, to), folded to a slot. */
function slotOf(buf: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return (h ^ (h >>> 16)) & (decodedSlots - 1);
}

function sameBytes(a: Uint8Array, buf: Uint8Array, from: number, to: number): boolean {
  if (a.length !== to - from) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[from + i]) return false;
  return true;
}

/** UTF-8 bytes of a short string (shared: callers must not modify them). */
export function shortStringBytes(s: string): Uint8Array {
  let b = encodedShortStrings.get(s);
  if (b === undefined) {
    b = utf8Encoder.encode(s);
    if (encodedShortStrings.size >= shortStringCacheMax) encodedShortStrings.clear();
    encodedShortStrings.set(s, b);
  }
  return b;
}

/** Scratch for writers: one at a time takes it (encoders may nest, the inner one allocates). */
let scratch: Uint8Array | null = new Uint8Array(4096);

/** Bytes a varint of `n` takes. */
export function varintBytes(n: number): number {
  assert(Number.isSafeInteger(n) && n >= 0, () => `varint out of range: ${n}`);
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** Appends to a growable buffer; the result is one exact-size Uint8Array. */
export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;
  /** Holds the module scratch (given back by finish; a writer abandoned by a throw keeps it, and later writers allocate). */
  private scratch: Uint8Array | null = null;

  constructor(capacity = 64) {
    if (scratch !== null && capacity <= scratch.length) {
      this.buf = this.scratch = scratch;
      scratch = null;
    } else {
      this.buf = new Uint8Array(Math.max(16, capacity));
    }
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): void {
    assert(Number.isInteger(v) && v >= 0 && v <= 255, () => `u8 out of range: ${v}`);
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  varint(v: number): void {
    assert(Number.isSafeInteger(v) && v >= 0, () => `varint out of range: ${v}`);
    this.reserve(8);
    while (v >= 128) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A u8 length then the UTF-8 bytes (strings here are short ids, at most 255 bytes). */
  shortString(s: string): void {
    const b = shortStringBytes(s);
    assert(b.length <= 255, 'short string over 255 bytes');
    this.u8(b.length);
    this.bytes(b);
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written, as an exact-size copy; the writer must not be used after. */
  finish(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    if (this.scratch !== null) {
      scratch = this.scratch;
      this.scratch = null;
    }
    return out;
  }
}

export class ByteReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly code: ErrorCode,
    private readonly what: string,
  ) {}

  fail(reason: string): never {
    throw new RingkvError(this.code, `${this.what}: ${reason}`, { details: { offset: this.pos } });
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(): number {
    if (this.pos >= this.buf.length) this.fail('truncated');
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) this.fail('varint over 2^53');
        // A non-minimal encoding (a trailing zero byte) would let two byte strings mean one
        // value; refuse it so encodings stay canonical.
        if (i > 0 && b === 0) this.fail('non-canonical varint');
        return result;
      }
      scale *= 128;
    }
    return this.fail('varint longer than 8 bytes');
  }

  /** `n` bytes as a view into the input (no copy). */
  bytes(n: number): Uint8Array {
    if (n > this.remaining) this.fail(`length ${n} past the end`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  shortString(): string {
    const n = this.u8();
    if (n > this.remaining) this.fail(`length ${n} past the end`);
    const from = this.pos;
    const to = from + n;
    const slot = slotOf(this.buf, from, to);
    const cached = decodedBytes[slot];
    if (cached !== undefined && sameBytes(cached, this.buf, from, to)) {
      this.pos = to;
      return decodedStrings[slot]!;
    }
    const b = this.bytes(n);
    let s: string;
    try {
      s = utf8Decoder.decode(b);
    } catch (cause) {
      return this.fail(`invalid UTF-8 (${String(cause)})`);
    }
    // A copy: `b` views bytes that their owner reuses (often a Buffer, whose slice() is a view too).
    decodedBytes[slot] = new Uint8Array(b);
    decodedStrings[slot] = s;
    return s;
  }

  /** Fails unless every byte was consumed: trailing garbage means the bytes are not ours. */
  end(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.remaining} trailing bytes`);
  }
}
