// Out-of-space handling of one engine: which errors mean "the file system is full", and the
// watch that tells the engine when enough space is back to take writes again (RocksDB's
// ErrorHandler auto-resume after a NoSpace error, SstFileManager's free-space check). A full disk
// is the one storage failure that fixes itself from outside (an operator frees space, a
// compaction elsewhere deletes files), so it must not need a restart; every other write failure
// stays sticky (db.ts).
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { spaceCheckMs, spaceCheckMsMax, spaceEpisodeStreakMs } from '../constants';
import { ErrorCode, isRingkvError } from '../errors';

/** errno codes of a write refused for lack of space (blocks or quota). */
const noSpaceErrnos: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT']);

export function isNoSpaceErrno(code: unknown): boolean {
  return typeof code === 'string' && noSpaceErrnos.has(code);
}

/**
 * Whether err is a write refused for lack of space: a RingkvError of code NoSpace, or of code Io
 * whose details carry ENOSPC or EDQUOT (how the background thread's failures arrive,
 * background-messages.ts toWireError), or a Node errno error with that code, or one wrapping it.
 * A RingkvError of any other kind has been classified already and is not looked into.
 */
export function isNoSpaceError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (isRingkvError(e)) return e.code === ErrorCode.NoSpace || (e.code === ErrorCode.Io && isNoSpaceErrno(e.details['errno']));
    if (isNoSpaceErrno((e as NodeJS.ErrnoException).code)) return true;
  }
  return false;
}

/**
 * Polls the free space of one directory's file system while an out-of-space episode lasts and
 * calls onSpace once enough is free. One episode at a time; the interval doubles for episodes
 * that follow each other closely (constants.ts spaceCheckMs says why).
 */
export class SpaceWatch {
  private timer: NodeJS.Timeout | null = null;
  private streak = 0;
  private lastEndMs = Number.NEGATIVE_INFINITY;
  private checking = false;
  /** The interval of the episode under way (or of the last one). */
  intervalMs = spaceCheckMs;

  constructor(
    private readonly dir: string,
    private readonly onSpace: () => void,
  ) {}

  get watching(): boolean {
    return this.timer !== null;
  }

  /** Starts an episode; neededBytes is asked at each check. No-op while one is under way. */
  start(neededBytes: () => number): void {
    if (this.timer !== null) return;
    this.streak = performance.now() - this.lastEndMs < spaceEpisodeStreakMs ? this.streak + 1 : 0;
    this.intervalMs = Math.min(spaceCheckMs * 2 ** Math.min(this.streak, 16), spaceCheckMsMax);
    this.timer = setInterval(() => this.check(neededBytes), this.intervalMs);
    // The shard's thread must still exit when the engine is dropped without close().
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.lastEndMs = performance.now();
  }

  private check(neededBytes: () => number): void {
    if (this.checking) return;
    this.checking = true;
    fs.statfs(this.dir, (err, s) => {
      this.checking = false;
      // A failed statfs (the dir gone, say) keeps the episode going: writes stay refused.
      if (err || this.timer === null) return;
      if (s.bavail * s.bsize < neededBytes()) return;
      this.stop();
      this.onSpace();
    });
  }
}
