// Byte strings as JavaScript strings, one character per byte (latin1), for Map and Set keys: a
// key's bytes, a node id's bytes before they are decoded. On the shard thread's write path this
// runs once per op and once per stored version. For short inputs String.fromCharCode over the
// bytes is about twice as fast as Buffer.from(...).toString('latin1') (~60 against ~125 ns for a
// 10-byte key here, an ad hoc micro-benchmark) and makes no Buffer object; its cost grows with
// the length (~530 ns at 200 bytes, where the Buffer's stays ~120 ns), hence the cut-over.
const fromCharCodeBytesMax = 32;

export function byteString(bytes: Uint8Array): string {
  if (bytes.length <= fromCharCodeBytesMax) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
