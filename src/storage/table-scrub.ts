// Verifies one SSTable end to end, as a scrub does (design.md §12 Q6, "background scrubbing:
// periodically verify checksums"): a fresh open re-reads and checks the footer, meta, index and
// filter blocks (bit rot since the engine opened the file would not show in its open copy), then
// every data block is read through a readahead window and checked (CRC, entry structure, each
// payload), keys must ascend, and what was read must match what the manifest says of the table
// (entry count, smallest and largest key). Runs on the shard's thread in slices of a few
// milliseconds so requests keep being answered; throws RKV_ERR_CORRUPTION naming the file and
// what is wrong.
import { keyBytesMax } from '../constants';
import { ErrorCode, RingkvError } from '../errors';
import { nextTurn } from './flush';
import { TableIterator } from './iterators';
import { Readahead, Table } from './table';
import { tokenBytes } from './sort-key';
import { tableCorruption } from './table-format';

/** How long one slice reads before it lets the thread answer requests. */
const scrubSliceMs = 2;
/** Entries between two looks at the clock. */
const scrubEntriesPerCheck = 256;

export interface ExpectedTable {
  file: string;
  number: number;
  entryCount: number;
  smallest: Buffer;
  largest: Buffer;
}

export interface TableScrubResult {
  entries: number;
  bytesRead: number;
}

/**
 * How long a scrub that has read `bytesRead` in `elapsedMs` waits to keep to `bytesPerSecond`
 * (0: no limit), at most a second at a time so a stop is noticed.
 */
export function scrubPaceMs(bytesRead: number, elapsedMs: number, bytesPerSecond: number): number {
  if (bytesPerSecond <= 0) return 0;
  return Math.min(1000, Math.max(0, (bytesRead * 1000) / bytesPerSecond - elapsedMs));
}

/**
 * Verifies `expected` (see the header); `stop()` true ends it early with what was read so far.
 * Between slices it awaits `between()` (a turn of the event loop, or a pause to keep a rate).
 */
export async function scrubTable(expected: ExpectedTable, ra: Readahead, stop: () => boolean, between: () => Promise<void> = nextTurn): Promise<TableScrubResult> {
  let table: Table;
  try {
    table = Table.open(expected.file, expected.number);
  } catch (err) {
    if (err instanceof RingkvError && err.code === ErrorCode.Corruption) throw err;
    throw new RingkvError(ErrorCode.Corruption, `SSTable ${expected.file}: cannot be opened: ${(err as Error).message}`, { cause: err, details: { file: expected.file, offset: 0 } });
  }
  try {
    ra.reset();
    const startRead = ra.bytesRead;
    const it = new TableIterator(() => table, null, ra);
    it.seekToFirst();
    let entries = 0;
    // The previous key, kept in one buffer of the largest sort key (the iterator's is a view).
    const previous = Buffer.allocUnsafeSlow(tokenBytes + keyBytesMax);
    let previousBytes = 0;
    let sliceEndMs = performance.now() + scrubSliceMs;
    while (it.valid()) {
      const key = it.key();
      if (key.length > previous.length) throw tableCorruption(expected.file, 0, `entry ${entries}: a key of ${key.length} bytes`);
      if (entries === 0) {
        if (key.compare(expected.smallest) !== 0) throw tableCorruption(expected.file, 0, 'first key is not the smallest key the manifest names');
      } else if (previous.compare(key, 0, key.length, 0, previousBytes) >= 0) {
        throw tableCorruption(expected.file, 0, `entry ${entries}: keys out of order`);
      }
      key.copy(previous);
      previousBytes = key.length;
      entries++;
      it.next();
      if (entries % scrubEntriesPerCheck === 0 && performance.now() >= sliceEndMs) {
        await between();
        if (stop()) return { entries, bytesRead: ra.bytesRead - startRead };
        sliceEndMs = performance.now() + scrubSliceMs;
      }
    }
    if (entries !== expected.entryCount) throw tableCorruption(expected.file, 0, `${entries} entries read, the manifest says ${expected.entryCount}`);
    if (entries > 0 && expected.largest.compare(previous, 0, previousBytes) !== 0) throw tableCorruption(expected.file, 0, 'last key is not the largest key the manifest names');
    return { entries, bytesRead: ra.bytesRead - startRead };
  } finally {
    table.close();
  }
}
