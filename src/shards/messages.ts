// Every message that crosses the thread boundary between the router (main thread) and a shard
// worker, typed (piscina's own habit, src/types.ts there). Two kinds travel:
// - a batch, on the shard's lane (a MessageChannel, see shard_client.ts): many key operations
//   packed into ONE ArrayBuffer that is transferred (moved, not copied) to the worker, and one
//   packed ArrayBuffer of results transferred back (batch_codec.ts has the byte layout);
// - control tasks (open, scan, merkle, stats, flush, compact, close): small structured-clone
//   objects, except the scan result which is packed and transferred like a batch.
// Errors never cross as thrown Error objects (structured clone drops their `code` and
// `details`); they cross as WireError values and become RingkvErrors again on the main thread.
import type { MessagePort } from 'node:worker_threads';
import type { ErrorCode } from '../errors';
import type { GcSnapshots } from '../gc_pauses';
import type { HistogramSnapshot } from '../histogram';
import type { ThreadMemory } from '../thread_memory';
import type { StorageOptions, StorageStats, TokenRange } from '../storage/types';
import type { ConflictMode } from '../versioning';

/** A sibling set as stored: the storage entry's fields that the versioning layer owns. */
export interface WireRecord {
  versionVector: Uint8Array;
  value: Uint8Array;
  /** The storage entry's tombstone flag (every sibling is a tombstone). */
  tombstone: boolean;
}

export interface GetOp {
  op: 'get';
  key: Uint8Array;
}

/** A coordinated write (put, or delete as a tombstone) made at this node. */
export interface WriteOp {
  op: 'put' | 'delete';
  key: Uint8Array;
  /** Empty for a delete. */
  value: Uint8Array;
  /** 0 = no TTL. */
  ttlSeconds: number;
  ifMatch: string | null;
  /** Encoded vector clock (the client's context), or null. */
  context: Uint8Array | null;
  idempotencyKey: string | null;
  /** Send the resulting sibling set back (the cluster coordinator replicates it). */
  returnRecord: boolean;
  /**
   * Wall-clock ms (Date.now()) past which the write is refused with RKV_ERR_TIMEOUT instead of
   * given a version, since its client has given up on it, or its coordinator has answered it
   * (0: no such time). A write that gets here after its client's retry went elsewhere must not
   * land after that retry was answered: it would supersede what others wrote since
   * (src/protocol/frame_lateness.ts); nor one its coordinator no longer replicates
   * (quorum_writes.ts issuedBy).
   */
  notAfterMs: number;
}

/** Merge a sibling set received from another replica (replication, read repair, hints, anti-entropy). */
export interface ApplyOp {
  op: 'apply';
  key: Uint8Array;
  record: WireRecord;
}

export type ShardOp = GetOp | WriteOp | ApplyOp;

export interface WireError {
  code: ErrorCode;
  message: string;
  details: Record<string, string | number | boolean | null>;
}

export interface OpFailed {
  ok: false;
  error: WireError;
}

export interface GetDone {
  ok: true;
  op: 'get';
  /** The stored set, or null when the key has no entry (or its entry expired). */
  record: WireRecord | null;
}

export interface WriteDone {
  ok: true;
  op: 'put' | 'delete';
  version: string;
  timestampMs: number;
  /** The set after the write, when returnRecord was asked. */
  record: WireRecord | null;
  /** True when an idempotency key matched an earlier write: nothing was written this time. */
  replayed: boolean;
}

export interface ApplyDone {
  ok: true;
  op: 'apply';
  /** False when the incoming set added nothing (the replica already had it or something newer). */
  changed: boolean;
}

export type OpResult = OpFailed | GetDone | WriteDone | ApplyDone;

/** What a worker is started with (Piscina workerData): plain data only. */
export interface ShardWorkerData {
  shardIndex: number;
  shardCount: number;
  /** The engine's directory for this shard. */
  dir: string;
  nodeId: string;
  conflictMode: ConflictMode;
  storage: ShardStorageOptions;
  idempotencyKeysMax: number;
  idempotencyTtlMs: number;
  /**
   * Tests only: a module exporting `openStorage(options)` used instead of src/storage (e.g. a
   * fault-injecting engine). Production never sets it.
   */
  storageModule?: string;
}

/** Storage options that can cross to a worker (no functions; the directory is per shard). */
export type ShardStorageOptions = Omit<StorageOptions, 'dir' | 'now'>;

export interface ScanRequest {
  fromToken: bigint;
  toToken: bigint;
  limit: number;
  includeExpired: boolean;
  /**
   * The scan stops once the entries before its last one hold this many bytes of records
   * (recordBytes): the last one, past the bound, tells the caller that more may follow. At most
   * 0: one entry.
   */
  bytesMax: number;
  /** Entries with the token fromToken and a key at or before this one are skipped (a cursor). */
  afterKey: Uint8Array | null;
}

/**
 * Merkle leaf hashes of this shard's part of a tree (src/antientropy/merkle_tree.ts): the tree
 * spans `range`, the shard hashes the entries with fromToken <= token <= toToken (its own part
 * of the range); leaves of the parts XOR together into the tree's leaves.
 */
export interface MerkleRequest {
  range: { from: bigint; to: bigint };
  depth: number;
  fromToken: bigint;
  toToken: bigint;
  /**
   * Tombstones (and expired entries) older than this are left out: the cluster's shortest grace,
   * the first replica's to purge them, so that every replica leaves out the same ones whatever
   * grace its own compaction keeps.
   */
  tombstoneGraceMs: number;
}

export interface MerkleLeaves {
  leaves: BigUint64Array;
  /** Entries hashed in. */
  entries: number;
}

export interface ShardStats {
  shardIndex: number;
  storage: StorageStats;
  opsApplied: number;
  batches: number;
  idempotentReplays: number;
  idempotencyKeys: number;
  siblingsDropped: number;
  /** Stored records that could not be decoded, replaced by another replica's (ShardCore apply). */
  unreadableRecordsReplaced: number;
  /** The worker thread's V8 GC pauses. */
  gcSeconds: GcSnapshots;
  /** How late the worker thread's event loop ran what was due (event_loop_delay.ts). */
  loopDelaySeconds: HistogramSnapshot;
  /** The worker thread's own memory (its storage background thread's is in storage). */
  memory: ThreadMemory;
}

export type ControlTask =
  /** `lane`: where batches come and their answers and durability notices go (see LaneMessage). */
  | { kind: 'open'; lane: MessagePort }
  | { kind: 'scan'; scan: ScanRequest }
  | { kind: 'merkle'; merkle: MerkleRequest }
  | { kind: 'flush' }
  | { kind: 'compact' }
  | { kind: 'scrub'; bytesPerSecond: number; salvage: boolean }
  /** Drops the entries of every token outside `owned` (LsmEngine.cleanup). */
  | { kind: 'cleanup'; owned: TokenRange[] }
  /** Links the shard's tables into `dir` (LsmEngine.snapshot). */
  | { kind: 'snapshot'; dir: string }
  | { kind: 'close' };

/**
 * A batch, posted on the lane with its buffer transferred. With `early` the worker answers as soon
 * as the batch is applied (before its WAL sync) and reports the sync's outcome later in a
 * 'durable' message with the batch's id; the main thread holds every write of the batch until
 * then. Without it the answer waits for the sync.
 */
export interface BatchRequest {
  kind: 'batch';
  /** Unique among the shard's batches; the answer and the durability notice carry it back. */
  id: number;
  buffer: ArrayBuffer;
  early: boolean;
}

/**
 * When the worker took a batch up, applied it and (unless it was answered early, or wrote nothing)
 * had it durable, and when it posted the answer: laneClockMs readings (lane_timing.ts).
 */
export interface AnswerTimes {
  receivedAtMs: number;
  appliedAtMs: number;
  /** Null for an early answer (its 'durable' notice says when) and for a batch that wrote nothing. */
  durableAtMs: number | null;
  postedAtMs: number;
}

/**
 * A request for the shard's figures. It travels on the lane, not as a Piscina task: a worker runs
 * two control tasks at once, and a scrub and a cleanup (or a scan and a Merkle tree) can hold both
 * for minutes, so /health, /metrics and gossip's storage poll would wait behind them. `id` is
 * unique among the shard's stats requests; the answer carries it back.
 */
export interface StatsRequest {
  kind: 'stats';
  id: number;
}

/**
 * The shard is closing (its queue drained): the worker starts its engine's close at once, on the
 * lane for the reason StatsRequest gives. A scrub and a cleanup holding both control tasks then
 * stop at their next entry, and the close task queued behind them runs; it waited for them to
 * finish, for hours on a large node.
 */
export interface ClosingNotice {
  kind: 'closing';
}

/** What the main thread posts on a shard's lane. */
export type LaneRequest = BatchRequest | StatsRequest | ClosingNotice;

/** What a worker posts on its lane: a batch's packed results (transferred), a durability notice, or its figures. */
export type LaneMessage =
  | { kind: 'answer'; id: number; buffer: ArrayBuffer; times: AnswerTimes }
  /** The batch could not be read at all: every op in it fails with this error. */
  | { kind: 'failed'; id: number; error: WireError }
  /**
   * An early-answered batch's writes are synced (error null) or failed to be; always after its
   * answer. postedAtMs: when the sync was done and this was posted (laneClockMs).
   */
  | { kind: 'durable'; id: number; error: WireError | null; postedAtMs: number }
  /** The answer to a StatsRequest with its id. */
  | { kind: 'stats'; id: number; reply: ControlReply<ShardStats> };

export type ControlReply<T> = { ok: true; value: T } | { ok: false; error: WireError };

/** A scan's answer before decoding: a packed ArrayBuffer (batch_codec.ts, encodeScan). */
export type ScanReply = ControlReply<ArrayBuffer>;
