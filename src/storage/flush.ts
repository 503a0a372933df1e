// Memtable → level-0 SSTable, split across the two threads (LevelDB's WriteLevel0Table):
// - engine thread: packMemtable walks the immutable memtable once and copies its entries, in
//   order, into four arrays that are transferred (moved, not copied) to the background thread;
//   a copy because payloads are views into many WAL record buffers the engine still reads from.
//   The copy of a 64 MiB memtable takes 15-60 ms (more when its buffers are fresh memory), so it
//   runs in slices of about packSliceMs, yielding to the event loop between them: batches keep
//   being served meanwhile (the memtable is immutable, so the walk is safe across yields);
// - background thread: writeRun feeds the run to a TableBuilder, which writes and fsyncs the table.
// The memtable keeps serving reads until the manifest names the table (db.ts).
import { assert } from '../errors';
import type { PackedRun } from './background-messages';
import { tablePath } from './filenames';
import type { Memtable } from './memtable';
import { TableBuilder, type BuiltTable } from './table-builder';

/** Offsets in a packed run are u32: a run (one memtable) stays below this. */
const packedBytesMax = 0xffff_ffff;
/** Engine-thread time one slice of a pack may take before it yields to the event loop. */
export const packSliceMs = 1;
/** Entries between two looks at the clock. */
const packEntriesPerCheck = 256;

export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A buffer of exactly `bytes` over `spare` when it is large enough, else a fresh one with headroom. */
function reuse(spare: ArrayBuffer | undefined, bytes: number): Buffer {
  if (spare !== undefined && spare.byteLength >= bytes) return Buffer.from(spare, 0, bytes);
  // allocUnsafeSlow: the buffer owns its ArrayBuffer, so transferring it moves nothing else.
  return Buffer.allocUnsafeSlow(bytes + (bytes >>> 3)).subarray(0, bytes);
}

/**
 * Flattens an immutable memtable into a transferable run; resolves with it and the buffers to
 * transfer. `spare` holds the buffers the previous flush handed back (reused memory is already
 * resident: see arena.ts on why fresh memory is avoided). Yields to the event loop every
 * `sliceMs` of work; REQUIRES that nothing inserts into `mem` meanwhile.
 */
export async function packMemtable(mem: Memtable, spare: readonly ArrayBuffer[] = [], sliceMs = packSliceMs): Promise<{ run: PackedRun; transfer: ArrayBuffer[]; slices: number }> {
  const count = mem.count;
  let sliceStart = performance.now();
  let slices = 1;
  const sliceOver = (entries: number): boolean => entries % packEntriesPerCheck === 0 && performance.now() - sliceStart >= sliceMs;
  const nextSlice = async (): Promise<void> => {
    await nextTurn();
    slices++;
    sliceStart = performance.now();
  };
  let keyBytes = 0;
  let valueBytes = 0;
  let counted = 0;
  for (let n = mem.first(); n !== 0; n = mem.nextOf(n)) {
    keyBytes += mem.keyOf(n).length;
    valueBytes += mem.payloadLengthOf(n);
    if (sliceOver(++counted)) await nextSlice();
  }
  assert(keyBytes < packedBytesMax && valueBytes < packedBytesMax, () => `memtable of ${valueBytes} bytes too large to pack`);
  const keys = reuse(spare[0], keyBytes);
  const values = reuse(spare[1], valueBytes);
  const keyOffsets = new Uint32Array(mem.count + 1);
  const valueOffsets = new Uint32Array(mem.count + 1);
  let i = 0;
  let k = 0;
  let v = 0;
  for (let n = mem.first(); n !== 0; n = mem.nextOf(n)) {
    const sk = mem.keyOf(n);
    const p = mem.payloadOf(n);
    sk.copy(keys, k);
    p.copy(values, v);
    k += sk.length;
    v += p.length;
    i++;
    keyOffsets[i] = k;
    valueOffsets[i] = v;
    if (sliceOver(i)) await nextSlice();
  }
  assert(i === count && mem.count === count && k === keyBytes && v === valueBytes, 'memtable changed while being packed');
  return {
    slices,
    run: { count: i, keys, keyOffsets, values, valueOffsets },
    transfer: [keys.buffer, values.buffer, keyOffsets.buffer, valueOffsets.buffer] as ArrayBuffer[],
  };
}

/**
 * Writes a packed run as table `number` and fsyncs it. REQUIRES run.count > 0 and sort keys
 * strictly increasing (the builder asserts it). Stops with `abortError` when aborted() turns true.
 */
export async function writeRun(dir: string, number: number, bloomBitsPerKey: number, run: PackedRun, aborted: () => boolean, abortError: () => Error): Promise<BuiltTable> {
  assert(run.count > 0 && run.keyOffsets.length === run.count + 1 && run.valueOffsets.length === run.count + 1, 'malformed packed run');
  const keys = Buffer.from(run.keys.buffer, run.keys.byteOffset, run.keys.length);
  const values = Buffer.from(run.values.buffer, run.values.byteOffset, run.values.length);
  const b = new TableBuilder(tablePath(dir, number), number, bloomBitsPerKey);
  try {
    for (let i = 0; i < run.count; i++) {
      if ((i & 1023) === 0 && aborted()) throw abortError();
      b.add(keys.subarray(run.keyOffsets[i]!, run.keyOffsets[i + 1]!), values.subarray(run.valueOffsets[i]!, run.valueOffsets[i + 1]!));
    }
    return await b.finish();
  } catch (err) {
    b.abandon();
    throw err;
  }
}
