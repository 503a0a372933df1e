// Writes one SSTable from sort-key-ordered (sk, payload) pairs (LevelDB's table/table_builder).
// REQUIRES: add() is called with strictly increasing sort keys. Data blocks are cut at about
// sstableBlockBytesTarget and encoded by the addon; the bloom filter covers the user keys (the
// sort key without its 8-byte token prefix). Output is buffered and written in large chunks with
// synchronous writes (page cache), and fsync'ed once, asynchronously, in finish().
import * as fs from 'node:fs';
import { sstableBlockBytesTarget, sstableBlockRestartInterval } from '../constants';
import { assert } from '../errors';
import { native } from '../native';
import { payloadIsTombstone, payloadTimestampMs } from './entry';
import { tokenBytes } from './sort-key';
import { blockHandleBytes, blockTrailer, encodeFooter, encodeHandle, encodeMeta, type BlockHandle, type TableMeta } from './table-format';

const writeChunkBytes = 256 * 1024;

export interface BuiltTable {
  number: number;
  fileBytes: number;
  meta: TableMeta;
}

class BlockAccumulator {
  keys: Buffer[] = [];
  values: Buffer[] = [];
  bytes = 0;
  build(): Buffer {
    const n = this.keys.length;
    const keyOffsets = new Uint32Array(n + 1);
    const valueOffsets = new Uint32Array(n + 1);
    for (let i = 0; i < n; i++) {
      keyOffsets[i + 1] = keyOffsets[i]! + this.keys[i]!.length;
      valueOffsets[i + 1] = valueOffsets[i]! + this.values[i]!.length;
    }
    const block = native.blockBuild(Buffer.concat(this.keys), keyOffsets, Buffer.concat(this.values), valueOffsets, sstableBlockRestartInterval);
    this.keys = [];
    this.values = [];
    this.bytes = 0;
    return block;
  }
}

export class TableBuilder {
  private readonly fd: number;
  private offset = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly data = new BlockAccumulator();
  private readonly index = new BlockAccumulator();
  private readonly bloomKeys: Buffer[] = [];
  private last: Buffer | null = null;
  private smallest: Buffer | null = null;
  private entryCount = 0;
  private tombstoneCount = 0;
  private minTs = Number.MAX_SAFE_INTEGER;
  private maxTs = 0;
  private dataBlocks = 0;
  private finished = false;

  constructor(
    readonly path: string,
    readonly number: number,
    private readonly bloomBitsPerKey: number,
  ) {
    this.fd = fs.openSync(path, 'w');
  }

  /** Bytes the file will have so far (written + buffered + the open block). */
  get estimatedBytes(): number {
    return this.offset + this.pendingBytes + this.data.bytes;
  }

  get entries(): number {
    return this.entryCount;
  }

  add(sk: Buffer, payload: Buffer): void {
    assert(!this.finished, 'add after finish');
    assert(this.last === null || this.last.compare(sk) < 0, 'table keys must be strictly increasing');
    if (this.smallest === null) this.smallest = sk;
    this.last = sk;
    this.data.keys.push(sk);
    this.data.values.push(payload);
    this.data.bytes += sk.length + payload.length + 3;
    this.bloomKeys.push(sk.subarray(tokenBytes));
    this.entryCount++;
    if (payloadIsTombstone(payload)) this.tombstoneCount++;
    const ts = payloadTimestampMs(payload);
    if (ts < this.minTs) this.minTs = ts;
    if (ts > this.maxTs) this.maxTs = ts;
    if (this.data.bytes >= sstableBlockBytesTarget) this.finishDataBlock();
  }

  private emitBlock(contents: Buffer): BlockHandle {
    const handle = { offset: this.offset + this.pendingBytes, size: contents.length };
    this.pending.push(contents, blockTrailer(contents));
    this.pendingBytes += contents.length + 5;
    if (this.pendingBytes >= writeChunkBytes) this.writePending();
    return handle;
  }

  private finishDataBlock(): void {
    if (this.data.keys.length === 0) return;
    const lastKey = this.last!;
    const handle = this.emitBlock(this.data.build());
    this.index.keys.push(lastKey);
    this.index.values.push(encodeHandle(handle, Buffer.allocUnsafe(blockHandleBytes)));
    this.dataBlocks++;
  }

  private writePending(): void {
    if (this.pendingBytes === 0) return;
    const chunk = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    let done = 0;
    while (done < chunk.length) done += fs.writeSync(this.fd, chunk, done, chunk.length - done, null);
    this.offset += chunk.length;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Writes filter, meta, index and footer, fsyncs and closes. REQUIRES at least one entry. */
  async finish(): Promise<BuiltTable> {
    assert(this.entryCount > 0 && !this.finished, 'finish of an empty or finished table');
    this.finishDataBlock();
    const offs = new Uint32Array(this.bloomKeys.length + 1);
    for (let i = 0; i < this.bloomKeys.length; i++) offs[i + 1] = offs[i]! + this.bloomKeys[i]!.length;
    const filter = this.emitBlock(native.bloomBuild(Buffer.concat(this.bloomKeys), offs, this.bloomBitsPerKey));
    const meta: TableMeta = {
      entryCount: this.entryCount,
      tombstoneCount: this.tombstoneCount,
      minTimestampMs: this.minTs,
      maxTimestampMs: this.maxTs,
      dataBlockCount: this.dataBlocks,
      smallest: Buffer.from(this.smallest!),
      largest: Buffer.from(this.last!),
    };
    const metaHandle = this.emitBlock(encodeMeta(meta));
    const indexHandle = this.emitBlock(this.index.build());
    const footer = encodeFooter({ filter, meta: metaHandle, index: indexHandle });
    this.pending.push(footer);
    this.pendingBytes += footer.length;
    this.writePending();
    this.finished = true;
    await new Promise<void>((resolve, reject) => fs.fsync(this.fd, (err) => (err ? reject(err) : resolve())));
    fs.closeSync(this.fd);
    return { number: this.number, fileBytes: this.offset, meta };
  }

  /** Closes and removes a table that will not be finished (error paths). */
  abandon(): void {
    if (this.finished) return;
    this.finished = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(this.path, { force: true });
  }
}
