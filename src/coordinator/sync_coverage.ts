// How long ago anti-entropy last synced each range this node replicates, and a WARN when the
// range synced longest ago was synced more than half the tombstone grace ago. A delete that a
// replica missed (a hint dropped, a write acknowledged by W < N) reaches it only through a sync
// of its range; once the others purge the tombstone (--tombstone-grace-seconds after the
// delete), that replica's copy of the value is the newest version left, and the next sync copies
// it back: the deleted key returns. Cassandra leaves "repair every range within gc_grace_seconds"
// to its operators; here the node watches it itself (ringkv_anti_entropy_synced_since_age_seconds)
// and says so in its log, with anti-entropy off (--anti-entropy-interval-ms 0, repairs by hand)
// as much as with ranges whose other replicas are down or whose syncs fail. The grace it holds
// the syncs to is the shortest any node keeps (nodes' flags may differ): the first replica to
// purge is the one that makes the missed delete come back.
//
// A range counts as synced when one sync of it with another replica covered every leaf that
// differed (AntiEntropyRunner's `complete`), from the moment that sync began. Ranges this process
// has not synced yet count from the time kept in `<dataDir>/SYNCED_SINCE` (every range of the
// ring then had been synced since it; rewritten at most every syncedSinceRecordMs and at a clean
// stop, so it errs on the old side), or from the process start when there is no such file.
import { assert } from '../errors';
import { spanText } from './span_text';
import { readTimeFile, writeTimeFile } from './time_file';

export const syncedSinceFileName = 'SYNCED_SINCE';
/** How often a running node rewrites SYNCED_SINCE as it advances. */
export const syncedSinceRecordMs = 600_000;
/** How often the node looks at its ranges' sync times. */
export const syncCoverageCheckMs = 60_000;

/** A replicated range as the ring gives it. */
export interface CoveredRange {
  previous: bigint;
  token: bigint;
  replicas: readonly string[];
}

export interface SyncCoverageDeps {
  nodeId: string;
  replicationFactor: number;
  /** The shortest tombstone grace of the cluster's nodes (MembershipTable.shortestTombstoneGrace), asked at every check. */
  tombstoneGraceMs: () => number;
  /** The ranges this node replicates now. */
  ranges: () => readonly CoveredRange[];
  /** Where the time every range has been synced since is kept; not kept when absent. */
  file?: string;
  now: () => number;
  log: (line: string) => void;
}

function rangeKey(r: { previous: bigint; token: bigint }): string {
  return `${r.previous}:${r.token}`;
}

export class SyncCoverage {
  /** When the last complete sync of each range began, by range. */
  private readonly syncedAtMs = new Map<string, number>();
  /** What a range this process has not synced counts as synced at. */
  private readonly baselineMs: number;
  /** The value SYNCED_SINCE holds (or would, where there is none), and when it was written. */
  private recordedMs: number;
  private recordWrittenMs = 0;
  private warned = false;

  constructor(private readonly d: SyncCoverageDeps) {
    const startMs = d.now();
    const recorded = d.file === undefined ? null : readSyncedSince(d.file, d.log);
    // A record later than now (a clock set back) is no evidence of a sync: count from now.
    this.baselineMs = recorded !== null && recorded <= startMs ? recorded : startMs;
    this.recordedMs = this.baselineMs;
  }

  /** A sync of `r` that began at `startedMs` covered every leaf that differed. */
  synced(r: { previous: bigint; token: bigint }, startedMs: number): void {
    const k = rangeKey(r);
    if ((this.syncedAtMs.get(k) ?? -1) < startedMs) this.syncedAtMs.set(k, startedMs);
  }

  /**
   * The time since which every range this node replicates with another node has been synced
   * whole; null where there is nothing to sync (N = 1, or no range with another replica).
   */
  syncedSinceMs(): number | null {
    if (this.d.replicationFactor < 2) return null;
    const live = new Set<string>();
    let oldest: number | null = null;
    for (const r of this.d.ranges()) {
      if (!r.replicas.some((id) => id !== this.d.nodeId)) continue;
      const k = rangeKey(r);
      live.add(k);
      const at = this.syncedAtMs.get(k) ?? this.baselineMs;
      if (oldest === null || at < oldest) oldest = at;
    }
    // Ranges the ring no longer gives this node: forgotten, so the map stays within the ring's size.
    if (this.syncedAtMs.size > live.size) for (const k of this.syncedAtMs.keys()) if (!live.has(k)) this.syncedAtMs.delete(k);
    return oldest;
  }

  /** How long ago syncedSinceMs was (0 where there is nothing to sync). */
  ageMs(): number {
    const since = this.syncedSinceMs();
    return since === null ? 0 : Math.max(0, this.d.now() - since);
  }

  /** Warns when the oldest sync is older than half the grace (once, until it is not), and records SYNCED_SINCE. */
  check(): void {
    const since = this.syncedSinceMs();
    if (since === null) return;
    const now = this.d.now();
    const ageMs = Math.max(0, now - since);
    const graceMs = this.d.tombstoneGraceMs();
    assert(Number.isSafeInteger(graceMs) && graceMs >= 0, 'tombstone grace must be a non-negative integer');
    const limitMs = graceMs / 2;
    if (ageMs > limitMs && !this.warned) {
      this.warned = true;
      this.d.log(
        `WARN anti-entropy: a range this node replicates was last synced with another replica ${spanText(ageMs)} ago, over half the tombstone grace ` +
          `(${spanText(graceMs)}, the shortest --tombstone-grace-seconds of the cluster's nodes): a delete one of its replicas missed comes back once the others purge its tombstone. ` +
          `Bring every replica up, check ringkv_anti_entropy_failures_total, or run ringkv repair`,
      );
    } else if (ageMs <= limitMs && this.warned) {
      this.warned = false;
      this.d.log(`anti-entropy: every range this node replicates synced within the last ${spanText(ageMs)} again`);
    }
    if (since > this.recordedMs && now - this.recordWrittenMs >= syncedSinceRecordMs) this.record(since, now);
  }

  /** Writes SYNCED_SINCE now if it moved (a clean stop). */
  flush(): void {
    const since = this.syncedSinceMs();
    if (since !== null && since > this.recordedMs) this.record(since, this.d.now());
  }

  private record(since: number, now: number): void {
    if (this.d.file === undefined) return;
    try {
      writeTimeFile(this.d.file, since);
      this.recordedMs = since;
      this.recordWrittenMs = now;
    } catch (err) {
      // Only costs a restart the progress since the last record: the older time is the safe side.
      this.d.log(`WARN cannot record ${this.d.file}: ${(err as Error).message}`);
    }
  }
}

/** The time in a SYNCED_SINCE file, or null when there is none or it does not parse (said through `log`). */
export function readSyncedSince(file: string, log: (line: string) => void): number | null {
  try {
    return readTimeFile(file, (text) => log(`WARN ${file} holds no time (${text}); ranges count as synced when this process started`));
  } catch (err) {
    log(`WARN cannot read ${file}: ${(err as Error).message}; ranges count as synced when this process started`);
    return null;
  }
}
