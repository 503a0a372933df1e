// The cluster's read state machine, for all the reads of one batch (a WebSocket frame's GETs, or
// one HTTP GET) at once (design.md §7.2 read path). Per read: ask R ALIVE replicas (this node's
// own first: no network hop; the other replicas that are equally good to ask take turns), and
// one more for each that fails; with probability readRepairChance ask every ALIVE replica
// instead (Cassandra's read_repair_chance), so replicas outside the usual read set get compared
// and repaired too. A read still waiting on another node after the p99 of recent replica round
// trips asks one spare too, budget permitting, and a node that let a read time out is asked last
// for a while (speculative retry, replica_latency.ts): a replica gossip has ALIVE may still never
// answer. A replica hints wait for (held by this node or, as gossip says, by another live one)
// is asked last too, until they are delivered: it is behind (back from a crash, it would answer
// reads from the copy it had, slowly while it starts, and each such read would also repair it).
// A read is answered with the reconciliation of its answers once R have come (siblings when
// concurrent), and read-repaired once every replica it asked has answered or failed.
//
// Why one machine per batch and callbacks, not a promise chain per read: this node's own replica
// is read with one ShardRouter.submitMany for the whole batch, the remote reads go out in
// per-peer batches (replica_batcher.ts), and a batch has one deadline timer per timeout. The
// promise-per-read version allocated ~15 KB per QUORUM GET on the coordinator's main thread, this
// one ~9 KB (ad hoc, sampling heap profiler, one coordinator under 6.4k GETs/s).
import { assert, ErrorCode, isRingkvError, RingkvError } from '../errors';
import { takeTurns } from '../ring';
import { fromWireError } from '../shards';
import type { ShardOp, WireRecord } from '../shards/messages';
import type { ConflictMode, StoredSibling } from '../versioning';
import { type DatacenterView, type QuorumTally, tallyFor, type TallyState } from './quorum';
import { answerOf, mergeAnswers, type ReplicaAnswer } from './read_repair';
import type { LocalReplica } from './cluster_replica';
import type { ReplicaLatency } from './replica_latency';
import { groupByTimeout } from './timeout_groups';
import type { ConsistencyLevel } from './types';

/** What the read state machine needs from its coordinator. */
export interface QuorumReadContext {
  readonly nodeId: string;
  /**
   * N, the configured replica count. Quorum math is over it, not over the preference list: a node
   * whose ring is short of N nodes (restarted and not told of its peers yet, or a cluster smaller
   * than N) must not take one copy for a QUORUM.
   */
  readonly replicationFactor: number;
  readonly conflictMode: ConflictMode;
  readonly readRepairChance: number;
  random(): number;
  preferenceList(key: Uint8Array): readonly string[];
  /** This node, or a member gossip has ALIVE. */
  alive(nodeId: string): boolean;
  readonly local: Pick<LocalReplica, 'submitMany'>;
  /** Reads `key` on a replica (this node's too); `done` hears the record (null: none) or the error. */
  readReplica(nodeId: string, key: Uint8Array, timeoutMs: number, done: (record: WireRecord | null, err: unknown) => void): void;
  /** Counts an error the client will see (unavailable, timeout) and returns it. */
  count(e: RingkvError): RingkvError;
  /** Sends the merged set to the replicas whose answer lacked part of it (in the background). */
  readRepair(key: Uint8Array, answers: readonly ReplicaAnswer[]): void;
  readonly replicaLatency: ReplicaLatency;
  /**
   * Where the ring has zones or datacenters: how far a node is from this one (0 its zone, 1
   * another zone of its datacenter, 3 another datacenter). Reads ask the near replicas before the
   * others (a hop to another zone costs latency, and in a cloud money; to another datacenter
   * far more), as Cassandra's snitch orders replicas by proximity. Null: no preference.
   */
  distance(): ((nodeId: string) => number) | null;
  /** Where the ring has more than one datacenter: which each node is in (LOCAL_* and EACH_QUORUM count by it). */
  datacenters(): DatacenterView | null;
  /** Whether this node's own replica is asked first (no hop); false while it is rebuilding or behind, when it is asked last. */
  localFirst(): boolean;
  /** Where some other node rebuilds its replica (a new data dir): which; those are asked last. Null: none. */
  rebuildingPeer(): ((nodeId: string) => boolean) | null;
  /**
   * Where hints wait, on this node or (as gossip says) on another live one: for which replicas.
   * Each lacks writes taken for it (it was down, or did not answer them): reads ask it after the
   * replicas that are not behind, until the hints are delivered. Null: none held anywhere.
   */
  behindPeer(): ((nodeId: string) => boolean) | null;
  readonly counters: { coordinatedReads: number; replicaReadsAsked: number; speculativeReads: number };
}

/** Which replicas a read asks after the others, and why (see rankReplicas). */
interface Ranking {
  latency: ReplicaLatency;
  distance: ((nodeId: string) => number) | null;
  rebuilding: ((nodeId: string) => boolean) | null;
  behind: ((nodeId: string) => boolean) | null;
}

const sameCost = (): number => 0;

/**
 * The other replicas in the order a read asks them: this node's zone first, then the rest of its
 * datacenter; after them those a recent read gave up on and those hints wait for (behind), then
 * other datacenters' replicas, and last those rebuilding their replica (it may lack the key). A
 * stable sort by that cost; the replicas that cost the same as the best take turns at the front
 * (`turn`), so the reads of a hot key from this node are spread over them rather than all sent
 * to the first. Returns `others` itself when neither changes anything: no array per read.
 */
function rankReplicas(others: string[], r: Ranking, turn: number): readonly string[] {
  const avoiding = r.latency.avoiding;
  const cost =
    !avoiding && r.distance === null && r.rebuilding === null && r.behind === null
      ? null
      : (id: string): number =>
          (r.rebuilding !== null && r.rebuilding(id) ? 4 : 0) +
          ((avoiding && r.latency.avoided(id)) || (r.behind !== null && r.behind(id)) ? 2 : 0) +
          (r.distance !== null ? r.distance(id) : 0);
  if (cost === null) return takeTurns(others, sameCost, turn);
  return takeTurns(others.slice().sort((a, b) => cost(a) - cost(b)), cost, turn);
}

/** One read of the batch. */
interface Read {
  /** Index of its outcome. */
  at: number;
  key: Uint8Array;
  level: ConsistencyLevel;
  timeoutMs: number;
  deadlineMs: number;
  tally: QuorumTally;
  /** Live replicas not asked yet, asked one per failure. */
  spare: string[];
  answers: ReplicaAnswer[];
  /** Replicas asked that have not answered or failed. */
  pending: number;
  /** Other nodes asked that have not answered or failed (only such a wait is worth a speculative ask). */
  waitingOn: string[];
  decided: boolean;
}

/** A read to run: its key and level (checked by the caller), its timeout, and where its answer goes. */
export interface ReadSpec {
  at: number;
  key: Uint8Array;
  consistency: ConsistencyLevel;
  timeoutMs: number;
}

/**
 * Runs `reqs` and hands each, by its `at`, the reconciled set its replicas hold (empty: no entry)
 * or the error. Every read is decided within its timeout; `finish` is called once per read.
 */
export function quorumReads(ctx: QuorumReadContext, reqs: readonly ReadSpec[], finish: (at: number, merged: StoredSibling[], error: unknown) => void): void {
  const now = Date.now();
  const reads: Read[] = [];
  const localGets: ShardOp[] = [];
  const localReads: Read[] = [];
  const remoteAsks: Array<{ read: Read; nodeId: string }> = [];
  const ranking: Ranking = { latency: ctx.replicaLatency, distance: ctx.distance(), rebuilding: ctx.rebuildingPeer(), behind: ctx.behindPeer() };
  const localFirst = ctx.localFirst();
  const dcs = ctx.datacenters();
  for (const req of reqs) {
    const { at, key, consistency, timeoutMs } = req;
    const pref = ctx.preferenceList(key);
    let up = pref.filter((id) => ctx.alive(id));
    let tally: QuorumTally;
    try {
      tally = tallyFor(consistency, ctx.replicationFactor, null, up, dcs, 'get');
    } catch (e) {
      finish(at, [], ctx.count(e as RingkvError));
      continue;
    }
    // LOCAL_* asks no other datacenter (their answers would not count, and cost a long hop).
    if (tally.asked < up.length) up = up.filter((id) => tally.counts(id));
    const needed = tally.needed;
    ctx.counters.coordinatedReads++;
    // Asking all N on every read would triple the work of a ONE read. This node first (no hop;
    // last while it rebuilds or is behind), then its zone's replicas, replicas known to lag last.
    const others = up.filter((id) => id !== ctx.nodeId);
    const ranked = rankReplicas(others, ranking, ctx.replicaLatency.nextTurn());
    const ordered = up.length === others.length ? ranked : localFirst ? [ctx.nodeId, ...ranked] : [...ranked, ctx.nodeId];
    // EACH_QUORUM needs answers from every datacenter: the nearest `needed` would not do.
    const askAll = needed === up.length || tally.perDatacenter || ctx.random() < ctx.readRepairChance;
    const read: Read = {
      at,
      key,
      level: consistency,
      timeoutMs,
      deadlineMs: now + timeoutMs,
      tally,
      spare: askAll ? [] : ordered.slice(needed),
      answers: [],
      pending: 0,
      waitingOn: [],
      decided: false,
    };
    reads.push(read);
    for (const id of askAll ? ordered : ordered.slice(0, needed)) {
      read.pending++;
      ctx.counters.replicaReadsAsked++;
      if (id === ctx.nodeId) {
        localGets.push({ op: 'get', key });
        localReads.push(read);
      } else {
        remoteAsks.push({ read, nodeId: id });
      }
    }
  }
  if (reads.length === 0) return;

  // Replicas asked beyond the quorum answer after their read is decided, and their callbacks
  // keep this scope alive until then: once every read is decided it lets go of the caller's
  // batch (`deliver`) and the timers, so a late answer holds its own read, not the whole frame.
  let deliver: typeof finish | null = finish;
  const timers: NodeJS.Timeout[] = [];
  let undecided = reads.length;
  const decide = (read: Read, merged: StoredSibling[], error: unknown): void => {
    assert(!read.decided && deliver !== null, 'a read is decided once');
    read.decided = true;
    deliver(read.at, merged, error);
    if (--undecided === 0) {
      for (const t of timers) clearTimeout(t);
      timers.length = 0;
      deliver = null;
    }
  };
  const settle = (read: Read, state: TallyState): void => {
    if (!read.decided && state === 'met') {
      let merged: StoredSibling[];
      try {
        merged = mergeAnswers(read.answers, ctx.conflictMode, Date.now());
      } catch (error) {
        decide(read, [], error);
        return;
      }
      decide(read, merged, null);
    } else if (!read.decided && state === 'failed') {
      decide(read, [], ctx.count(read.tally.unavailable(read.level, 'get')));
    }
    // Read repair once every replica asked has answered or failed, for reads that were answered.
    if (read.pending === 0 && read.tally.state === 'met') ctx.readRepair(read.key, read.answers);
  };
  const answer = (read: Read, nodeId: string, record: WireRecord | null, err: unknown): void => {
    read.pending--;
    let decoded: ReplicaAnswer | null = null;
    if (err === null) {
      try {
        decoded = answerOf(nodeId, record, read.answers[0]);
      } catch {
        // A record that does not decode counts as a failed replica.
      }
    }
    if (decoded !== null) {
      read.answers.push(decoded);
      settle(read, read.tally.ok(nodeId));
      return;
    }
    // A read already decided needs no spare: nobody waits for what it would answer.
    const next = read.decided ? undefined : read.spare.shift();
    if (next !== undefined && Date.now() < read.deadlineMs) ask(read, next);
    settle(read, read.tally.fail(err, nodeId));
  };
  const askRemote = (read: Read, nodeId: string, timeoutMs: number): void => {
    const startedMs = ctx.replicaLatency.asked();
    read.waitingOn.push(nodeId);
    ctx.readReplica(nodeId, read.key, timeoutMs, (record, err) => {
      read.waitingOn.splice(read.waitingOn.indexOf(nodeId), 1);
      if (err === null) ctx.replicaLatency.answered(startedMs);
      // Only a timeout marks a node: being slower than the p99 under load is no reason, and
      // every coordinator turning away from the same busy node at once would only move the load.
      else if (isRingkvError(err, ErrorCode.Timeout)) ctx.replicaLatency.gaveUpOn(nodeId);
      answer(read, nodeId, record, err);
    });
  };
  const askLocal = (gets: ShardOp[], forReads: Read[], timeoutMs: number): void => {
    ctx.local.submitMany(gets, timeoutMs, (j, result, error) => {
      const read = forReads[j]!;
      if (error !== null) answer(read, ctx.nodeId, null, error);
      else if (!result!.ok) answer(read, ctx.nodeId, null, fromWireError(result!.error));
      else if (result!.op !== 'get') answer(read, ctx.nodeId, null, new RingkvError(ErrorCode.Internal, 'a get answered as another op'));
      else answer(read, ctx.nodeId, result!.record, null);
    });
  };
  /**
   * Asks a spare: another node, or this one while it rebuilds or is behind (its own replica is
   * then ranked last, so it can be a spare: a node restarted with hints waiting for it crashed
   * here on an assertion that it never was, when a read it coordinated needed a spare).
   */
  const ask = (read: Read, nodeId: string): void => {
    read.pending++;
    ctx.counters.replicaReadsAsked++;
    const leftMs = Math.max(1, read.deadlineMs - Date.now());
    if (nodeId === ctx.nodeId) askLocal([{ op: 'get', key: read.key }], [read], leftMs);
    else askRemote(read, nodeId, leftMs);
  };

  for (const [timeoutMs, list] of groupByTimeout(reads, (r) => r.timeoutMs)) {
    timers.push(
      setTimeout(() => {
        for (const r of list) {
          if (!r.decided) decide(r, [], ctx.count(r.tally.timeout(r.level, 'get', timeoutMs)));
        }
      }, timeoutMs),
    );
  }

  // One spare for each read still short of answers once the usual round trip has passed (a
  // read's spares are also asked, one per failure, by answer()). Only for a read waiting on
  // another node: one that waits on this node's own replica waits on a busy node (this one), and
  // asking more nodes then only adds load (a ONE read asks this node alone).
  const speculating = reads.filter((r) => r.spare.length > 0);
  if (speculating.length > 0) {
    const afterMs = ctx.replicaLatency.speculateAfterMs(Math.min(...speculating.map((r) => r.timeoutMs)));
    timers.push(
      setTimeout(() => {
        for (const r of speculating) {
          if (r.decided || r.waitingOn.length === 0 || r.spare.length === 0 || Date.now() >= r.deadlineMs) continue;
          if (!ctx.replicaLatency.takeSpeculation()) break;
          ctx.counters.speculativeReads++;
          ask(r, r.spare.shift()!);
        }
      }, afterMs),
    );
  }

  if (localGets.length > 0) askLocal(localGets, localReads, Math.max(...localReads.map((r) => r.timeoutMs)));
  for (const { read, nodeId } of remoteAsks) askRemote(read, nodeId, read.timeoutMs);
}
