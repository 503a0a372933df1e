// Rewrites a corrupt SSTable without its damaged data blocks, as Cassandra's scrub rewrites an
// sstable skipping the rows it cannot read (and LevelDB's RepairDB does for a whole database):
// the blocks that still check out (CRC, structure, payloads, keys ascending past the last kept
// one) go into a new table; the others are counted and dropped. Nothing is salvaged when the
// footer, meta or index block is damaged: without the index there is no trusted way to find the
// data blocks. Runs on the shard's thread in slices, like the scrub (table-scrub.ts): a table is
// at most a few MiB, and the new table's writes go to the page cache, its one fsync is async.
// The caller installs the new table where the old one stood (db.ts quarantineTable).
import { keyBytesMax } from '../constants';
import { ErrorCode, isRingkvError } from '../errors';
import { nextTurn } from './flush';
import { decodeBlock, newBlockScratch } from './iterators';
import { tokenBytes } from './sort-key';
import { Readahead, Table } from './table';
import { TableBuilder, type BuiltTable } from './table-builder';

/** How long one slice works before it lets the thread answer requests. */
const salvageSliceMs = 2;
const salvageReadaheadBytes = 256 * 1024;

export interface SalvageResult {
  /** The new table, or null when no entry could be kept. */
  table: BuiltTable | null;
  /** Entries kept. */
  entries: number;
  /** Data blocks the table's index names (0 when its footer, meta or index block is damaged). */
  blocks: number;
  /** Data blocks dropped: damaged, or not in key order after the ones kept. */
  blocksLost: number;
}

export interface SalvageTarget {
  file: string;
  number: number;
  bloomBitsPerKey: number;
}

/**
 * Salvages table `src` into `out` (see the header). Throws what is not corruption (an I/O error,
 * a full disk), with `out` removed.
 */
export async function salvageTable(src: { file: string; number: number }, out: SalvageTarget, between: () => Promise<void> = nextTurn): Promise<SalvageResult> {
  let table: Table;
  try {
    table = Table.open(src.file, src.number);
  } catch (err) {
    if (isRingkvError(err, ErrorCode.Corruption)) return { table: null, entries: 0, blocks: 0, blocksLost: 0 };
    throw err;
  }
  let builder: TableBuilder | null = null;
  try {
    const ra = new Readahead(salvageReadaheadBytes);
    const s = newBlockScratch();
    // The last key kept, in one buffer of the largest sort key (decoded keys are views).
    const previous = Buffer.allocUnsafeSlow(tokenBytes + keyBytesMax);
    let previousBytes = -1;
    let entries = 0;
    let blocksLost = 0;
    let sliceEndMs = performance.now() + salvageSliceMs;
    for (let b = 0; b < table.blockCount; b++) {
      if (performance.now() >= sliceEndMs) {
        await between();
        sliceEndMs = performance.now() + salvageSliceMs;
      }
      let block: Buffer;
      let n: number;
      try {
        block = table.readBlockAhead(b, ra);
        n = decodeBlock(src.file, table.indexHandles[b]!.offset, block, s);
      } catch (err) {
        if (!isRingkvError(err, ErrorCode.Corruption)) throw err;
        blocksLost++;
        continue;
      }
      const keyAt = (j: number): Buffer => s.keys.subarray(j === 0 ? 0 : s.offsets[3 * j - 3]!, s.offsets[3 * j]!);
      // A block whose checksum holds was written as it reads; its keys are still checked, since
      // the builder requires them ascending and a wrong key would be a silent misplacement.
      let ordered = n > 0;
      for (let j = 0; j < n && ordered; j++) {
        const k = keyAt(j);
        const after = j === 0 ? previousBytes < 0 || previous.compare(k, 0, k.length, 0, previousBytes) < 0 : keyAt(j - 1).compare(k) < 0;
        ordered = k.length > tokenBytes && k.length <= previous.length && after;
      }
      if (!ordered) {
        blocksLost++;
        continue;
      }
      builder ??= new TableBuilder(out.file, out.number, out.bloomBitsPerKey);
      for (let j = 0; j < n; j++) builder.add(keyAt(j), block.subarray(s.offsets[3 * j + 1]!, s.offsets[3 * j + 2]!));
      const last = keyAt(n - 1);
      last.copy(previous);
      previousBytes = last.length;
      entries += n;
    }
    const built = builder === null ? null : await builder.finish();
    return { table: built, entries, blocks: table.blockCount, blocksLost };
  } catch (err) {
    builder?.abandon();
    throw err;
  } finally {
    table.close();
  }
}

/** What was kept of a quarantined table, for logs: "990 salvaged, 1 block(s) lost", or why none was. */
export function salvageNote(q: { salvagedEntries: number; blocksLost: number | null }): string {
  return q.blocksLost === null ? 'none salvaged: its index is unreadable' : `${q.salvagedEntries} salvaged, ${q.blocksLost} block(s) lost`;
}
