// Runs anti-entropy on a cluster node (design.md §7.4, §10: "Merkle tree sync fills any remaining
// gaps"): every antiEntropyIntervalMs it takes the next of the vnode ranges this node replicates
// (round robin, so a full pass visits each once), picks one other ALIVE replica of it at random
// (one that is not rebuilding, where there is one), and runs src/antientropy's validate → diff →
// sync pipeline against it. One sync at a time; a round that finds the previous one still running
// is skipped, so a slow peer cannot pile work up.
//
// Hints and read repair fix most divergence quickly; this is what heals the rest: a hint lost with
// the node that held it, a write acknowledged by W < N replicas whose others were down and never
// read since, a replica restored from an old disk.
//
// A full pass (fullPass) runs the same sync over every range this node replicates, back to back:
// a new node runs one as it joins (bootstrap: it streams the ranges it now owns from the replicas
// that hold them, instead of waiting ranges x interval for the rounds to come by), and an
// operator can ask for one (POST /api/v1/admin/repair, like `nodetool repair`). A pass syncs every
// leaf that differs (a round repairs at most antiEntropyLeavesPerSyncMax, to bound its work).
// While this node rebuilds, a pass pulls each range whole instead (range_sync.ts pullRange): its
// own copy is new, so nearly every leaf would differ, and comparing trees would only scan every
// range once more on both sides; it cost a joining node's bootstrap about as much again
// (BENCHMARKS.md, "Requests while a node joins and leaves").
// Trees are sized from the larger of the two replicas' key counts: a joining node's own is about
// 0, and one leaf for a whole range would have its sync hold the range's records in memory.
//
// While this node rebuilds (a new data dir), a range with no other live replica that is not
// rebuilding too is pulled, one way, from the live nodes that replicated it in the ring without
// this node (and without the others joining with it): its owners before the join. With N = 1
// that is the only place a joining node's keys are (Cassandra's bootstrap streams from the
// range's previous owner too); with N > 1 it is the fallback when the other replicas are down or
// joined with this one. A node that replaced its data dir has no previous owners but its
// co-replicas: a range waits until one of them is settled, unless all of them replaced theirs too
// (gossip says why a node rebuilds), when the range's old keys are gone and they sync with each
// other. A joining node's full pass also pulls, beside the one settled replica it picks, from the
// owners the join displaced (out of the preference list now): a write a quorum acknowledged is on
// one of the two.
import { applyEach, type RangeEntry, type RangeReplica, type SyncResult, depthFor, pullRange, syncRange, vnodeRanges } from '../antientropy';
import { antiEntropyLeavesPerSyncMax } from '../constants';
import { assert, ErrorCode, RingkvError } from '../errors';
import type { RebuildKind } from '../membership';
import type { InternodeMessage } from '../protocol/internode_codec';
import type { PeerPool } from '../protocol/internode_pool';
import { recordBytes } from '../shards/wire_record';
import type { RepairSummary } from './types';
import type { Ring } from '../ring';
import { SyncCoverage, syncCoverageCheckMs } from './sync_coverage';

export interface AntiEntropyCounters {
  antiEntropySyncs: number;
  /** Syncs whose trees were equal: nothing to do. */
  antiEntropyInSync: number;
  antiEntropyLeavesDiffering: number;
  /** Records that changed this node's replica, and the peer's. */
  antiEntropyPulled: number;
  antiEntropyPushed: number;
  antiEntropyFailures: number;
}

export interface AntiEntropyDeps {
  nodeId: string;
  /** Between rounds; 0 runs no rounds (full passes only). */
  intervalMs: number;
  replicationFactor: number;
  ring: () => Ring;
  isAlive: (nodeId: string) => boolean;
  /**
   * Whether this node rebuilds its replica, and why: it joined (its ranges' previous owners, the
   * replicas of the ring without it, hold them: a range with no other live replica pulls from
   * them), or it replaced an earlier data dir under its id (its tokens are its id's, so its
   * ranges' previous owners are its present co-replicas: a range none of them can serve waits).
   */
  rebuilding: () => RebuildKind | null;
  /** Whether another node says it rebuilds (gossip), and why; null: it does not. */
  peerRebuilding: (nodeId: string) => RebuildKind | null;
  /** While this node rebuilds: whether another joined the ring since its rebuild began (OwnerDeps). */
  joinedSinceRebuild: (nodeId: string) => boolean;
  local: RangeReplica;
  /** A peer's replica over the network, or undefined when its address is unknown. */
  remote: (nodeId: string) => RangeReplica | undefined;
  /** About how many entries this node stores (with the peer's, sizes the trees). */
  keyEstimate: () => number;
  /** About how many entries a peer stores, as it last said (0: unknown). */
  peerKeyEstimate: (nodeId: string) => number;
  random: () => number;
  log: (line: string) => void;
  /** Deletes' tombstones may be purged this long after them on some replica (the shortest of the nodes' graces): every range must be synced well within it (sync_coverage.ts). */
  tombstoneGraceMs: () => number;
  /** Where the time every range has been synced since is kept (`<dataDir>/SYNCED_SINCE`); not kept when absent. */
  syncedSinceFile?: string;
  /** Default Date.now. */
  now?: () => number;
}

/** A peer's replica of its ranges, over the inter-node transport. */
export function remoteRangeReplica(nodeId: string, pool: PeerPool, address: { host: string; peerPort: number }, timeoutMs: number, applyInflightMax = 256): RangeReplica {
  const to = { host: address.host, peerPort: address.peerPort, nodeId };
  const call = (m: Omit<InternodeMessage, 'id' | 'isReply'>) => pool.request(to, m, timeoutMs);
  return {
    nodeId,
    merkleLeaves: async (range, depth) => {
      const reply = await call({ kind: 'merkleLeaves', rangeFrom: range.from, rangeTo: range.to, depth });
      return { leaves: reply.leaves ?? new BigUint64Array(0), entries: reply.leafEntries ?? 0 };
    },
    scanPage: async (range, after) => {
      const reply = await call({ kind: 'rangeScan', rangeFrom: range.from, rangeTo: range.to, ...(after !== null && { after }) });
      const entries: RangeEntry[] = (reply.entries ?? []).map((e) => ({ key: e.key, record: { versionVector: e.record, value: e.value, tombstone: e.tombstone } }));
      return { entries, more: reply.more === true };
    },
    apply: (entries) =>
      applyEach(entries, async (e) => (await call({ kind: 'replicaWrite', key: e.key, record: e.record.versionVector, value: e.record.value, recordTombstone: e.record.tombstone })).found === true, applyInflightMax),
  };
}

/** Bytes of records as they travel (recordBytes of each). */
export function entryBytes(entries: readonly RangeEntry[]): number {
  let n = 0;
  for (const e of entries) n += recordBytes(e.key, e.record);
  return n;
}

/**
 * `r` with the records that cross the network paced: each page read from it and each batch sent
 * to it waits for `pace` (a node-wide byte budget, --stream-bytes-per-second) before it is handed
 * on, so a bootstrap, repair or decommission cannot crowd out requests (design.md §8: "throttled
 * to avoid impacting read/write performance"). Merkle leaves, a few KiB per range, are not paced.
 */
export function pacedRangeReplica(r: RangeReplica, pace: (bytes: number) => Promise<void>): RangeReplica {
  return {
    nodeId: r.nodeId,
    merkleLeaves: (range, depth) => r.merkleLeaves(range, depth),
    scanPage: async (range, after) => {
      const page = await r.scanPage(range, after);
      await pace(entryBytes(page.entries));
      return page;
    },
    apply: async (entries) => {
      await pace(entryBytes(entries));
      return r.apply(entries);
    },
  };
}

/** A vnode range as the ring names it: (previous, token]. */
export interface VnodeRange {
  previous: bigint;
  token: bigint;
}

export interface PassOptions {
  /** Ranges to leave out of the pass. */
  skip?: (r: VnodeRange) => boolean;
  /** Hears each range the pass synced whole. */
  synced?: (r: VnodeRange) => void;
}

/** One pass for several callers: the ranges any of them wants, each synced range told to all. */
function mergedPassOptions(callers: readonly PassOptions[]): PassOptions {
  const skips = callers.map((o) => o.skip);
  const merged: PassOptions = { synced: (r) => callers.forEach((o) => o.synced?.(r)) };
  if (skips.every((s) => s !== undefined)) merged.skip = (r) => skips.every((s) => s!(r));
  return merged;
}

/** What previousOwners and rebuildSources know of the other nodes. */
export interface OwnerDeps {
  isAlive: (id: string) => boolean;
  isRebuilding: (id: string) => boolean;
  /**
   * Whether the node joined the ring after this node's rebuild began: it took over none of this
   * node's ranges' keys, though the ring without this node may name it (it may have finished its
   * own rebuild since). Absent: none did (or it is not known).
   */
  joinedSinceRebuild?: (id: string) => boolean;
}

/**
 * Who held the keys of the range ending at `token` before `self` joined: the replicas of the ring
 * without it, and, where other nodes are rebuilding too (joined at about the same time) or joined
 * after this node's rebuild began, those of the ring without them as well, since such a node may
 * stand where the old owner did and hold nothing of the range. Live ones that are not rebuilding
 * and did not join since only; never `self`.
 */
export function previousOwners(ring: Ring, self: string, token: bigint, n: number, o: OwnerDeps): string[] {
  const out = [...ring.without([self]).preferenceList(token, n)];
  const later = o.joinedSinceRebuild ?? (() => false);
  const joining = ring.members.map((m) => m.nodeId).filter((id) => id !== self && (o.isRebuilding(id) || later(id)));
  if (joining.length > 0) for (const id of ring.without([self, ...joining]).preferenceList(token, n)) if (!out.includes(id)) out.push(id);
  // Not a node rebuilding too: it holds no more than it has pulled, and a range pulled from it
  // alone would count as synced with nothing in it. Nor one that joined since.
  return out.filter((id) => o.isAlive(id) && !o.isRebuilding(id) && !later(id));
}

/**
 * The previous owners (above) of the range ending at `token` that the join displaced: out of its
 * preference list now, and soon cleaned up. A write a quorum acknowledged before the join may be
 * on one of them and on a replica other than the one this node reads or pulls the range from.
 */
export function displacedOwners(ring: Ring, self: string, token: bigint, n: number, o: OwnerDeps): string[] {
  const pref = ring.preferenceList(token, n);
  return previousOwners(ring, self, token, n, o).filter((id) => !pref.includes(id));
}

/**
 * While a node rebuilds, where its replica reads a key from before it answers for it or issues a
 * version of it (rebuild_gate.ts): `nodes`; `required`: a read or write of the key fails when none
 * of them answers, as this node's copy cannot stand in for them. 'down': the nodes that hold the
 * key are all down, and this node's copy cannot say the key is absent.
 */
export type RebuildSources = { nodes: readonly string[]; required: boolean } | 'down';

/**
 * While `self` rebuilds (`kind`), where a key of its (the range ending at `token`) is read from
 * first (RebuildSources). Its previous owners, required, where no other replica in its datacenter
 * can answer for it, being down, absent (N = 1), or rebuilding too (nodes that joined with this
 * one hold no more than it does); a replica elsewhere does not count, since a LOCAL_* read asks
 * this datacenter's alone. Where a settled replica in its datacenter is up (a read asks it, this
 * node ranked last), a joined node still reads the owners its join displaced, not required: a
 * read that reaches this node and a stale settled one (the up-to-date one down) counted this
 * node's unfilled copy toward its quorum and missed an acknowledged write (displacedOwners). A
 * replaced node's keys were on its co-replicas alone: where those in its datacenter cannot
 * answer, the settled ones elsewhere, required.
 */
export function rebuildSources(ring: Ring, self: string, token: bigint, n: number, kind: RebuildKind, o: OwnerDeps): RebuildSources {
  const none = { nodes: [], required: false };
  const pref = ring.preferenceList(token, n);
  if (!pref.includes(self)) return none;
  const dc = ring.datacenterOf(self);
  const others = pref.filter((id) => id !== self);
  const settled = others.filter((id) => o.isAlive(id) && !o.isRebuilding(id));
  if (settled.some((id) => ring.datacenterOf(id) === dc)) return kind === 'joined' ? { nodes: displacedOwners(ring, self, token, n, o), required: false } : none;
  if (kind === 'replaced') return settled.length > 0 ? { nodes: settled, required: true } : others.length > 0 && !others.some((id) => o.isAlive(id)) ? 'down' : none;
  const owners = previousOwners(ring, self, token, n, o);
  return owners.length > 0 || ring.without([self]).preferenceList(token, n).length === 0 ? { nodes: owners, required: true } : 'down';
}

export class AntiEntropyRunner {
  readonly counters: AntiEntropyCounters = {
    antiEntropySyncs: 0,
    antiEntropyInSync: 0,
    antiEntropyLeavesDiffering: 0,
    antiEntropyPulled: 0,
    antiEntropyPushed: 0,
    antiEntropyFailures: 0,
  };
  /** How long ago each range was synced whole (and the WARN when too long). */
  readonly coverage: SyncCoverage;
  private timer: NodeJS.Timeout | undefined;
  private coverageTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private running: Promise<unknown> | null = null;
  /** Round-robin position in the list of ranges this node replicates. */
  private next = 0;
  private stopped = false;
  private pass: Promise<RepairSummary> | null = null;
  /** The pass that starts when the running one ends, and the options of the calls waiting for it. */
  private nextPass: { callers: PassOptions[]; promise: Promise<RepairSummary> } | null = null;

  constructor(private readonly d: AntiEntropyDeps) {
    assert(Number.isInteger(d.intervalMs) && d.intervalMs >= 0, 'anti-entropy interval must be a non-negative integer');
    this.now = d.now ?? Date.now;
    this.coverage = new SyncCoverage({
      nodeId: d.nodeId,
      replicationFactor: d.replicationFactor,
      tombstoneGraceMs: d.tombstoneGraceMs,
      ranges: () => d.ring().replicatedRanges(d.nodeId, d.replicationFactor),
      ...(d.syncedSinceFile !== undefined && { file: d.syncedSinceFile }),
      now: this.now,
      log: d.log,
    });
  }

  start(): void {
    // Watched with anti-entropy off too: then repairs by hand are what keeps ranges synced.
    this.coverageTimer = setInterval(() => this.coverage.check(), syncCoverageCheckMs);
    this.coverageTimer.unref();
    if (this.d.intervalMs === 0) return;
    this.timer = setInterval(() => {
      // A full pass covers every range anyway: rounds wait for it to end.
      if (this.running === null && this.pass === null && !this.stopped) {
        this.running = this.round().finally(() => {
          this.running = null;
        });
      }
    }, this.d.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.coverageTimer !== undefined) clearInterval(this.coverageTimer);
    await this.running;
    await this.pass;
    this.coverage.flush();
  }

  /** One round: the next replicated range against one live peer. Never throws. */
  async round(): Promise<SyncResult[]> {
    const ring = this.d.ring();
    const ranges = ring.replicatedRanges(this.d.nodeId, this.d.replicationFactor);
    if (ranges.length === 0) return [];
    return (await this.syncRange(ring, ranges[this.next++ % ranges.length]!, false))?.results ?? [];
  }

  /**
   * Every replicated range (but those `o.skip` names), one after another, each against one live
   * replica; `o.synced` hears each range synced whole. One pass at a time: a call while one runs
   * gets the next one, which starts when it ends and is shared by every call made meanwhile (the
   * running pass may have passed ranges where the caller's reason lies: a quarantined table's
   * keys, a ring changed since it started). Never throws; stops early on stop().
   */
  fullPass(o: PassOptions = {}): Promise<RepairSummary> {
    if (this.pass === null && this.nextPass === null) return this.startPass(o);
    if (this.nextPass === null) {
      const callers: PassOptions[] = [];
      const promise = this.pass!.then(() => {
        this.nextPass = null;
        return this.startPass(mergedPassOptions(callers));
      });
      this.nextPass = { callers, promise };
    }
    this.nextPass.callers.push(o);
    return this.nextPass.promise;
  }

  private startPass(o: PassOptions): Promise<RepairSummary> {
    const pass = this.runPass(o).finally(() => {
      this.pass = null;
    });
    this.pass = pass;
    return pass;
  }

  private async runPass(o: PassOptions): Promise<RepairSummary> {
    const started = Date.now();
    const ring = this.d.ring();
    const ranges = ring.replicatedRanges(this.d.nodeId, this.d.replicationFactor).filter((r) => o.skip === undefined || !o.skip(r));
    const sum: RepairSummary = { ranges: ranges.length, synced: 0, skipped: 0, failed: 0, pulled: 0, pushed: 0, durationMs: 0 };
    let orphaned = 0;
    // A round already running finishes first, so one sync at a time still holds.
    await this.running;
    for (const r of ranges) {
      if (this.stopped) break;
      const out = await this.syncRange(ring, r, true);
      if (out?.orphaned === true) orphaned++;
      if (out === null) sum.skipped++;
      else if (out.complete) {
        sum.synced++;
        o.synced?.(r);
      } else sum.failed++;
      for (const res of out?.results ?? []) {
        sum.pulled += res.pulled;
        sum.pushed += res.pushed;
      }
    }
    sum.durationMs = Date.now() - started;
    if (orphaned > 0) this.d.log(`rebuilding: WARN ${orphaned} ranges have no replica left that kept its data dir (all replaced theirs, as this node did): what they held before is lost unless restored from a snapshot; synced with each other instead`);
    return sum;
  }

  /**
   * Syncs one replicated range with a random live peer, one that is not rebuilding where there is
   * one (while rebuilding and no such peer is left, with each of its previous owners, pull only:
   * previousOwners); null when there is none. `full`: every differing leaf, not just
   * antiEntropyLeavesPerSyncMax of them. `complete`: no failure and no leaf left. `orphaned`: this
   * node and every other replica replaced their data dirs. Never throws.
   */
  private async syncRange(ring: Ring, r: ReturnType<Ring['replicatedRanges']>[number], full: boolean): Promise<{ results: SyncResult[]; complete: boolean; orphaned: boolean } | null> {
    const replicas = r.replicas.filter((id) => id !== this.d.nodeId && this.d.isAlive(id));
    const kind = this.d.rebuilding();
    const rebuilding = kind !== null;
    // A peer that rebuilds too (it joined at about the same time) may hold nothing of the range
    // yet, and a sync with it would count the range synced: one that does not, where there is one.
    const settled = replicas.filter((id) => this.d.peerRebuilding(id) === null);
    // Every other replica replaced its data dir too, and is up: what they all held before is gone
    // (short of a snapshot), and none will ever be settled to pull from. They sync with each other
    // instead, so that what each was written since reaches the rest, and their rebuilds end. Not
    // while one is down (it may come back with the range) or joined (it is still pulling it from
    // the range's previous owner; settled from a partial copy, this node would be the one it
    // syncs with next, and that owner's cleanup would drop the rest).
    const orphaned = kind === 'replaced' && replicas.length > 0 && r.replicas.every((id) => id === this.d.nodeId || (this.d.isAlive(id) && this.d.peerRebuilding(id) === 'replaced'));
    // Rebuilding, with no live replica that holds the range: its owners before the joins have it.
    const pullOnly = rebuilding && settled.length === 0 && !orphaned;
    const candidates = settled.length > 0 ? settled : replicas;
    // A replaced node's ranges had no other owners than its co-replicas: the ring without it names
    // nodes that never held them, and a pull from them would count the range synced.
    const ownerDeps: OwnerDeps = { isAlive: this.d.isAlive, isRebuilding: (id) => this.d.peerRebuilding(id) !== null, joinedSinceRebuild: this.d.joinedSinceRebuild };
    const owners = (): string[] => previousOwners(ring, this.d.nodeId, r.token, this.d.replicationFactor, ownerDeps);
    const peers = orphaned
      ? [...replicas]
      : pullOnly
        ? kind === 'replaced'
          ? []
          : owners()
        : candidates.length === 0
          ? []
          : [candidates[Math.floor(this.d.random() * candidates.length)]!];
    // A joining node's rebuild pass also pulls from the owners the join took the range from: a
    // write a quorum acknowledged may be on one of them and on a settled replica other than the
    // one picked above (acknowledged by A and C, missed by B; X joins in C's place and picks B).
    // With them, it is in what X pulls.
    if (full && kind === 'joined' && !pullOnly) peers.push(...displacedOwners(ring, this.d.nodeId, r.token, this.d.replicationFactor, ownerDeps));
    const remotes = peers.map((id) => this.d.remote(id)).filter((x): x is RangeReplica => x !== undefined);
    if (remotes.length === 0) return null;
    const startedMs = this.now();
    // Size the tree for a few entries per leaf: the node's entries spread over the share of the
    // ring it replicates; the peer hashes at the depth we ask for.
    const share = Math.min(1, ring.replicaCount(this.d.replicationFactor) / Math.max(1, ring.size));
    const results: SyncResult[] = [];
    let complete = true;
    for (const remote of remotes) {
      const peerId = remote.nodeId;
      try {
        for (const range of vnodeRanges(r.previous, r.token)) {
          let res: SyncResult;
          if (full && rebuilding) {
            res = await pullRange(this.d.local, remote, range);
          } else {
            const width = Number(range.to - range.from + 1n) / 2 ** 64;
            const depth = depthFor((Math.max(this.d.keyEstimate(), this.d.peerKeyEstimate(peerId)) * width) / share);
            res = await syncRange(this.d.local, remote, range, depth, { pullOnly, leavesMax: full ? 1 << depth : antiEntropyLeavesPerSyncMax, tombstoneGraceMs: this.d.tombstoneGraceMs() });
          }
          results.push(res);
          this.count(peerId, r, res);
          if (res.leavesSynced < res.leavesDiffering) complete = false;
        }
      } catch (err) {
        complete = false;
        this.counters.antiEntropyFailures++;
        const e = err instanceof RingkvError ? err : new RingkvError(ErrorCode.Internal, String(err));
        // A peer that went away mid-sync is routine: the range comes round again.
        if (e.code !== ErrorCode.Unavailable && e.code !== ErrorCode.Timeout && e.code !== ErrorCode.Closed) this.d.log(`anti-entropy with ${peerId} failed: ${e.code}: ${e.message}`);
      }
    }
    if (complete) this.coverage.synced(r, startedMs);
    return { results, complete, orphaned };
  }

  private count(peerId: string, r: { previous: bigint; token: bigint }, res: SyncResult): void {
    this.counters.antiEntropySyncs++;
    if (res.leavesDiffering === 0) this.counters.antiEntropyInSync++;
    this.counters.antiEntropyLeavesDiffering += res.leavesDiffering;
    this.counters.antiEntropyPulled += res.pulled;
    this.counters.antiEntropyPushed += res.pushed;
    if (res.pulled + res.pushed > 0) {
      this.d.log(`anti-entropy with ${peerId}: range (${r.previous}, ${r.token}]: ${res.leavesDiffering} of ${1 << res.depth} leaves differed; pulled ${res.pulled}, pushed ${res.pushed}`);
    }
  }
}
