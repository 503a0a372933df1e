// Leveled compaction (LevelDB's db/version_set PickCompaction and db_impl DoCompactionWork).
// Level 0 is compacted when it holds level0CompactionTrigger files: all L0 files (which may
// overlap each other) merge with the overlapping L1 files. Level n >= 1 is compacted when its
// bytes pass its budget: one file, chosen round-robin, merges with the overlapping files of
// level n+1. A single input with nothing below to overlap is moved, not rewritten.
// While merging, only the newest version of a key survives; a TTL entry past its expiry becomes
// a tombstone (keeping its timestamp and version vector); a tombstone is dropped only when its
// grace period has passed AND no level below the output can still hold an older version of the
// key (otherwise the delete would un-happen: LevelDB issue 178).
import { level0CompactionTrigger, levelsMax } from '../constants';
import { assert } from '../errors';
import { expiredToTombstone, payloadExpiresAtMs, payloadIsTombstone, payloadTimestampMs } from './entry';
import { LevelIterator, MergingIterator, TableIterator, type InternalIterator } from './iterators';
import type { TableBuilder, BuiltTable } from './table-builder';
import { maxBytesForLevel, type FileMeta, type Version } from './version';

export interface Compaction {
  /** Input level; outputs go to level + 1. */
  level: number;
  inputs0: FileMeta[];
  inputs1: FileMeta[];
}

export interface LevelScore {
  level: number;
  score: number;
}

export function bestScore(v: Version, levelBaseBytes: number): LevelScore {
  let best: LevelScore = { level: 0, score: v.levels[0]!.length / level0CompactionTrigger };
  for (let level = 1; level < levelsMax - 1; level++) {
    const score = v.levelBytes(level) / maxBytesForLevel(level, levelBaseBytes);
    if (score > best.score) best = { level, score };
  }
  return best;
}

/** Bytes over budget summed across levels (the backlog the stats report). */
export function backlogBytes(v: Version, levelBaseBytes: number): number {
  let backlog = v.levels[0]!.length >= level0CompactionTrigger ? v.levelBytes(0) : 0;
  for (let level = 1; level < levelsMax - 1; level++) backlog += Math.max(0, v.levelBytes(level) - maxBytesForLevel(level, levelBaseBytes));
  return backlog;
}

function range(files: FileMeta[]): { smallest: Buffer; largest: Buffer } {
  let smallest = files[0]!.smallest;
  let largest = files[0]!.largest;
  for (const f of files) {
    if (f.smallest.compare(smallest) < 0) smallest = f.smallest;
    if (f.largest.compare(largest) > 0) largest = f.largest;
  }
  return { smallest, largest };
}

/** compactPointers[level]: the largest key of the last file compacted there (round-robin). */
export function pickCompaction(v: Version, levelBaseBytes: number, compactPointers: (Buffer | null)[], force: boolean): Compaction | null {
  const best = bestScore(v, levelBaseBytes);
  let level = best.level;
  if (best.score < 1) {
    if (!force) return null;
    // A forced pass (compact()) still pushes L0 down so tests reach deeper levels.
    if (v.levels[0]!.length === 0) return null;
    level = 0;
  }
  if (level === 0) {
    const inputs0 = v.levels[0]!.slice();
    const r = range(inputs0);
    return { level: 0, inputs0, inputs1: v.overlapping(1, r.smallest, r.largest) };
  }
  const files = v.levels[level]!;
  assert(files.length > 0, 'a level over budget has files');
  const ptr = compactPointers[level];
  const pick = files.find((f) => ptr == null || f.smallest.compare(ptr) > 0) ?? files[0]!;
  compactPointers[level] = pick.largest;
  return { level, inputs0: [pick], inputs1: v.overlapping(level + 1, pick.smallest, pick.largest) };
}

export interface CompactionContext {
  version: () => Version;
  openTable: (f: FileMeta) => TableIterator;
  newBuilder: () => TableBuilder;
  now: () => number;
  tombstoneGraceMs: number;
  tableFileBytes: number;
  /** Called after each output block's worth of input: yields, throttles, flushes memtables. */
  pace: (bytesWritten: number) => Promise<void>;
  isClosing: () => boolean;
}

/** True when no level below outputLevel holds a file whose range contains sk. */
function isBaseLevelForKey(v: Version, outputLevel: number, sk: Buffer): boolean {
  for (let level = outputLevel + 1; level < levelsMax; level++) {
    if (v.fileFor(level, sk) !== null) return false;
  }
  return true;
}

export interface CompactionResult {
  outputs: BuiltTable[];
  dropped: number;
  expired: number;
}

export async function runCompaction(c: Compaction, ctx: CompactionContext): Promise<CompactionResult> {
  const outLevel = c.level + 1;
  const children: InternalIterator[] = [];
  if (c.level === 0) {
    // L0 inputs newest first, so the merge keeps their newest version.
    for (const f of c.inputs0) children.push(ctx.openTable(f));
  } else {
    children.push(new LevelIterator(c.inputs0, ctx.openTable));
  }
  children.push(new LevelIterator(c.inputs1, ctx.openTable));
  const it = new MergingIterator(children);
  it.seekToFirst();
  const outputs: BuiltTable[] = [];
  let builder: TableBuilder | null = null;
  let dropped = 0;
  let expired = 0;
  let sinceYield = 0;
  let written = 0;
  try {
    while (it.valid()) {
      if (ctx.isClosing()) throw new Error('compaction interrupted by close');
      const sk = it.key();
      let p = it.value();
      const now = ctx.now();
      let tomb = payloadIsTombstone(p);
      const exp = payloadExpiresAtMs(p);
      if (!tomb && exp !== 0 && exp <= now) {
        p = expiredToTombstone(p);
        tomb = true;
        expired++;
      }
      const keep =
        !tomb || now < Math.max(payloadTimestampMs(p), exp) + ctx.tombstoneGraceMs || !isBaseLevelForKey(ctx.version(), outLevel, sk);
      if (keep) {
        if (builder === null) builder = ctx.newBuilder();
        builder.add(sk, p);
        sinceYield += sk.length + p.length;
        if (builder.estimatedBytes >= ctx.tableFileBytes) {
          written += builder.estimatedBytes;
          const b: TableBuilder = builder;
          builder = null;
          outputs.push(await b.finish());
        }
      } else {
        dropped++;
      }
      it.next();
      if (sinceYield >= 4096) {
        sinceYield = 0;
        await ctx.pace(written + (builder?.estimatedBytes ?? 0));
      }
    }
    if (builder !== null) {
      const b: TableBuilder = builder;
      builder = null;
      outputs.push(await b.finish());
    }
  } catch (err) {
    builder?.abandon();
    throw Object.assign(err as Error, { partialOutputs: outputs });
  }
  return { outputs, dropped, expired };
}
