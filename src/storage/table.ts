// An open SSTable (LevelDB's table/table.cc): the file descriptor plus the small blocks every read
// needs (index decoded into arrays, bloom filter, meta), all CRC-checked when opened. Data blocks
// are read with synchronous pread on the shard's own thread (see StorageEngine.getSync) and
// verified before use; a bad block throws RKV_ERR_CORRUPTION naming the file and block offset,
// never returns data.
import * as fs from 'node:fs';
import { native } from '../native';
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
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buf : buf.subarray(0, done);
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
      return new Table(file, number, fd, fileBytes, meta, filter, indexKeys, indexHandles);
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
    let lo = 0;
    let hi = this.indexKeys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.indexKeys[mid]!.compare(sk) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The verified contents of data block i, through the cache when given one. */
  readBlock(i: number, cache: BlockCache | null): Buffer {
    const h = this.indexHandles[i]!;
    const key = BlockCache.keyOf(this.number, h.offset);
    const cached = cache?.get(key);
    if (cached !== undefined) return cached;
    const block = checkBlock(this.file, h, preadExact(this.fd, h.size + blockTrailerBytes, h.offset), 'data block');
    cache?.insert(key, block);
    return block;
  }

  /** The payload stored under sk here, or null; throws corruption on a damaged block. */
  get(sk: Buffer, cache: BlockCache): Buffer | null {
    if (!native.bloomMayContain(this.filter, sk.subarray(tokenBytes))) return null;
    const i = this.findBlock(sk);
    if (i >= this.indexKeys.length) return null;
    const block = this.readBlock(i, cache);
    let p: Buffer | null;
    try {
      p = native.blockGet(block, sk);
    } catch (err) {
      throw tableCorruption(this.file, this.indexHandles[i]!.offset, `data block malformed: ${(err as Error).message}`);
    }
    if (p !== null) {
      const problem = payloadProblem(p);
      if (problem) throw tableCorruption(this.file, this.indexHandles[i]!.offset, `data block entry malformed: ${problem}`);
    }
    return p;
  }
}
