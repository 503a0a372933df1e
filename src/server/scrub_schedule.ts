// Background scrubbing (design.md §12 Q6: "periodically verify checksums"): the node scrubs its
// tables every interval at a bounded byte rate, through Coordinator.scrub, which quarantines and
// repairs on a cluster node and reports on a single one. The time the last scrub finished is
// kept in `<dataDir>/LAST_SCRUB`, so a node restarted more often than the interval still scrubs
// (timing from each start would put it off for ever). A node that never scrubbed counts from its
// first start. Also the one place that turns a scrub's findings into log lines, for the
// scheduled scrubs and the admin endpoint alike.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { timerDelayMsMax } from '../constants';
import type { ScrubSummary } from '../coordinator/types';
import { assert, isRingkvError, ErrorCode } from '../errors';
import { writeFileDurably } from '../storage/durable-file';
import { salvageNote } from '../storage/salvage-note';

export const lastScrubFileName = 'LAST_SCRUB';


export interface ScrubScheduleOptions {
  dataDir: string;
  intervalMs: number;
  bytesPerSecond: number;
  scrub: (bytesPerSecond: number) => Promise<ScrubSummary>;
  log: (line: string) => void;
  now?: () => number;
}

/** Logs what a scrub found: one line for the whole, one ERROR line per damaged table. */
export function logScrub(log: (line: string) => void, s: ScrubSummary, trigger: string): void {
  for (const q of s.quarantined) log(`storage: ERROR scrub: shard ${q.shard} quarantined ${q.file} (level ${q.level}, ${q.entries} entries, ${salvageNote(q)}): ${q.reason}`);
  for (const q of s.corrupt) log(`storage: ERROR scrub: shard ${q.shard}: ${q.file} (level ${q.level}, ${q.entries} entries) is corrupt, left in place (the only copy): ${q.reason}`);
  const repair = s.repair === null ? '' : `; repair: ${s.repair.synced} of ${s.repair.ranges} ranges synced, ${s.repair.failed} failed, ${s.repair.pulled} records pulled`;
  log(
    `storage: ${trigger} scrub: ${s.tables} tables, ${s.entries} entries, ${s.bytesRead} bytes read in ${s.durationMs} ms; ` +
      `${s.quarantined.length} quarantined, ${s.corrupt.length} corrupt left in place${s.cutShort ? ', cut short' : ''}${repair}`,
  );
}

/** When the last scrub finished (ms since the epoch), or null when none is recorded. */
export function readLastScrub(dataDir: string): number | null {
  try {
    const ms = Date.parse(fs.readFileSync(path.join(dataDir, lastScrubFileName), 'utf8').trim());
    return Number.isFinite(ms) ? ms : null;
  } catch {
    return null;
  }
}

function writeLastScrub(dataDir: string, ms: number): void {
  writeFileDurably(path.join(dataDir, lastScrubFileName), `${new Date(ms).toISOString()}\n`);
}

export class ScrubSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly o: ScrubScheduleOptions) {
    assert(o.intervalMs > 0 && o.bytesPerSecond >= 0, 'a scrub schedule needs a positive interval');
    this.now = o.now ?? Date.now;
  }

  start(): void {
    let last = readLastScrub(this.o.dataDir);
    if (last === null) {
      // Never scrubbed: count from now (what it holds was just checked as it was written).
      last = this.now();
      this.record(last);
    }
    this.arm(last + this.o.intervalMs);
  }

  /**
   * LAST_SCRUB. A full disk, say, is logged and the node serves on (thrown from the scrub's
   * handler it was a rejection nothing handled, which ends the process); a start then times its
   * scrub from the record before, or from its own start.
   */
  private record(ms: number): void {
    try {
      writeLastScrub(this.o.dataDir, ms);
    } catch (err) {
      this.o.log(`storage: ERROR could not record the scrub's finish in ${lastScrubFileName}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Stops the timer and waits for a scrub in progress (the coordinator's close cuts it short). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }

  private arm(dueMs: number): void {
    if (this.stopped) return;
    const waitMs = Math.max(0, dueMs - this.now());
    // A due time past setTimeout's longest delay is reached in steps.
    this.timer = setTimeout(() => (waitMs > timerDelayMsMax ? this.arm(dueMs) : this.run()), Math.min(waitMs, timerDelayMsMax));
    this.timer.unref();
  }

  private run(): void {
    this.running = this.o
      .scrub(this.o.bytesPerSecond)
      .then(
        (s) => {
          logScrub(this.o.log, s, 'scheduled');
          this.record(this.now());
        },
        (err: unknown) => {
          if (!(this.stopped && isRingkvError(err, ErrorCode.Closed))) this.o.log(`storage: ERROR scheduled scrub failed: ${err instanceof Error ? err.message : String(err)}`);
        },
      )
      .finally(() => {
        this.running = null;
        this.arm(this.now() + this.o.intervalMs);
      });
  }
}
