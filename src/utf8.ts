// Short strings on the request path (version strings, If-Match, idempotency keys) to and from
// UTF-8 bytes. TextEncoder.encode and TextDecoder.decode cross into C++ and allocate on every
// call; in a CPU profile of a node under WebSocket PUT load they were 6% of the main thread's
// busy time (each answer's version string, encoded into its response frame) and 4% of the
// shard thread's (the same strings, encoded into the batch answer). For ASCII up to
// asciiLoopCharsMax characters a JavaScript loop does the same work without the call; anything
// else takes TextEncoder/TextDecoder, so the bytes and strings are the same either way.
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Past this length the native encoder's per-call cost is amortized: it takes over. */
const asciiLoopCharsMax = 64;

/** For utf8Scratch: grown on demand, never shrunk (strings here are short). */
let scratch = new Uint8Array(256);

function isShortAscii(s: string): boolean {
  if (s.length > asciiLoopCharsMax) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Bytes `s` takes in UTF-8. */
export function utf8Length(s: string): number {
  return isShortAscii(s) ? s.length : Buffer.byteLength(s, 'utf8');
}

/** Writes `s` as UTF-8 at `out[at]`; `out` must have utf8Length(s) bytes of room. Returns the bytes written. */
export function writeUtf8(s: string, out: Uint8Array, at: number): number {
  if (isShortAscii(s)) {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
    return s.length;
  }
  const { read, written } = encoder.encodeInto(s, out.subarray(at));
  if (read !== s.length) throw new RangeError(`no room for a ${s.length}-character string at ${at} of ${out.length} bytes`);
  return written;
}

/**
 * `s` as UTF-8 in a shared scratch buffer, valid until the next call: for an encoder that copies
 * the bytes at once (a FlatBuffers builder's createString).
 */
export function utf8Scratch(s: string): Uint8Array {
  const n = utf8Length(s);
  if (n > scratch.length) scratch = new Uint8Array(n * 2);
  return scratch.subarray(0, writeUtf8(s, scratch, 0));
}

/** Decodes UTF-8 (invalid sequences become U+FFFD, as TextDecoder's default). */
export function readUtf8(bytes: Uint8Array): string {
  if (bytes.length > asciiLoopCharsMax) return decoder.decode(bytes);
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 0x7f) return decoder.decode(bytes);
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}
