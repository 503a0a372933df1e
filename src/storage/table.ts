// An open SSTable (LevelDB's table/table.cc): the file descriptor plus the small blocks every read
// needs (index decoded into arrays, bloom filter, meta), all CRC-checked when opened. Data blocks
// are read with synchronous pread on the shard's own thread (see StorageEngine.getSync) and
// verified before use; a bad block throws RKV_ERR_CORRUPTION naming the file and block offset,
// never returns data. Point reads pread into the block cache's arena and locate the value in
// place (blockFind); compaction, on the background thread, opens its own Table objects on the
// same immutable files and reads them through readahead windows (readBlockAhead).
import * as fs from 'node:fs';
import { blockFindLength, blockFindStart, native } from '../native';
import { assert } from '../errors';
import { BlockCache } from './block-cache';
import { payloadProblem } from './entry';
import { tokenBytes } from './sort-key';
import {
  blockTrailerBytes,
  checkBlock,
  decodeFooter,
  decodeHandle,
  decodeMeta,
  footerBytes,
  tableCorruption,
  type BlockHandle,
  type TableMeta,
} from './table-format';

function preadExact(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.allocUnsafeSlow(length);
  const done = preadInto(fd, buf, length, position);
  return done === length ? buf : buf.subarray(0, done);
}

/** Reads up to length bytes at position into buf[0..); returns the count (short only at EOF). */
function preadInto(fd: number, buf: Buffer, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * A window of consecutive data blocks read with one pread, for readers that go through a table
 * front to back (compaction): one system call per window instead of one per 4 KiB block. Blocks
 * returned from it are views into `buf`, valid until the next read through the same window.
 */
export class Readahead {
  buf: Buffer;
  /** File offsets [start, end) held in buf[0 .. end - start). */
  start = 0;
  end = 0;
  bytesRead = 0;
  constructor(readonly windowBytes: number) {
    assert(windowBytes >= 4096, 'readahead window under one block');
    this.buf = Buffer.allocUnsafeSlow(windowBytes);
  }

  /** Forgets the window, so the buffer can serve another table (offsets are per file). */
  reset(): void {
    this.start = 0;
    this.end = 0;
  }
}

export class Table {
  private constructor(
    readonly file: string,
    readonly number: number,
    private fd: number,
    readonly fileBytes: number,
    readonly meta: TableMeta,
    private readonly filter: Buffer,
    /** Last sort key of each data block, ascending. */
    readonly indexKeys: Buffer[],
    readonly indexHandles: BlockHandle[],
    /** Where the data blocks end (the filter block starts). */
    private readonly dataEnd: number,
    /** Token halves of each index key: [2i] high, [2i + 1] low (the sort key's first 8 bytes). */
    private readonly indexTokens: Uint32Array,
    /** Memory the open table keeps outside the V8 heap: its filter block and decoded index. */
    readonly heldBytes: number,
  ) {}

  static open(file: string, number: number): Table {
    const fd = fs.openSync(file, 'r');
    try {
      const fileBytes = fs.fstatSync(fd).size;
      const footer = decodeFooter(file, fileBytes, preadExact(fd, Math.min(footerBytes, fileBytes), Math.max(0, fileBytes - footerBytes)));
      const read = (h: BlockHandle, what: string): Buffer => checkBlock(file, h, preadExact(fd, h.size + blockTrailerBytes, h.offset), what);
      const meta = decodeMeta(file, footer.meta.offset, read(footer.meta, 'meta block'));
      const filter = read(footer.filter, 'filter block');
      const indexBlock = read(footer.index, 'index block');
      let decoded;
      try {
        decoded = native.blockDecode(indexBlock);
      } catch (err) {
        throw tableCorruption(file, footer.index.offset, `index block malformed: ${(err as Error).message}`);
      }
      const n = decoded.keyOffsets.length - 1;
      const indexKeys: Buffer[] = [];
      const indexHandles: BlockHandle[] = [];
      for (let i = 0; i < n; i++) {
        indexKeys.push(decoded.keys.subarray(decoded.keyOffsets[i]!, decoded.keyOffsets[i + 1]!));
        const h = decoded.valueOffsets[i + 1]! - decoded.valueOffsets[i]! === 12 ? decodeHandle(decoded.values, decoded.valueOffsets[i]!) : null;
        if (h === null || h.offset + h.size + blockTrailerBytes > footer.filter.offset) {
          throw tableCorruption(file, footer.index.offset, `index entry ${i} holds a bad block handle`);
        }
        indexHandles.push(h);
      }
      if (n !== meta.dataBlockCount) throw tableCorruption(file, footer.index.offset, `index lists ${n} blocks, meta says ${meta.dataBlockCount}`);
      const indexTokens = new Uint32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const k = indexKeys[i]!;
        if (k.length <= tokenBytes) throw tableCorruption(file, footer.index.offset, `index entry ${i} holds a key of ${k.length} bytes, shorter than a sort key`);
        indexTokens[2 * i] = k.readUInt32BE(0);
        indexTokens[2 * i + 1] = k.readUInt32BE(4);
      }
      const heldBytes = filter.byteLength + decoded.keys.byteLength + indexTokens.byteLength;
      return new Table(file, number, fd, fileBytes, meta, filter, indexKeys, indexHandles, footer.filter.offset, indexTokens, heldBytes);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  /** Index of the first data block whose last key is >= sk (block count when none). */
  findBlock(sk: Buffer): number {
    // Compare the tokens as two u32 numbers first (no call per step); bytes only on a tie.
    const t0 = sk.readUInt32BE(0);
    const t1 = sk.readUInt32BE(4);
    const hi = this.indexTokens;
    let lo = 0;
    let n = this.indexKeys.length;
    while (lo < n) {
      const mid = (lo + n) >>> 1;
      const a = hi[2 * mid]!;
      const b = hi[2 * mid + 1]!;
      const before = a !== t0 ? a < t0 : b !== t1 ? b < t1 : this.indexKeys[mid]!.compare(sk) < 0;
      if (before) lo = mid + 1;
      else n = mid;
    }
    return lo;
  }

  /**
   * The verified contents of data block i, through the cache when given one: a miss is read
   * straight into the cache's arena and kept only if it checks out. The result may be a view
   * into the cache, valid until the cache's next read (see block-cache.ts): use it at once.
   */
  readBlock(i: number, cache: BlockCache | null): Buffer {
    const h = this.indexHandles[i]!;
    const need = h.size + blockTrailerBytes;
    if (cache === null) return checkBlock(this.file, h, preadExact(this.fd, need, h.offset), 'data block');
    const cached = cache.get(this.number, h.offset);
    if (cached !== undefined) return cached;
    const room = cache.reserve(this.number, h.offset, need);
    if (room === null) return checkBlock(this.file, h, preadExact(this.fd, need, h.offset), 'data block');
    const n = preadInto(this.fd, room, need, h.offset);
    const block = checkBlock(this.file, h, room.subarray(0, n), 'data block');
    cache.commit(h.size);
    return block;
  }

  /** The verified contents of data block i, read through a readahead window (no cache). */
  readBlockAhead(i: number, ra: Readahead): Buffer {
    const h = this.indexHandles[i]!;
    const need = h.size + blockTrailerBytes;
    if (h.offset < ra.start || h.offset + need > ra.end) {
      const len = Math.max(need, Math.min(ra.windowBytes, this.dataEnd - h.offset));
      if (ra.buf.length < len) ra.buf = Buffer.allocUnsafeSlow(len);
      const n = preadInto(this.fd, ra.buf, len, h.offset);
      ra.start = h.offset;
      ra.end = h.offset + n;
      ra.bytesRead += n;
    }
    const at = h.offset - ra.start;
    return checkBlock(this.file, h, ra.buf.subarray(at, Math.min(at + need, ra.end - ra.start)), 'data block');
  }

  /**
   * Puts data blocks `from`, `from + 1`, ... into `cache`, verified, read through `ra` (one
   * pread a window, not one a block), until the last block or until `stop()` says so; returns
   * the index of the first block not done. For a table the cache has never seen (a flush's
   * output): blocks already cached would only be copied over themselves.
   */
  warmBlocks(cache: BlockCache, ra: Readahead, from: number, stop: () => boolean): number {
    let i = from;
    for (; i < this.indexHandles.length && !stop(); i++) {
      const h = this.indexHandles[i]!;
      const block = this.readBlockAhead(i, ra);
      const room = cache.reserve(this.number, h.offset, h.size);
      if (room === null) continue;
      block.copy(room);
      cache.commit();
    }
    return i;
  }

  get blockCount(): number {
    return this.indexHandles.length;
  }

  /**
   * The payload stored under sk (whose user key is `key`) here, or null; throws corruption on a
   * damaged block. The payload is a view into the block, which may live in the block cache:
   * valid only until the next block read through that cache (decode or copy it at once).
   */
  get(sk: Buffer, key: Uint8Array, cache: BlockCache): Buffer | null {
    if (!native.bloomMayContain(this.filter, key)) return null;
    const i = this.findBlock(sk);
    if (i >= this.indexKeys.length) return null;
    const block = this.readBlock(i, cache);
    let at: number;
    try {
      at = native.blockFind(block, sk);
    } catch (err) {
      throw tableCorruption(this.file, this.indexHandles[i]!.offset, `data block malformed: ${(err as Error).message}`);
    }
    if (at < 0) return null;
    const start = blockFindStart(at);
    const p = block.subarray(start, start + blockFindLength(at));
    const problem = payloadProblem(p);
    if (problem) throw tableCorruption(this.file, this.indexHandles[i]!.offset, `data block entry malformed: ${problem}`);
    return p;
  }
}
