// The set of live SSTables by level (LevelDB's db/version_set). Level 0 holds flushed memtables,
// which may overlap, newest first: highest l0Rank (the file number, except for a salvaged table,
// which keeps the rank of the table it replaces); levels 1.. hold files with disjoint key
// ranges sorted by smallest key. Invariant the read path relies on: for any key, a version in a
// lower-numbered level (or a newer L0 file) is newer than any version below it.
import { levelBaseBytesDefault, levelSizeMultiplier, levelsMax } from '../constants';
import { assert } from '../errors';
import type { QuarantinedTable } from './types';

export interface FileMeta {
  number: number;
  fileBytes: number;
  smallest: Buffer;
  largest: Buffer;
  entryCount: number;
  tombstoneCount: number;
  /** Scans in progress using this file; an obsolete file is deleted when this reaches 0. */
  refs: number;
  obsolete: boolean;
  /** Found corrupt: once obsolete and unused it is moved to quarantine/, not deleted. */
  corrupt?: QuarantinedTable;
  /**
   * Its place in level 0's newest-first order when not its number: a table salvaged from a
   * corrupt one (table-rewrite.ts) gets a new number but must stand where the old one stood,
   * below the tables flushed after it.
   */
  l0Rank?: number;
}

/** Where f stands in level 0's order (higher is newer). */
export function l0RankOf(f: FileMeta): number {
  return f.l0Rank ?? f.number;
}

export class Version {
  readonly levels: FileMeta[][];

  constructor(levels?: FileMeta[][]) {
    this.levels = levels ?? Array.from({ length: levelsMax }, () => []);
    assert(this.levels.length === levelsMax, 'version must have levelsMax levels');
  }

  clone(): Version {
    return new Version(this.levels.map((l) => l.slice()));
  }

  /** Applies removals then additions, keeping each level's order; checks level >= 1 disjointness. */
  apply(removed: { level: number; number: number }[], added: { level: number; file: FileMeta }[]): Version {
    const v = this.clone();
    for (const r of removed) {
      const l = v.levels[r.level]!;
      const i = l.findIndex((f) => f.number === r.number);
      assert(i >= 0, () => `removing file ${r.number} not in level ${r.level}`);
      l.splice(i, 1);
    }
    for (const a of added) v.levels[a.level]!.push(a.file);
    v.levels[0]!.sort((a, b) => l0RankOf(b) - l0RankOf(a) || b.number - a.number);
    for (let level = 1; level < levelsMax; level++) {
      const l = v.levels[level]!;
      l.sort((a, b) => a.smallest.compare(b.smallest));
      for (let i = 1; i < l.length; i++) {
        assert(l[i - 1]!.largest.compare(l[i]!.smallest) < 0, () => `level ${level} files ${l[i - 1]!.number} and ${l[i]!.number} overlap`);
      }
    }
    return v;
  }

  levelBytes(level: number): number {
    let s = 0;
    for (const f of this.levels[level]!) s += f.fileBytes;
    return s;
  }

  /** Files of `level` whose range intersects [smallest, largest]. */
  overlapping(level: number, smallest: Buffer, largest: Buffer): FileMeta[] {
    return this.levels[level]!.filter((f) => f.largest.compare(smallest) >= 0 && f.smallest.compare(largest) <= 0);
  }

  /** For level >= 1: the one file whose range may contain sk, or null. */
  fileFor(level: number, sk: Buffer): FileMeta | null {
    const l = this.levels[level]!;
    let lo = 0;
    let hi = l.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (l[mid]!.largest.compare(sk) < 0) lo = mid + 1;
      else hi = mid;
    }
    const f = l[lo];
    return f !== undefined && f.smallest.compare(sk) <= 0 ? f : null;
  }

  allFiles(): FileMeta[] {
    return this.levels.flat();
  }

  /**
   * Every file, each after all those that may hold older versions of its keys: the deepest level
   * first, level 0 last and oldest first (the reverse of the read path's order).
   */
  allFilesOldestFirst(): FileMeta[] {
    const out: FileMeta[] = [];
    for (let level = levelsMax - 1; level >= 1; level--) out.push(...this.levels[level]!);
    for (let i = this.levels[0]!.length - 1; i >= 0; i--) out.push(this.levels[0]![i]!);
    return out;
  }
}

export function maxBytesForLevel(level: number, base: number = levelBaseBytesDefault): number {
  assert(level >= 1, 'level 0 is sized by file count');
  return base * levelSizeMultiplier ** (level - 1);
}
