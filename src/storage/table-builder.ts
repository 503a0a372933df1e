// Writes one SSTable from sort-key-ordered (sk, payload) pairs (LevelDB's table/table_builder).
// REQUIRES: add() is called with strictly increasing sort keys. Data blocks are cut at about
// sstableBlockBytesTarget and encoded by the addon; the bloom filter covers the user keys (the
// sort key without its 8-byte token prefix). Output is buffered and written in large chunks with
// synchronous writes (page cache), written out to the disk every tableWritebackBytes (so the
// WAL's fdatasyncs never queue behind a whole table) and fsync'ed once, asynchronously, in
// finish(). Tables are built on the engine's background thread (flush.ts, compactor.ts), so these
// synchronous writes never hold up a read or a write of the shard.
import * as fs from 'node:fs';
import { sstableBlockBytesTarget, sstableBlockRestartInterval, tableWritebackBytes } from '../constants';
import { assert } from '../errors';
import { native, syncFileRange } from '../native';
import { payloadIsTombstone, payloadTimestampMs } from './entry';
import { KeySketch } from './key-sketch';
import { tokenBytes } from './sort-key';
import { blockHandleBytes, blockTrailer, blockTrailerBytes, blockTypeRaw, encodeFooter, encodeHandle, encodeMeta, type BlockHandle, type TableMeta } from './table-format';

const writeChunkBytes = 256 * 1024;

export interface BuiltTable {
  number: number;
  fileBytes: number;
  meta: TableMeta;
}

/**
 * Byte strings appended one after another, with count + 1 offsets: the packed form the addon's
 * batched calls take. Grows by doubling and is reused after reset(), so building a block copies
 * each entry once and allocates nothing in the steady state. add() copies: callers may pass
 * views that die right after (a compaction input's decoded block).
 */
class Column {
  private data = Buffer.allocUnsafeSlow(16 * 1024);
  private offsets = new Uint32Array(64);
  count = 0;
  bytes = 0;
  push(b: Uint8Array): void {
    if (this.bytes + b.length > this.data.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.data.length, this.bytes + b.length));
      this.data.copy(grown, 0, 0, this.bytes);
      this.data = grown;
    }
    if (this.count + 2 > this.offsets.length) {
      const grown = new Uint32Array(2 * this.offsets.length);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    this.data.set(b, this.bytes);
    this.bytes += b.length;
    this.offsets[++this.count] = this.bytes;
  }
  get packed(): Buffer {
    return this.data.subarray(0, this.bytes);
  }
  get packedOffsets(): Uint32Array {
    return this.offsets.subarray(0, this.count + 1);
  }
  reset(): void {
    this.count = 0;
    this.bytes = 0;
  }
}

class BlockAccumulator {
  readonly keys = new Column();
  readonly values = new Column();
  /** Estimate of the encoded size (entries plus about 3 bytes of lengths each). */
  bytes = 0;
  add(k: Uint8Array, v: Uint8Array): void {
    this.keys.push(k);
    this.values.push(v);
    this.bytes += k.length + v.length + 3;
  }
  get count(): number {
    return this.keys.count;
  }
  build(): Buffer {
    const block = native.blockBuild(this.keys.packed, this.keys.packedOffsets, this.values.packed, this.values.packedOffsets, sstableBlockRestartInterval);
    this.keys.reset();
    this.values.reset();
    this.bytes = 0;
    return block;
  }
}

export class TableBuilder {
  private readonly fd: number;
  /** Bytes written to the file so far. */
  private offset = 0;
  /** Bytes of the file already written out to the disk (syncFileRange); the rest may be dirty pages. */
  private writtenBack = 0;
  /**
   * Output waiting to be written: whole blocks and trailers, written when the chunk is full. No
   * larger than the write-back step, so each step really is written back when it is reached.
   */
  private readonly out: Buffer;
  private outBytes = 0;
  private readonly data = new BlockAccumulator();
  private readonly index = new BlockAccumulator();
  private readonly bloomKeys = new Column();
  /** Copy of the last key added (input keys may be views that die after add). */
  private last = Buffer.allocUnsafeSlow(512);
  private lastBytes = -1;
  private smallest: Buffer | null = null;
  /** Distinct keys of the table, for the engine's key count estimate (key-sketch.ts). */
  private readonly keys = new KeySketch();
  private entryCount = 0;
  private tombstoneCount = 0;
  private minTs = Number.MAX_SAFE_INTEGER;
  private maxTs = 0;
  private dataBlocks = 0;
  /** open → finishing (footer written, fsync in flight) → done; or abandoned from open/finishing. */
  private state: 'open' | 'finishing' | 'done' | 'abandoned' = 'open';

  constructor(
    readonly path: string,
    readonly number: number,
    private readonly bloomBitsPerKey: number,
    /** Write-back step; 0 = none (the final fsync writes everything). Only the bench sets it. */
    private readonly writebackBytes: number = tableWritebackBytes,
  ) {
    assert(Number.isInteger(writebackBytes) && writebackBytes >= 0, 'writebackBytes must be a non-negative integer');
    this.out = Buffer.allocUnsafeSlow(writebackBytes > 0 ? Math.min(writeChunkBytes, writebackBytes) : writeChunkBytes);
    this.fd = fs.openSync(path, 'w');
  }

  /** Bytes the file will have so far (written + buffered + the open block). */
  get estimatedBytes(): number {
    return this.offset + this.outBytes + this.data.bytes;
  }

  get entries(): number {
    return this.entryCount;
  }

  private lastKey(): Buffer {
    return this.last.subarray(0, this.lastBytes);
  }

  /** Adds an entry; both arguments are copied. REQUIRES: sk greater than every key added before. */
  add(sk: Buffer, payload: Buffer): void {
    assert(this.state === 'open', 'add after finish');
    assert(this.lastBytes < 0 || this.lastKey().compare(sk) < 0, 'table keys must be strictly increasing');
    if (this.smallest === null) this.smallest = Buffer.from(sk);
    if (this.last.length < sk.length) this.last = Buffer.allocUnsafeSlow(2 * sk.length);
    sk.copy(this.last, 0);
    this.lastBytes = sk.length;
    this.data.add(sk, payload);
    this.bloomKeys.push(sk.subarray(tokenBytes));
    this.keys.addSortKey(sk);
    this.entryCount++;
    if (payloadIsTombstone(payload)) this.tombstoneCount++;
    const ts = payloadTimestampMs(payload);
    if (ts < this.minTs) this.minTs = ts;
    if (ts > this.maxTs) this.maxTs = ts;
    if (this.data.bytes >= sstableBlockBytesTarget) this.finishDataBlock();
  }

  /** Queues contents and their trailer for writing; returns the block's handle. */
  private emitBlock(contents: Buffer): BlockHandle {
    const handle = { offset: this.offset + this.outBytes, size: contents.length };
    if (this.outBytes + contents.length + blockTrailerBytes > this.out.length) this.writeOut();
    if (contents.length + blockTrailerBytes > this.out.length) {
      // A block above the chunk size (a large value) goes out directly.
      this.writeAll(contents);
      this.writeAll(blockTrailer(contents));
      return handle;
    }
    contents.copy(this.out, this.outBytes);
    const t = this.outBytes + contents.length;
    this.out[t] = blockTypeRaw;
    this.out.writeUInt32LE(native.crc32c(this.out.subarray(t, t + 1), native.crc32c(contents, 0)) >>> 0, t + 1);
    this.outBytes = t + blockTrailerBytes;
    return handle;
  }

  private finishDataBlock(): void {
    if (this.data.count === 0) return;
    const handle = this.emitBlock(this.data.build());
    this.index.add(this.lastKey(), encodeHandle(handle, this.handleScratch));
    this.dataBlocks++;
  }

  private readonly handleScratch = Buffer.allocUnsafe(blockHandleBytes);

  private writeAll(chunk: Buffer): void {
    let done = 0;
    while (done < chunk.length) done += fs.writeSync(this.fd, chunk, done, chunk.length - done, null);
    this.offset += chunk.length;
    // Chunks end a little short of the buffer (whole blocks): write back once the next one would
    // pass the step, not a chunk later.
    if (this.writebackBytes > 0 && this.offset - this.writtenBack + this.out.length > this.writebackBytes) {
      // A platform without the call keeps its dirty pages for the final fsync, as before.
      if (syncFileRange(this.fd, this.writtenBack, this.offset - this.writtenBack)) this.writtenBack = this.offset;
    }
  }

  /** Bytes of the file written out to the disk ahead of the final fsync. */
  get writtenBackBytes(): number {
    return this.writtenBack;
  }

  private writeOut(): void {
    if (this.outBytes === 0) return;
    this.writeAll(this.out.subarray(0, this.outBytes));
    this.outBytes = 0;
  }

  /**
   * Writes filter, meta, index and footer, fsyncs and closes. REQUIRES at least one entry.
   * Everything up to the fsync happens before the first await, so a caller may start finish(),
   * go on building the next table and await the fsync later. A failed write or fsync (a full
   * disk) abandons the table: its file is closed and removed, so its space is freed even when the
   * caller only learns of it later.
   */
  async finish(): Promise<BuiltTable> {
    assert(this.entryCount > 0 && this.state === 'open', 'finish of an empty or finished table');
    try {
      return await this.finishAndSync();
    } catch (err) {
      this.abandon();
      throw err;
    }
  }

  private async finishAndSync(): Promise<BuiltTable> {
    this.finishDataBlock();
    const filter = this.emitBlock(native.bloomBuild(this.bloomKeys.packed, this.bloomKeys.packedOffsets, this.bloomBitsPerKey));
    const meta: TableMeta = {
      entryCount: this.entryCount,
      tombstoneCount: this.tombstoneCount,
      minTimestampMs: this.minTs,
      maxTimestampMs: this.maxTs,
      dataBlockCount: this.dataBlocks,
      smallest: this.smallest!,
      largest: Buffer.from(this.lastKey()),
      keySketch: this.keys.registers,
    };
    const metaHandle = this.emitBlock(encodeMeta(meta));
    const indexHandle = this.emitBlock(this.index.build());
    const footer = encodeFooter({ filter, meta: metaHandle, index: indexHandle });
    this.writeOut();
    this.writeAll(footer);
    this.state = 'finishing';
    await new Promise<void>((resolve, reject) => fs.fsync(this.fd, (err) => (err ? reject(err) : resolve())));
    if (this.state !== 'finishing') throw new Error(`table ${this.path} abandoned while its fsync ran`);
    this.state = 'done';
    fs.closeSync(this.fd);
    return { number: this.number, fileBytes: this.offset, meta };
  }

  /** Closes and removes a table that will not be finished (error paths); no-op once done. */
  abandon(): void {
    if (this.state === 'done' || this.state === 'abandoned') return;
    this.state = 'abandoned';
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already closed */
    }
    fs.rmSync(this.path, { force: true });
  }
}
