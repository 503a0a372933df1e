// The contract between the front end (server/, and the inter-node transport) and whatever
// coordinates a request: the single-node coordinator or the cluster coordinator. Both implement
// `Coordinator`; the server never knows which one it talks to.
import type { RingkvError } from '../errors';
import type { GcSnapshots } from '../gc_pauses';
import type { HistogramSnapshot } from '../histogram';
import type { LaneStageSeconds } from '../shards/lane_timing';
import type { ThreadMemory } from '../thread_memory';
import type { CleanupReport, CorruptTable, QuarantinedTable, ScrubOptions } from '../storage/types';

/**
 * design.md §7.2's levels, and Cassandra's datacenter-aware ones (§8: each datacenter has its own
 * quorum, replication between them is asynchronous): LOCAL_ONE and LOCAL_QUORUM count only the
 * coordinator's datacenter's replicas, EACH_QUORUM needs a quorum in every datacenter. In a
 * cluster of one datacenter they are ONE, QUORUM and QUORUM.
 */
export type ConsistencyLevel = 'ONE' | 'QUORUM' | 'ALL' | 'LOCAL_ONE' | 'LOCAL_QUORUM' | 'EACH_QUORUM';
export const consistencyLevels: readonly ConsistencyLevel[] = ['ONE', 'QUORUM', 'ALL', 'LOCAL_ONE', 'LOCAL_QUORUM', 'EACH_QUORUM'];

interface RequestBase {
  key: Uint8Array;
  consistency: ConsistencyLevel;
  /**
   * How long the requester waits for the answer, in ms. The coordinator answers a little before
   * that (RKV_ERR_TIMEOUT when the replicas have not answered by then; request_checks.ts
   * checkCommon says how much before), and never later than its own request timeout, which is
   * also the timeout when this is absent.
   */
  timeoutMs?: number;
}

export interface PutRequest extends RequestBase {
  value: Uint8Array;
  /** Seconds until the value expires; absent = never. */
  ttlSeconds?: number;
  /** Conditional write: the version string the client last read; a mismatch is RKV_ERR_CONFLICT. */
  ifMatch?: string;
  /**
   * The opaque causal context returned by a read (encoded vector clock). A write carrying the
   * context of all siblings it read supersedes them. Absent: the write supersedes what the
   * coordinating replica currently holds.
   */
  context?: Uint8Array;
  /** A retried write with the same idempotency key is applied once (design.md §12 Q3). */
  idempotencyKey?: string;
  /** As DeleteRequest.notAfterMs. */
  notAfterMs?: number;
}

export interface GetRequest extends RequestBase {}

export interface DeleteRequest extends RequestBase {
  ifMatch?: string;
  context?: Uint8Array;
  idempotencyKey?: string;
  /**
   * Wall-clock ms (Date.now()) when the client gives up on this write: past it the write is not
   * applied (RKV_ERR_TIMEOUT), so a request that reached the node after its client had retried
   * elsewhere cannot land after that retry and supersede what was written since. Absent: none.
   */
  notAfterMs?: number;
}

/** One concurrent version of a key. */
export interface Sibling {
  value: Uint8Array;
  version: string;
  timestampMs: number;
}

export interface PutResult {
  key: Uint8Array;
  /** Version string such as `v3_1706234567_nodeA` (counter, seconds, coordinating node). */
  version: string;
  timestampMs: number;
  /** Replicas that acknowledged before the answer (>= what the consistency level needs). */
  acks: number;
}

/**
 * What the answers of a caller's reads may hold (Coordinator.batch): take() says whether a found
 * value of `bytes` (its siblings and context) fits, and counts it if so. A WebSocket connection
 * passes its share of the node's memory (server/ws_api.ts).
 */
export interface AnswerRoom {
  take(bytes: number): boolean;
}

export type GetResult =
  | {
      found: true;
      key: Uint8Array;
      /** The value (of the newest sibling when there are several). */
      value: Uint8Array;
      version: string;
      timestampMs: number;
      /** All concurrent versions, newest first; length 1 when there is no conflict. */
      siblings: Sibling[];
      /** Opaque causal context to send back with a write that resolves the siblings. */
      context: Uint8Array;
    }
  | { found: false; key: Uint8Array };

export interface DeleteResult {
  key: Uint8Array;
  version: string;
  timestampMs: number;
  /** When the tombstone may be purged (timestamp + tombstone grace), ms since epoch. */
  tombstoneExpiryMs: number;
}

/** One operation of a batch (a WebSocket frame's operations, in frame order). */
export type BatchOp = { op: 'put'; req: PutRequest } | { op: 'get'; req: GetRequest } | { op: 'delete'; req: DeleteRequest };

/** What one operation of a batch came to: its result, or the error its own call would have thrown. */
export type BatchOutcome =
  | { ok: true; op: 'put'; result: PutResult }
  | { ok: true; op: 'get'; result: GetResult }
  | { ok: true; op: 'delete'; result: DeleteResult }
  | { ok: false; error: unknown };

/** `degraded`: up, but its storage refuses writes (ClusterNodeInfo.reason says why). */
export type NodeStatus = 'healthy' | 'degraded' | 'suspect' | 'dead' | 'joining' | 'leaving' | 'left';

export interface ClusterNodeInfo {
  id: string;
  /** host:port of the node's HTTP/WebSocket API. */
  address: string;
  /** The node's zone (--zone), when it has one: the ring spreads each key's replicas over zones. */
  zone?: string;
  /** The node's datacenter (--datacenter), when it has one: each keeps N replicas of every key. */
  datacenter?: string;
  status: NodeStatus;
  /** Only with `degraded`: `storage_full` (until space is freed) or `storage_failed` (until a restart), as its /health says. */
  reason?: string;
  /** Set while the node rebuilds its replica (a new data dir): reads ask it last until passes have synced every range. */
  rebuilding?: boolean;
  /**
   * Set while writes it missed wait as hints on this node or, as gossip says, on another live
   * one: reads ask it last until they are delivered.
   */
  behind?: boolean;
  /** Fraction of the node's capacity in use (0..1), as design.md §5 shows. */
  load: number;
  /**
   * Its wall clock minus the answering node's, in whole ms, as the answering node's gossip
   * exchanges with it measure it (membership/clock_offsets.ts); absent for the answering node
   * itself and nodes it has not measured yet.
   */
  clock_offset_ms?: number;
  /**
   * How long after a delete the node may purge its tombstone (--tombstone-grace-seconds); nodes
   * that differ are warned of, and the shortest decides (absent from nodes that do not say).
   */
  tombstone_grace_seconds?: number;
  /** Bytes of the node's tables and WAL, as its last storage poll found them (absent from nodes that do not say). */
  data_bytes?: number;
  /** Its data dir's file system: size, and what the node may still use (absent from nodes that do not say). */
  disk_size_bytes?: number;
  disk_free_bytes?: number;
  /** While it rebuilds: the ranges no pass has synced yet. */
  rebuild_ranges_left?: number;
  /**
   * The digest of the ring the node holds (ring.ts Ring.digest, 8 hex digits), as of its last
   * heartbeat this node has: one that differs from the others' has not learned of a ring change
   * yet. Absent from nodes that do not say.
   */
  ring_digest?: string;
  /** Ring tokens as decimal strings (64-bit values do not fit a JSON number). */
  tokens: string[];
}

export interface ClusterStatus {
  /** A cluster node's --cluster-name (identity_files.ts); absent on a single node. */
  cluster_name?: string;
  nodes: ClusterNodeInfo[];
  /** The answering node's count of ring changes: not comparable across nodes (ring_digest is). */
  ring_version: number;
  /** The digest of the answering node's ring (8 hex digits); absent on a single node. */
  ring_digest?: string;
  total_keys: number;
  replication_factor: number;
}

/** One target's hint queue on a cluster node, for the per-node metrics. */
export interface HintTargetStats {
  target: string;
  queued: number;
  /** Keys, version vectors and values of its hints. */
  bytes: number;
  /** Age of its oldest hint: how far behind the node is. */
  oldestAgeSeconds: number;
}

/** How far a peer's wall clock is from this node's, as this node's gossip exchanges with it measure it (clock_offsets.ts). */
export interface PeerClockStats {
  node: string;
  /** The peer's clock minus ours: positive when it is ahead. */
  offsetSeconds: number;
  /** Half the round trip of the exchange the offset comes from: the true offset is within offsetSeconds ± this. */
  uncertaintySeconds: number;
}

/** Round trips of one kind of inter-node request to one peer, as this node saw them (internode_pool.ts). */
export interface InternodeRoundTripStats {
  /** The peer's node id (its address while only that is known). */
  peer: string;
  /** The request's kind as the wire names it (internode.fbs Kind), e.g. replicaWriteBatch. */
  kind: string;
  seconds: HistogramSnapshot;
}

/** What the metrics endpoint exports: counters and gauges, and histograms (snapshots) of durations. */
export interface CoordinatorStats {
  memtableBytes: number;
  /** StorageStats' memory fields, all shards together: the parts of the shards' off-heap memory that settings size. */
  arenaFreeBytes: number;
  blockCacheHeldBytes: number;
  tableIndexFilterBytes: number;
  sstablesPerLevel: number[];
  compactionBacklog: number;
  walSyncs: number;
  /** Durations of the WAL syncs counted in walSyncs. */
  walSyncSeconds: HistogramSnapshot;
  diskBytes: number;
  readRepairs: number;
  hintsQueued: number;
  /** The shard worker threads' V8 GC pauses, all shards together (a node with shard threads). */
  shardGcSeconds?: GcSnapshots;
  /** How late the shard worker threads' event loops ran what was due, all shards together (a node with shard threads). */
  shardLoopDelaySeconds?: HistogramSnapshot;
  /** Where the shard batches' time went, by stage, all shards together (shards/lane_timing.ts). */
  shardLaneSeconds?: LaneStageSeconds;
  /** The shard worker threads' memory, all shards together (a node with shard threads). */
  shardMemory?: ThreadMemory;
  /** The shards' storage background threads' memory, all together, each as its last job ended. */
  backgroundMemory?: ThreadMemory;
  /** Per node this one holds hints for (a cluster node). */
  hintTargets?: HintTargetStats[];
  /** Per peer whose clock this node has measured (a cluster node). */
  peerClocks?: PeerClockStats[];
  /** Per peer and kind of request this node sent it and had answered (a cluster node). */
  internodeRoundTrips?: InternodeRoundTripStats[];
  [name: string]: number | number[] | HistogramSnapshot | GcSnapshots | LaneStageSeconds | ThreadMemory | HintTargetStats[] | PeerClockStats[] | InternodeRoundTripStats[] | undefined;
}

/** One version a replica stores (ReplicaView): live, expired or a tombstone. */
export interface StoredVersion {
  /** Empty for a tombstone. */
  value: Uint8Array;
  version: string;
  timestampMs: number;
  tombstone: boolean;
  /** When it expires, ms since the epoch; 0: no TTL. */
  expiresAtMs: number;
}

/** What this node's own replica holds of a key, read without asking any other node (Coordinator.replica). */
export interface ReplicaView {
  key: Uint8Array;
  /** The key's preference list: the nodes that replicate it (this node alone on a single node). */
  replicas: string[];
  /** Every version this node stores, tombstones and expired ones included, newest first; empty when it holds none. */
  versions: StoredVersion[];
}

/** What a full anti-entropy pass (admin repair, or a new node's bootstrap) did. */
export interface RepairSummary {
  /** Vnode ranges this node replicates (at the ring version the pass started with). */
  ranges: number;
  /** Ranges synced with a live replica. */
  synced: number;
  /** Ranges with no other live replica to sync with. */
  skipped: number;
  failed: number;
  pulled: number;
  pushed: number;
  durationMs: number;
}

/** A snapshot made (Coordinator.snapshot). */
export interface SnapshotSummary {
  name: string;
  /** Where it is: a data dir of its own. */
  path: string;
  tables: number;
  /** Bytes of those tables (shared with the live data dir until compaction replaces them there). */
  bytes: number;
  durationMs: number;
}

/** What a cleanup of this node's tables did (Coordinator.cleanup): its shards' reports summed. */
export interface CleanupSummary extends CleanupReport {
  /** The ring it kept to. */
  ringVersion: number;
  /** Token ranges this node replicates in it: what was kept. */
  rangesKept: number;
  durationMs: number;
}

/** What a scrub of this node's tables found (Coordinator.scrub). */
export interface ScrubSummary {
  tables: number;
  entries: number;
  bytesRead: number;
  /** Tables found corrupt and taken out of their shard (moved to its quarantine/ folder): cluster nodes with N > 1. */
  quarantined: Array<QuarantinedTable & { shard: number }>;
  /** Tables found corrupt and left in place: a single node's (or N = 1), whose only copy they are. */
  corrupt: Array<CorruptTable & { shard: number }>;
  /** The node began to stop before every table was read. */
  cutShort: boolean;
  durationMs: number;
  /** A cluster node that quarantined a table repairs at once (their keys' newest versions are on other replicas); null otherwise. */
  repair: RepairSummary | null;
}

/** POST /api/v1/cluster/nodes: a running node, started with its own --vnodes, to take into the cluster. */
export interface AddNodeRequest {
  nodeId: string;
  /** Its HTTP address, host:port; the peer port is port + 1000 unless given as host:port:peerport. */
  address: string;
  /** What the node must be running with; null accepts its own setting. */
  vnodes: number | null;
}

export interface AddNodeResult {
  nodeId: string;
  address: string;
  status: NodeStatus;
  vnodes: number;
  ringVersion: number;
}

/** A node removed from the ring by removeNode. */
export interface RemoveNodeResult {
  nodeId: string;
  /** The status it had: 'dead' (now removed) or 'left' (it had left already). */
  previousStatus: NodeStatus;
  ringVersion: number;
}

/** What a decommission handed over before the node left the ring. */
export interface DecommissionSummary {
  /** Vnode ranges this node replicated. */
  ranges: number;
  /** Records read from this node's copy. */
  records: number;
  /** Record copies sent to the nodes that replicate them once this one is gone. */
  sent: number;
  /** Of those, the ones that changed what the receiver stored. */
  changed: number;
  /** Hints this node held, passed on (to their node, or to a stand-in) once it had left. */
  hintsHandedOver: number;
  /** Hints that could not be passed on: still held here, replayed while this process runs. */
  hintsLeft: number;
  /** Peers told at once that this node left (the others hear it by gossip while it runs). */
  peersTold: number;
  durationMs: number;
}

export interface Coordinator {
  readonly nodeId: string;
  put(req: PutRequest): Promise<PutResult>;
  get(req: GetRequest): Promise<GetResult>;
  delete(req: DeleteRequest): Promise<DeleteResult>;
  /**
   * Runs the operations concurrently, as put/get/delete would one by one, and resolves once all
   * are done with one outcome each, in order; never rejects. One promise for the lot, so a
   * coordinator can carry a whole frame without a promise chain per operation. With `room`, a
   * found value that does not fit it is answered RKV_ERR_BUSY instead (withinRoom).
   */
  batch(ops: readonly BatchOp[], room?: AnswerRoom): Promise<BatchOutcome[]>;
  clusterStatus(): Promise<ClusterStatus>;
  /**
   * What this node's own replica stores of `key`: no other replica asked, nothing merged, no read
   * repair, every version kept (tombstones and expired ones too). For operators checking where
   * a key lives and whether this copy has a write, and for tests that must see one copy alone.
   */
  replica(key: Uint8Array): Promise<ReplicaView>;
  /** Syncs every range this node replicates with a live replica (RKV_ERR_INVALID_ARGUMENT on a single node). */
  repair(): Promise<RepairSummary>;
  /**
   * Reads every table of every shard end to end and checks it (design.md §12 Q6, scrubbing). On a
   * cluster node (N > 1) a corrupt table is taken out of its shard and kept in its quarantine/
   * folder, its readable blocks salvaged into a table in its place; the damaged blocks' keys then
   * read as their older versions, if any, so the node runs a repair at once. A single node, whose
   * only copy it is, reports it and leaves it in place, unless asked to `salvage`.
   * `bytesPerSecond` (0 or absent: no limit) bounds what the node's shards read together (a
   * scheduled scrub).
   */
  scrub(options?: ScrubOptions): Promise<ScrubSummary>;
  /**
   * Drops from this node's tables every key it no longer replicates (after a join gave ranges to
   * another node), as Cassandra's nodetool cleanup does: the disk holds only its ranges again,
   * and stale copies cannot come back if a range returns. Refused (RKV_ERR_UNAVAILABLE) unless
   * every node of the ring is up and none rebuilding, and the ring has not changed for
   * --dead-after-ms; a single node has nothing to clean (RKV_ERR_INVALID_ARGUMENT).
   */
  cleanup(): Promise<CleanupSummary>;
  /** Writes every shard's memtable to a table now (nodetool flush: before copying a data dir, or to scrub what was just written). */
  flush(): Promise<void>;
  /**
   * Flushes, then makes `<dataDir>/snapshots/<name>` a data dir of its own holding this node's
   * tables as of the flush (hard links: no copying, and compaction deleting a table here leaves
   * the snapshot's whole). Name: given (1..64 of A-Z a-z 0-9 _ . -) or the time. Start a node on
   * a copy of it to restore. RKV_ERR_CONFLICT when the name is taken.
   */
  snapshot(name: string | undefined): Promise<SnapshotSummary>;
  /**
   * Hands every record this node holds to the nodes that replicate it once this one is gone, then
   * leaves the ring (cluster status `left`); the process keeps serving as a coordinator until it
   * is stopped. RKV_ERR_INVALID_ARGUMENT on a single node or the last node of a cluster.
   */
  decommission(): Promise<DecommissionSummary>;
  /**
   * Takes a running node into the cluster by address (it must have been started in cluster mode):
   * one gossip exchange with it, then the node must be the one named, with the vnodes given.
   * RKV_ERR_INVALID_ARGUMENT on a mismatch or a single node, RKV_ERR_UNAVAILABLE when it does not answer.
   */
  addNode(req: AddNodeRequest): Promise<AddNodeResult>;
  /**
   * Removes a node that is gone for good (DEAD in this node's view) from every ring, through
   * gossip; a repair then restores the replica count of its ranges. Removing a node that has
   * left already changes nothing. RKV_ERR_NOT_FOUND for a node this cluster does not know,
   * RKV_ERR_CONFLICT for one that is ALIVE or SUSPECT, RKV_ERR_INVALID_ARGUMENT for this node
   * itself or on a single node.
   */
  removeNode(nodeId: string): Promise<RemoveNodeResult>;
  stats(): Promise<CoordinatorStats>;
  /** Finishes in-flight requests, syncs WALs, stops workers. */
  close(): Promise<void>;
}

/** Errors a coordinator raises, by code, and what they carry in `details`. */
export type CoordinatorError = RingkvError;
// RKV_ERR_CONFLICT     details.current_version: the version string the store holds now
// RKV_ERR_UNAVAILABLE  details.needed, details.answered: replicas needed vs replicas that answered
// RKV_ERR_TIMEOUT      details.needed, details.answered, details.timeout_ms
// RKV_ERR_KEY_TOO_LARGE / RKV_ERR_VALUE_TOO_LARGE / RKV_ERR_INVALID_ARGUMENT
