// Byte layout of an SSTable (docs/sstable-format.md is the full description):
//
//   [data block 0][trailer] ... [data block n-1][trailer]
//   [filter block][trailer] [meta block][trailer] [index block][trailer]
//   [footer, 48 bytes]
//
// Block trailer (5 bytes): u8 type (0 = uncompressed), u32 LE crc32c(block contents ‖ type byte).
// Data and index blocks use the addon's block format (prefix-compressed keys, restart points).
// Index block: one entry per data block, key = the block's last sort key, value = a block handle.
// Block handle (12 bytes): u64 LE offset, u32 LE size (contents only, trailer not counted).
// Footer: filter handle, meta handle, index handle (12 bytes each), u32 LE crc32c(bytes 0..36),
// u64 magic "RKVSST01".
import { assert, ErrorCode, RingkvError } from '../errors';
import { crc32c } from './checksum';
import { getU64, getVarint32, putU64, putVarint32, type VarintCursor } from './coding';
import { keySketchBytes, keySketchRankMax } from './key-sketch';
import { native } from '../native';

export const blockTrailerBytes = 5;
export const blockTypeRaw = 0;
export const blockHandleBytes = 12;
export const footerBytes = 48;
export const tableMagic = Buffer.from('RKVSST01', 'latin1');
/** Meta blocks are written in version 2 (with the key sketch); version 1 (without) is still read. */
export const metaFormatVersion = 2;

export interface BlockHandle {
  offset: number;
  size: number;
}

export function encodeHandle(h: BlockHandle, out: Buffer = Buffer.allocUnsafe(blockHandleBytes), at = 0): Buffer {
  putU64(out, at, h.offset);
  out.writeUInt32LE(h.size, at + 8);
  return out;
}

export function decodeHandle(buf: Uint8Array, at: number): BlockHandle | null {
  if (at + blockHandleBytes > buf.length) return null;
  const offset = getU64(buf, at);
  const size = (buf[at + 8]! | (buf[at + 9]! << 8) | (buf[at + 10]! << 16) | (buf[at + 11]! << 24)) >>> 0;
  return offset < 0 ? null : { offset, size };
}

/** The trailer of a block: its type and the CRC over contents and type. */
export function blockTrailer(contents: Uint8Array): Buffer {
  const t = Buffer.allocUnsafe(blockTrailerBytes);
  t[0] = blockTypeRaw;
  // crc32c(contents ‖ type) computed without concatenating: extend the running CRC.
  t.writeUInt32LE(crc32cExtend(contents, t.subarray(0, 1)), 1);
  return t;
}

function crc32cExtend(a: Uint8Array, b: Uint8Array): number {
  return native.crc32c(b, native.crc32c(a, 0)) >>> 0;
}

export function tableCorruption(file: string, offset: number, what: string): RingkvError {
  return new RingkvError(ErrorCode.Corruption, `SSTable ${file}: ${what} at offset ${offset}`, {
    details: { file, offset, what },
  });
}

/** Whether the trailer at bytes[end] holds the CRC of bytes[start, end) and the type byte after them. */
export function trailerChecks(bytes: Buffer, start: number, end: number): boolean {
  return crc32cExtend(bytes.subarray(start, end), bytes.subarray(end, end + 1)) === bytes.readUInt32LE(end + 1);
}

/** Checks a block read as contents + trailer; returns the contents or throws naming file and offset. */
export function checkBlock(file: string, handle: BlockHandle, raw: Buffer, what: string): Buffer {
  if (raw.length !== handle.size + blockTrailerBytes) {
    throw tableCorruption(file, handle.offset, `${what}: short read (${raw.length} of ${handle.size + blockTrailerBytes} bytes; file truncated?)`);
  }
  const contents = raw.subarray(0, handle.size);
  const type = raw[handle.size]!;
  if (!trailerChecks(raw, 0, handle.size)) {
    throw tableCorruption(file, handle.offset, `${what}: block checksum mismatch`);
  }
  if (type !== blockTypeRaw) throw tableCorruption(file, handle.offset, `${what}: unknown block type ${type}`);
  return contents;
}

export interface Footer {
  filter: BlockHandle;
  meta: BlockHandle;
  index: BlockHandle;
}

export function encodeFooter(f: Footer): Buffer {
  const b = Buffer.alloc(footerBytes);
  encodeHandle(f.filter, b, 0);
  encodeHandle(f.meta, b, 12);
  encodeHandle(f.index, b, 24);
  b.writeUInt32LE(crc32c(b.subarray(0, 36)), 36);
  tableMagic.copy(b, 40);
  return b;
}

export function decodeFooter(file: string, fileBytes: number, b: Buffer): Footer {
  const at = fileBytes - footerBytes;
  if (fileBytes < footerBytes || b.length !== footerBytes) throw tableCorruption(file, Math.max(0, at), `file of ${fileBytes} bytes is too short for a footer (truncated?)`);
  if (!b.subarray(40, 48).equals(tableMagic)) throw tableCorruption(file, at + 40, 'footer: bad magic number (truncated or not an SSTable)');
  if (crc32c(b.subarray(0, 36)) !== b.readUInt32LE(36)) throw tableCorruption(file, at, 'footer: checksum mismatch');
  const filter = decodeHandle(b, 0);
  const meta = decodeHandle(b, 12);
  const index = decodeHandle(b, 24);
  for (const [name, h] of [['filter', filter], ['meta', meta], ['index', index]] as const) {
    if (h === null || h.offset + h.size + blockTrailerBytes > at) throw tableCorruption(file, at, `footer: ${name} handle points outside the file`);
  }
  return { filter: filter!, meta: meta!, index: index! };
}

export interface TableMeta {
  entryCount: number;
  tombstoneCount: number;
  minTimestampMs: number;
  maxTimestampMs: number;
  dataBlockCount: number;
  smallest: Buffer;
  largest: Buffer;
  /** The table's KeySketch registers (key-sketch.ts); null in a version-1 meta block. */
  keySketch: Uint8Array | null;
}

export function encodeMeta(m: TableMeta): Buffer {
  assert(m.keySketch !== null && m.keySketch.length === keySketchBytes, 'a meta block carries a key sketch');
  const b = Buffer.allocUnsafe(4 + 8 * 5 + 10 + m.smallest.length + m.largest.length + keySketchBytes);
  b.writeUInt32LE(metaFormatVersion, 0);
  putU64(b, 4, m.entryCount);
  putU64(b, 12, m.tombstoneCount);
  putU64(b, 20, m.minTimestampMs);
  putU64(b, 28, m.maxTimestampMs);
  putU64(b, 36, m.dataBlockCount);
  let o = putVarint32(b, 44, m.smallest.length);
  m.smallest.copy(b, o);
  o = putVarint32(b, o + m.smallest.length, m.largest.length);
  m.largest.copy(b, o);
  o += m.largest.length;
  b.set(m.keySketch, o);
  return b.subarray(0, o + keySketchBytes);
}

export function decodeMeta(file: string, offset: number, b: Buffer): TableMeta {
  const bad = (what: string): RingkvError => tableCorruption(file, offset, `meta block: ${what}`);
  if (b.length < 46) throw bad('too short');
  const version = b.readUInt32LE(0);
  if (version !== 1 && version !== metaFormatVersion) throw bad(`unknown format version ${version}`);
  const nums = [4, 12, 20, 28, 36].map((o) => getU64(b, o));
  if (nums.some((n) => n < 0)) throw bad('counter beyond 2^53');
  const c: VarintCursor = { value: 0, offset: 44 };
  if (!getVarint32(b, b.length, c) || c.offset + c.value > b.length) throw bad('bad smallest key');
  const smallest = Buffer.from(b.subarray(c.offset, c.offset + c.value));
  c.offset += c.value;
  const sketchBytes = version === 1 ? 0 : keySketchBytes;
  if (!getVarint32(b, b.length, c) || c.offset + c.value + sketchBytes !== b.length) throw bad(version === 1 ? 'bad largest key' : 'bad largest key or key sketch');
  const largest = Buffer.from(b.subarray(c.offset, c.offset + c.value));
  const keySketch = version === 1 ? null : new Uint8Array(b.subarray(b.length - keySketchBytes));
  if (keySketch !== null && keySketch.some((r) => r > keySketchRankMax)) throw bad('key sketch register out of range');
  return {
    entryCount: nums[0]!,
    tombstoneCount: nums[1]!,
    minTimestampMs: nums[2]!,
    maxTimestampMs: nums[3]!,
    dataBlockCount: nums[4]!,
    smallest,
    largest,
    keySketch,
  };
}
