// Rewrites one SSTable into a new one, block by block, for the two jobs that change a table in
// place rather than merge it with others (db.ts installs the result where the old table stood):
// - salvage (Cassandra's scrub, LevelDB's RepairDB for one table): the data blocks that still
//   check out (CRC, structure, payloads, keys ascending past the last block kept) are kept, the
//   others counted and dropped. When the footer, meta or index block is damaged the data blocks
//   are found without the index (scanDataBlocks): they lie back to back from offset 0, each with
//   its trailer, so from a block's start the first end where the contents have a block's shape
//   and the trailer's CRC holds is its end. A damaged block ends that scan (where the next one
//   starts is unknown), so the blocks after it are lost, their number unknown;
// - cleanup (Cassandra's nodetool cleanup): only the entries `keep` accepts are kept (the key
//   ranges this node still replicates), and damage is an error, not something to skip.
// Runs on the shard's thread in slices, like the scrub (table-scrub.ts): a table is at most a few
// MiB (a level-0 table, the memtable's size), and the new table's writes go to the page cache,
// its one fsync is async. A scan reads the whole table into memory first.
import * as fs from 'node:fs';
import { keyBytesMax, siblingsMax, sstableBlockBytesTarget, valueBytesMax, versionVectorBytesMax } from '../constants';
import { ErrorCode, isRingkvError } from '../errors';
import { nextTurn } from './flush';
import { decodeBlock, newBlockScratch } from './iterators';
import { tokenBytes } from './sort-key';
import { Readahead, Table } from './table';
import { blockTrailerBytes, blockTypeRaw, decodeFooter, footerBytes, trailerChecks } from './table-format';
import { TableBuilder, type BuiltTable } from './table-builder';

/** How long one slice works before it lets the thread answer requests. */
const rewriteSliceMs = 2;
const rewriteReadaheadBytes = 256 * 1024;
/**
 * No data block is longer: it is cut once its entries pass the target, so it holds at most the
 * target plus one entry, and an entry at most a key and a full sibling set (a loose bound). A scan
 * gives up on a block that has not ended by then, so a damaged one costs at most this much work.
 */
const dataBlockBytesMax = sstableBlockBytesTarget + 64 * 1024 + keyBytesMax + siblingsMax * (valueBytesMax + versionVectorBytesMax);

export interface RewriteResult {
  /** The new table, or null when no entry was kept. */
  table: BuiltTable | null;
  /** Entries kept. */
  entries: number;
  /** Entries `keep` turned away. */
  dropped: number;
  /** Data blocks the table's index names, or, when the index is unreadable, those a scan found. */
  blocks: number;
  /**
   * Data blocks dropped as damaged, or not in key order after the ones kept (salvage only); null
   * when a scan stopped before the end of the data (a damaged block, or with the footer damaged
   * too the end of the data is unknown), so how many blocks were left is unknown.
   */
  blocksLost: number | null;
}

export interface RewriteTarget {
  file: string;
  number: number;
  bloomBitsPerKey: number;
}

export interface RewriteOptions {
  /** Skip damaged blocks (salvage) rather than fail with the corruption (cleanup). */
  salvage: boolean;
  /** Which entries to keep, by sort key and payload (views: copy them to keep them); all when absent. */
  keep?: (sk: Buffer, payload: Buffer) => boolean;
}

/**
 * Rewrites table `src` into `out` (see the header). Throws what it does not skip (any error of
 * a cleanup, an I/O error or a full disk of a salvage), with `out` removed.
 */
export async function rewriteTable(src: { file: string; number: number }, out: RewriteTarget, o: RewriteOptions, between: () => Promise<void> = nextTurn): Promise<RewriteResult> {
  let table: Table | null = null;
  let scan: Buffer | null = null;
  try {
    table = Table.open(src.file, src.number);
  } catch (err) {
    if (!o.salvage || !isRingkvError(err, ErrorCode.Corruption)) throw err;
    scan = fs.readFileSync(src.file);
  }
  // Assigned in take(), which the compiler's narrowing does not follow.
  let builder = null as TableBuilder | null;
  try {
    const s = newBlockScratch();
    // The last key kept, in one buffer of the largest sort key (decoded keys are views).
    const previous = Buffer.allocUnsafeSlow(tokenBytes + keyBytesMax);
    let previousBytes = -1;
    let entries = 0;
    let dropped = 0;
    let blocksLost = 0;
    let sliceEndMs = performance.now() + rewriteSliceMs;
    const pace = async (): Promise<void> => {
      if (performance.now() >= sliceEndMs) {
        await between();
        sliceEndMs = performance.now() + rewriteSliceMs;
      }
    };
    /** Keeps what `block` (at file offset `offset`) holds; false when it is damaged (salvage only). */
    const take = (block: Buffer, offset: number): boolean => {
      let n: number;
      try {
        n = decodeBlock(src.file, offset, block, s);
      } catch (err) {
        if (!o.salvage || !isRingkvError(err, ErrorCode.Corruption)) throw err;
        return false;
      }
      const keyAt = (j: number): Buffer => s.keys.subarray(j === 0 ? 0 : s.offsets[3 * j - 3]!, s.offsets[3 * j]!);
      if (o.salvage) {
        // A block whose checksum holds was written as it reads; its keys are still checked, since
        // the builder requires them ascending and a wrong key would be a silent misplacement.
        let ordered = n > 0;
        for (let j = 0; j < n && ordered; j++) {
          const k = keyAt(j);
          const after = j === 0 ? previousBytes < 0 || previous.compare(k, 0, k.length, 0, previousBytes) < 0 : keyAt(j - 1).compare(k) < 0;
          ordered = k.length > tokenBytes && k.length <= previous.length && after;
        }
        if (!ordered) return false;
      }
      let last: Buffer | null = null;
      for (let j = 0; j < n; j++) {
        const k = keyAt(j);
        const payload = block.subarray(s.offsets[3 * j + 1]!, s.offsets[3 * j + 2]!);
        if (o.keep !== undefined && !o.keep(k, payload)) {
          dropped++;
          continue;
        }
        builder ??= new TableBuilder(out.file, out.number, out.bloomBitsPerKey);
        builder.add(k, payload);
        entries++;
        last = k;
      }
      if (last !== null) {
        last.copy(previous);
        previousBytes = last.length;
      }
      return true;
    };
    let blocks: number;
    let complete = true;
    if (table !== null) {
      const ra = new Readahead(rewriteReadaheadBytes);
      blocks = table.blockCount;
      for (let b = 0; b < table.blockCount; b++) {
        await pace();
        let block: Buffer;
        try {
          block = table.readBlockAhead(b, ra);
        } catch (err) {
          if (!o.salvage || !isRingkvError(err, ErrorCode.Corruption)) throw err;
          blocksLost++;
          continue;
        }
        if (!take(block, table.indexHandles[b]!.offset)) blocksLost++;
      }
    } else {
      blocks = 0;
      const dataEnd = dataEndOf(src.file, scan!);
      const found = scanDataBlocks(scan!, dataEnd.offset);
      let next = found.next();
      for (; !next.done; next = found.next()) {
        await pace();
        if (take(next.value.contents, next.value.offset)) blocks++;
        // Without the footer the scan may run on into the index block, which does not decode as
        // a data block: the first block that does not is taken as the end.
        else if (!dataEnd.known) break;
        else {
          blocks++;
          blocksLost++;
        }
      }
      complete = next.done === true ? next.value : true;
    }
    const built = builder === null ? null : await builder.finish();
    return { table: built, entries, dropped, blocks, blocksLost: complete ? blocksLost : null };
  } catch (err) {
    builder?.abandon();
    throw err;
  } finally {
    table?.close();
  }
}

/** Where a table's data blocks end: its filter block's offset if the footer reads (`known`), else the footer's start. */
function dataEndOf(file: string, bytes: Buffer): { offset: number; known: boolean } {
  const at = Math.max(0, bytes.length - footerBytes);
  try {
    return { offset: decodeFooter(file, bytes.length, bytes.subarray(at)).filter.offset, known: true };
  } catch {
    return { offset: at, known: false };
  }
}

/**
 * The blocks in bytes[0, dataEnd), found without the index (see the header): yields each block's
 * contents and offset; returns true when the blocks found cover the range, false when the scan
 * stopped at a block it could not find the end of: a damaged one or, when the footer is damaged
 * too and dataEnd is only the footer's start, the filter block (not in the data blocks' format).
 */
export function* scanDataBlocks(bytes: Buffer, dataEnd: number): Generator<{ offset: number; contents: Buffer }, boolean> {
  let start = 0;
  while (start < dataEnd) {
    const end = blockEnd(bytes, start, dataEnd);
    if (end < 0) return false;
    yield { offset: start, contents: bytes.subarray(start, end) };
    start = end + blockTrailerBytes;
  }
  return true;
}

/**
 * The end of the block that starts at `start` (where its trailer begins), or -1: the first end
 * at which the contents end in a plausible restart array (entry 0 a restart point at 0, the
 * others ascending inside the entries) and the trailer (type 0, CRC-32C of contents and type)
 * checks. The shape test is cheap and rules out nearly every other end, so few CRCs are computed.
 */
function blockEnd(bytes: Buffer, start: number, dataEnd: number): number {
  const last = Math.min(dataEnd, start + dataBlockBytesMax + blockTrailerBytes);
  for (let end = start + 8; end + blockTrailerBytes <= last; end++) {
    if (bytes[end] !== blockTypeRaw) continue;
    const size = end - start;
    const restarts = bytes.readUInt32LE(end - 4);
    if (restarts < 1 || 4 * (restarts + 1) >= size) continue;
    const array = end - 4 - 4 * restarts;
    if (bytes.readUInt32LE(array) !== 0) continue;
    let ascending = true;
    for (let i = 1; i < restarts && ascending; i++) {
      const r = bytes.readUInt32LE(array + 4 * i);
      ascending = r > bytes.readUInt32LE(array + 4 * i - 4) && r < array - start;
    }
    if (!ascending) continue;
    if (trailerChecks(bytes, start, end)) return end;
  }
  return -1;
}
