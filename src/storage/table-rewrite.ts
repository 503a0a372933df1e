// Rewrites one SSTable into a new one, block by block, for the two jobs that change a table in
// place rather than merge it with others (db.ts installs the result where the old table stood):
// - salvage (Cassandra's scrub, LevelDB's RepairDB for one table): the data blocks that still
//   check out (CRC, structure, payloads, keys ascending past the last block kept) are kept, the
//   others counted and dropped. Nothing is kept when the footer, meta or index block is damaged:
//   without the index there is no trusted way to find the data blocks;
// - cleanup (Cassandra's nodetool cleanup): only the entries `keep` accepts are kept (the key
//   ranges this node still replicates), and damage is an error, not something to skip.
// Runs on the shard's thread in slices, like the scrub (table-scrub.ts): a table is at most a few
// MiB, and the new table's writes go to the page cache, its one fsync is async.
import { keyBytesMax } from '../constants';
import { ErrorCode, isRingkvError } from '../errors';
import { nextTurn } from './flush';
import { decodeBlock, newBlockScratch } from './iterators';
import { tokenBytes } from './sort-key';
import { Readahead, Table } from './table';
import { TableBuilder, type BuiltTable } from './table-builder';

/** How long one slice works before it lets the thread answer requests. */
const rewriteSliceMs = 2;
const rewriteReadaheadBytes = 256 * 1024;

export interface RewriteResult {
  /** The new table, or null when no entry was kept. */
  table: BuiltTable | null;
  /** Entries kept. */
  entries: number;
  /** Entries `keep` turned away. */
  dropped: number;
  /** Data blocks the table's index names (0 when its footer, meta or index block is damaged). */
  blocks: number;
  /** Data blocks dropped as damaged, or not in key order after the ones kept (salvage only). */
  blocksLost: number;
}

export interface RewriteTarget {
  file: string;
  number: number;
  bloomBitsPerKey: number;
}

export interface RewriteOptions {
  /** Skip damaged blocks (salvage) rather than fail with the corruption (cleanup). */
  salvage: boolean;
  /** Which entries to keep, by sort key (a view: copy it to keep it); all when absent. */
  keep?: (sk: Buffer) => boolean;
}

/**
 * Rewrites table `src` into `out` (see the header). Throws what it does not skip (any error of
 * a cleanup, an I/O error or a full disk of a salvage), with `out` removed.
 */
export async function rewriteTable(src: { file: string; number: number }, out: RewriteTarget, o: RewriteOptions, between: () => Promise<void> = nextTurn): Promise<RewriteResult> {
  let table: Table;
  try {
    table = Table.open(src.file, src.number);
  } catch (err) {
    if (o.salvage && isRingkvError(err, ErrorCode.Corruption)) return { table: null, entries: 0, dropped: 0, blocks: 0, blocksLost: 0 };
    throw err;
  }
  let builder: TableBuilder | null = null;
  try {
    const ra = new Readahead(rewriteReadaheadBytes);
    const s = newBlockScratch();
    // The last key kept, in one buffer of the largest sort key (decoded keys are views).
    const previous = Buffer.allocUnsafeSlow(tokenBytes + keyBytesMax);
    let previousBytes = -1;
    let entries = 0;
    let dropped = 0;
    let blocksLost = 0;
    let sliceEndMs = performance.now() + rewriteSliceMs;
    for (let b = 0; b < table.blockCount; b++) {
      if (performance.now() >= sliceEndMs) {
        await between();
        sliceEndMs = performance.now() + rewriteSliceMs;
      }
      let block: Buffer;
      let n: number;
      try {
        block = table.readBlockAhead(b, ra);
        n = decodeBlock(src.file, table.indexHandles[b]!.offset, block, s);
      } catch (err) {
        if (!o.salvage || !isRingkvError(err, ErrorCode.Corruption)) throw err;
        blocksLost++;
        continue;
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
        if (!ordered) {
          blocksLost++;
          continue;
        }
      }
      let last: Buffer | null = null;
      for (let j = 0; j < n; j++) {
        const k = keyAt(j);
        if (o.keep !== undefined && !o.keep(k)) {
          dropped++;
          continue;
        }
        builder ??= new TableBuilder(out.file, out.number, out.bloomBitsPerKey);
        builder.add(k, block.subarray(s.offsets[3 * j + 1]!, s.offsets[3 * j + 2]!));
        entries++;
        last = k;
      }
      if (last !== null) {
        last.copy(previous);
        previousBytes = last.length;
      }
    }
    const built = builder === null ? null : await builder.finish();
    return { table: built, entries, dropped, blocks: table.blockCount, blocksLost };
  } catch (err) {
    builder?.abandon();
    throw err;
  } finally {
    table.close();
  }
}
