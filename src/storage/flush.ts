// Memtable → level-0 SSTable, split across the two threads (LevelDB's WriteLevel0Table):
// - engine thread: packMemtable walks the immutable memtable once, in order, and copies its sort
//   keys into one array; each payload goes as a place (buffer, offset, length) in the memtable's
//   arena chunks, which are SharedArrayBuffers the background thread reads in place (arena.ts).
//   Copying the payloads too, as this did before, cost 15-60 ms of the engine thread for a
//   64 MiB memtable and kept a second memtable's worth of memory per shard for the next flush
//   to copy into. Payloads that live in private memory (a memtable rebuilt from the WAL at open)
//   are copied into one shared buffer. The walk runs in slices of about packSliceMs, yielding to
//   the event loop between them: batches keep being served meanwhile (the memtable is
//   immutable, so the walk is safe across yields);
// - background thread: writeRun feeds the run to a TableBuilder, which writes and fsyncs the table.
// The memtable keeps serving reads until the manifest names the table (db.ts), and its arena
// chunks are recycled only after that (Memtable.retire), when the background thread is done.
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
 * Flattens an immutable memtable into a run for the background thread; resolves with it and the
 * buffers to transfer (the shared payload buffers are not among them: they stay where they are).
 * `spare` holds the keys' buffer the previous flush handed back (reused memory is already
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
  // The run's index of each of the memtable's buffers: -1 not yet seen, -2 private (copied).
  const runBufferOf = new Int32Array(mem.bufferCount).fill(-1);
  const valueBuffers: SharedArrayBuffer[] = [];
  let keyBytes = 0;
  let copyBytes = 0;
  let counted = 0;
  for (let n = mem.first(); n !== 0; n = mem.nextOf(n)) {
    keyBytes += mem.keyLengthOf(n);
    const b = mem.payloadBufferIndexOf(n);
    if (runBufferOf[b] === -1) {
      const ab = mem.bufferAt(b);
      runBufferOf[b] = ab instanceof SharedArrayBuffer ? valueBuffers.push(ab) - 1 : -2;
    }
    if (runBufferOf[b] === -2) copyBytes += mem.payloadLengthOf(n);
    if (sliceOver(++counted)) await nextSlice();
  }
  assert(keyBytes < packedBytesMax && copyBytes < packedBytesMax, () => `memtable of ${keyBytes} key bytes, ${copyBytes} private payload bytes too large to pack`);
  const keys = reuse(spare[0], keyBytes);
  const copiedIndex = copyBytes === 0 ? -1 : valueBuffers.push(new SharedArrayBuffer(copyBytes)) - 1;
  const copied = copiedIndex === -1 ? null : Buffer.from(valueBuffers[copiedIndex]!);
  const keyOffsets = new Uint32Array(count + 1);
  const valueBuffer = new Uint32Array(count);
  const valueOffsets = new Uint32Array(count);
  const valueLengths = new Uint32Array(count);
  let i = 0;
  let k = 0;
  let c = 0;
  for (let n = mem.first(); n !== 0; n = mem.nextOf(n)) {
    k += mem.copyKeyOf(n, keys, k);
    keyOffsets[i + 1] = k;
    const b = runBufferOf[mem.payloadBufferIndexOf(n)]!;
    const length = mem.payloadLengthOf(n);
    valueLengths[i] = length;
    if (b >= 0) {
      valueBuffer[i] = b;
      valueOffsets[i] = mem.payloadOffsetOf(n);
    } else {
      mem.payloadOf(n).copy(copied!, c);
      valueBuffer[i] = copiedIndex;
      valueOffsets[i] = c;
      c += length;
    }
    i++;
    if (sliceOver(i)) await nextSlice();
  }
  assert(i === count && mem.count === count && k === keyBytes && c === copyBytes, 'memtable changed while being packed');
  return {
    slices,
    run: { count: i, keys, keyOffsets, valueBuffers, valueBuffer, valueOffsets, valueLengths },
    transfer: [keys.buffer, keyOffsets.buffer, valueBuffer.buffer, valueOffsets.buffer, valueLengths.buffer] as ArrayBuffer[],
  };
}

/**
 * Writes a packed run as table `number` and fsyncs it. REQUIRES run.count > 0 and sort keys
 * strictly increasing (the builder asserts it). Stops with `abortError` when aborted() turns true.
 */
export async function writeRun(dir: string, number: number, bloomBitsPerKey: number, run: PackedRun, aborted: () => boolean, abortError: () => Error): Promise<BuiltTable> {
  const n = run.count;
  assert(
    n > 0 && run.keyOffsets.length === n + 1 && run.valueBuffer.length === n && run.valueOffsets.length === n && run.valueLengths.length === n && run.valueBuffers.every((b) => b instanceof SharedArrayBuffer),
    'malformed packed run',
  );
  const keys = Buffer.from(run.keys.buffer, run.keys.byteOffset, run.keys.length);
  const buffers = run.valueBuffers.map((b) => Buffer.from(b));
  const b = new TableBuilder(tablePath(dir, number), number, bloomBitsPerKey);
  try {
    for (let i = 0; i < n; i++) {
      if ((i & 1023) === 0 && aborted()) throw abortError();
      const buf = buffers[run.valueBuffer[i]!];
      const offset = run.valueOffsets[i]!;
      const end = offset + run.valueLengths[i]!;
      // subarray would clamp a bad place into a wrong value without a word.
      assert(buf !== undefined && end <= buf.length, () => `malformed packed run: entry ${i}'s payload is outside its buffer`);
      b.add(keys.subarray(run.keyOffsets[i]!, run.keyOffsets[i + 1]!), buf.subarray(offset, end));
    }
    return await b.finish();
  } catch (err) {
    b.abandon();
    throw err;
  }
}
