// The only module that loads the Rust addon (native/ringkv.<platform>-<arch>-<abi>.node, built by
// `napi build --platform`). Everything else imports these typed wrappers; nothing else requires
// the .node file. Byte layouts live beside the Rust code (native/src) and in docs/.
import * as fs from 'node:fs';
import * as path from 'node:path';
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
  /** Index of the first entry whose key is >= target (entry count when none). */
  blockSeek(block: Uint8Array, target: Uint8Array): number;
  /** Every entry of the block, in order. Throws on a malformed block. */
  blockDecode(block: Uint8Array): DecodedBlock;
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
