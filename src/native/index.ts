// The only module that loads the Rust addon (native/ringkv.<platform>-<arch>-<abi>.node, built by
// `napi build --platform`). Everything else imports these typed wrappers; nothing else requires
// the .node file. Byte layouts live beside the Rust code (native/src) and in docs/.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bloomBitsPerKeyDefault, sstableBlockRestartInterval } from '../constants';
import { ErrorCode, RingkvError } from '../errors';

/** Columns of a decoded SSTable data block: entry i is keys[keyOffsets[i]..keyOffsets[i+1]). */
export interface DecodedBlock {
  keys: Buffer;
  /** count + 1 offsets into `keys`. */
  keyOffsets: Uint32Array;
  values: Buffer;
  /** count + 1 offsets into `values`. */
  valueOffsets: Uint32Array;
}

/** The raw addon surface. Batched forms take one buffer plus n+1 offsets (entry i is [off[i], off[i+1])). */
export interface NativeAddon {
  /** CRC-32C (Castagnoli) of data, extending a running `crc` (0 to start). Uses SSE4.2 when present. */
  crc32c(data: Uint8Array, crc: number): number;
  /** The table-driven CRC-32C, always, so tests can check the hardware path against it. */
  crc32cSoftware(data: Uint8Array, crc: number): number;
  /** True when the SSE4.2 crc32 instruction is used. */
  crc32cHardware(): boolean;
  crc32cBatch(data: Uint8Array, offsets: Uint32Array): Uint32Array;
  /** XXH64 of data with a 64-bit seed, as an unsigned bigint. */
  xxhash64(data: Uint8Array, seed: bigint): bigint;
  xxhash64Batch(data: Uint8Array, offsets: Uint32Array, seed: bigint): BigUint64Array;
  /** A serialized bloom filter over the batch of keys (format: native/src/bloom.rs). */
  bloomBuild(keys: Uint8Array, offsets: Uint32Array, bitsPerKey: number): Buffer;
  bloomMayContain(filter: Uint8Array, key: Uint8Array): boolean;
  /** One byte per key: 1 = may contain, 0 = definitely absent. */
  bloomMayContainBatch(filter: Uint8Array, keys: Uint8Array, offsets: Uint32Array): Uint8Array;
  /**
   * Encodes one SSTable data block: keys prefix-compressed against the previous key, a restart
   * point (full key) every `restartInterval` entries, restart array and count at the end.
   * Keys must be strictly increasing (bytewise); otherwise it throws.
   */
  blockBuild(
    keys: Uint8Array,
    keyOffsets: Uint32Array,
    values: Uint8Array,
    valueOffsets: Uint32Array,
    restartInterval: number,
  ): Buffer;
  /** The value stored under exactly `key`, copied out, or null. Throws on a malformed block. */
  blockGet(block: Uint8Array, key: Uint8Array): Buffer | null;
  /**
   * Where the value stored under exactly `key` lies in the block, without copying it: -1 when the
   * key is absent, else start + length * 2^32 (start < 2^32, length < 2^21, so the sum is an
   * exact number; decode with blockFindStart / blockFindLength). Throws on a malformed block.
   */
  blockFind(block: Uint8Array, key: Uint8Array): number;
  /** Index of the first entry whose key is >= target (entry count when none). */
  blockSeek(block: Uint8Array, target: Uint8Array): number;
  /** Every entry of the block, in order. Throws on a malformed block. */
  blockDecode(block: Uint8Array): DecodedBlock;
  /**
   * Every entry of the block, checked as by blockDecode, written into the caller's arrays with no
   * allocation: the keys one after another into `keys`, and offsets[3i..3i+3] = [end of key i in
   * keys, start of value i in the block, end of value i in the block] (values are not copied).
   * `offsets` must hold 3 per entry: block.length u32s always do. Returns the entry count, or
   * -needed when `keys` is shorter than the `needed` bytes the keys take (call again with more).
   * The three arrays must not share memory. Throws on a malformed block.
   */
  blockEntries(block: Uint8Array, keys: Uint8Array, offsets: Uint32Array): number;
  /**
   * Writes fd's dirty pages in [offset, offset + bytes) to the disk and waits (Linux
   * sync_file_range WRITE | WAIT_AFTER): pacing, not durability (no metadata, no device cache
   * flush). False where the platform has no such call. RKV_ERR_IO when the system call fails.
   */
  syncFileRange(fd: number, offset: number, bytes: number): boolean;
  /**
   * Takes an exclusive lock on the whole file open as fd without waiting (flock LOCK_EX |
   * LOCK_NB): true when fd holds it, false when another open of the file does (in this process or
   * another). Released when that open's last descriptor closes, process death included.
   * RKV_ERR_IO when the system call fails.
   */
  lockFile(fd: number): boolean;
}

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && fs.existsSync(path.join(dir, 'Cargo.toml'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new RingkvError(ErrorCode.NativeUnavailable, `cannot find the ringkv package root above ${start}`);
    dir = parent;
  }
}

function platformSuffix(): string {
  const abi = process.platform === 'linux' ? (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } })?.header?.glibcVersionRuntime ? '-gnu' : '-musl' : '';
  return `${process.platform}-${process.arch}${abi}`;
}

function load(): NativeAddon {
  const file = path.join(findPackageRoot(__dirname), 'native', `ringkv.${platformSuffix()}.node`);
  if (!fs.existsSync(file)) {
    throw new RingkvError(ErrorCode.NativeUnavailable, `native addon not built: ${file} is missing; run \`npm run build\``);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as NativeAddon;
}

export const native: NativeAddon = load();

// ---------------------------------------------------------------------------------------------
// Typed convenience wrappers. These are what other modules call: defaults for the common
// arguments, arrays of items packed into one buffer for the batched forms, and the addon's
// errors (plain Errors with an RKV_ERR_* `code`) rethrown as RingkvError with the same code.

const knownCodes: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** errno number → its name (28 → 'ENOSPC'). */
const errnoNames: ReadonlyMap<number, string> = new Map(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));

/**
 * Rethrows an addon error as a RingkvError (same code, original as cause); anything else as is.
 * A failed system call's message ends as Rust's io::Error says it, "(os error N)": its errno's
 * name goes in `details.errno`, as Node's own I/O errors carry it, so that a full disk met here
 * reads as one (space-watch.ts isNoSpaceError) and not as a failure for good.
 */
function rethrow(err: unknown): never {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && typeof code === 'string' && knownCodes.has(code)) {
    const errno = code === ErrorCode.Io ? /\(os error (\d+)\)/.exec(err.message) : null;
    const name = errno === null ? undefined : errnoNames.get(Number(errno[1]));
    throw new RingkvError(code as ErrorCode, err.message, { cause: err, ...(name !== undefined && { details: { errno: name } }) });
  }
  throw err;
}

/** Items packed for a batched call: item i is data[offsets[i]..offsets[i+1]). */
export interface PackedBatch {
  data: Uint8Array;
  offsets: Uint32Array;
}

/** Packs byte strings into one buffer plus n+1 offsets, the form every batched native call takes. */
export function packBatch(items: readonly Uint8Array[]): PackedBatch {
  let total = 0;
  for (const item of items) total += item.length;
  if (total > 0xffff_ffff) {
    throw new RingkvError(ErrorCode.InvalidArgument, `a batch of ${total} bytes does not fit 32-bit offsets`);
  }
  const data = Buffer.allocUnsafe(total);
  const offsets = new Uint32Array(items.length + 1);
  let at = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    data.set(item, at);
    at += item.length;
    offsets[i + 1] = at;
  }
  return { data, offsets };
}

/** CRC-32C of data, extending the finished CRC `crc` of what came before (0 to start). */
export function crc32c(data: Uint8Array, crc = 0): number {
  try {
    return native.crc32c(data, crc);
  } catch (err) {
    return rethrow(err);
  }
}

/** CRC-32C of each item (each from 0). */
export function crc32cBatch(items: readonly Uint8Array[]): Uint32Array {
  const { data, offsets } = packBatch(items);
  try {
    return native.crc32cBatch(data, offsets);
  } catch (err) {
    return rethrow(err);
  }
}

/** XXH64 of data as an unsigned 64-bit bigint. */
export function xxhash64(data: Uint8Array, seed = 0n): bigint {
  try {
    return native.xxhash64(data, seed);
  } catch (err) {
    return rethrow(err);
  }
}

export function xxhash64Batch(items: readonly Uint8Array[], seed = 0n): BigUint64Array {
  const { data, offsets } = packBatch(items);
  try {
    return native.xxhash64Batch(data, offsets, seed);
  } catch (err) {
    return rethrow(err);
  }
}

/** The token of a key on the ring and in the storage order: XXH64 with seed 0, unsigned. */
export function keyToken(key: Uint8Array): bigint {
  return xxhash64(key, 0n);
}

/** keyToken of each key, in one native call. */
export function keyTokens(keys: readonly Uint8Array[]): BigUint64Array {
  return xxhash64Batch(keys, 0n);
}

/** A serialized bloom filter over keys (byte format: native/src/bloom.rs). bitsPerKey in 1..32. */
export function bloomBuild(keys: readonly Uint8Array[], bitsPerKey: number = bloomBitsPerKeyDefault): Buffer {
  const { data, offsets } = packBatch(keys);
  try {
    return native.bloomBuild(data, offsets, bitsPerKey);
  } catch (err) {
    return rethrow(err);
  }
}

/** False only when key is certainly not in the filter. Throws RKV_ERR_CORRUPTION on a bad filter. */
export function bloomMayContain(filter: Uint8Array, key: Uint8Array): boolean {
  try {
    return native.bloomMayContain(filter, key);
  } catch (err) {
    return rethrow(err);
  }
}

/** One byte per key: 1 = may contain, 0 = definitely absent. */
export function bloomMayContainBatch(filter: Uint8Array, keys: readonly Uint8Array[]): Uint8Array {
  const { data, offsets } = packBatch(keys);
  try {
    return native.bloomMayContainBatch(filter, data, offsets);
  } catch (err) {
    return rethrow(err);
  }
}

/**
 * Encodes one SSTable data block (layout: native/src/block.rs). keys must be strictly increasing
 * bytewise, else RKV_ERR_INVALID_ARGUMENT; keys[i] maps to values[i].
 */
export function blockBuild(
  keys: readonly Uint8Array[],
  values: readonly Uint8Array[],
  restartInterval: number = sstableBlockRestartInterval,
): Buffer {
  if (keys.length !== values.length) {
    throw new RingkvError(ErrorCode.InvalidArgument, `blockBuild: ${keys.length} keys but ${values.length} values`);
  }
  const k = packBatch(keys);
  const v = packBatch(values);
  try {
    return native.blockBuild(k.data, k.offsets, v.data, v.offsets, restartInterval);
  } catch (err) {
    return rethrow(err);
  }
}

/** The value stored under exactly key (a copy), or null. RKV_ERR_CORRUPTION on a malformed block. */
export function blockGet(block: Uint8Array, key: Uint8Array): Buffer | null {
  try {
    return native.blockGet(block, key);
  } catch (err) {
    return rethrow(err);
  }
}

/** The byte range [start, end) of the value stored under exactly key, or null. RKV_ERR_CORRUPTION on a malformed block. */
export function blockFind(block: Uint8Array, key: Uint8Array): { start: number; end: number } | null {
  let r: number;
  try {
    r = native.blockFind(block, key);
  } catch (err) {
    return rethrow(err);
  }
  return r < 0 ? null : { start: blockFindStart(r), end: blockFindStart(r) + blockFindLength(r) };
}

/** The value's start offset in a non-negative blockFind answer. */
export function blockFindStart(answer: number): number {
  return answer % 0x1_0000_0000;
}

/** The value's length in a non-negative blockFind answer. */
export function blockFindLength(answer: number): number {
  return Math.floor(answer / 0x1_0000_0000);
}

/** Index of the first entry whose key is >= target (the entry count when none). */
export function blockSeek(block: Uint8Array, target: Uint8Array): number {
  try {
    return native.blockSeek(block, target);
  } catch (err) {
    return rethrow(err);
  }
}

/** Every entry of the block as columns. RKV_ERR_CORRUPTION on a malformed block. */
export function blockDecode(block: Uint8Array): DecodedBlock {
  try {
    return native.blockDecode(block);
  } catch (err) {
    return rethrow(err);
  }
}

/**
 * Writes a file's dirty pages in one range out to the disk and waits for them (native/src/
 * writeback.rs says why); false where unsupported. RKV_ERR_IO when the system call fails.
 */
export function syncFileRange(fd: number, offset: number, bytes: number): boolean {
  try {
    return native.syncFileRange(fd, offset, bytes);
  } catch (err) {
    return rethrow(err);
  }
}

/**
 * Locks the whole file open as fd for this open alone, without waiting (native/src/file_lock.rs
 * says why flock); false when someone else holds it. RKV_ERR_IO when the system call fails.
 */
export function lockFile(fd: number): boolean {
  try {
    return native.lockFile(fd);
  } catch (err) {
    return rethrow(err);
  }
}
