// One node's membership table: what it knows of every node (itself included), when each node's
// heartbeat last advanced here, and the status its failure detector gave each. Pure: time comes in
// as arguments, so simulations drive it with a fake clock.
//
// Merge rule: for each gossiped entry, the pair (incarnation, heartbeat) orders versions; a
// strictly newer pair replaces ours and counts as progress (the node is ALIVE again). Status is a
// local opinion: every node runs its own failure detector, so a stale SUSPECT gossiped by a peer
// never overrides a heartbeat we saw advance. LEFT is the exception: a node announces it about
// itself (leave), and it holds for that incarnation whoever gossips it; only a restart (a higher
// incarnation) brings the node back.
//
// LEFT entries are forgotten once they are older here than the longest tombstone grace a node
// says it keeps (forgetLeft): no node away longer than that may come back with its old table
// (coordinator/last_run.ts), so by then every node that will ever run again has heard the leave.
// The entry stays in a bounded list of forgotten nodes, so a peer that forgets later than we do
// (it heard the leave later) cannot gossip it back, which would otherwise bounce between the two
// for good; and a peer that gossips it as not LEFT (cut off from the others while the leave
// spread) is told LEFT in our digests for a while, or it would keep the node in its ring.
import { clusterNodesMax, forgottenNodesMax, gossipHintTargetsMax, incarnationMax, tombstoneGraceMsDefault, tombstoneGraceMsMax } from '../constants';
import { assert } from '../errors';
import { isValidZone } from '../ring';
import { classify, type FailureDetectorOptions, validateFailureDetectorOptions } from './failure_detector';
import type { MemberInfo, MemberLoad, MemberStatus, RebuildKind, StatusChange } from './types';

/** A tombstone grace and the node that keeps it. */
export interface TombstoneGraceHolder {
  nodeId: string;
  ms: number;
}

interface Entry {
  info: MemberInfo;
  /** Local time at which (incarnation, heartbeat) last advanced. */
  progressAtMs: number;
  status: MemberStatus;
  /** Local time at which the entry became LEFT here (forgetLeft); undefined while not LEFT. */
  leftAtMs?: number;
}

function newer(a: MemberInfo, b: MemberInfo): boolean {
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && a.heartbeat > b.heartbeat);
}

export function validateMemberInfo(m: MemberInfo): void {
  assert(typeof m.nodeId === 'string' && m.nodeId.length > 0 && m.nodeId.length <= 128, 'member node id length');
  assert(Number.isInteger(m.httpPort) && m.httpPort > 0 && m.httpPort < 65536, 'member http port');
  assert(Number.isInteger(m.peerPort) && m.peerPort > 0 && m.peerPort < 65536, 'member peer port');
  assert(Number.isInteger(m.vnodes) && m.vnodes >= 1, 'member vnodes');
  assert(m.zone === undefined || isValidZone(m.zone), 'member zone');
  assert(m.datacenter === undefined || isValidZone(m.datacenter), 'member datacenter');
  assert(Number.isSafeInteger(m.incarnation) && m.incarnation >= 0 && m.incarnation <= incarnationMax, 'member incarnation');
  assert(Number.isSafeInteger(m.heartbeat) && m.heartbeat >= 0, 'member heartbeat');
  assert(m.hintsFor === undefined || (m.hintsFor.length >= 1 && m.hintsFor.length <= gossipHintTargetsMax), 'member hint targets');
  assert(m.tombstoneGraceMs === undefined || (Number.isSafeInteger(m.tombstoneGraceMs) && m.tombstoneGraceMs >= 0 && m.tombstoneGraceMs <= tombstoneGraceMsMax), 'member tombstone grace');
}

export class MembershipTable {
  readonly selfId: string;
  private readonly entries = new Map<string, Entry>();
  private readonly fd: FailureDetectorOptions;
  /** Entries for our id from later incarnations than ours, not yet taken (takeClaims). */
  private claims: MemberInfo[] = [];
  private claimSeen = -1;
  /**
   * Our incarnation taken past an earlier process's (merge), not yet taken (takeOutrun): `was` is
   * ours before, `earlier` the one gossip had from our earlier process at our address.
   */
  private outrun: Array<{ was: number; earlier: number }> = [];
  /** Whether merge took a known node's entry with other addresses since the last takeMoved(). */
  private moved = false;
  /** Whether a peer has gossiped our id from an earlier incarnation (the cluster knew this id before this process). */
  earlierSelfSeen = false;
  /** A peer gossiped this process LEFT while we had not left (takeRemoved). */
  private removedSeen = false;
  /** Our id LEFT at an earlier incarnation, gossiped while this process runs on a used data dir (takeLeftBefore). */
  private leftBeforeSeen: MemberInfo | null = null;
  /** Entries of nodes whose settings differ from ours, not yet taken (takeMismatches). */
  private mismatches: MemberInfo[] = [];
  /** Node id → the differing settings already reported for it. */
  private readonly mismatchSeen = new Map<string, string>();
  /** hintTargets(), until the next change of another entry's info or status. */
  private hintTargetsCached: Set<string> | null = null;
  /** shortestTombstoneGrace(), until the next merge or markLeft; undefined when not worked out. */
  private shortestGraceCached: TombstoneGraceHolder | null | undefined;
  /**
   * Node id → its LEFT entry when forgetLeft forgot it, and until when our digests carry it again
   * because a peer gossiped it as not LEFT; oldest first, forgottenNodesMax at most.
   */
  private readonly forgotten = new Map<string, { info: MemberInfo; remindUntilMs: number }>();
  /** The ids in `forgotten` whose remindUntilMs has not passed at the last forgetLeft. */
  private readonly reminding = new Set<string>();
  /** New nodes merge ignored since the last call because the table was full (takeRefused). */
  private refused: string[] = [];
  /** The nodes already reported refused (every gossip exchange carries them again). */
  private readonly refusedSeen = new Set<string>();

  constructor(self: MemberInfo, fd: FailureDetectorOptions, nowMs: number) {
    validateMemberInfo(self);
    validateFailureDetectorOptions(fd);
    this.selfId = self.nodeId;
    this.fd = { ...fd };
    this.entries.set(self.nodeId, { info: { ...self, status: 'ALIVE' }, progressAtMs: nowMs, status: 'ALIVE' });
  }

  get self(): MemberInfo {
    return this.entries.get(this.selfId)!.info;
  }

  /** Advances our own heartbeat (once per gossip round) and refreshes what we advertise. */
  beat(nowMs: number, update: Partial<MemberLoad & Pick<MemberInfo, 'ringDigest'>> = {}): void {
    const e = this.entries.get(this.selfId)!;
    e.info = { ...e.info, heartbeat: e.info.heartbeat + 1, ...update };
    if (e.info.storage === undefined) delete e.info.storage;
    if (e.info.rebuilding === undefined) delete e.info.rebuilding;
    if (e.info.rebuildRangesLeft === undefined || e.info.rebuilding === undefined) delete e.info.rebuildRangesLeft;
    if (e.info.hintsFor === undefined || e.info.hintsFor.length === 0) delete e.info.hintsFor;
    if (e.info.leaving !== true) delete e.info.leaving;
    if (e.info.cleaningUp !== true) delete e.info.cleaningUp;
    e.progressAtMs = nowMs;
  }

  /** Marks this node LEFT (it has handed its ranges over); it stays LEFT until the process restarts. */
  leave(nowMs: number): void {
    const e = this.entries.get(this.selfId)!;
    e.info = { ...e.info, heartbeat: e.info.heartbeat + 1 };
    e.progressAtMs = nowMs;
    e.status = 'LEFT';
    e.leftAtMs = nowMs;
  }

  /**
   * Marks another node LEFT for its current incarnation, on an operator's word that it is gone
   * for good (Membership.removeDead). Gossip carries LEFT like the node's own announcement; the
   * node rejoins only by starting again (a new incarnation).
   */
  markLeft(nodeId: string, nowMs: number): void {
    assert(nodeId !== this.selfId, 'a node leaves by itself through leave()');
    const e = this.entries.get(nodeId);
    assert(e !== undefined, 'markLeft of a node not in the table');
    e.status = 'LEFT';
    e.leftAtMs = nowMs;
    this.hintTargetsCached = null;
    this.shortestGraceCached = undefined;
  }

  /**
   * Our table as gossip sends it: every entry, with our local status opinion, then the forgotten
   * nodes a peer lately gossiped as not LEFT, as LEFT (as many as fit one gossip message).
   */
  digest(): MemberInfo[] {
    const out = this.known();
    for (const id of this.reminding) {
      if (out.length >= clusterNodesMax) break;
      out.push({ ...this.forgotten.get(id)!.info });
    }
    return out;
  }

  private known(): MemberInfo[] {
    return [...this.entries.values()].map((e) => ({ ...e.info, status: e.status }));
  }

  /** Other processes seen claiming our id since the last call, one per claiming incarnation. */
  takeClaims(): MemberInfo[] {
    const out = this.claims;
    this.claims = [];
    return out;
  }

  /** Times merge took our incarnation past our earlier process's since the last call. */
  takeOutrun(): Array<{ was: number; earlier: number }> {
    const out = this.outrun;
    this.outrun = [];
    return out;
  }

  /**
   * Whether a peer has gossiped this very process LEFT, which it had not announced, since the last
   * call: an operator removed it (Membership.removeDead somewhere) while it was silent to that node.
   */
  takeRemoved(): boolean {
    const seen = this.removedSeen;
    this.removedSeen = false;
    return seen;
  }

  /**
   * Our id's LEFT entry from an earlier process, when a peer gossiped it since the last call while
   * this process runs on a used data dir and has not left: the cluster had decommissioned or removed
   * this node before this start, which a preflight that reached no seed could not tell.
   */
  takeLeftBefore(): MemberInfo | null {
    const seen = this.leftBeforeSeen;
    this.leftBeforeSeen = null;
    return seen;
  }

  /** Nodes seen with settings other than ours since the last call, once per node and settings. */
  takeMismatches(): MemberInfo[] {
    const out = this.mismatches;
    this.mismatches = [];
    return out;
  }

  /** Whether `m` says it runs with settings other than ours (either saying nothing is no conflict). */
  differs(m: MemberInfo): boolean {
    const ours = this.self.settings;
    return ours !== undefined && m.settings !== undefined && m.settings !== ours;
  }

  /** Merges a peer's digest; returns the status changes it caused (new nodes, recoveries). */
  merge(remote: readonly MemberInfo[], nowMs: number): StatusChange[] {
    this.hintTargetsCached = null;
    this.shortestGraceCached = undefined;
    const changes: StatusChange[] = [];
    for (const r of remote) {
      // Only a clock wildly wrong at a node's start or a crafted message sends one; taken in, it
      // could never be gone past (a restart of that node would stay the older process for good).
      if (r.incarnation > incarnationMax) continue;
      validateMemberInfo(r);
      if (r.nodeId !== this.selfId && this.differs(r) && this.mismatchSeen.get(r.nodeId) !== r.settings) {
        // Bounded like the table; forgetting means reporting a node again, nothing worse.
        if (this.mismatchSeen.size >= clusterNodesMax) this.mismatchSeen.clear();
        this.mismatchSeen.set(r.nodeId, r.settings!);
        this.mismatches.push({ ...r });
      }
      if (r.nodeId === this.selfId) {
        // Only we advance our own heartbeat. Our id with a later incarnation than ours, at our
        // own address, is an earlier process of ours that started while this machine's clock read
        // later than it did at our start (two processes cannot listen on one address): peers
        // would take its entry over ours and, never hearing it advance, hold us DEAD. We go past
        // it (SWIM's refutation; Cassandra keeps its generation on disk for the same reason).
        // At another address it is a process started with our id after this one (a copied data
        // dir, or one --node-id given to two nodes); peers take its entry over ours, so it is
        // reported, not ignored. One at incarnationMax cannot be gone past: reported the same.
        if (r.incarnation > this.self.incarnation) {
          if (r.host === this.self.host && r.peerPort === this.self.peerPort && r.incarnation < incarnationMax) {
            const e = this.entries.get(this.selfId)!;
            this.outrun.push({ was: e.info.incarnation, earlier: r.incarnation });
            e.info = { ...e.info, incarnation: r.incarnation + 1 };
            this.earlierSelfSeen = true;
          } else if (r.incarnation !== this.claimSeen) {
            this.claimSeen = r.incarnation;
            this.claims.push({ ...r });
          }
        }
        if (r.incarnation < this.self.incarnation) this.earlierSelfSeen = true;
        if (r.status === 'LEFT' && r.incarnation === this.self.incarnation && this.entries.get(this.selfId)!.status !== 'LEFT') this.removedSeen = true;
        if (r.status === 'LEFT' && r.incarnation < this.self.incarnation && this.self.freshDataDir !== true && this.entries.get(this.selfId)!.status !== 'LEFT') this.leftBeforeSeen = { ...r };
        continue;
      }
      const e = this.entries.get(r.nodeId);
      if (e === undefined) {
        const gone = this.forgotten.get(r.nodeId);
        if (gone !== undefined && r.incarnation <= gone.info.incarnation) {
          // A node that left long ago. One gossiping it as not LEFT never heard: tell it.
          if (r.status !== 'LEFT') {
            gone.remindUntilMs = nowMs + this.fd.deadAfterMs;
            this.reminding.add(r.nodeId);
          }
          continue;
        }
        if (this.entries.size >= clusterNodesMax) {
          if (!this.refusedSeen.has(r.nodeId)) {
            // Bounded like the table; forgetting means reporting a node again, nothing worse.
            if (this.refusedSeen.size >= clusterNodesMax) this.refusedSeen.clear();
            this.refusedSeen.add(r.nodeId);
            this.refused.push(r.nodeId);
          }
          continue;
        }
        this.forgotten.delete(r.nodeId); // started again since it left
        this.reminding.delete(r.nodeId);
        this.refusedSeen.delete(r.nodeId);
        const status = r.status;
        this.entries.set(r.nodeId, { info: { ...r }, progressAtMs: this.progressAsSaid(r, nowMs), status, ...(status === 'LEFT' && { leftAtMs: nowMs }) });
        changes.push({ nodeId: r.nodeId, from: 'UNKNOWN', to: status, atMs: nowMs });
        continue;
      }
      if (r.status === 'LEFT' && r.incarnation >= e.info.incarnation && e.status !== 'LEFT') {
        changes.push({ nodeId: r.nodeId, from: e.status, to: 'LEFT', atMs: nowMs });
        e.status = 'LEFT';
        e.leftAtMs = nowMs;
        if (newer(r, e.info)) this.takeIn(e, r);
        continue;
      }
      if (!newer(r, e.info)) continue;
      if (e.info.incarnation === 0) {
        // Remembered from an earlier run (Membership.remember), never heard of in this one: as for
        // a node never heard of, the sender's opinion of its liveness, not ALIVE for its news.
        this.takeIn(e, r);
        e.progressAtMs = this.progressAsSaid(r, nowMs);
        if (e.status !== r.status) {
          changes.push({ nodeId: r.nodeId, from: e.status, to: r.status, atMs: nowMs });
          e.status = r.status;
        }
        continue;
      }
      // A node started again on the data dir it left with would serve what it held then, missing
      // every write since: not taken back. Our entry stays LEFT as it was, so our digests tell it,
      // and it takes itself out (takeLeftBefore there).
      if (e.status === 'LEFT' && r.incarnation > e.info.incarnation && r.status !== 'LEFT' && r.freshDataDir !== true) continue;
      // A LEFT node's later heartbeats keep it LEFT; a new incarnation is a node started again
      // (on a new data dir), unless that process has left too (we heard its leave before any of
      // its other heartbeats).
      const rejoined = e.status === 'LEFT' && r.incarnation > e.info.incarnation && r.status !== 'LEFT';
      this.takeIn(e, r);
      e.progressAtMs = nowMs;
      if (e.status === 'LEFT' && !rejoined) continue;
      delete e.leftAtMs;
      if (e.status !== 'ALIVE') {
        changes.push({ nodeId: r.nodeId, from: e.status, to: 'ALIVE', atMs: nowMs });
        e.status = 'ALIVE';
      }
    }
    return changes;
  }

  /** Replaces a known node's entry with the newer `r`, noting a move to other addresses. */
  private takeIn(e: Entry, r: MemberInfo): void {
    if (r.host !== e.info.host || r.httpPort !== e.info.httpPort || r.peerPort !== e.info.peerPort) this.moved = true;
    e.info = { ...r };
  }

  /**
   * Whether a known node was taken in at other addresses since the last call (a node restarted
   * elsewhere keeps its tokens, so the ring does not change).
   */
  takeMoved(): boolean {
    const moved = this.moved;
    this.moved = false;
    return moved;
  }

  /**
   * When a node first heard of through `r` last made progress, as far as the detector is
   * concerned: the sender's opinion of its liveness is trusted, so a joining (or restarted) node
   * does not believe a long-dead node ALIVE for suspectAfterMs.
   */
  private progressAsSaid(r: MemberInfo, nowMs: number): number {
    return nowMs - (r.status === 'DEAD' ? this.fd.deadAfterMs : r.status === 'SUSPECT' ? this.fd.suspectAfterMs : 0);
  }

  /** The ids of new nodes merge ignored because the table held clusterNodesMax, since the last call; each once. */
  takeRefused(): string[] {
    const out = this.refused;
    this.refused = [];
    return out;
  }

  /**
   * How long a LEFT entry is kept: the longest tombstone grace a node here says it keeps (the
   * default when none says). A node away longer than its grace, or a shorter one of its peers,
   * does not start on its old data (coordinator/last_run.ts), so no table older than that runs again.
   */
  leftKeptMs(): number {
    let ms = 0;
    for (const e of this.entries.values()) ms = Math.max(ms, e.info.tombstoneGraceMs ?? 0);
    return ms > 0 ? ms : tombstoneGraceMsDefault;
  }

  /**
   * Forgets the other nodes LEFT here for leftKeptMs() or longer, and returns their ids; stops
   * telling peers of forgotten nodes once none has gossiped them as not LEFT for deadAfterMs.
   */
  forgetLeft(nowMs: number): string[] {
    for (const id of this.reminding) if (this.forgotten.get(id)!.remindUntilMs <= nowMs) this.reminding.delete(id);
    const keptMs = this.leftKeptMs();
    const gone: string[] = [];
    for (const [id, e] of this.entries) {
      if (id === this.selfId || e.status !== 'LEFT') continue;
      assert(e.leftAtMs !== undefined, 'a LEFT entry knows when it left');
      if (nowMs - e.leftAtMs < keptMs) continue;
      this.entries.delete(id);
      this.forgotten.delete(id);
      this.forgotten.set(id, { info: { ...e.info, status: 'LEFT' }, remindUntilMs: 0 });
      if (this.forgotten.size > forgottenNodesMax) {
        const oldest = this.forgotten.keys().next().value!;
        this.forgotten.delete(oldest);
        this.reminding.delete(oldest);
      }
      gone.push(id);
    }
    if (gone.length > 0) {
      this.hintTargetsCached = null;
      this.shortestGraceCached = undefined;
    }
    return gone;
  }

  /** Runs the failure detector over every other node; returns the transitions it made. */
  detect(nowMs: number): StatusChange[] {
    const changes: StatusChange[] = [];
    for (const [id, e] of this.entries) {
      if (id === this.selfId || e.status === 'LEFT') continue;
      const status = classify(nowMs - e.progressAtMs, this.fd);
      if (status !== e.status) {
        changes.push({ nodeId: id, from: e.status, to: status, atMs: nowMs });
        e.status = status;
        this.hintTargetsCached = null;
      }
    }
    return changes;
  }

  /**
   * The ALIVE nodes among `nodeIds`, this one aside, whose last heartbeat here carried a ring
   * digest other than `digest`: they route by another ring (one without a node that just joined,
   * say). A node that gossips no digest is not counted.
   */
  holdingOtherRing(nodeIds: readonly string[], digest: number): string[] {
    return nodeIds.filter((id) => {
      const e = this.entries.get(id);
      return id !== this.selfId && e !== undefined && e.status === 'ALIVE' && e.info.ringDigest !== undefined && e.info.ringDigest !== digest;
    });
  }

  status(nodeId: string): MemberStatus | undefined {
    return this.entries.get(nodeId)?.status;
  }

  /** Whether node `nodeId` last said it is rebuilding its replica, and why; null: it did not (no copy: a per-read check). */
  rebuilding(nodeId: string): RebuildKind | null {
    return this.entries.get(nodeId)?.info.rebuilding ?? null;
  }

  /** Whether any node other than this one says so. */
  anyRebuilding(): boolean {
    for (const [id, e] of this.entries) if (id !== this.selfId && e.info.rebuilding !== undefined && e.status === 'ALIVE') return true;
    return false;
  }

  /**
   * Whether a live node other than this one says it holds hints for `nodeId` (a per-read check).
   * A node that is not ALIVE here may say so for a long while yet, and its hints wait with it:
   * the target is asked as usual meanwhile.
   */
  hintsHeldFor(nodeId: string): boolean {
    return this.hintTargets().has(nodeId);
  }

  /** Whether a live node other than this one says it holds hints for any node. */
  anyHintsHeld(): boolean {
    return this.hintTargets().size > 0;
  }

  /** The nodes live others hold hints for, worked out again after the table changed (merge, detect, markLeft). */
  private hintTargets(): ReadonlySet<string> {
    if (this.hintTargetsCached === null) {
      const targets = new Set<string>();
      for (const [id, e] of this.entries) {
        if (id !== this.selfId && e.status === 'ALIVE' && e.info.hintsFor !== undefined) for (const t of e.info.hintsFor) targets.add(t);
      }
      this.hintTargetsCached = targets;
    }
    return this.hintTargetsCached;
  }

  /**
   * The shortest tombstone grace a node not LEFT says it keeps (this one's included), and whose it
   * is (this node's on a tie, else the lowest id); null when none says. Every replica purges a
   * tombstone its own grace after the delete, so the first to purge decides when a delete another
   * replica missed can come back. A DEAD node counts: it purges by its grace once it is back.
   */
  shortestTombstoneGrace(): TombstoneGraceHolder | null {
    if (this.shortestGraceCached === undefined) {
      let best: TombstoneGraceHolder | null = null;
      for (const [id, e] of this.entries) {
        const ms = e.info.tombstoneGraceMs;
        if (ms === undefined || e.status === 'LEFT') continue;
        const better = best === null || ms < best.ms || (ms === best.ms && best.nodeId !== this.selfId && (id === this.selfId || id < best.nodeId));
        if (better) best = { nodeId: id, ms };
      }
      this.shortestGraceCached = best;
    }
    return this.shortestGraceCached;
  }

  info(nodeId: string): MemberInfo | undefined {
    const e = this.entries.get(nodeId);
    return e === undefined ? undefined : { ...e.info, status: e.status };
  }

  /** Every known node with our status opinion, sorted by id. */
  members(): MemberInfo[] {
    return this.known().sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  get size(): number {
    return this.entries.size;
  }
}
