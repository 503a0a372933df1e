// ShardRouter: the node's data, as the coordinators see it. It starts one single-thread Piscina
// pool per shard (shard_client.ts), maps each key to its shard (shard_map.ts), and offers the
// replica-level operations a coordinator needs:
//
//   get(key)                   → the stored sibling set's record (or null)
//   write(op)                  → a coordinated put/delete made AT THIS NODE: reconcile with what
//                                is stored, If-Match check, new version; returnRecord: true gives
//                                back the resulting set to replicate to the other replicas
//   apply(key, record)         → merge a sibling set received from another replica (replication,
//                                read repair, hinted handoff, anti-entropy); idempotent
//   submitMany(ops, timeoutMs, onAnswer[, onApplied])
//                              → gets, writes and applies that share a deadline, each answered by
//                                its index once durable, writes also once applied when asked (a
//                                frame's ops; the cluster coordinator's own writes of a tick)
//   scanRange(from, to, limit) → stored entries by token range, for anti-entropy and streaming
//   merkleLeaves(range, depth, grace) → Merkle leaf hashes of a token range, hashed in the shard threads
//   stats(), flush(), compact(), close()
//
// For the cluster coordinator: a PUT coordinated here is `write({... returnRecord: true})`, then
// `apply(key, result.record)` on each other replica (through the inter-node transport, whose
// receiving side calls its own router's apply). A replica's read answer is `get(key)`'s record;
// merge several with versioning's reconcile(), and repair a stale replica with apply().
// Records are opaque bytes (versioning/sibling_codec.ts documents them): ship them as they are.
//
// This is the only module (with its worker) that imports Piscina.
import * as os from 'node:os';
import * as path from 'node:path';
import Piscina from 'piscina';
import {
  idempotencyKeysPerShardMax,
  idempotencyTtlMsDefault,
  requestTimeoutMsDefault,
  shardCountMax,
} from '../constants';
import { ErrorCode, RingkvError, assert } from '../errors';
import type { ConflictMode } from '../versioning';
import { assertNodeId } from '../versioning';
import type { CleanupReport, ScrubReport, TokenRange } from '../storage/types';
import type { ScannedEntry } from './batch_codec';
import type { ApplyDone, ControlTask, GetDone, MerkleLeaves, OpResult, ShardOp, ShardStats, ShardStorageOptions, ShardWorkerData, WireRecord, WriteDone, WriteOp } from './messages';
import type { AnswerCallback, AppliedCallback, ShardClientHooks, ShardLimits } from './shard_client';
import { ShardClient, defaultShardLimits, fromWireError } from './shard_client';
import { ensureLayout, shardDir } from './shard_layout';
import { keyToken, shardOfToken, shardTokenRange } from './shard_map';
import { recordBytes } from './wire_record';

export interface ShardRouterOptions {
  dataDir: string;
  nodeId: string;
  /** Default: the count recorded in the data dir, else defaultShardCount(). */
  shardCount?: number;
  conflictMode?: ConflictMode;
  storage?: ShardStorageOptions;
  limits?: Partial<ShardLimits>;
  idempotencyKeysMax?: number;
  idempotencyTtlMs?: number;
  /** Tests only: see ShardWorkerData.storageModule. */
  storageModule?: string;
  hooks?: ShardClientHooks;
}

function unwrap<T extends OpResult>(r: OpResult): T {
  if (!r.ok) throw fromWireError(r.error);
  return r as T;
}

/**
 * One shard thread per CPU but one: the main thread (HTTP/WebSocket, coordination, encoding) is a
 * busy thread too. On the 2-core machines this project runs on, one shard beside the main thread
 * served 1.07x (GET) to 1.14x (PUT) the single-op WebSocket throughput of two shards, and
 * 0.91x-1.07x with 32-op frames (BENCHMARKS.md, "Shard threads per node").
 */
export function defaultShardCount(): number {
  return Math.min(shardCountMax, Math.max(1, os.availableParallelism() - 1));
}

export class ShardRouter {
  private closed = false;

  private constructor(
    readonly shardCount: number,
    readonly nodeId: string,
    readonly conflictMode: ConflictMode,
    private readonly shards: ShardClient[],
  ) {}

  /** Starts the shard workers and opens every shard's engine (an open failure rejects here). */
  static async open(options: ShardRouterOptions): Promise<ShardRouter> {
    assertNodeId(options.nodeId);
    const requested = options.shardCount;
    if (requested !== undefined && (!Number.isInteger(requested) || requested < 1 || requested > shardCountMax)) {
      throw new RingkvError(ErrorCode.InvalidArgument, `shardCount must be an integer 1..${shardCountMax}: ${requested}`);
    }
    const fallback = defaultShardCount();
    const shardCount = ensureLayout(options.dataDir, requested, fallback);
    const conflictMode = options.conflictMode ?? 'vclock';
    if (conflictMode !== 'vclock' && conflictMode !== 'lww') {
      throw new RingkvError(ErrorCode.InvalidArgument, `conflictMode must be 'vclock' or 'lww': ${String(conflictMode)}`);
    }
    const limits: ShardLimits = { ...defaultShardLimits, ...options.limits };
    const shards: ShardClient[] = [];
    for (let i = 0; i < shardCount; i++) {
      const data: ShardWorkerData = {
        shardIndex: i,
        shardCount,
        dir: shardDir(options.dataDir, i),
        nodeId: options.nodeId,
        conflictMode,
        storage: options.storage ?? {},
        idempotencyKeysMax: options.idempotencyKeysMax ?? idempotencyKeysPerShardMax,
        idempotencyTtlMs: options.idempotencyTtlMs ?? idempotencyTtlMsDefault,
        ...(options.storageModule === undefined ? {} : { storageModule: options.storageModule }),
      };
      const pool = new Piscina<ControlTask, unknown>({
        filename: path.join(__dirname, 'shard_worker.js'),
        name: 'default',
        minThreads: 1,
        maxThreads: 1,
        // The worker owns an engine: it must never be retired for idling.
        idleTimeout: Infinity,
        // 'sync' would park the idle worker in Atomics.wait, stopping the engine's timers
        // (group-commit window, background compaction) between tasks.
        atomics: 'disabled',
        // Only control tasks are Piscina tasks (batches and stats use the lane, see
        // shard_client.ts); two at once so a flush or a Merkle tree does not wait behind a long scan.
        concurrentTasksPerWorker: 2,
        workerData: data,
      });
      shards.push(new ShardClient(i, pool, limits, options.hooks ?? {}));
    }
    const router = new ShardRouter(shardCount, options.nodeId, conflictMode, shards);
    const opened = await Promise.allSettled(shards.map((s) => s.open()));
    const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await router.close().catch(() => undefined);
      throw failed.reason;
    }
    return router;
  }

  shardOfKey(key: Uint8Array): number {
    // One shard (the default on a 2-core machine) owns every token: no need to hash the key here
    // (an N-API call per request, ~4% of a node's main thread under GET load).
    return this.shardCount === 1 ? 0 : shardOfToken(keyToken(key), this.shardCount);
  }

  /** The shard clients, for tests and metrics (queue depth, batch counts). */
  get clients(): readonly ShardClient[] {
    return this.shards;
  }

  private submit(op: ShardOp, timeoutMs: number): Promise<OpResult> {
    if (this.closed) return Promise.reject(new RingkvError(ErrorCode.Closed, 'the node is shutting down'));
    assert(Number.isFinite(timeoutMs) && timeoutMs > 0, 'timeoutMs must be positive');
    return this.shards[this.shardOfKey(op.key)]!.submit(op, timeoutMs);
  }

  /**
   * Ops that share a deadline, each to its key's shard; `onAnswer` hears each one's answer once
   * it is durable, by its index in `ops`, and `onApplied` each write's as soon as it is applied
   * (see ShardClient.submitMany).
   */
  submitMany(ops: readonly ShardOp[], timeoutMs: number, onAnswer: AnswerCallback, onApplied: AppliedCallback | null = null): void {
    if (this.closed) {
      const e = new RingkvError(ErrorCode.Closed, 'the node is shutting down');
      for (let i = 0; i < ops.length; i++) onAnswer(i, null, e);
      return;
    }
    assert(Number.isFinite(timeoutMs) && timeoutMs > 0, 'timeoutMs must be positive');
    if (this.shardCount === 1) {
      this.shards[0]!.submitMany(ops, timeoutMs, onAnswer, onApplied);
      return;
    }
    const perShard = new Map<number, { ops: ShardOp[]; at: number[] }>();
    for (let i = 0; i < ops.length; i++) {
      const shard = this.shardOfKey(ops[i]!.key);
      let part = perShard.get(shard);
      if (part === undefined) perShard.set(shard, (part = { ops: [], at: [] }));
      part.ops.push(ops[i]!);
      part.at.push(i);
    }
    for (const [shard, part] of perShard) {
      this.shards[shard]!.submitMany(
        part.ops,
        timeoutMs,
        (j, r, e) => onAnswer(part.at[j]!, r, e),
        onApplied === null ? null : (j, r) => onApplied(part.at[j]!, r),
      );
    }
  }

  async get(key: Uint8Array, timeoutMs: number = requestTimeoutMsDefault): Promise<WireRecord | null> {
    return unwrap<GetDone>(await this.submit({ op: 'get', key }, timeoutMs)).record;
  }

  /** A write coordinated at this node; resolves once durable (early answers: submitMany's onApplied). */
  async write(op: WriteOp, timeoutMs: number = requestTimeoutMsDefault): Promise<WriteDone> {
    return unwrap<WriteDone>(await this.submit(op, timeoutMs));
  }

  async apply(key: Uint8Array, record: WireRecord, timeoutMs: number = requestTimeoutMsDefault): Promise<boolean> {
    return unwrap<ApplyDone>(await this.submit({ op: 'apply', key, record }, timeoutMs)).changed;
  }

  /**
   * Stored entries with fromToken <= token <= toToken, in token order, at most `limit` in all
   * (tombstones included; expired TTL entries only with includeExpired), and, with `bytesMax`,
   * up to the first entry after those that hold bytesMax bytes of records (ScanRequest): that
   * one tells the caller more may follow. With `afterKey`, entries of token fromToken at or
   * before that key are left out (a cursor). The range must not wrap; split a ring range that
   * does at 2^64 - 1.
   */
  async scanRange(
    fromToken: bigint,
    toToken: bigint,
    opts: { limit?: number; includeExpired?: boolean; bytesMax?: number; afterKey?: Uint8Array | null } = {},
  ): Promise<ScannedEntry[]> {
    assert(fromToken <= toToken, 'scan range must not wrap');
    let left = opts.limit ?? 10_000;
    const bytesMax = opts.bytesMax ?? Number.POSITIVE_INFINITY;
    let bytes = 0;
    let lastBytes = 0;
    const out: ScannedEntry[] = [];
    const first = shardOfToken(fromToken, this.shardCount);
    const last = shardOfToken(toToken, this.shardCount);
    // Shards own contiguous token ranges in order, so their answers concatenate in token order.
    // A shard gets what is left of the byte bound; one whose entries reached it just at its last
    // leaves the entry past the bound to the next shard.
    for (let i = first; i <= last && left > 0 && (out.length === 0 || bytes - lastBytes < bytesMax); i++) {
      const range = shardTokenRange(i, this.shardCount);
      const from = fromToken > range.fromToken ? fromToken : range.fromToken;
      const to = toToken < range.toToken ? toToken : range.toToken;
      const afterKey = i === first ? (opts.afterKey ?? null) : null;
      const entries = await this.shards[i]!.scan({ fromToken: from, toToken: to, limit: left, includeExpired: opts.includeExpired ?? false, bytesMax: bytesMax - bytes, afterKey });
      for (const e of entries) {
        out.push(e);
        lastBytes = recordBytes(e.key, e.record);
        bytes += lastBytes;
      }
      left -= entries.length;
    }
    return out;
  }

  /**
   * Merkle leaf hashes of everything stored with a token in `range` (src/antientropy): each
   * shard overlapping the range hashes its part in its own thread, and the parts XOR together.
   */
  async merkleLeaves(range: { from: bigint; to: bigint }, depth: number, tombstoneGraceMs: number): Promise<MerkleLeaves> {
    assert(range.from <= range.to, 'a Merkle range must not wrap');
    const first = shardOfToken(range.from, this.shardCount);
    const last = shardOfToken(range.to, this.shardCount);
    const parts: Promise<MerkleLeaves>[] = [];
    for (let i = first; i <= last; i++) {
      const own = shardTokenRange(i, this.shardCount);
      const fromToken = range.from > own.fromToken ? range.from : own.fromToken;
      const toToken = range.to < own.toToken ? range.to : own.toToken;
      parts.push(this.shards[i]!.control<MerkleLeaves>({ kind: 'merkle', merkle: { range, depth, fromToken, toToken, tombstoneGraceMs } }));
    }
    const done = await Promise.all(parts);
    const leaves = done[0]!.leaves;
    let entries = done[0]!.entries;
    for (const p of done.slice(1)) {
      assert(p.leaves.length === leaves.length, 'every part has the same leaves');
      for (let j = 0; j < leaves.length; j++) leaves[j] = leaves[j]! ^ p.leaves[j]!;
      entries += p.entries;
    }
    return { leaves, entries };
  }

  stats(): Promise<ShardStats[]> {
    return Promise.all(this.shards.map((s) => s.stats()));
  }

  async flush(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.control<boolean>({ kind: 'flush' })));
  }

  async compact(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.control<boolean>({ kind: 'compact' })));
  }

  /** Snapshots every shard into `root`/shard-NNN (its own layout), one result per shard in shard order. */
  snapshot(root: string): Promise<Array<{ tables: number; bytes: number }>> {
    return Promise.all(this.shards.map((s, i) => s.control<{ tables: number; bytes: number }>({ kind: 'snapshot', dir: shardDir(root, i) })));
  }

  /**
   * Scrubs every shard's tables at once (each on its own thread), one report per shard in shard
   * order; `bytesPerSecond` (0: no limit) is the node's, shared out among the shards.
   */
  scrub(bytesPerSecond: number, salvage: boolean): Promise<ScrubReport[]> {
    const each = bytesPerSecond > 0 ? Math.max(1, Math.floor(bytesPerSecond / this.shards.length)) : 0;
    return Promise.all(this.shards.map((s) => s.control<ScrubReport>({ kind: 'scrub', bytesPerSecond: each, salvage })));
  }

  /**
   * Cleans every shard up to `owned` at once (each on its own thread; a shard's tables hold only
   * its own tokens, so each keeps what of `owned` it has), one report per shard in shard order.
   */
  cleanup(owned: TokenRange[]): Promise<CleanupReport[]> {
    return Promise.all(this.shards.map((s) => s.control<CleanupReport>({ kind: 'cleanup', owned })));
  }

  /** Refuses new requests, answers the queued ones, closes every engine (syncing its WAL), stops the threads. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled(this.shards.map((s) => s.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}
