// The cluster coordinator: any node accepts a request and coordinates it over the N replicas of
// the key's preference list (design.md §7.1, §7.2). Placement comes from the ring (pure), liveness
// from membership (gossip + failure detector); the preference list joins them here.
//
// Write (put/delete), as explicit steps (1 and 3 in write(), for the writes that need them; 2 and
// 4-6 in quorum_writes.ts, for all the writes of a batch together):
//   1 route     not a replica of the key → forward once to the first ALIVE replica (a forwarded
//               request is never forwarded again), so the vector clock is incremented only by
//               replicas and clocks stay small; a write with If-Match goes to the key's first
//               ALIVE replica from every node, so one shard checks every condition on the key;
//   2 check     fewer ALIVE replicas than W → RKV_ERR_UNAVAILABLE {needed, answered: 0} at once;
//   3 condition If-Match: read at the requested level, merge what answered into the local
//               replica, then let the local write check the version atomically;
//   4 local     the coordinating replica makes the new version (its clock entry incremented);
//   5 replicate as soon as that write is applied (before its WAL sync), the resulting sibling set
//               goes to every other ALIVE replica in parallel, so the local sync and the remote
//               writes overlap; the local copy counts toward W once durable; down replicas get a
//               hint on a stand-in instead (hints never count toward W);
//   6 answer    after W acknowledgements; RKV_ERR_UNAVAILABLE when the rest cannot reach W,
//               RKV_ERR_TIMEOUT {needed, answered} when the deadline passes first.
// Read (quorum_reads.ts, all the reads of a batch together): ask R ALIVE replicas (this node's
// own first: no network hop), and one more for each that fails; with probability
// readRepairChance ask every ALIVE replica instead (Cassandra's read_repair_chance), so replicas
// outside the usual read set get compared too. Answer with the reconciliation of the first R
// answers (siblings when concurrent); when all asked have answered (or timed out) merge
// everything and send the merged set to replicas that lacked part of it (read repair), in the
// background and bounded.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { localRangeReplica, localScanPage, type RangeReplica } from '../antientropy';
import { bootstrapRingChangePassesMax, bootstrapSettleRoundsMax, gossipHintTargetsMax, hintAgeMsMax, rebuildRetryMs, merkleDepthMax, nodeIdBytesMax, readRepairsInflightMax, replicaWriteBytesInflightMax, replicaWritesInflightMax, vnodesPerNodeMax } from '../constants';
import { assert, ErrorCode, isRingkvError, RingkvError } from '../errors';
import { Membership, parseNodeAddress, type MemberInfo, type RebuildKind, type StorageTrouble } from '../membership';
import { consistencyFromWire, consistencyToWire } from '../protocol/client_codes';
import type { InternodeMessage } from '../protocol/internode_codec';
import { PeerPool } from '../protocol/internode_pool';
import { InternodeServer } from '../protocol/internode_server';
import { keyToken, Ring, ringDigestText, tokenToString } from '../ring';
import type { WireRecord } from '../shards/messages';
import { isValidNodeId, type StoredSibling } from '../versioning';
import { AntiEntropyRunner, entryBytes, pacedRangeReplica, type RebuildSources, rebuildSources, remoteRangeReplica, type VnodeRange } from './anti_entropy';
import { handOffRanges } from './decommission';
import { recordLeft } from './decommissioned';
import { tombstoneGraceNotice } from './grace_notice';
import { writeFileDurably } from '../storage/durable-file';
import { type ClusterOptions, clusterSettingsOf, validateClusterOptions } from './cluster_options';
import { answerReplicaBatch, type LocalReplica, recordFromWire, recordToWire, ReplicaClient } from './cluster_replica';
import { toGetResult, toReplicaView } from './get_result';
import { checkCommon, checkContext, checkIdempotencyKey, checkIfMatch, checkKey, checkNotAfter, checkTtl, checkValue, requestTimeoutMs } from './request_checks';
import { ByteRateLimiter, takeBytes } from './byte_rate_limiter';
import { type Hint, HintStore } from './hinted_handoff';
import { recordBytes } from '../shards/wire_record';
import { nodeHealth, nodeStatusOf } from './node_health';
import { lastRunRefreshMs, writeLastRun } from './last_run';
import { loadPeers, peersOf, savePeers } from './peers_file';
import { conditionalReadLevel, type DatacenterView, tallyFor } from './quorum';
import { type QuorumReadContext, quorumReads, type ReadSpec } from './quorum_reads';
import { ReplicaLatency } from './replica_latency';
import { type QuorumWriteContext, quorumWrites, type WriteAnswer, type WriteSpec } from './quorum_writes';
import { pullKey, rebuildGate, type PullDeps } from './rebuild_gate';
import { mergeRecords, recordOf, type ReplicaAnswer, siblingsOf, staleReplicas } from './read_repair';
import type {
  AnswerRoom,
  BatchOp,
  BatchOutcome,
  ClusterNodeInfo,
  ClusterStatus,
  ConsistencyLevel,
  Coordinator,
  CoordinatorStats,
  DeleteRequest,
  DeleteResult,
  GetRequest,
  GetResult,
  PutRequest,
  PutResult,
  AddNodeRequest,
  AddNodeResult,
  RemoveNodeResult,
  DecommissionSummary,
  RepairSummary,
  ReplicaView,
  ScrubSummary,
  SnapshotSummary,
  CleanupSummary,
} from './types';
import { failed, withinRoom } from './batch_outcome';
import type { ScrubOptions } from '../storage/types';
import type { DiskSpace } from './local_coordinator';
import { QuarantineWatch } from './quarantine_watch';

/** Hints replayed per target per tick: replay must not starve live traffic. */
const hintReplayBatch = 256;

interface WriteRequest {
  op: 'put' | 'delete';
  key: Uint8Array;
  value: Uint8Array;
  consistency: ConsistencyLevel;
  timeoutMs: number;
  ttlSeconds: number;
  ifMatch?: string;
  context?: Uint8Array;
  idempotencyKey?: string;
  /** When its client gives up on it (0: none): the version is not issued past it (WriteOp.notAfterMs). */
  notAfterMs: number;
}

/** A checked client write as its shard op, for the write state machine. */
function writeSpec(at: number, w: WriteRequest, pref: readonly string[], timeoutMs: number): WriteSpec {
  return {
    at,
    op: { op: w.op, key: w.key, value: w.value, ttlSeconds: w.ttlSeconds, ifMatch: w.ifMatch ?? null, context: w.context ?? null, idempotencyKey: w.idempotencyKey ?? null, returnRecord: true, notAfterMs: w.notAfterMs },
    pref,
    consistency: w.consistency,
    timeoutMs,
  };
}


function rangeKey(r: VnodeRange): string {
  return `${r.previous}:${r.token}`;
}

/** `<dataDir>/REBUILDING`: a rebuild in progress (ClusterCoordinator's `rebuilding`). */
export const rebuildFileName = 'REBUILDING';
/** `<dataDir>/FRESH`: ClusterOptions.freshFile. */
export const freshFileName = 'FRESH';
/** Event-loop turns close() lets the callbacks of failed peer requests run in (batcher tick, write machine, stand-in refusal, hint). */
const closeSettleTurns = 4;
/** In REBUILDING: this node's id was in the cluster before its data dir was made. */
const replacedMark = 'it replaces an earlier data dir of this node id';

/** In REBUILDING, before the ids of the ring's members when the rebuild began (files from before the line have none). */
const membersLine = 'ring members at its start: ';

/** What REBUILDING holds (resumeRebuild reads the mark and the members back). */
function rebuildFileText(replaced: boolean, members: ReadonlySet<string> | null): string {
  const first = `rebuilding: a full pass has not synced every range since this data dir was made${replaced ? `; ${replacedMark}` : ''}\n`;
  return members === null ? first : `${first}${membersLine}${[...members].join(' ')}\n`;
}

/** The members REBUILDING names (null: none named, a file from before the line). */
function rebuildFileMembers(text: string): ReadonlySet<string> | null {
  const line = text.split('\n').find((l) => l.startsWith(membersLine));
  return line === undefined ? null : new Set(line.slice(membersLine.length).split(' ').filter((id) => id !== ''));
}

export interface ClusterCounters {
  coordinatedWrites: number;
  forwardedWrites: number;
  /** Forwarded writes not coordinated here: they arrived after their requester had given up. */
  forwardsExpired: number;
  coordinatedReads: number;
  /** Writes answered only after all their replicas because replicaWritesInflightMax or replicaWriteBytesInflightMax was reached. */
  replicationBackPressure: number;
  /** Writes a leaving node passed on to the nodes that replicate their key without it. */
  handoverForwards: number;
  /** Times a hint replay batch waited for the replay byte budget. */
  hintReplayWaits: number;
  /** Hints a replay sent that the target did not take (they stay queued). */
  hintReplayFailures: number;
  /** Replica reads this node asked for as coordinator (its own replica included). */
  replicaReadsAsked: number;
  /** Of those, spares asked because the read had waited the p99 of replica round trips. */
  speculativeReads: number;
  /** Keys this replica, rebuilding, read from their previous owner before it answered for them (rebuild_gate.ts). */
  rebuildPulls: number;
  /** Versions this replica, rebuilding, issued that their previous owner did not take (rebuild_gate.ts). */
  rebuildPushFailures: number;
  /** Writes coordinated here that read their key from the other replicas first because this node was behind (catchUpKey). */
  behindPulls: number;
  /** Time range streams waited for the --stream-bytes-per-second budget. */
  streamThrottledSeconds: number;
  readRepairs: number;
  readRepairsDropped: number;
  readRepairFailures: number;
  replicaWriteFailures: number;
  unavailableErrors: number;
  timeoutErrors: number;
}


export class ClusterCoordinator implements Coordinator {
  readonly nodeId: string;
  readonly membership: Membership;
  /** This node's shards, gated while it rebuilds (rebuild_gate.ts). */
  private readonly local: LocalReplica;
  /** `local` without the rebuild gate: this node's copy as it is (Coordinator.replica). */
  private readonly store: LocalReplica;
  private readonly pullDeps: PullDeps;
  private readonly pool: PeerPool;
  private readonly server: InternodeServer;
  private readonly replicas: ReplicaClient;
  private readonly readContext: QuorumReadContext;
  private readonly writeContext: QuorumWriteContext;
  private dcView: { ring: Ring; view: DatacenterView } | null = null;
  private readonly hints: HintStore;
  private readonly replaying = new Set<string>();
  private readonly hintReplayBudget: ByteRateLimiter;
  /** Record bytes streamed per second (--stream-bytes-per-second); null: unthrottled. */
  private readonly streamBudget: ByteRateLimiter | null;
  /** Targets whose next replay batch waits for the byte budget, and the timer that resumes it. */
  private readonly replayWaits = new Map<string, NodeJS.Timeout>();
  private hintTimer: NodeJS.Timeout | undefined;
  private lastRunTimer: NodeJS.Timeout | undefined;
  private readonly antiEntropy: AntiEntropyRunner;
  /** 0: not a bootstrapping node; 1: waiting for the ring to settle or streaming; 2: done. */
  private bootstrapState = 0;
  private bootstrapRun: Promise<void> | null = null;
  /**
   * This node's replica lacks what its ranges hold elsewhere: its data dir is new and either its
   * id was in the cluster before (a node replaced under the same id, or whose data dir was lost:
   * the versions it issued before are only on the other replicas) or it bootstraps into a running
   * cluster. Until a full pass has synced every range (fullPass), a write it coordinates first
   * reads the key from the other replicas, so the version it issues counts past its old ones (a
   * reused dot would let the older write hide the new one), and a read asks the other replicas
   * before its own (design.md §8: a new node serves once caught up). Kept across restarts in the
   * data dir's REBUILDING file.
   */
  private rebuilding = false;
  /** While rebuilding: whether this node replaced an earlier data dir under its id (AntiEntropyDeps.rebuilding), kept in REBUILDING. */
  private rebuildReplaced = false;
  /**
   * While rebuilding: the ring's members when the rebuild began, kept in REBUILDING (null: a file
   * from before they were). A node not among them joined since, and holds nothing of the ranges
   * this one took over (anti_entropy.ts OwnerDeps.joinedSinceRebuild).
   */
  private rebuildMembers: ReadonlySet<string> | null = null;
  /** The last tombstone grace notice said another node keeps a shorter grace than this one (grace_notice.ts). */
  private graceWarned = false;
  /** While rebuilding: the ranges (rangeKey) a pass has synced since the rebuild began, in this process. */
  private readonly rebuildSynced = new Set<string>();
  private rebuildTimer: NodeJS.Timeout | undefined;
  private decommissioning = false;
  /** Cleanups running here (admin cleanup): gossiped (MemberInfo.cleaningUp), so a decommission waits. */
  private cleaningUp = 0;
  /**
   * From the start of a decommission (and after it, while this process runs): the ring with this
   * node and the one without it. Every write that reaches this replica meanwhile is passed on to
   * the nodes that replicate its key without it (forwardToSuccessors): the hand-over's scan may
   * have passed the key already, and coordinators that have not heard LEFT yet still write here.
   */
  private handover: { current: Ring; without: Ring } | null = null;
  /** tokenTexts' answers for the ring they were made from. */
  private statusTokens: { ring: Ring; byNode: Map<string, readonly string[]> } | null = null;
  private repairsInflight = 0;
  private keyEstimateCached = 0;
  private dataBytesCached = 0;
  private diskCached: DiskSpace | null = null;
  /** Which quarantined tables were reported and repaired (noticeQuarantines, scrub). */
  private readonly quarantines = new QuarantineWatch();
  private storageCached: StorageTrouble | undefined = undefined;
  private closed = false;
  readonly counters: ClusterCounters = {
    coordinatedWrites: 0,
    forwardedWrites: 0,
    forwardsExpired: 0,
    coordinatedReads: 0,
    replicationBackPressure: 0,
    handoverForwards: 0,
    hintReplayWaits: 0,
    hintReplayFailures: 0,
    replicaReadsAsked: 0,
    speculativeReads: 0,
    rebuildPulls: 0,
    rebuildPushFailures: 0,
    behindPulls: 0,
    streamThrottledSeconds: 0,
    readRepairs: 0,
    readRepairsDropped: 0,
    readRepairFailures: 0,
    replicaWriteFailures: 0,
    unavailableErrors: 0,
    timeoutErrors: 0,
  };

  constructor(
    store: LocalReplica,
    private readonly o: ClusterOptions,
  ) {
    validateClusterOptions(o);
    this.nodeId = o.nodeId;
    this.store = store;
    this.pullDeps = { conflictMode: o.conflictMode, read: (id, key, timeoutMs, done) => this.replicas.read(id, key, timeoutMs, done), apply: (key, record, timeoutMs) => store.apply(key, record, timeoutMs) };
    this.local = rebuildGate(store, {
      ...this.pullDeps,
      rebuilding: () => this.rebuilding,
      sourcesFor: (key) => this.rebuildSourcesOf(key),
      push: (id, key, record, timeoutMs) => new Promise((resolve, reject) => this.replicas.apply(id, key, record, timeoutMs, (err) => (err === null ? resolve() : reject(err)))),
      counters: this.counters,
    });
    const local = this.local;
    this.pool = new PeerPool({ clusterName: o.clusterName, fromNode: o.nodeId }, { log: o.log });
    const gossipTimeoutMs = Math.max(200, 2 * o.gossipIntervalMs);
    this.membership = new Membership({
      self: { nodeId: o.nodeId, host: o.host, httpPort: o.httpPort, peerPort: o.peerPort, vnodes: o.vnodes, ...(o.zone ? { zone: o.zone } : {}), ...(o.datacenter ? { datacenter: o.datacenter } : {}), incarnation: Date.now(), keyEstimate: 0, load: 0, settings: clusterSettingsOf(o), tombstoneGraceMs: o.tombstoneGraceMs, ...(o.freshDataDir === true && { freshDataDir: true }) },
      seeds: o.seeds,
      gossipIntervalMs: o.gossipIntervalMs,
      suspectAfterMs: o.suspectAfterMs,
      deadAfterMs: o.deadAfterMs,
      log: o.log,
      network: {
        exchange: async (to, digest, admitted) => {
          const answer = await this.pool.request(to, { kind: 'gossip', members: digest, ...(admitted === true && { admitted: true }) }, gossipTimeoutMs);
          return { members: answer.members ?? [], ...(answer.wallClockMs !== undefined && { wallClockMs: answer.wallClockMs }) };
        },
      },
      localLoad: () => {
        // Advertises what the previous round's query found; gossip is periodic anyway.
        this.local.storageState().then(
          (s) => {
            this.keyEstimateCached = s.keysEstimate;
            this.dataBytesCached = s.dataBytes;
            this.diskCached = s.disk;
            this.storageCached = s.storage;
            this.noticeQuarantines(s.tablesQuarantined);
          },
          () => undefined,
        );
        return {
          keyEstimate: this.keyEstimateCached,
          load: Math.min(1, os.loadavg()[0]! / Math.max(1, os.availableParallelism())),
          storage: this.storageCached,
          rebuilding: this.rebuildKind() ?? undefined,
          dataBytes: this.dataBytesCached,
          ...(this.diskCached !== null && { diskSizeBytes: this.diskCached.sizeBytes, diskFreeBytes: this.diskCached.freeBytes }),
          ...(this.rebuilding && { rebuildRangesLeft: this.rangesLeftToRebuild().length }),
          hintsFor: this.hintTargetsToGossip(),
          leaving: this.decommissioning,
          cleaningUp: this.cleaningUp > 0,
        };
      },
      // The next start rebuilds its ring from it, and judges this node's absence by the
      // shortest grace in it (last_run.ts startGrace).
      ...(o.peersFile !== undefined && { onPeersChange: (members: readonly MemberInfo[]) => savePeers(o.peersFile!, peersOf(members), o.log) }),
      onIdKnown: () => this.idKnownLate(),
      onTombstoneGrace: (shortest) => {
        const line = tombstoneGraceNotice(o.tombstoneGraceMs, shortest, this.graceWarned);
        this.graceWarned = shortest.ms < o.tombstoneGraceMs;
        if (line !== null) o.log(line);
      },
      onChange: (c) => {
        if (c.nodeId === this.nodeId && c.to === 'LEFT') this.recordRemoval();
        if (c.to !== 'ALIVE') return;
        // Gossip has heard from it: the link to it need not wait out a back-off from its absence.
        const addr = this.membership.peerAddress(c.nodeId);
        if (addr !== undefined) this.pool.resetBackoff(addr);
        if (c.from !== 'UNKNOWN') this.replayHints(c.nodeId);
      },
    });
    if (o.peersFile !== undefined) this.membership.remember(loadPeers(o.peersFile, o.log));
    this.replicas = new ReplicaClient(o.nodeId, local, this.membership, this.pool);
    this.readContext = {
      nodeId: o.nodeId,
      replicationFactor: o.replicationFactor,
      conflictMode: o.conflictMode,
      readRepairChance: o.readRepairChance,
      random: o.random,
      preferenceList: (key) => this.preferenceList(key),
      alive: (id) => this.alive(id),
      local,
      readReplica: (id, key, timeoutMs, done) => this.replicas.read(id, key, timeoutMs, done),
      count: (e) => this.count(e),
      readRepair: (key, answers) => this.readRepair(key, answers),
      replicaLatency: new ReplicaLatency(),
      // Not while rebuilding, nor while writes this node missed wait as hints: its copy may lack them.
      localFirst: () => !this.rebuilding && !this.isBehind(this.nodeId),
      rebuildingPeer: () => (this.membership.anyRebuilding() ? (id) => this.membership.isRebuilding(id) : null),
      // Behind: a node this coordinator, or any other live node, holds hints for (gossip says
      // which; a node that has delivered its own hints would otherwise read from it again
      // while another still holds writes it missed).
      behindPeer: () => (this.hints.size() > 0 || this.membership.anyHintsHeld() ? (id) => this.isBehind(id) : null),
      distance: () => {
        const ring = this.membership.ring;
        if (ring.zones < 2 && ring.datacenters < 2) return null;
        const zone = ring.zoneOf(this.nodeId);
        const dc = ring.datacenterOf(this.nodeId);
        return (id) => (ring.datacenterOf(id) !== dc ? 3 : ring.zoneOf(id) !== zone ? 1 : 0);
      },
      datacenters: () => this.datacenterView(),
      counters: this.counters,
    };
    this.writeContext = {
      nodeId: o.nodeId,
      replicationFactor: o.replicationFactor,
      datacenters: () => this.datacenterView(),
      partitionMode: o.partitionMode,
      hintedHandoff: o.hintedHandoff,
      alive: (id) => this.alive(id),
      local,
      applyReplica: (id, key, record, timeoutMs, done) => this.replicas.apply(id, key, record, timeoutMs, done),
      applied: (key, record) => this.forwardToSuccessors(key, record),
      hint: (target, key, record, pref) => this.hint(target, key, record, pref),
      count: (e) => this.count(e),
      replicaWrites: { inflight: 0, inflightMax: replicaWritesInflightMax, bytes: 0, bytesMax: replicaWriteBytesInflightMax },
      counters: this.counters,
    };
    this.antiEntropy = new AntiEntropyRunner({
            nodeId: o.nodeId,
            intervalMs: o.antiEntropyIntervalMs,
            replicationFactor: o.replicationFactor,
            ring: () => this.membership.ring,
            isAlive: (id) => this.membership.isAlive(id),
            rebuilding: () => this.rebuildKind(),
            peerRebuilding: (id) => this.membership.rebuildKind(id),
            joinedSinceRebuild: (id) => this.joinedSinceRebuild(id),
            local: localRangeReplica(o.nodeId, local.ranges, o.requestTimeoutMs, () => this.tombstoneGraceMs()),
            remote: (id) => {
              const addr = this.membership.peerAddress(id);
              return addr === undefined ? undefined : this.streamTo(remoteRangeReplica(id, this.pool, addr, o.requestTimeoutMs));
            },
            keyEstimate: () => this.keyEstimateCached,
            peerKeyEstimate: (peer) => this.membership.keyEstimateOf(peer),
            random: o.random,
            log: o.log,
            tombstoneGraceMs: () => this.tombstoneGraceMs(),
            ...(o.syncedSinceFile !== undefined && { syncedSinceFile: o.syncedSinceFile }),
          });
    this.server = new InternodeServer({
      host: o.peerListen?.host ?? o.host,
      port: o.peerListen?.port ?? o.peerPort,
      clusterName: o.clusterName,
      nodeId: o.nodeId,
      handler: (req, latenessMs) => this.handle(req, latenessMs),
      onPeer: (id) => {
        const addr = this.membership.peerAddress(id);
        if (addr !== undefined) this.pool.resetBackoff(addr);
      },
      log: o.log,
    });
    this.hintReplayBudget = new ByteRateLimiter(o.hintReplayBytesPerSecond);
    this.streamBudget = o.streamBytesPerSecond > 0 ? new ByteRateLimiter(o.streamBytesPerSecond) : null;
    const merge = (older: WireRecord, newer: WireRecord): WireRecord => mergeRecords(older, newer, o.conflictMode, Date.now());
    // Last: it opens files (and reads what an earlier run left), which nothing above can fail after.
    // Whatever --hinted-handoff says: it decides whether this node makes hints as a coordinator,
    // but others still hand it hints as a stand-in, and an earlier run may have left some on disk.
    this.hints = o.hintsDir !== undefined ? HintStore.open({ merge }, { dir: o.hintsDir, log: o.log }) : new HintStore({ merge });
  }

  /**
   * Binds the peer port and starts gossip (joining through the seeds). Refuses to join
   * (Membership.preflight) beside a running node with this node's id, since two processes
   * issuing versions under one id would give different writes the same dot and one would
   * silently hide the other; and into a cluster whose nodes run with other settings
   * (clusterSettingsOf says why those must agree).
   */
  async start(): Promise<void> {
    const refusal = await this.membership.preflight();
    if (refusal?.reason === 'cluster') {
      throw new RingkvError(
        ErrorCode.InvalidArgument,
        `seed ${refusal.seed.host}:${refusal.seed.peerPort} is in another cluster than this node's (${this.o.clusterName}): ${refusal.message}. ` +
          `Give this node the cluster's seeds, or start it with the cluster's --cluster-name and a fresh data dir`,
        { details: { node_id: this.nodeId, cluster_name: this.o.clusterName, seed: `${refusal.seed.host}:${refusal.seed.peerPort}` } },
      );
    }
    if (refusal?.reason === 'twin') {
      const twin = refusal.member;
      throw new RingkvError(
        ErrorCode.Busy,
        `node id ${this.nodeId} is already running at ${twin.host}:${twin.peerPort} (HTTP ${twin.httpPort}): this data dir is a copy of that node's, ` +
          `or --node-id names it. To add a node, start it with a fresh data dir and no --node-id`,
        { details: { node_id: this.nodeId, running_at: `${twin.host}:${twin.peerPort}` } },
      );
    }
    if (refusal?.reason === 'settings') {
      const other = refusal.member;
      throw new RingkvError(
        ErrorCode.InvalidArgument,
        `the cluster this node's seeds are in runs with ${other.settings ?? '?'} (node ${other.nodeId} at ${other.host}:${other.peerPort}); ` +
          `this node was started with ${clusterSettingsOf(this.o)}. Every node of a cluster must share them: start this one with the cluster's`,
        { details: { node_id: this.nodeId, cluster_settings: other.settings ?? null, node_settings: clusterSettingsOf(this.o) } },
      );
    }
    const left = this.membership.leftBeforeThisStart;
    if (left !== null && this.o.freshDataDir !== true) {
      // Its ranges went to other nodes without it, and its hints were dropped: taken back without
      // streaming, they would miss every write made since (decommissioned.ts says more).
      throw new RingkvError(
        ErrorCode.InvalidArgument,
        `the cluster holds node ${this.nodeId} as left (decommissioned, or removed as gone for good; the process it knew started at ${new Date(left.incarnation).toISOString()}): ` +
          `this data dir misses every write made since. To bring this node back, start it with a new, empty data dir: it joins again and streams its ranges from the others`,
        { details: { node_id: this.nodeId, left_incarnation: left.incarnation } },
      );
    }
    this.startRebuilding();
    // Decided, unless a join waits for its seeds to answer (bootstrap() decides then).
    if (this.rebuilding || !this.joinsLate()) this.forgetFresh();
    await this.server.listen();
    this.membership.start();
    if (this.o.lastRunFile !== undefined) {
      this.recordRun();
      this.lastRunTimer = setInterval(() => this.recordRun(), lastRunRefreshMs);
      this.lastRunTimer.unref();
    }
    // Replayed and expired even with --hinted-handoff off, for the hints it holds as a stand-in
    // (and gossips: until they are delivered, their target reads as behind).
    this.hintTimer = setInterval(() => {
      this.hints.expire();
      for (const l of this.hints.takeLosses()) {
        const why = [l.dropped > 0 ? `${l.dropped} dropped over the per-node bound` : '', l.expired > 0 ? `${l.expired} older than ${hintAgeMsMax / 3_600_000} h expired` : ''].filter((x) => x !== '').join(', ');
        this.o.log(`WARN hints: ${why} for ${l.target}; those writes reach it only through a repair: POST /api/v1/admin/repair on ${l.target} once it is back`);
      }
      for (const t of this.hints.targets()) {
        const status = this.membership.status(t);
        // A node that left (decommissioned, or removed as gone for good) will not take its
        // hints; its ranges have other replicas now, which repair brings up to date (as
        // Cassandra drops the hints of a node that leaves).
        // This node's own hints after it left are for its decommission to hand over (handOverHints).
        if (status === 'LEFT' && t !== this.nodeId) this.hints.dropTarget(t);
        else if (status === 'ALIVE') this.replayHints(t);
      }
    }, this.o.hintReplayIntervalMs);
    this.hintTimer.unref();
    this.antiEntropy.start();
    if (this.o.bootstrap) {
      this.runBootstrap();
    } else if (this.rebuilding) {
      this.scheduleRebuildPass();
    }
  }

  private runBootstrap(): void {
    this.bootstrapState = 1;
    // A failure on the way (REBUILDING or FRESH on a full or read-only disk) must not end the
    // process as an unhandled rejection: the retry timer goes on where it stopped.
    this.bootstrapRun = this.bootstrap().catch((err: unknown) => {
      this.o.log(`bootstrap: WARN failed: ${err instanceof Error ? err.message : String(err)}`);
      this.scheduleRebuildPass();
    });
  }

  /**
   * An operator took this node in (addnode; Membership.admit): started on its own (its only seed
   * itself), nothing had told it that it joins a running cluster. With a new data dir and
   * --bootstrap on it now rebuilds as a joining node: reads of the keys it takes over go to their
   * previous owners first, and a bootstrap streams them. Taken in after its bootstrap had given up
   * looking for a ring, it served those ranges empty, and with N = 1 the cleanup after a join
   * dropped their only copies. A bootstrap still waiting for a ring goes on, rebuilding now.
   */
  private admittedByOperator(): void {
    if (this.rebuilding || this.closed || !this.o.bootstrap || this.o.freshDataDir !== true || this.membership.joinsRunningCluster || this.joinsLate()) return;
    this.beginRebuild('this node was added to a running cluster (addnode) with a new data dir', false);
    if (this.bootstrapState === 2) this.runBootstrap();
  }

  /**
   * This node is LEFT in its own table. Outside a decommission (which records DECOMMISSIONED
   * first) the cluster removed it, or held it left before this process started: either way its
   * data dir misses what was written since, and REMOVED refuses a later start on it.
   */
  private recordRemoval(): void {
    if (this.decommissioning || this.o.removedFile === undefined) return;
    try {
      recordLeft(this.o.removedFile, Date.now());
    } catch (err) {
      this.o.log(`membership: WARN cannot record ${this.o.removedFile}: ${err instanceof Error ? err.message : String(err)}; do not start this node again on this data dir`);
    }
  }

  /** Whether a node of the ring other than this one is up. */
  private othersAlive(): boolean {
    return this.membership.ring.members.some((m) => m.nodeId !== this.nodeId && this.membership.isAlive(m.nodeId));
  }

  /** Decides whether this node is rebuilding (see `rebuilding`), before it takes any request. */
  private startRebuilding(): void {
    const file = this.o.rebuildFile;
    const resumed = file !== undefined && fs.existsSync(file);
    const known = this.membership.idKnownToCluster;
    // A first node (seeding itself, or whose seeds are not up) joins nothing: nothing to rebuild
    // from. With N = 1 a node back under its old id has no other replica of what it lost (it
    // rebuilds only when it joins: its ranges' previous owners hold their keys).
    const fresh = this.o.freshDataDir === true;
    if (!resumed && !(fresh && ((this.o.replicationFactor > 1 && known) || (this.o.bootstrap && this.membership.joinsRunningCluster)))) return;
    if (resumed) this.resumeRebuild(file);
    else this.beginRebuild(known ? `node id ${this.nodeId} was in the cluster before, and this data dir is new` : 'this node joins with a new data dir', known);
  }

  /** The shortest tombstone grace a node keeps, this one's included: when a delete's tombstone may be purged somewhere. */
  private tombstoneGraceMs(): number {
    return this.membership.table.shortestTombstoneGrace()?.ms ?? this.o.tombstoneGraceMs;
  }

  /** A write's answer as its batch outcome; the grace is looked up for deletes only (a PUT's answer has no use for it). */
  private writeOutcome(b: BatchOp, a: WriteAnswer): BatchOutcome {
    if (b.op === 'delete') return { ok: true, op: 'delete', result: { key: b.req.key, version: a.version, timestampMs: a.timestampMs, tombstoneExpiryMs: a.timestampMs + this.tombstoneGraceMs() } };
    assert(b.op === 'put', 'a write is a put or a delete');
    return { ok: true, op: 'put', result: { key: b.req.key, version: a.version, timestampMs: a.timestampMs, acks: a.acks } };
  }

  /**
   * Gossip has shown this node's id from an earlier process, which preflight had not (its only
   * seed is itself): with a new data dir this is a replaced node after all. It rebuilds from now
   * on; what it wrote before it knew was issued from an empty replica.
   */
  private idKnownLate(): void {
    if (this.rebuilding || this.closed || this.o.freshDataDir !== true || this.o.replicationFactor === 1) return;
    this.beginRebuild(`gossip shows node id ${this.nodeId} was in the cluster before, and this data dir is new`, true);
    // A bootstrap under way ends with its own pass; otherwise one is due.
    if (this.bootstrapState !== 1) this.scheduleRebuildPass();
  }

  /**
   * How this node rebuilds (membership RebuildKind), or null when it does not. With N = 1 a
   * replaced id rebuilds as a node that joins (one decommissioned and back with a new data dir,
   * as decommissioned.ts tells): as 'replaced' it would look for other replicas of its ranges,
   * which N = 1 has none of, skip every range and never end, serving them empty meanwhile.
   */
  private rebuildKind(): RebuildKind | null {
    return !this.rebuilding ? null : this.rebuildReplaced && this.o.replicationFactor > 1 ? 'replaced' : 'joined';
  }

  /** `replaced`: the id was in the cluster before (see rebuildReplaced), as against a node that joins. */
  private beginRebuild(why: string, replaced: boolean): void {
    this.rebuilding = true;
    this.rebuildReplaced = replaced;
    this.rebuildMembers = new Set(this.membership.ring.members.map((m) => m.nodeId));
    try {
      if (this.o.rebuildFile !== undefined) writeFileDurably(this.o.rebuildFile, rebuildFileText(replaced, this.rebuildMembers));
      this.forgetFresh();
    } catch (err) {
      // A full or read-only disk. Called from gossip (addnode, a replaced id found late), a throw
      // failed the exchange and left this node saying it rebuilds with no pass to end it. With
      // FRESH kept, a restart before the rebuild ends finds a new data dir and decides again.
      this.o.log(`rebuilding: WARN cannot record ${this.o.rebuildFile ?? 'REBUILDING'}: ${err instanceof Error ? err.message : String(err)}; rebuilding anyway: a restart before it ends decides again`);
    }
    this.logRebuild(why);
  }

  /**
   * A new data dir given seeds other than itself, none of which answered at start: it may be a
   * node joining a running cluster whose seeds were away for a moment (restarting), or one of a
   * new cluster's first nodes started together. bootstrap() tells which once gossip has found
   * the others.
   */
  private joinsLate(): boolean {
    return this.o.bootstrap && this.o.freshDataDir === true && !this.membership.joinsRunningCluster && this.membership.hasOtherSeeds;
  }

  /** The data dir is new no more (ClusterOptions.freshFile): whether this node rebuilds is decided. */
  private forgetFresh(): void {
    if (this.o.freshFile !== undefined) fs.rmSync(this.o.freshFile, { force: true });
  }

  /** A restart during a rebuild: it goes on as it began (a file from before the mark: as a join). */
  private resumeRebuild(file: string): void {
    this.rebuilding = true;
    const text = fs.readFileSync(file, 'utf8');
    this.rebuildReplaced = text.includes(replacedMark);
    this.rebuildMembers = rebuildFileMembers(text);
    this.logRebuild('still');
  }

  private logRebuild(why: string): void {
    this.o.log(`rebuilding: ${why}: until a full pass syncs every range, writes coordinated here read the key from the other replicas first and reads ask them first`);
  }

  /** How stream waits sleep, and stop when the node does. */
  private readonly streamWait = { sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), closed: () => this.closed };

  /** A peer's replica with the records streamed to and from it paced by the node's stream budget. */
  private streamTo(remote: RangeReplica): RangeReplica {
    const budget = this.streamBudget;
    if (budget === null) return remote;
    return pacedRangeReplica(remote, async (bytes) => {
      this.counters.streamThrottledSeconds += (await takeBytes(budget, bytes, this.streamWait)) / 1000;
    });
  }

  /**
   * A full pass (repair); `onlyLeft`: over the ranges no pass has synced since the rebuild began.
   * The rebuild ends once every range of the current ring has been synced.
   */
  private async fullPass(onlyLeft = false): Promise<RepairSummary> {
    const s = await this.antiEntropy.fullPass({
      ...(onlyLeft && { skip: (r: VnodeRange) => this.rebuildSynced.has(rangeKey(r)) }),
      synced: (r) => {
        if (this.rebuilding) this.rebuildSynced.add(rangeKey(r));
      },
    });
    if (this.rebuilding && !this.closed && this.rangesLeftToRebuild().length === 0) {
      this.rebuilding = false;
      this.rebuildReplaced = false;
      this.rebuildMembers = null;
      this.rebuildSynced.clear();
      if (this.o.rebuildFile !== undefined) fs.rmSync(this.o.rebuildFile, { force: true });
      // Kept where REBUILDING could not be written (beginRebuild).
      this.forgetFresh();
      this.o.log(`rebuilding: done: every range synced (${s.pulled} records pulled); this node's replica answers first again`);
    }
    return s;
  }

  /** The ranges of the current ring this node replicates that no pass has synced since its rebuild began. */
  private rangesLeftToRebuild(): VnodeRange[] {
    return this.membership.ring.replicatedRanges(this.nodeId, this.o.replicationFactor).filter((r) => !this.rebuildSynced.has(rangeKey(r)));
  }

  /** Whether writes `nodeId` missed wait as hints here or, as gossip says, on another live node. */
  private isBehind(nodeId: string): boolean {
    return this.hints.size(nodeId) > 0 || this.membership.hintsHeldFor(nodeId);
  }

  /** The nodes this one holds hints for, as its gossip names them (MemberInfo.hintsFor): most hints first, at most gossipHintTargetsMax. */
  private hintTargetsToGossip(): string[] | undefined {
    if (this.hints.size() === 0) return undefined;
    const targets = this.hints.targetStats().sort((a, b) => b.queued - a.queued || (a.target < b.target ? -1 : 1));
    return targets.slice(0, gossipHintTargetsMax).map((t) => t.target);
  }

  /**
   * While rebuilding, a pass over the ranges left rebuildRetryMs from now, and again until none
   * is: after a bootstrap that left ranges out (a peer down), or from a start with --bootstrap off
   * (an operator's repair may come sooner). Only those: a full pass reads every range on both
   * sides, which every 30 s on a large node would be a constant disk load.
   */
  private scheduleRebuildPass(): void {
    if (!this.rebuilding || this.closed) return;
    this.rebuildTimer = setTimeout(() => {
      this.rebuildTimer = undefined;
      this.o.log(`rebuilding: syncing the ${this.rangesLeftToRebuild().length} ranges no pass has synced yet`);
      this.fullPass(true).then(
        () => this.scheduleRebuildPass(),
        (err: unknown) => {
          this.o.log(`rebuilding: WARN full pass failed: ${err instanceof Error ? err.message : String(err)}`);
          this.scheduleRebuildPass();
        },
      );
    }, rebuildRetryMs);
    this.rebuildTimer.unref();
  }

  /**
   * A new node's first full pass: it waits until the ring holds it and at least one other live
   * node and has not changed for a few gossip rounds (bounded by bootstrapSettleRoundsMax), then
   * streams its ranges. Reads it coordinates meanwhile ask the other replicas first and writes
   * read the key from them first (it is rebuilding), until a pass has synced every range.
   * Nodes added together may not all be in the ring it settled on: when another joins during
   * the pass, its tokens split ranges the pass synced, and those pieces are new ranges. A pass
   * that reached every range it tried then goes on over just those once the ring stands still
   * again (up to bootstrapRingChangePassesMax times) instead of leaving them to the retry timer.
   */
  private async bootstrap(): Promise<void> {
    await this.ringSettled();
    if (this.joinsLate() && !this.rebuilding && !this.othersAlive() && !this.closed) {
      // No seed has answered yet: it goes on serving as a first node, and stays new (FRESH, across
      // restarts too) until one does. Taken for a first node for good, it never rebuilt once gossip
      // found the cluster: it served the ranges it took over empty, and with N = 1 the cleanup
      // that follows a join dropped their only copies.
      this.o.log(`bootstrap: WARN no seed has answered since this node started; it serves as a first node until one does, then rebuilds as a joining node`);
      while (!this.closed && !this.othersAlive()) await this.ringSettled();
    }
    if (this.closed) return;
    if (this.joinsLate() && !this.rebuilding) {
      // Found the others since it started as if first: with a ring of its own it took over
      // ranges that they hold (with N = 1, alone), so it rebuilds as a node that joins. In a new
      // cluster whose first nodes started together there is nothing to pull, and the pass is short.
      this.beginRebuild('this node joins with a new data dir (its seeds answered only after it started)', false);
    }
    this.o.log(`bootstrap: streaming the ranges of ring version ${this.membership.ring.version} from their replicas`);
    const sum = await this.fullPass();
    this.bootstrapState = 2;
    this.o.log(`bootstrap: done in ${sum.durationMs} ms: ${sum.synced} of ${sum.ranges} ranges synced, ${sum.skipped} without a live replica, ${sum.failed} failed; ${sum.pulled} records pulled, ${sum.pushed} pushed`);
    let last = sum;
    for (let pass = 0; pass < bootstrapRingChangePassesMax && this.rebuilding && !this.closed && last.skipped === 0 && last.failed === 0; pass++) {
      await this.ringSettled();
      if (this.closed) return;
      this.o.log(`bootstrap: the ring changed during the pass (version ${this.membership.ring.version} now): syncing the ${this.rangesLeftToRebuild().length} ranges it has not synced`);
      last = await this.fullPass(true);
    }
    this.scheduleRebuildPass();
  }

  /**
   * Resolves once the ring holds this node and a live other one, has not changed for three gossip
   * rounds, and every live member gossips this same ring; or after bootstrapSettleRoundsMax rounds (saying
   * which members still hold another). A range pulled while a coordinator still routes its writes
   * to the previous owner misses them once the pass is done and this node stops reading there
   * (with N = 1 they are then on no replica at all, and the previous owner's cleanup deletes them).
   * Timed by elapsed time: a step of the wall clock forward (common at a machine's first start)
   * ended the wait at once.
   */
  private async ringSettled(): Promise<void> {
    const settleMs = 3 * this.o.gossipIntervalMs;
    const waitMs = bootstrapSettleRoundsMax * this.o.gossipIntervalMs;
    const deadline = performance.now() + waitMs;
    let version = -1;
    let since = performance.now();
    let disagreeing: string[] = [];
    while (!this.closed && performance.now() < deadline) {
      const ring = this.membership.ring;
      if (ring.version !== version) {
        version = ring.version;
        since = performance.now();
      }
      const others = ring.members.filter((m) => m.nodeId !== this.nodeId && this.membership.isAlive(m.nodeId)).length;
      disagreeing = this.membership.table.holdingOtherRing(ring.members.map((m) => m.nodeId), ring.digest);
      if (ring.has(this.nodeId) && others > 0 && disagreeing.length === 0 && performance.now() - since >= settleMs) return;
      await new Promise((r) => setTimeout(r, Math.min(100, this.o.gossipIntervalMs)));
    }
    if (!this.closed && disagreeing.length > 0) {
      this.o.log(`bootstrap: WARN ${disagreeing.join(', ')} still gossip another ring than this node's after ${waitMs} ms; streaming anyway: writes they route by their ring may miss this node until a repair`);
    }
  }

  /** See Coordinator.addNode. */
  async addNode(req: AddNodeRequest): Promise<AddNodeResult> {
    this.checkOpen();
    const bad = (why: string) => new RingkvError(ErrorCode.InvalidArgument, why);
    if (!isValidNodeId(req.nodeId)) throw bad(`node_id ${JSON.stringify(req.nodeId)} is not a valid node id`);
    if (req.vnodes !== null && !(Number.isInteger(req.vnodes) && req.vnodes >= 1 && req.vnodes <= vnodesPerNodeMax)) throw bad(`num_vnodes must be an integer 1..${vnodesPerNodeMax}`);
    const a = parseNodeAddress(req.address);
    if (typeof a === 'string') throw bad(`address: ${a}`);
    const { host, httpPort, peerPort } = a;
    const unanswered = (err: unknown) =>
      // A node there of another cluster, or another node than req.nodeId, refused us: that is the operator's mistake to fix.
      isRingkvError(err, ErrorCode.WrongPeer)
        ? bad(`the node at ${req.address} cannot join: ${err.message}`)
        : new RingkvError(ErrorCode.Unavailable, `no ringkv node answered at ${host}:${peerPort} (peer port): ${err instanceof Error ? err.message : String(err)}`, { details: { needed: 1, answered: 0 } });
    // Its settings first, before it is merged into the ring (cluster_options.ts clusterSettingsOf).
    // The connection's Hello names req.nodeId: a node with another id there refuses it.
    let known: MemberInfo[];
    try {
      known = await this.membership.peek({ host, peerPort, nodeId: req.nodeId });
    } catch (err) {
      throw unanswered(err);
    }
    const there = known.find((m) => m.nodeId === req.nodeId && m.host === host && m.peerPort === peerPort);
    if (there !== undefined && this.membership.table.differs(there)) {
      throw bad(`${req.nodeId} runs with ${there.settings ?? '?'}, this cluster with ${clusterSettingsOf(this.o)}: every node of a cluster must share them`);
    }
    if (there?.status === 'LEFT') throw leftAlready(req.nodeId, req.address);
    try {
      await this.membership.admit({ host, peerPort, nodeId: req.nodeId });
    } catch (err) {
      throw unanswered(err);
    }
    const info = this.membership.table.info(req.nodeId);
    if (info === undefined || info.host !== host || info.httpPort !== httpPort) {
      throw bad(`the node at ${req.address} is not ${req.nodeId}`);
    }
    // Held LEFT here at the incarnation that answered (removed while it ran, and not told yet).
    if (info.status === 'LEFT') throw leftAlready(req.nodeId, req.address);
    if (req.vnodes !== null && info.vnodes !== req.vnodes) throw bad(`${req.nodeId} runs with ${info.vnodes} vnodes, not ${req.vnodes} (a node's vnodes are its own --vnodes)`);
    return { nodeId: info.nodeId, address: `${info.host}:${info.httpPort}`, status: nodeStatusOf(info.status), vnodes: info.vnodes, ringVersion: this.membership.ring.version };
  }

  /** See Coordinator.removeNode. */
  async removeNode(nodeId: string): Promise<RemoveNodeResult> {
    this.checkOpen();
    if (!isValidNodeId(nodeId)) throw new RingkvError(ErrorCode.InvalidArgument, `node_id ${JSON.stringify(nodeId)} is not a valid node id`);
    if (nodeId === this.nodeId) {
      throw new RingkvError(ErrorCode.InvalidArgument, `${nodeId} is this node: a running node leaves with POST /api/v1/admin/decommission, which hands its data over first`);
    }
    const had = this.membership.removeDead(nodeId);
    if (had === undefined) throw new RingkvError(ErrorCode.NotFound, `this cluster has no node ${nodeId}`, { details: { node_id: nodeId } });
    if (had === 'UNHEARD') {
      throw new RingkvError(
        ErrorCode.Conflict,
        `${nodeId} has not been heard of since this node started (it is dead here only as this node's last run left it): remove it through a node that has, or once gossip has reached this one`,
        { details: { node_id: nodeId, status: 'dead' } },
      );
    }
    if (had !== 'DEAD' && had !== 'LEFT') {
      throw new RingkvError(
        ErrorCode.Conflict,
        `${nodeId} is ${nodeStatusOf(had)}, not dead: only a node that is gone for good is removed (a running one leaves with POST /api/v1/admin/decommission on it)`,
        { details: { node_id: nodeId, status: nodeStatusOf(had) } },
      );
    }
    if (had === 'DEAD') this.o.log(`membership ${this.nodeId}: ${nodeId} removed by an operator; run a repair to restore the replica count of its ranges`);
    return { nodeId, previousStatus: nodeStatusOf(had), ringVersion: this.membership.ring.version };
  }

  /** See Coordinator.decommission; src/coordinator/decommission.ts does the hand-over. */
  async decommission(): Promise<DecommissionSummary> {
    this.checkOpen();
    if (this.decommissioning) throw new RingkvError(ErrorCode.InvalidArgument, `node ${this.nodeId} is already leaving or has left`);
    const current = this.membership.ring;
    const others = current.members.filter((m) => m.nodeId !== this.nodeId);
    if (!current.has(this.nodeId)) {
      // Removed while it ran (membership.ts mergeRemote): the others already serve its ranges.
      throw new RingkvError(
        ErrorCode.InvalidArgument,
        `node ${this.nodeId} is not in the ring: the cluster removed it, so it has nothing to hand over; stop it (to bring it back, start it with a new, empty data dir)`,
      );
    }
    if (others.length === 0) {
      throw new RingkvError(ErrorCode.InvalidArgument, 'the last node of a cluster cannot leave it: there is nobody to hand its data to');
    }
    // A node still rebuilding may not hold yet the ranges it took over from this one: this node
    // hands over only the ranges it still replicates, and once it has left, the rebuilding node
    // would look for those ranges' previous owner in a ring without it (with N = 1 this node may
    // hold their only copy).
    this.waitWhileAny('decommission', current, false, (id) => this.membership.isRebuilding(id), 'rebuilding', 'streaming its ranges');
    // Hints other nodes hold for this one are writes its replica missed: dropped once it has
    // left (a LEFT node takes no hints), they would be on fewer replicas than N until repair.
    // They are replayed to it now that it is up; its hand-over then carries them.
    this.waitWhileAny('decommission', current, false, (id) => this.membership.holdsHintsFor(id, this.nodeId), 'holding hints', 'writes this node missed, which would be dropped once it has left');
    // One node leaves at a time: each plans its hand-over on the ring without itself alone, in
    // which the other still replicates; both would stream a range to the same third node, and
    // the one that takes the other's place would get nothing (with N = 1, a range streamed to the
    // other leaving node would go with it).
    this.waitWhileAny('decommission', current, false, (id) => this.membership.isLeaving(id), 'leaving', 'handing its ranges over to a ring that still has this node');
    this.decommissioning = true;
    const started = Date.now();
    const without = Ring.build(others, current.version + 1);
    // Before the scan starts: a write the scan has already passed must still reach the successor.
    this.handover = { current, without };
    try {
      // Until this node has left, the nodes taking its ranges over do not replicate them in their
      // own rings: a cleanup there would drop what this node streams them (with N = 1, the only
      // copy). So every peer hears that this node is leaving before a record goes (their cleanups
      // wait for it), and their answers say whether a cleanup already runs on one of them (which
      // set that flag in the same turn as it found nobody leaving, so one of the two always waits).
      const heard = await this.membership.announce();
      if (heard.silent.length > 0) {
        throw new RingkvError(ErrorCode.Unavailable, `decommission needs every node that is not dead to hear that this node is leaving; no answer from: ${heard.silent.join(', ')}`, {
          details: { nodes_down: heard.silent.join(',') },
        });
      }
      this.waitWhileAny('decommission', current, this.cleaningUp > 0, (id) => this.membership.isCleaningUp(id), 'cleaning up', 'it would drop the ranges handed to it');
      // Two decommissions begun together both passed the check above: each announced before it
      // heard the other's word, so at least one of them sees it now (as with cleanups).
      this.waitWhileAny('decommission', current, false, (id) => this.membership.isLeaving(id), 'leaving', 'handing its ranges over to a ring that still has this node');
      const sum = await handOffRanges({
        nodeId: this.nodeId,
        replicationFactor: this.o.replicationFactor,
        current,
        without,
        local: localRangeReplica(this.nodeId, this.local.ranges, this.o.requestTimeoutMs, () => this.tombstoneGraceMs()),
        remote: (id) => {
          const addr = this.membership.peerAddress(id);
          if (addr === undefined) throw new RingkvError(ErrorCode.Unavailable, `no address for ${id}`);
          return this.streamTo(remoteRangeReplica(id, this.pool, addr, this.o.requestTimeoutMs));
        },
      });
      if (this.o.decommissionedFile !== undefined) recordLeft(this.o.decommissionedFile, Date.now());
      const told = await this.membership.leave();
      const hints = await this.handOverHints({ current, without });
      sum.hintsHandedOver = hints.handed;
      sum.hintsLeft = hints.left;
      sum.peersTold = told.told;
      sum.durationMs = Date.now() - started;
      this.o.log(
        `decommission: handed ${sum.records} records over (${sum.sent} copies sent, ${sum.changed} new to their receiver) and ${hints.handed} hints in ${sum.durationMs} ms; left the ring and told ${told.told} of ${told.peers} peers` +
          (told.told < told.peers ? ` (WARN: the others hear it by gossip: keep this process running until they have, GET /api/v1/cluster/status on them shows it left)` : '') +
          (hints.left > 0 ? `; WARN ${hints.left} hints could not be passed on and are replayed from here while this process runs` : ''),
      );
      return sum;
    } catch (err) {
      // Nothing is lost by a failed hand-over: this node is still a replica; the operator retries.
      this.decommissioning = false;
      this.handover = null;
      // Their cleanups need not wait for it any longer; gossip would tell them within rounds.
      this.membership.announce().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The last step of a decommission: every hint this node holds goes to its node if that is up,
   * else to a stand-in (the first live node after the key on the ring without this one), so none
   * waits on a process about to stop (Cassandra hands hints over on decommission too). A hint for
   * this node itself (a write it took but could not make durable) goes to the nodes that take its
   * place for that key. Not throttled: the operator asked for it. A hint that cannot be passed
   * on stays queued here.
   */
  private async handOverHints(rings: { current: Ring; without: Ring }): Promise<{ handed: number; left: number }> {
    const apply = (id: string, key: Uint8Array, record: WireRecord, hintFor?: string, hintAgeMs?: number): Promise<boolean> =>
      new Promise((resolve) => this.replicas.apply(id, key, record, this.o.requestTimeoutMs, (err) => resolve(err === null), hintFor, hintAgeMs));
    const pass = async (target: string, h: Hint): Promise<boolean> => {
      const token = keyToken(h.key);
      if (target === this.nodeId) return (await Promise.all(this.successors(token, rings).map((id) => apply(id, h.key, h.record)))).every(Boolean);
      if (this.membership.isAlive(target)) return apply(target, h.key, h.record);
      const standIn = rings.without.firstBeyond(token, [target], (id) => this.membership.isAlive(id));
      // With its age: a hint handed on must not outlive hintAgeMsMax (half the tombstone grace)
      // by starting anew at each holder.
      return standIn !== undefined && apply(standIn, h.key, h.record, target, this.hints.ageMsOf(h));
    };
    let handed = 0;
    for (const target of this.hints.targets()) {
      for (;;) {
        const batch = this.hints.peek(target, hintReplayBatch);
        if (batch.length === 0) break;
        const ok = await Promise.all(batch.map((h) => pass(target, h)));
        batch.forEach((h, i) => {
          if (!ok[i]) return;
          this.hints.delivered(target, h);
          handed++;
        });
        if (ok.includes(false)) break; // what is left for this target stays, for the replay timer
      }
    }
    return { handed, left: this.hints.size() };
  }

  /**
   * Refuses `op` (503, details `nodes_<state>`) while a member of `ring` is in `state`: this node
   * as `own` says, the others as their gossip last said (`said`).
   */
  private waitWhileAny(op: 'cleanup' | 'decommission', ring: Ring, own: boolean, said: (id: string) => boolean, state: string, why: string): void {
    const ids = ring.members.map((m) => m.nodeId).filter((id) => (id === this.nodeId ? own : said(id)));
    if (ids.length === 0) return;
    throw new RingkvError(ErrorCode.Unavailable, `${op} waits until no node of the ring is ${state} (${why}); ${state}: ${ids.join(', ')}`, {
      details: { [`nodes_${state.replace(' ', '_')}`]: ids.join(',') },
    });
  }

  /** See Coordinator.cleanup. */
  async cleanup(): Promise<CleanupSummary> {
    this.checkOpen();
    const ring = this.membership.ring;
    // A view of the ring that lags the cluster's (a node leaving, not heard of yet) would give up
    // ranges this node is taking over: clean only up to a ring every member is up in and that
    // has stood for as long as the failure detector takes to call a node dead.
    const down = ring.members.map((m) => m.nodeId).filter((id) => id !== this.nodeId && this.membership.status(id) !== 'ALIVE');
    if (down.length > 0) {
      throw new RingkvError(ErrorCode.Unavailable, `cleanup needs every node of the ring up; not ALIVE here: ${down.join(', ')}`, { details: { nodes_down: down.join(',') } });
    }
    // A node still rebuilding (a joining node streaming its ranges) may not hold yet what this
    // node would drop: with N = 1 this node may hold the only copy.
    this.waitWhileAny('cleanup', ring, this.rebuilding, (id) => this.membership.isRebuilding(id), 'rebuilding', 'streaming its ranges');
    // A node handing its ranges over streams them to nodes whose rings (this one's too) still
    // have it: what they received would be dropped here as ranges they do not replicate.
    this.waitWhileAny('cleanup', ring, this.decommissioning, (id) => this.membership.isLeaving(id), 'leaving', 'handing its ranges over');
    const settledMs = Math.floor(this.membership.ringAgeMs);
    if (settledMs < this.o.deadAfterMs) {
      throw new RingkvError(ErrorCode.Unavailable, `the ring changed ${settledMs} ms ago; cleanup waits until it has stood for ${this.o.deadAfterMs} ms (--dead-after-ms)`, {
        details: { retry_after_ms: this.o.deadAfterMs - settledMs },
      });
    }
    const owned = ring.replicatedTokenRanges(this.nodeId, this.o.replicationFactor);
    this.o.log(`cleanup: keeping ${owned.length} token range(s) of ring version ${ring.version}`);
    // In the same turn as the check for a leaving node above: a decommission's announce finds
    // this flag in this node's answer (see decommission).
    this.cleaningUp++;
    this.membership.refreshSelf();
    const s = await this.local.cleanup(owned).finally(() => {
      this.cleaningUp--;
      this.membership.refreshSelf();
    });
    this.o.log(
      `cleanup: ${s.tables} tables, ${s.tablesRewritten} rewritten, ${s.tablesRemoved} removed, ${s.entriesDropped} entries dropped, ${s.bytesBefore} -> ${s.bytesAfter} bytes in ${s.durationMs} ms` +
        (s.cutShort ? '; cut short' : ''),
    );
    if (this.membership.ring.version !== ring.version) {
      this.o.log(`cleanup: WARN the ring changed while it ran (version ${ring.version} -> ${this.membership.ring.version}); run repair on this node`);
    }
    return { ringVersion: ring.version, rangesKept: owned.length, ...s };
  }

  /** Syncs every range this node replicates with a live replica now (admin repair). */
  repair(): Promise<RepairSummary> {
    this.checkOpen();
    return this.fullPass();
  }

  flush(): Promise<void> {
    this.checkOpen();
    return this.local.flush();
  }

  async snapshot(name: string | undefined): Promise<SnapshotSummary> {
    this.checkOpen();
    // Taken before the flush: syncs that end meanwhile only make the record err on the old side.
    const since = this.antiEntropy.coverage.syncedSinceMs();
    // So is a rebuild under way: its tables lack what its passes have not pulled yet, so a node
    // restored from the snapshot goes on rebuilding (without REBUILDING it served them as whole).
    const marks = this.rebuilding ? [{ file: rebuildFileName, text: rebuildFileText(this.rebuildReplaced, this.rebuildMembers) }] : [];
    return this.local.snapshot(name, since ?? undefined, marks);
  }

  /**
   * A compaction or a read that meets a corrupt table quarantines it on its own (LsmEngine, with
   * quarantineCorruptTables): gossip's storage poll sees the count grow, and this says so and
   * repairs, as a scrub that quarantined one does, rather than leave its keys at their older
   * versions until anti-entropy's round robin comes to their ranges.
   */
  private noticeQuarantines(total: number): void {
    const fresh = this.quarantines.polled(total);
    if (fresh === 0 || this.closed) return;
    this.o.log(`storage: ERROR ${fresh} table(s) found corrupt by a compaction or a read and quarantined (see the shards' quarantine/ folders); repairing from the other replicas`);
    this.fullPass().then(
      (r) => this.o.log(`storage: repair after quarantine: ${r.synced} of ${r.ranges} ranges synced, ${r.failed} failed, ${r.pulled} records pulled`),
      (err: unknown) => this.o.log(`storage: ERROR repair after quarantine failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  /** See Coordinator.scrub: a quarantined table's keys come back from the other replicas at once. */
  async scrub(options: ScrubOptions = {}): Promise<ScrubSummary> {
    this.checkOpen();
    this.quarantines.scrubStarted();
    let s: ScrubSummary;
    try {
      s = await this.local.scrub(options);
    } catch (err) {
      this.quarantines.scrubEnded(0, null);
      throw err;
    }
    // What it quarantined is its to report and repair; what a compaction or a read quarantined
    // meanwhile is in no report, and noticeQuarantines left it to the scrub.
    const total = await this.local.storageState().then((st) => st.tablesQuarantined, () => null);
    const others = this.quarantines.scrubEnded(s.quarantined.length, total);
    if (others > 0 && !this.closed) this.o.log(`storage: ERROR ${others} table(s) found corrupt by a compaction or a read during a scrub and quarantined (see the shards' quarantine/ folders)`);
    if (s.quarantined.length + others > 0 && !this.closed) {
      this.o.log(`storage: repairing after the scrub quarantined ${s.quarantined.length} table(s) and a compaction or a read ${others}: their keys' newest versions are on other replicas`);
      s.repair = await this.fullPass();
      s.durationMs += s.repair.durationMs;
    }
    return s;
  }

  // ---- client operations --------------------------------------------------------------------

  /** Validates a client write the way the single-node coordinator does (request_checks.ts). */
  private clientWrite(op: 'put' | 'delete', req: PutRequest | DeleteRequest, value: Uint8Array, ttlSeconds: number | undefined): WriteRequest {
    this.checkOpen();
    const timeoutMs = checkCommon(req, this.o.requestTimeoutMs);
    const ifMatch = checkIfMatch(req.ifMatch);
    const context = checkContext(req.context);
    const idem = checkIdempotencyKey(req.idempotencyKey);
    return {
      op,
      key: req.key,
      value: checkValue(value),
      consistency: req.consistency,
      timeoutMs,
      ttlSeconds: checkTtl(ttlSeconds),
      ...(ifMatch !== null && { ifMatch }),
      ...(context !== null && { context: context.bytes }),
      ...(idem !== null && { idempotencyKey: idem }),
      notAfterMs: checkNotAfter(req.notAfterMs),
    };
  }

  private checkOpen(): void {
    if (this.closed) throw new RingkvError(ErrorCode.Closed, 'the node is shutting down');
  }

  put(req: PutRequest): Promise<PutResult> {
    return this.batch([{ op: 'put', req }]).then(([o]) => (o!.ok && o!.op === 'put' ? o!.result : failed(o!)));
  }

  delete(req: DeleteRequest): Promise<DeleteResult> {
    return this.batch([{ op: 'delete', req }]).then(([o]) => (o!.ok && o!.op === 'delete' ? o!.result : failed(o!)));
  }

  get(req: GetRequest): Promise<GetResult> {
    return this.batch([{ op: 'get', req }]).then(([o]) => (o!.ok && o!.op === 'get' ? o!.result : failed(o!)));
  }

  /**
   * The reads run together through one read state machine (quorum_reads.ts), and the writes this
   * node coordinates through one write state machine (quorum_writes.ts). A write whose key this
   * node does not replicate (forwarded) or with If-Match (read first) runs on its own (write()).
   */
  batch(ops: readonly BatchOp[], room?: AnswerRoom): Promise<BatchOutcome[]> {
    const outcomes = new Array<BatchOutcome>(ops.length);
    const reads: ReadSpec[] = [];
    const writes: WriteSpec[] = [];
    const alone: Array<Promise<void>> = [];
    const keyFirst = this.readsKeyBeforeWrite(); // once per batch, not per write
    for (let i = 0; i < ops.length; i++) {
      const b = ops[i]!;
      try {
        this.checkOpen();
        if (b.op === 'get') {
          reads.push({ at: i, key: b.req.key, consistency: b.req.consistency, timeoutMs: checkCommon(b.req, this.o.requestTimeoutMs) });
          continue;
        }
        const w = b.op === 'put' ? this.clientWrite('put', b.req, b.req.value, b.req.ttlSeconds) : this.clientWrite('delete', b.req, new Uint8Array(0), undefined);
        const pref = this.preferenceList(w.key);
        if (w.ifMatch === undefined && pref.includes(this.nodeId) && !keyFirst) {
          writes.push(writeSpec(i, w, pref, w.timeoutMs));
        } else {
          alone.push(
            this.write(w, false).then(
              (a) => void (outcomes[i] = this.writeOutcome(b, a)),
              (error: unknown) => void (outcomes[i] = { ok: false, error }),
            ),
          );
        }
      } catch (error) {
        outcomes[i] = { ok: false, error };
      }
    }
    // The machines' callbacks run inside replica callbacks, which must not throw (replica_batcher.ts).
    const readsDone = new Promise<void>((resolve) => {
      let left = reads.length;
      if (left === 0) return resolve();
      quorumReads(this.readContext, reads, (at, merged, error) => {
        try {
          outcomes[at] = error === null ? withinRoom({ ok: true, op: 'get', result: toGetResult(ops[at]!.req.key, merged, Date.now()) }, room) : { ok: false, error };
        } catch (e) {
          outcomes[at] = { ok: false, error: e };
        }
        if (--left === 0) resolve();
      });
    });
    const writesDone = new Promise<void>((resolve) => {
      let left = writes.length;
      if (left === 0) return resolve();
      quorumWrites(this.writeContext, writes, (at, answer, error) => {
        outcomes[at] = error === null ? this.writeOutcome(ops[at]!, answer!) : { ok: false, error };
        if (--left === 0) resolve();
      });
    });
    return Promise.all([readsDone, writesDone, ...alone]).then(() => outcomes);
  }

  // ---- the write state machine --------------------------------------------------------------

  private preferenceList(key: Uint8Array): readonly string[] {
    return this.membership.ring.preferenceList(keyToken(key), this.o.replicationFactor);
  }

  /** The ring's datacenters as the quorum math counts them; null for one (kept per ring: asked per batch). */
  private datacenterView(): DatacenterView | null {
    const ring = this.membership.ring;
    if (ring.datacenters < 2) return null;
    if (this.dcView?.ring !== ring) this.dcView = { ring, view: { local: this.o.datacenter ?? '', names: ring.datacenterNames, of: (id) => ring.datacenterOf(id) } };
    return this.dcView.view;
  }

  private alive(nodeId: string): boolean {
    return nodeId === this.nodeId || this.membership.isAlive(nodeId);
  }

  private count<T extends RingkvError>(e: T): T {
    if (e.code === ErrorCode.Unavailable) this.counters.unavailableErrors++;
    if (e.code === ErrorCode.Timeout) this.counters.timeoutErrors++;
    return e;
  }

  /**
   * One write on its own, for what batch() does not run together: 1 route (forward once when
   * this node is not a replica, or, with If-Match, not the first live one), the key read from
   * the other replicas first while this node rebuilds or is behind, 3 If-Match (read the current
   * version at the write's level and merge it in here, so the local write checks it atomically),
   * then steps 2 and 4-6 in quorum_writes.ts.
   */
  private async write(w: WriteRequest, forwarded: boolean): Promise<WriteAnswer> {
    const deadline = Date.now() + w.timeoutMs;
    const pref = this.preferenceList(w.key);
    if (!forwarded && (w.ifMatch !== undefined || !pref.includes(this.nodeId))) {
      const target = this.writeCoordinator(w, pref);
      if (target !== this.nodeId) return this.forward(w, target, deadline);
    }
    if (this.rebuilding) await this.primeFromOthers(w, pref, deadline);
    else if (w.ifMatch === undefined && this.readsKeyBeforeWrite()) await this.catchUpKey(w, pref, deadline); // If-Match reads the key below anyway
    if (w.ifMatch !== undefined) {
      // Fail fast, before the read, when the write could not meet its level anyway.
      try {
        tallyFor(w.consistency, this.o.replicationFactor, this.o.partitionMode, pref.filter((id) => this.alive(id)), this.datacenterView(), w.op);
      } catch (e) {
        throw this.count(e as RingkvError);
      }
      const merged = await this.readMerged(w.key, conditionalReadLevel(w.consistency, this.o.partitionMode), Math.max(1, deadline - Date.now()));
      if (merged.length > 0) await this.local.apply(w.key, recordOf(merged), Math.max(1, deadline - Date.now()));
    }
    return new Promise((resolve, reject) => {
      quorumWrites(this.writeContext, [writeSpec(0, w, pref, Math.max(1, deadline - Date.now()))], (_at, answer, error) => (error === null ? resolve(answer!) : reject(error)));
    });
  }

  /**
   * Whether a write coordinated here first reads its key from the other replicas: while this
   * node rebuilds (primeFromOthers), and, with vector clocks, while it is behind (catchUpKey).
   */
  private readsKeyBeforeWrite(): boolean {
    return this.rebuilding || (this.o.conflictMode === 'vclock' && this.isBehind(this.nodeId));
  }

  /**
   * While this node is behind (writes it missed wait as hints): merges what the other live
   * replicas hold of the key into this node's replica before it issues a version. Without it the
   * new version's clock would count from this node's stale copy and leave a write acknowledged
   * before it as a concurrent sibling, where the client that wrote after it expects to replace
   * it. Unlike a rebuild nothing is at risk if no replica answers (this node's dots are its
   * own), so it waits for them at most half the time left and then writes from what it has. A
   * local store that refuses what was pulled (a full disk) refuses the write's own local part
   * too, which the write path already answers for (a hint for this node), so it goes on.
   */
  private async catchUpKey(w: WriteRequest, pref: readonly string[], deadline: number): Promise<void> {
    const others = pref.filter((id) => id !== this.nodeId && this.membership.isAlive(id));
    if (others.length === 0) return;
    this.counters.behindPulls++;
    await pullKey(this.pullDeps, others, w.key, Math.max(1, Math.floor((deadline - Date.now()) / 2))).catch(() => 0);
  }

  /**
   * While rebuilding: merges what every other live replica holds of the key into this node's
   * replica before this node issues a version of it, so the version counts past the ones this
   * node's id issued before its data was lost (one replica that missed a write could not say so).
   * No other replica answering refuses the write: issuing from what is here could reuse a dot.
   * Half the time left, as catchUpKey: the write itself needs the rest.
   */
  private async primeFromOthers(w: WriteRequest, pref: readonly string[], deadline: number): Promise<void> {
    const replicas = pref.filter((id) => id !== this.nodeId);
    if (replicas.length === 0) return; // no other node holds the key
    const others = replicas.filter((id) => this.membership.isAlive(id));
    if ((await pullKey(this.pullDeps, others, w.key, Math.max(1, Math.floor((deadline - Date.now()) / 2)))) === 0) {
      throw this.count(
        new RingkvError(ErrorCode.Unavailable, `${w.op}: this node is rebuilding its replica (its data dir is new) and reads the key from the other replicas before it writes; none answered`, {
          details: { needed: 1, answered: 0, alive: others.length, rebuilding: true },
        }),
      );
    }
  }

  /** While rebuilding: where a key of this node's is read from first (anti_entropy.ts rebuildSources). */
  private rebuildSourcesOf(key: Uint8Array): RebuildSources {
    return rebuildSources(this.membership.ring, this.nodeId, keyToken(key), this.o.replicationFactor, this.rebuildKind() ?? 'joined', {
      isAlive: (id) => this.membership.isAlive(id),
      isRebuilding: (id) => this.membership.isRebuilding(id),
      joinedSinceRebuild: (id) => this.joinedSinceRebuild(id),
    });
  }

  /** While rebuilding: whether `id` joined the ring since the rebuild began (rebuildMembers). */
  private joinedSinceRebuild(id: string): boolean {
    return this.rebuilding && this.rebuildMembers !== null && !this.rebuildMembers.has(id);
  }

  /**
   * The replica that coordinates a write this node does not run itself (write() asks for a write
   * with If-Match, and for one whose key this node does not replicate).
   *
   * A conditional write goes to the first live replica of the key, whichever node the client
   * reached: that replica's shard checks If-Match and issues the new version one write at a time,
   * so of two writes that expect the same version only one succeeds. Checked on two replicas at
   * once, both would pass and both be written (siblings, or one lost under LWW): the lost update
   * If-Match exists to prevent. While gossip views differ (a replica just failed or came back) two
   * nodes can each take themselves for the first live replica; this is a Dynamo store, not a
   * consensus one (docs/http-api.md, "Consistency levels").
   */
  private writeCoordinator(w: WriteRequest, pref: readonly string[]): string {
    // A replica in this node's datacenter: a LOCAL_* level is its quorum, so only one there may
    // coordinate the write; any other level goes there first too (the nearest hop). A conditional
    // write at a level that spans datacenters takes the preference list's order, the same on
    // every node.
    const dcs = this.datacenterView();
    const local = w.consistency.startsWith('LOCAL_');
    const near = dcs === null || (w.ifMatch !== undefined && !local) ? pref : pref.filter((id) => dcs.of(id) === dcs.local);
    const candidates = near.length === pref.length || local ? near : [...near, ...pref.filter((id) => !near.includes(id))];
    // A replica that is behind would read the key from the others first (catchUpKey): one that is
    // not, if any; a conditional write cannot choose (every node must pick the same one).
    const target = (w.ifMatch === undefined ? candidates.find((id) => this.alive(id) && !this.isBehind(id)) : undefined) ?? candidates.find((id) => this.alive(id));
    if (target === undefined) {
      const where = candidates.length < pref.length ? ` in datacenter ${dcs!.local || '(none)'}` : '';
      throw this.count(new RingkvError(ErrorCode.Unavailable, `${w.op}: no replica of the key${where} is alive to coordinate it`, { details: { needed: 1, answered: 0, alive: 0, replicas: candidates.length } }));
    }
    return target;
  }

  private async forward(w: WriteRequest, target: string, deadline: number): Promise<WriteAnswer> {
    const addr = this.membership.peerAddress(target)!;
    this.counters.forwardedWrites++;
    // The replica gets no longer than the client waits: it refuses the write after that (below).
    const remaining = Math.max(1, Math.min(deadline, w.notAfterMs || Infinity) - Date.now());
    const reply = await this.pool
      .request(
        addr,
        {
          kind: 'forward',
          forwarded: true,
          op: w.op,
          key: w.key,
          value: w.value,
          consistency: consistencyToWire(w.consistency), // client.fbs's codes
          ...(w.ttlSeconds > 0 && { ttlSeconds: w.ttlSeconds }),
          ...(w.ifMatch !== undefined && { ifMatch: w.ifMatch }),
          ...(w.context !== undefined && { context: w.context }),
          ...(w.idempotencyKey !== undefined && { idempotencyKey: w.idempotencyKey }),
        },
        remaining,
      )
      .catch((e: unknown) => {
        throw e instanceof RingkvError ? this.count(e) : e;
      });
    if (reply.version === undefined || reply.timestampMs === undefined) throw new RingkvError(ErrorCode.Internal, `forwarded ${w.op} answered without a version`);
    return { version: reply.version, timestampMs: reply.timestampMs, acks: reply.acks ?? 0 };
  }

  // ---- the read state machine ---------------------------------------------------------------

  /** One quorum read, as the reconciled set (the If-Match check reads the current version first). */
  private readMerged(key: Uint8Array, consistency: ConsistencyLevel, timeoutMs: number): Promise<StoredSibling[]> {
    return new Promise((resolve, reject) => quorumReads(this.readContext, [{ at: 0, key, consistency, timeoutMs }], (_at, merged, error) => (error === null ? resolve(merged) : reject(error))));
  }

  private readRepair(key: Uint8Array, answers: readonly ReplicaAnswer[]): void {
    if (this.closed) return;
    let stale: string[];
    let merged: StoredSibling[];
    try {
      ({ stale, merged } = staleReplicas(answers, this.o.conflictMode, Date.now()));
    } catch {
      // Runs inside replica callbacks, which must not throw; anti-entropy repairs what this misses.
      this.counters.readRepairFailures++;
      return;
    }
    if (stale.length === 0) return;
    const record = recordOf(merged);
    for (const id of stale) {
      if (this.repairsInflight >= readRepairsInflightMax) {
        this.counters.readRepairsDropped++;
        continue;
      }
      this.repairsInflight++;
      this.replicas.apply(id, key, record, this.o.requestTimeoutMs, (err) => {
        this.repairsInflight--;
        if (err === null) this.counters.readRepairs++;
        else this.counters.readRepairFailures++;
      });
    }
  }

  // ---- hinted handoff -----------------------------------------------------------------------

  /** Stores `record` for the down replica `target` on the first ALIVE node past the preference list (or here). */
  private hint(target: string, key: Uint8Array, record: WireRecord, pref: readonly string[]): void {
    const standIn = this.membership.ring.firstBeyond(keyToken(key), pref, (id) => this.alive(id)) ?? this.nodeId;
    if (standIn === this.nodeId) {
      this.storeHint(target, key, record);
      return;
    }
    this.replicas.apply(
      standIn,
      key,
      record,
      this.o.requestTimeoutMs,
      (err) => {
        if (err !== null) this.storeHint(target, key, record);
      },
      target,
    );
  }

  /**
   * During and after a hand-over: sends a write this replica applied to the nodes that replicate
   * its key once this node is gone, as hints where one cannot take it now (held here, so they
   * last as long as this process: after that anti-entropy closes the gap, as before).
   */
  private forwardToSuccessors(key: Uint8Array, record: WireRecord): void {
    const h = this.handover;
    if (h === null) return;
    for (const id of this.successors(keyToken(key), h)) {
      this.counters.handoverForwards++;
      this.replicas.apply(id, key, record, this.o.requestTimeoutMs, (err) => {
        if (err !== null) this.storeHint(id, key, record);
      });
    }
  }

  /** The nodes that replicate `token` once this node is gone and do not now: its own replica's receivers ([] when this node holds no copy). */
  private successors(token: bigint, rings: { current: Ring; without: Ring }): string[] {
    const holders = rings.current.preferenceList(token, this.o.replicationFactor);
    if (!holders.includes(this.nodeId)) return [];
    return rings.without.preferenceList(token, this.o.replicationFactor).filter((id) => !holders.includes(id));
  }

  private storeHint(target: string, key: Uint8Array, record: WireRecord, ageMs = 0): void {
    this.hints.add(target, key, record, ageMs);
  }

  /**
   * A hint another coordinator hands this node (its stand-in for `target`). Only for a node of the
   * cluster that has not left: a hint queue lives until its target leaves, so a made-up target's
   * would stay for good (and every new one adds a queue, a /metrics label and a per-second scan);
   * and only a record this node can decode when it replays it.
   */
  private storeHintFor(target: string, key: Uint8Array, record: WireRecord, ageMs: number): void {
    const status = this.membership.status(target);
    if (status === undefined || status === 'LEFT') {
      throw new RingkvError(ErrorCode.InvalidArgument, `a hint for ${JSON.stringify(target.slice(0, nodeIdBytesMax))}${target.length > nodeIdBytesMax ? '...' : ''}, which is not a node of this cluster`);
    }
    siblingsOf(record);
    this.storeHint(target, key, record, ageMs);
  }

  private replayHints(target: string): void {
    if (this.closed || this.replaying.has(target) || this.replayWaits.has(target) || this.hints.size(target) === 0) return;
    // A node whose storage refuses writes (gossip's storage flag: full, failed) would only fail
    // them; the hint timer comes back once its flag has cleared.
    if (this.membership.storageOf(target) !== undefined) return;
    const batch = this.hints.peek(target, hintReplayBatch);
    // Within hintReplayBytesPerSecond across all targets: a node back from a long absence gets
    // its backlog at a pace that leaves room for its live traffic (Cassandra's hint throttle).
    if (!this.hintReplayBudget.tryTake(batch.reduce((n, h) => n + recordBytes(h.key, h.record), 0))) {
      this.counters.hintReplayWaits++;
      const timer = setTimeout(() => {
        this.replayWaits.delete(target);
        if (this.membership.isAlive(target)) this.replayHints(target);
      }, this.hintReplayBudget.waitMs());
      timer.unref();
      this.replayWaits.set(target, timer);
      return;
    }
    this.replaying.add(target);
    let left = batch.length;
    let delivered = 0;
    for (const h of batch) {
      this.replicas.apply(target, h.key, h.record, this.o.requestTimeoutMs, (err) => {
        if (err === null) {
          this.hints.delivered(target, h);
          delivered++;
        } else {
          this.counters.hintReplayFailures++;
        }
        if (--left > 0) return;
        this.replaying.delete(target);
        // The next batch at once only after a full one that got through; the timer retries the rest.
        if (delivered === batch.length && batch.length === hintReplayBatch && this.hints.size(target) > 0 && this.membership.isAlive(target)) setImmediate(() => this.replayHints(target));
      });
    }
  }

  // ---- the peer side ------------------------------------------------------------------------

  private async handle(req: InternodeMessage, latenessMs: number): Promise<Omit<InternodeMessage, 'id' | 'isReply'>> {
    if (this.closed) throw new RingkvError(ErrorCode.Closed, `node ${this.nodeId} is closing`);
    switch (req.kind) {
      case 'gossip': {
        const answer = this.membership.handleGossip(req.members ?? []);
        if (req.admitted === true) this.admittedByOperator();
        return { kind: 'gossip', ...answer };
      }
      case 'ping':
        return { kind: 'ping' };
      case 'replicaRead': {
        const key = this.requireKey(req);
        const record = await this.local.get(key, req.timeoutMs ?? this.o.requestTimeoutMs);
        return record === null ? { kind: 'replicaRead' } : { kind: 'replicaRead', found: true, ...recordToWire(record) };
      }
      case 'replicaWrite': {
        const key = this.requireKey(req);
        const record = recordFromWire(req);
        if (req.hintFor !== undefined && req.hintFor !== this.nodeId) {
          this.storeHintFor(req.hintFor, key, record, 0);
          return { kind: 'replicaWrite' };
        }
        // `found` in the reply: the record changed what this replica stores.
        const changed = await this.local.apply(key, record, req.timeoutMs ?? this.o.requestTimeoutMs);
        this.forwardToSuccessors(key, record);
        return { kind: 'replicaWrite', found: changed };
      }
      case 'replicaReadBatch':
      case 'replicaWriteBatch': {
        const items = await answerReplicaBatch(this.local, req.kind, req.items ?? [], req.timeoutMs ?? this.o.requestTimeoutMs, {
          selfId: this.nodeId,
          storeHint: (target, key, record, ageMs) => this.storeHintFor(target, key, record, ageMs),
          applied: (key, record) => this.forwardToSuccessors(key, record),
        });
        return { kind: req.kind, items };
      }
      case 'merkleLeaves': {
        const depth = req.depth ?? 0;
        if (!(depth <= merkleDepthMax)) throw new RingkvError(ErrorCode.InvalidArgument, `Merkle depth ${depth} over ${merkleDepthMax}`);
        const m = await this.local.ranges.merkleLeaves({ from: req.rangeFrom!, to: req.rangeTo! }, depth, this.tombstoneGraceMs());
        return { kind: 'merkleLeaves', leaves: m.leaves, leafEntries: m.entries };
      }
      case 'rangeScan': {
        const range = { from: req.rangeFrom!, to: req.rangeTo! };
        if (req.after !== undefined && (req.after.token < range.from || req.after.token > range.to)) {
          throw new RingkvError(ErrorCode.InvalidArgument, 'range-scan cursor outside its range');
        }
        const page = await localScanPage(this.local.ranges, range, req.after ?? null);
        // The pages this node serves to another's pull count against its stream budget too, but
        // wait at most half the request's timeout: the puller would give up on a later answer.
        if (this.streamBudget !== null) {
          const maxWaitMs = (req.timeoutMs ?? this.o.requestTimeoutMs) / 2;
          this.counters.streamThrottledSeconds += (await takeBytes(this.streamBudget, entryBytes(page.entries), { ...this.streamWait, maxWaitMs })) / 1000;
        }
        return {
          kind: 'rangeScan',
          entries: page.entries.map((e) => ({ key: e.key, record: e.record.versionVector, value: e.record.value, tombstone: e.record.tombstone })),
          more: page.more,
        };
      }
      case 'forward': {
        const key = this.requireKey(req);
        const named = consistencyFromWire(req.consistency ?? 0); // undefined: none named; null: a code unknown here
        const level = named === undefined ? 'QUORUM' : named;
        if (level === null || (req.op !== 'put' && req.op !== 'delete')) throw new RingkvError(ErrorCode.InvalidArgument, 'forward: bad op or consistency');
        // Its time left counts from when it was sent: one held on the way (in a network, or in
        // this node's socket while it was paused) is not coordinated once its requester has
        // given up, whose client may have retried it elsewhere since (a blind write applied
        // after that retry would supersede what others wrote in between).
        const leftMs = req.timeoutMs === undefined ? undefined : req.timeoutMs - latenessMs;
        if (leftMs !== undefined && leftMs <= 0) {
          this.counters.forwardsExpired++;
          throw new RingkvError(ErrorCode.Timeout, `forwarded ${req.op} arrived ${Math.round(latenessMs)} ms late, after its requester's ${req.timeoutMs} ms had run out`, {
            details: { timeout_ms: req.timeoutMs!, late_ms: Math.round(latenessMs) },
          });
        }
        // Answer a little before the requester gives up, so it sees our error, not its timeout.
        const timeoutMs = requestTimeoutMs(leftMs, this.o.requestTimeoutMs);
        // Nor issue its version once the requester has given up (it may wait here, behind the shard).
        const notAfterMs = leftMs === undefined ? 0 : Date.now() + leftMs;
        const a = await this.write(
          {
            op: req.op,
            key,
            value: req.value ?? new Uint8Array(0),
            consistency: level,
            timeoutMs,
            ttlSeconds: req.ttlSeconds ?? 0,
            ...(req.ifMatch !== undefined && { ifMatch: req.ifMatch }),
            ...(req.context !== undefined && { context: req.context }),
            ...(req.idempotencyKey !== undefined && { idempotencyKey: req.idempotencyKey }),
            notAfterMs,
          },
          true,
        );
        return { kind: 'forward', version: a.version, timestampMs: a.timestampMs, acks: a.acks };
      }
      case 'error':
        throw new RingkvError(ErrorCode.MalformedFrame, 'an error message is not a request');
      case 'hello':
        // The server answers a connection's Hello itself (internode_server.ts greet).
        throw new RingkvError(ErrorCode.MalformedFrame, 'a Hello after the first frame');
    }
  }

  private requireKey(req: InternodeMessage): Uint8Array {
    if (req.key === undefined) throw new RingkvError(ErrorCode.InvalidArgument, `${req.kind} without a key`);
    return checkKey(req.key);
  }

  // ---- admin --------------------------------------------------------------------------------

  async replica(key: Uint8Array): Promise<ReplicaView> {
    this.checkOpen();
    checkKey(key);
    return toReplicaView(key, this.preferenceList(key), await this.store.get(key, this.o.requestTimeoutMs));
  }

  /** Notes in the data dir that the node runs now (last_run.ts); a failure costs only the note. */
  private recordRun(): void {
    try {
      writeLastRun(this.o.lastRunFile!, Date.now());
    } catch (err) {
      this.o.log(`WARN cannot record this node's run in ${this.o.lastRunFile}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** A member's tokens as cluster status gives them: made once per ring (every ring-aware client asks every few seconds). */
  private tokenTexts(ring: Ring, nodeId: string): readonly string[] {
    if (this.statusTokens?.ring !== ring) this.statusTokens = { ring, byNode: new Map() };
    let texts = this.statusTokens.byNode.get(nodeId);
    if (texts === undefined) {
      texts = ring.tokensOf(nodeId).map(tokenToString);
      this.statusTokens.byNode.set(nodeId, texts);
    }
    return texts;
  }

  async clusterStatus(): Promise<ClusterStatus> {
    const ring = this.membership.ring;
    const members: MemberInfo[] = this.membership.table.members();
    const nodes: ClusterNodeInfo[] = members.map((m) => {
      const self = m.nodeId === this.nodeId;
      const rebuilding = self ? this.rebuilding : m.rebuilding !== undefined;
      const rangesLeft = self ? (this.rebuilding ? this.rangesLeftToRebuild().length : undefined) : m.rebuildRangesLeft;
      const disk = self ? this.diskCached : m.diskSizeBytes !== undefined && m.diskFreeBytes !== undefined ? { sizeBytes: m.diskSizeBytes, freeBytes: m.diskFreeBytes } : null;
      const clock = self ? undefined : this.membership.clockOffsets.of(m.nodeId);
      return {
        id: m.nodeId,
        address: `${m.host}:${m.httpPort}`,
        ...(m.zone ? { zone: m.zone } : {}),
        ...(m.datacenter ? { datacenter: m.datacenter } : {}),
        ...nodeHealth(m.status, m.storage),
        ...(rebuilding && { rebuilding: true, ...(rangesLeft !== undefined && { rebuild_ranges_left: rangesLeft }) }),
        ...(this.isBehind(m.nodeId) && { behind: true }),
        load: Math.round(m.load * 100) / 100,
        ...(clock !== undefined && { clock_offset_ms: Math.round(clock.offsetMs) }),
        ...(m.tombstoneGraceMs !== undefined && { tombstone_grace_seconds: m.tombstoneGraceMs / 1000 }),
        ...(self ? { data_bytes: this.dataBytesCached } : m.dataBytes !== undefined && { data_bytes: m.dataBytes }),
        ...(disk !== null && { disk_size_bytes: disk.sizeBytes, disk_free_bytes: disk.freeBytes }),
        ...(self ? { ring_digest: ringDigestText(ring.digest) } : m.ringDigest !== undefined && { ring_digest: ringDigestText(m.ringDigest) }),
        tokens: [...this.tokenTexts(ring, m.nodeId)],
      };
    });
    const copies = Math.max(1, ring.replicaCount(this.o.replicationFactor));
    // Over the ring's members, as the copies are: a node that left keeps its last estimate in the
    // table (until forgotten, a tombstone grace later), and counted in, it made the total too high.
    const stored = members.reduce((n, m) => n + (!ring.has(m.nodeId) ? 0 : m.nodeId === this.nodeId ? this.keyEstimateCached : m.keyEstimate), 0);
    return { cluster_name: this.o.clusterName, nodes, ring_version: ring.version, ring_digest: ringDigestText(ring.digest), total_keys: Math.round(stored / copies), replication_factor: this.o.replicationFactor };
  }

  async stats(): Promise<CoordinatorStats> {
    const storage = await this.local.storageStats();
    const h = this.hints.stats();
    return {
      ...storage,
      ...this.counters,
      ...this.membership.stats(),
      ...this.pool.stats(),
      internodeConnectionsRefused: this.server.stats.connectionsRefused,
      internodeConnectionsOverCap: this.server.stats.connectionsOverCap,
      internodeConnectionsWithoutHello: this.server.stats.connectionsWithoutHello,
      internodeReadsPaused: this.server.stats.readsPaused,
      internodeRepliesRefused: this.server.stats.repliesRefused,
      internodeHeldReplyBytes: this.server.heldReplyBytes,
      ...this.replicas.stats,
      ...h,
      hintTargets: this.hints.targetStats(),
      peerClocks: [...this.membership.clockOffsets.all()].map(([node, c]) => ({ node, offsetSeconds: c.offsetMs / 1000, uncertaintySeconds: c.uncertaintyMs / 1000 })),
      internodeRoundTrips: this.pool.roundTrips(),
      ...this.antiEntropy.counters,
      // How long ago the range synced longest ago was synced whole (sync_coverage.ts): keep it well under the tombstone grace.
      antiEntropySyncedSinceAgeSeconds: Math.round(this.antiEntropy.coverage.ageMs() / 1000),
      // The grace that decides when a delete another replica missed may come back: keep the age above well under half of it.
      tombstoneGraceSeconds: this.tombstoneGraceMs() / 1000,
      bootstrapState: this.bootstrapState,
      rebuilding: this.rebuilding ? 1 : 0,
      // How far a rebuild has come: the ranges no pass has synced yet (0 when not rebuilding).
      rebuildRangesLeft: this.rebuilding ? this.rangesLeftToRebuild().length : 0,
      readRepairs: this.counters.readRepairs,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.membership.stop();
    if (this.lastRunTimer !== undefined) {
      clearInterval(this.lastRunTimer);
      this.recordRun();
    }
    if (this.hintTimer !== undefined) clearInterval(this.hintTimer);
    if (this.rebuildTimer !== undefined) clearTimeout(this.rebuildTimer);
    for (const t of this.replayWaits.values()) clearTimeout(t);
    await this.antiEntropy.stop();
    await this.bootstrapRun;
    await this.server.close();
    // Before the hint log closes: the replica writes still in flight fail now (Closed), and each
    // leaves a hint (worthAHint; a stand-in's refusal too) in callbacks a few turns later, which
    // must reach the log's files, not only its memory: once closed, it writes nothing down.
    this.pool.close();
    const settle = async () => {
      for (let turn = 0; turn < closeSettleTurns; turn++) await new Promise((r) => setImmediate(r));
    };
    await settle();
    // The shards before the hint log: the writes still queued there are applied as they drain,
    // and the replica writes each makes fail on the closed pool and leave hints, which must reach
    // the log's files too. The hint log closes even where the shards' close throws.
    try {
      await this.local.close();
    } finally {
      await settle();
      await this.hints.close();
    }
  }
}

/**
 * addnode of a process that has left (decommissioned, or removed while it ran): LEFT is final for
 * its incarnation, so admitting it would change nothing and answer as if it had joined.
 */
function leftAlready(nodeId: string, address: string): RingkvError {
  return new RingkvError(
    ErrorCode.Conflict,
    `${nodeId} at ${address} has left this cluster (decommissioned, or removed as gone for good), and a process that left does not join again: to add the machine back, start it on a new, empty data dir and add that`,
    { details: { node_id: nodeId, status: 'left' } },
  );
}

/** Builds and starts a cluster coordinator over this node's local replica. */
export async function createClusterCoordinator(local: LocalReplica, options: ClusterOptions): Promise<ClusterCoordinator> {
  const c = new ClusterCoordinator(local, options);
  try {
    await c.start();
  } catch (err) {
    // The peer connections start() opened, and whatever else it began.
    await c.close().catch(() => undefined);
    throw err;
  }
  return c;
}
