// When a cluster node last ran on its data dir, kept in `<dataDir>/LAST_RUN` (ms since the Unix
// epoch, one line), so that a node away longer than the tombstone grace is not let back unasked.
// The other replicas purge a delete's tombstone once the grace has passed (storage/compactor.ts);
// a node away that long may still hold the value deleted, and anti-entropy or a read repair would
// copy it back to them: the deleted key returns. Cassandra leaves the rule (never bring back a
// node down longer than gc_grace_seconds) to its operators; ringkv refuses such a start and says
// what to do instead.
//
// Written at start, every lastRunRefreshMs while the node runs, and at a clean stop, so it is at
// most that much older than the node's last moment in the cluster (an error on the safe side).
// A snapshot carries its own time as its LAST_RUN (local_coordinator.ts): a node restored from it
// is back to that moment. A data dir without the file (new, or from before it) is not judged.
// The grace it is judged by is the shortest of this node's and those its PEERS file recorded of
// the others (startGrace): the first replica to purge a tombstone is the one that matters, and
// raising this node's own grace to get past the check must not hide a shorter one elsewhere.
// LAST_RUN says how long the node was away, not how old its data is: back within the grace, it
// writes LAST_RUN at once, and stopped again before anti-entropy had synced every range, it
// would pass the next start however old the deletes it missed. So SYNCED_SINCE (the time since
// which every range was synced whole: sync_coverage.ts) is judged by the same grace.
import * as path from 'node:path';
import { ErrorCode, RingkvError } from '../errors';
import type { RememberedPeer } from './peers_file';
import { spanText } from './span_text';
import { readSyncedSince, syncedSinceFileName } from './sync_coverage';
import { readTimeFile, writeTimeFile } from './time_file';

export const lastRunFileName = 'LAST_RUN';
/** How often a running node rewrites its LAST_RUN. */
export const lastRunRefreshMs = 3_600_000;

/** The time recorded in `dataDir`, or null when there is none (or it does not parse: said through `log`). */
export function readLastRun(dataDir: string, log: (line: string) => void): number | null {
  const file = path.join(dataDir, lastRunFileName);
  try {
    return readTimeFile(file, (text) => log(`WARN ${file} holds no time (${text}); how long this node was away is unknown, and it starts`));
  } catch (err) {
    throw new RingkvError(ErrorCode.Io, `cannot read ${file}`, { cause: err });
  }
}

/** Records `nowMs` in `file` (a data dir's, or a snapshot's, LAST_RUN). */
export function writeLastRun(file: string, nowMs: number): void {
  writeTimeFile(file, nowMs);
}

/** The tombstone grace a start is judged by; `nodeId` names the peer it is from when it is not this node's own. */
export interface StartGrace {
  ms: number;
  nodeId?: string;
}

/**
 * The shortest of this node's grace (`ownMs`) and those `peers` (its PEERS file) recorded of the
 * others; this node's own on a tie. `selfId`: this node's entry there, left out (its grace now is `ownMs`).
 */
export function startGrace(ownMs: number, peers: readonly RememberedPeer[], selfId: string | null): StartGrace {
  let grace: StartGrace = { ms: ownMs };
  for (const p of peers) {
    if (p.nodeId !== selfId && p.tombstoneGraceMs !== undefined && p.tombstoneGraceMs < grace.ms) grace = { ms: p.tombstoneGraceMs, nodeId: p.nodeId };
  }
  return grace;
}

/**
 * Refuses to start a node whose data dir last ran longer ago than `grace`, or last had every
 * range synced longer ago than that (SYNCED_SINCE), unless `allowed` (then it warns). A clock
 * that reads earlier than the record is no absence.
 */
export function checkLastRun(dataDir: string, nowMs: number, grace: StartGrace, allowed: boolean, log: (line: string) => void): void {
  const lastRunMs = readLastRun(dataDir, log);
  const syncedMs = readSyncedSince(path.join(dataDir, syncedSinceFileName), log);
  const whose = grace.nodeId === undefined ? '--tombstone-grace-seconds' : `${grace.nodeId}'s --tombstone-grace-seconds as this node last knew it, shorter than its own`;
  const over = `longer than the tombstone grace (${spanText(grace.ms)}, ${whose})`;
  let away: string;
  if (lastRunMs !== null && nowMs - lastRunMs > grace.ms) {
    away = `data dir ${dataDir} last ran in the cluster at ${new Date(lastRunMs).toISOString()}, ${spanText(nowMs - lastRunMs)} ago, ${over}`;
  } else if (syncedMs !== null && nowMs - syncedMs > grace.ms) {
    away = `data dir ${dataDir} last had every range synced with the other replicas at ${new Date(syncedMs).toISOString()}, ${spanText(nowMs - syncedMs)} ago (its SYNCED_SINCE; it ran since, but not long enough to sync them all), ${over}`;
  } else {
    return;
  }
  if (allowed) {
    log(`WARN ${away}; starting as --allow-stale-data says: run POST /api/v1/admin/repair on it, and expect keys deleted while it was away to come back`);
    return;
  }
  throw new RingkvError(
    ErrorCode.InvalidArgument,
    `${away}: the other replicas may have purged the tombstones of deletes made meanwhile, and the deleted values this node still holds would come back through repair. ` +
      `Start it with a new, empty data dir under the same --node-id (it rebuilds its ranges from the other replicas), ` +
      `or, if no replica could have purged them (every node was stopped as long, or nothing was deleted), with --allow-stale-data on`,
    { details: { data_dir: dataDir, last_run_ms: lastRunMs, synced_since_ms: syncedMs, tombstone_grace_ms: grace.ms, ...(grace.nodeId !== undefined && { tombstone_grace_node: grace.nodeId }) } },
  );
}
