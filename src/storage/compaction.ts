// Leveled compaction: which files to merge next (LevelDB's db/version_set PickCompaction). This
// runs on the engine thread and only looks at the version; the merge itself runs on the
// background thread (compactor.ts, with the job built in db.ts).
// Level 0 is compacted when it holds level0CompactionTrigger files: all L0 files (which may
// overlap each other) merge with the overlapping L1 files. Level n >= 1 is compacted when its
// bytes pass its budget: one file, chosen round-robin, merges with the overlapping files of
// level n+1. A single input with nothing below to overlap is moved, not rewritten.
import { level0CompactionTrigger, levelsMax } from '../constants';
import { assert } from '../errors';
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

