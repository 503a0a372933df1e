// Runs one compaction job on the background thread (LevelDB's db_impl DoCompactionWork): merges
// the input tables and writes the surviving entries as new tables of about tableFileBytes each.
// Inputs are immutable files the engine keeps alive (pinned) until the job's reply is handled;
// they are read front to back through readahead windows, without the block cache. While merging,
// only the newest version of a key survives; a TTL entry past its expiry becomes a tombstone
// (keeping its timestamp and version vector); a tombstone is dropped only when its grace period
// has passed AND no level below the output can still hold an older version of the key (otherwise
// the delete would un-happen: LevelDB issue 178). Finished outputs are fsync'ed in the background
// while the next one is built; the job reports only after every output is durable. On any
// failure (or abort) every output of the job is removed before the error is reported.
import * as fs from 'node:fs';
import { compactionFsyncsInFlightMax, compactionReadaheadBytes } from '../constants';
import { assert } from '../errors';
import type { CompactJob, JobStats, KeyRange } from './background-messages';
import { expiredToTombstone, payloadExpiresAtMs, payloadIsTombstone, payloadTimestampMs } from './entry';
import { tablePath } from './filenames';
import { LevelIterator, MergingIterator, TableIterator, type InternalIterator } from './iterators';
import { Readahead, type Table } from './table';
import { TableBuilder, type BuiltTable } from './table-builder';

/** How much input the merge handles between calls to pace() (yield, throttle, run flushes). */
const paceEveryBytes = 256 * 1024;

export interface CompactorEnv {
  dir: string;
  bloomBitsPerKey: number;
  /** The open table `number` (the caller's cache owns and closes it). */
  table(number: number): Table;
  takeFileNumber(): number;
  /** Throws to stop the job (the engine is closing). */
  checkAbort(): void;
  /** Called every paceEveryBytes of input: yields to the event loop, throttles, runs waiting flushes. */
  pace(bytesWritten: number): Promise<void>;
}

export interface CompactionOutput {
  tables: BuiltTable[];
  stats: JobStats;
}

/**
 * Answers "could a level below the output hold this key?" for keys asked in increasing order:
 * one cursor per level moves forward only (LevelDB's level_ptrs_), so the whole job costs one pass
 * over the ranges below.
 */
class LevelsBelow {
  private readonly cursors: number[];
  constructor(private readonly levels: { smallest: Buffer; largest: Buffer }[][]) {
    this.cursors = levels.map(() => 0);
  }
  mayHold(sk: Buffer): boolean {
    for (let l = 0; l < this.levels.length; l++) {
      const files = this.levels[l]!;
      let i = this.cursors[l]!;
      while (i < files.length && files[i]!.largest.compare(sk) < 0) i++;
      this.cursors[l] = i;
      if (i < files.length && files[i]!.smallest.compare(sk) <= 0) return true;
    }
    return false;
  }
}

const wrap = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.length);
const wrapRanges = (l: KeyRange[]): { smallest: Buffer; largest: Buffer }[] => l.map((r) => ({ smallest: wrap(r.smallest), largest: wrap(r.largest) }));

export async function runCompaction(job: CompactJob, env: CompactorEnv): Promise<CompactionOutput> {
  const started = Date.now();
  const readaheads: Readahead[] = [];
  const open = (number: number): TableIterator => {
    const ra = new Readahead(compactionReadaheadBytes);
    readaheads.push(ra);
    return new TableIterator(() => env.table(number), null, ra);
  };
  const children: InternalIterator[] = job.runs.map((run) =>
    run.length === 1 ? open(run[0]!.number) : new LevelIterator(run.map((f) => ({ number: f.number, largest: wrap(f.largest) })), (f) => open(f.number)),
  );
  const below = new LevelsBelow(job.levelsBelow.map(wrapRanges));
  const it = new MergingIterator(children);
  const stats: JobStats = { entriesIn: 0, entriesOut: 0, dropped: 0, expired: 0, bytesRead: 0, bytesWritten: 0, ms: 0 };
  const numbers: number[] = [];
  const finishing: Promise<BuiltTable>[] = [];
  const tables: BuiltTable[] = [];
  let builder: TableBuilder | null = null;
  let sincePace = 0;
  let written = 0;
  const now = job.nowMs;
  const finishOutput = async (): Promise<void> => {
    const b = builder!;
    builder = null;
    written += b.estimatedBytes;
    const done = b.finish();
    // Awaited later (below, or in the catch); until then a failure must not count as unhandled,
    // which would end the background thread with the merge still going.
    done.catch(() => {});
    finishing.push(done);
    while (finishing.length > compactionFsyncsInFlightMax) tables.push(await finishing.shift()!);
  };
  try {
    it.seekToFirst();
    while (it.valid()) {
      env.checkAbort();
      const sk = it.key();
      let p = it.value();
      stats.entriesIn++;
      let tomb = payloadIsTombstone(p);
      const exp = payloadExpiresAtMs(p);
      if (!tomb && exp !== 0 && exp <= now) {
        p = expiredToTombstone(p);
        tomb = true;
        stats.expired++;
      }
      const keep = !tomb || now < Math.max(payloadTimestampMs(p), exp) + job.tombstoneGraceMs || below.mayHold(sk);
      if (keep) {
        if (builder === null) {
          const n = env.takeFileNumber();
          numbers.push(n);
          builder = new TableBuilder(tablePath(env.dir, n), n, env.bloomBitsPerKey);
        }
        builder.add(sk, p);
        stats.entriesOut++;
        sincePace += sk.length + p.length;
        if (builder.estimatedBytes >= job.tableFileBytes) await finishOutput();
      } else {
        stats.dropped++;
      }
      it.next();
      if (sincePace >= paceEveryBytes) {
        sincePace = 0;
        await env.pace(written + (builder?.estimatedBytes ?? 0));
      }
    }
    if (builder !== null) await finishOutput();
    while (finishing.length > 0) tables.push(await finishing.shift()!);
  } catch (err) {
    // Let running fsyncs settle before their files go, then remove everything this job made.
    (builder as TableBuilder | null)?.abandon();
    await Promise.allSettled(finishing);
    for (const n of numbers) fs.rmSync(tablePath(env.dir, n), { force: true });
    throw err;
  }
  assert(tables.length === numbers.length, 'every compaction output is finished');
  for (const t of tables) stats.bytesWritten += t.fileBytes;
  for (const ra of readaheads) stats.bytesRead += ra.bytesRead;
  stats.ms = Date.now() - started;
  return { tables, stats };
}
