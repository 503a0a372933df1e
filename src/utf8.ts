// Strings into UTF-8 bytes on the request path (version strings, If-Match, idempotency keys,
// error codes) without TextEncoder.encode, which makes a new Uint8Array and ArrayBuffer per call:
// ~800 ns for a 30-character version string on this project's machine, against ~40 ns for
// encodeInto into memory that already exists (an ad hoc micro-benchmark; Buffer.byteLength ~20
// ns, TextDecoder.decode ~55 ns, both left as they are). In a CPU profile of a node under
// WebSocket PUT load, encode() was 6% of the main thread's busy time (each answer's version
// string, into its response frame) and 4% of the shard thread's (the same strings, into the
// batch answer).
const encoder = new TextEncoder();

/** For utf8Scratch: grown on demand, never shrunk (the strings here are short). */
let scratch = new Uint8Array(256);
/**
 * scratch.subarray(0, n) by n, made once: the strings encoded here come in a few lengths (a
 * node's version strings are nearly all one length), and a view per call was the rest of the
 * garbage utf8Scratch made. Dropped with the scratch it views.
 */
let scratchViews: Array<Uint8Array | undefined> = [];

/** Bytes `s` takes in UTF-8. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Writes `s` as UTF-8 at `out[at]`; `out` must have utf8Length(s) bytes of room there. Returns the bytes written. */
export function writeUtf8(s: string, out: Uint8Array, at: number): number {
  const { read, written } = encoder.encodeInto(s, out.subarray(at));
  if (read !== s.length) throw new RangeError(`no room for a ${s.length}-character string at ${at} of ${out.length} bytes`);
  return written;
}

/**
 * `s` as UTF-8 in a shared scratch buffer, valid until the next call: for an encoder that copies
 * the bytes at once (a FlatBuffers builder's createString, which would otherwise call encode()).
 */
export function utf8Scratch(s: string): Uint8Array {
  let r = encoder.encodeInto(s, scratch);
  if (r.read !== s.length) {
    scratch = new Uint8Array(utf8Length(s) * 2);
    scratchViews = [];
    r = encoder.encodeInto(s, scratch);
  }
  return (scratchViews[r.written] ??= scratch.subarray(0, r.written));
}
