// The single-node coordinator: N = 1, so ONE, QUORUM and ALL all need the one local replica and
// every request is one shard operation. It is the embedded default (`ringkv start` without
// seeds) and the reference the cluster coordinator's answers must agree with.
//
// Requests never wait past their timeout: the shard queue answers RKV_ERR_TIMEOUT with
// details {needed: 1, answered: 0, timeout_ms}. close() refuses new requests, answers the queued
// ones, closes every shard's engine (syncing its WAL) and stops the worker threads.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { requestTimeoutMsDefault, shardQueueOpsMax, tombstoneGraceMsDefault } from '../constants';
import { ErrorCode, RingkvError, assert } from '../errors';
import { emptyGcSnapshots, gcKinds } from '../gc_pauses';
import { addSnapshot, emptySnapshot } from '../histogram';
import { addThreadMemory, emptyThreadMemory } from '../thread_memory';
import type { OpResult, ShardLimits, ShardOp, ShardStorageOptions, WriteOp } from '../shards';
import { ShardRouter, addLaneStageSeconds, emptyLaneStageSeconds, fromWireError, layoutFileName } from '../shards';
import { lockDir, type DirLock } from '../storage/dir-lock';
import { writeFileDurably } from '../storage/durable-file';
import { fsyncDir } from '../storage/manifest';
import type { StorageTrouble } from '../membership';
import type { ScrubOptions, SyncMode, TokenRange } from '../storage/types';
import type { ConflictMode } from '../versioning';
import { decodeSiblingSet } from '../versioning';
import { toGetResult, toReplicaView } from './get_result';
import { nodeHealth } from './node_health';
import { clusterNameFileName, datacenterFileName, loadOrCreateNodeId, nodeIdFileName, zoneFileName } from './identity_files';
import { lastRunFileName, writeLastRun } from './last_run';
import { peersFileName } from './peers_file';
import { syncedSinceFileName } from './sync_coverage';
import { writeTimeFile } from './time_file';
import { checkCommon, checkContext, checkIdempotencyKey, checkIfMatch, checkKey, checkNotAfter, checkTtl, checkValue } from './request_checks';
import type {
  AnswerRoom,
  BatchOp,
  BatchOutcome,
  ClusterStatus,
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
  CleanupSummary,
  ScrubSummary,
  SnapshotSummary,
} from './types';
import { failed, withinRoom } from './batch_outcome';

export interface LocalCoordinatorOptions {
  /** The node's directory: NODE_ID, SHARDS and one engine directory per shard. */
  dataDir: string;
  /** Default: generated once and kept in <dataDir>/NODE_ID. */
  nodeId?: string;
  /** Default: the count recorded in dataDir, else one per CPU but one (shards' defaultShardCount). */
  shardCount?: number;
  syncMode?: SyncMode;
  /** Each shard's memtable limit and block cache; default: the engine's. */
  memtableBytes?: number;
  blockCacheBytes?: number;
  /** How long tombstones are kept before compaction may purge them; default tombstoneGraceMsDefault. */
  tombstoneGraceMs?: number;
  /** 'vclock' (default) keeps concurrent versions as siblings; 'lww' keeps the newest. */
  conflictMode?: ConflictMode;
  /** Further storage options for every shard's engine (syncMode, memtableBytes, blockCacheBytes and tombstoneGraceMs above win). */
  storage?: ShardStorageOptions;
  /** host:port the node serves on, shown in clusterStatus. */
  address?: string;
  /** Default request timeout when a request names none. */
  requestTimeoutMs?: number;
  /** Shard queue and batch bounds (defaults from constants). */
  limits?: Partial<ShardLimits>;
  /** Tests only: see ShardWorkerData.storageModule. */
  storageModule?: string;
  /**
   * dataDir's lock, when the caller took it before reading or writing anything there (a cluster
   * node's identity files): taken over, released when the coordinator closes or fails to open.
   */
  dirLock?: DirLock;
}

/** The local coordinator, with the router exposed for the node's own use (metrics, admin). */
export interface LocalCoordinator extends Coordinator {
  readonly router: ShardRouter;
  /** About how many keys this node stores, and whether its storage refuses writes (see the implementation). */
  storageState(): Promise<StorageState>;
  /** Drops every key outside `owned` from every shard (StorageEngine.cleanup); the cluster's cleanup. */
  cleanupTo(owned: TokenRange[]): Promise<LocalCleanup>;
  /**
   * Coordinator.snapshot; a cluster node gives `syncedSinceMs`, the time since which anti-entropy
   * had synced every range it replicates (sync_coverage.ts), kept in the snapshot's SYNCED_SINCE,
   * and `marks`, files of its state the snapshot holds too (REBUILDING).
   */
  snapshot(name: string | undefined, syncedSinceMs?: number, marks?: readonly SnapshotMark[]): Promise<SnapshotSummary>;
}

/** A file a snapshot holds beside the node's tables, written (durably) before them. */
export interface SnapshotMark {
  file: string;
  text: string;
}

/** A cleanup's figures, summed over the shards. */
export type LocalCleanup = Omit<CleanupSummary, 'ringVersion' | 'rangesKept'>;

export async function createLocalCoordinator(options: LocalCoordinatorOptions): Promise<LocalCoordinator> {
  if (typeof options.dataDir !== 'string' || options.dataDir.length === 0) {
    options.dirLock?.release();
    throw new RingkvError(ErrorCode.InvalidArgument, 'dataDir must be a non-empty path');
  }
  // Before anything in the directory is read or written: a second node there would corrupt it.
  const dirLock = options.dirLock ?? lockDir(options.dataDir);
  try {
    const nodeId = loadOrCreateNodeId(options.dataDir, options.nodeId);
    const storage: ShardStorageOptions = { ...options.storage };
    if (options.syncMode !== undefined) storage.syncMode = options.syncMode;
    if (options.memtableBytes !== undefined) storage.memtableBytes = options.memtableBytes;
    if (options.blockCacheBytes !== undefined) storage.blockCacheBytes = options.blockCacheBytes;
    if (options.tombstoneGraceMs !== undefined) storage.tombstoneGraceMs = options.tombstoneGraceMs;
    const router = await ShardRouter.open({
      dataDir: options.dataDir,
      nodeId,
      ...(options.shardCount === undefined ? {} : { shardCount: options.shardCount }),
      conflictMode: options.conflictMode ?? 'vclock',
      storage,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.storageModule === undefined ? {} : { storageModule: options.storageModule }),
    });
    return new LocalCoordinatorImpl(router, dirLock, options.dataDir, nodeId, options.address ?? '127.0.0.1', options.requestTimeoutMs ?? requestTimeoutMsDefault, storage.tombstoneGraceMs ?? tombstoneGraceMsDefault, options.limits?.queueOpsMax ?? shardQueueOpsMax);
  } catch (err) {
    dirLock.release();
    throw err;
  }
}

/** A validated put or delete as the shard op that coordinates it here. */
function writeOp(b: Extract<BatchOp, { op: 'put' | 'delete' }>): WriteOp {
  const put = b.op === 'put' ? b.req : null;
  return {
    op: b.op,
    key: b.req.key,
    value: put === null ? new Uint8Array(0) : checkValue(put.value),
    ttlSeconds: put === null ? 0 : checkTtl(put.ttlSeconds),
    ifMatch: checkIfMatch(b.req.ifMatch),
    context: checkContext(b.req.context)?.bytes ?? null,
    idempotencyKey: checkIdempotencyKey(b.req.idempotencyKey),
    returnRecord: false,
    notAfterMs: checkNotAfter(b.req.notAfterMs),
  };
}

/** What a node says of its storage each gossip round (LocalCoordinator.storageState). */
export interface StorageState {
  /** About how many keys this node stores (advertised through gossip). */
  keysEstimate: number;
  /** Whether its storage refuses writes (advertised through gossip). */
  storage: StorageTrouble | undefined;
  /** Tables its shards have quarantined since they opened (a scrub's, or a compaction's). */
  tablesQuarantined: number;
  /** Bytes of its shards' tables and WALs (advertised through gossip; `ringkv status` shows it). */
  dataBytes: number;
  /** Its data dir's file system (advertised through gossip); null when statfs failed. */
  disk: DiskSpace | null;
}

/** A file system's size, and what this (unprivileged) process may still use of it. */
export interface DiskSpace {
  sizeBytes: number;
  freeBytes: number;
}

/** `<dataDir>/snapshots/<name>`: each a data dir of its own (LocalCoordinator.snapshot). */
export const snapshotsDirName = 'snapshots';

class LocalCoordinatorImpl implements LocalCoordinator {
  private closing: Promise<void> | null = null;

  constructor(
    readonly router: ShardRouter,
    /** Held until the shards are closed (storage/dir-lock.ts). */
    private readonly dirLock: DirLock,
    private readonly dataDir: string,
    readonly nodeId: string,
    private readonly address: string,
    private readonly defaultTimeoutMs: number,
    private readonly tombstoneGraceMs: number,
    private readonly queueOpsMax: number,
  ) {}

  private checkOpen(): void {
    if (this.closing !== null) throw new RingkvError(ErrorCode.Closed, 'the node is shutting down');
  }

  put(req: PutRequest): Promise<PutResult> {
    return this.batch([{ op: 'put', req }]).then(([o]) => (o!.ok && o!.op === 'put' ? o!.result : failed(o!)));
  }

  get(req: GetRequest): Promise<GetResult> {
    return this.batch([{ op: 'get', req }]).then(([o]) => (o!.ok && o!.op === 'get' ? o!.result : failed(o!)));
  }

  delete(req: DeleteRequest): Promise<DeleteResult> {
    return this.batch([{ op: 'delete', req }]).then(([o]) => (o!.ok && o!.op === 'delete' ? o!.result : failed(o!)));
  }

  /**
   * Every operation is one shard op: the batch goes to the shards as one submission per deadline
   * (one per frame, in practice), and resolves with one promise, without one per operation.
   */
  batch(ops: readonly BatchOp[], room?: AnswerRoom): Promise<BatchOutcome[]> {
    return new Promise((resolve) => {
      const outcomes = new Array<BatchOutcome>(ops.length);
      let left = ops.length;
      const finish = (i: number, o: BatchOutcome): void => {
        outcomes[i] = o;
        if (--left === 0) resolve(outcomes);
      };
      if (left === 0) {
        resolve(outcomes);
        return;
      }
      // Requests with the same timeout share a deadline: a frame's operations nearly all have the
      // default, or one step of their client's time left (request_checks.ts requestTimeoutMs).
      const byTimeout = new Map<number, { shardOps: ShardOp[]; at: number[] }>();
      for (let i = 0; i < ops.length; i++) {
        let shardOp: ShardOp;
        let timeoutMs: number;
        try {
          this.checkOpen();
          const b = ops[i]!;
          timeoutMs = checkCommon(b.req, this.defaultTimeoutMs);
          shardOp = b.op === 'get' ? { op: 'get', key: b.req.key } : writeOp(b);
        } catch (error) {
          finish(i, { ok: false, error });
          continue;
        }
        let part = byTimeout.get(timeoutMs);
        if (part === undefined) byTimeout.set(timeoutMs, (part = { shardOps: [], at: [] }));
        part.shardOps.push(shardOp);
        part.at.push(i);
      }
      for (const [timeoutMs, part] of byTimeout) {
        this.router.submitMany(part.shardOps, timeoutMs, (j, result, error) => {
          const i = part.at[j]!;
          try {
            finish(i, error !== null ? { ok: false, error } : withinRoom(this.outcome(ops[i]!, result!), room));
          } catch (err) {
            finish(i, { ok: false, error: err });
          }
        });
      }
    });
  }

  private outcome(b: BatchOp, r: OpResult): BatchOutcome {
    if (!r.ok) throw fromWireError(r.error);
    const key = b.req.key;
    if (b.op === 'get') {
      assert(r.op === 'get', 'a get is answered by a get');
      const result: GetResult = r.record === null ? { found: false, key } : toGetResult(key, decodeSiblingSet(r.record, ErrorCode.Corruption), Date.now());
      return { ok: true, op: 'get', result };
    }
    assert(r.op === 'put' || r.op === 'delete', 'a write is answered by a write');
    if (b.op === 'put') return { ok: true, op: 'put', result: { key, version: r.version, timestampMs: r.timestampMs, acks: 1 } };
    return { ok: true, op: 'delete', result: { key, version: r.version, timestampMs: r.timestampMs, tombstoneExpiryMs: r.timestampMs + this.tombstoneGraceMs } };
  }

  /**
   * About how many keys this node stores, and whether its storage refuses writes: 'failed' when a
   * shard refuses them until a restart, else 'full' when a shard's disk is full (one flag for the
   * node: its shards share the data dir's file system, and a reader needs to know that some
   * writes here fail, not which).
   */
  async storageState(): Promise<StorageState> {
    this.checkOpen();
    const [stats, disk] = await Promise.all([this.router.stats(), this.diskSpace()]);
    const tablesQuarantined = stats.reduce((n, s) => n + s.storage.tablesQuarantined, 0);
    // Each shard's engine estimates its distinct keys (a HyperLogLog union of its tables and memtables).
    const keysEstimate = stats.reduce((n, s) => n + s.storage.keysEstimate, 0);
    const failed = stats.some((s) => s.storage.writesRefused > s.storage.outOfSpace);
    const full = stats.some((s) => s.storage.outOfSpace > 0);
    const dataBytes = stats.reduce((n, s) => n + s.storage.diskBytes, 0);
    return { keysEstimate, storage: failed ? 'failed' : full ? 'full' : undefined, tablesQuarantined, dataBytes, disk };
  }

  /** The data dir's file system (design.md §11 alerts on disk use); null when statfs fails. */
  private async diskSpace(): Promise<DiskSpace | null> {
    const s = await fs.promises.statfs(this.dataDir).catch(() => null);
    return s === null ? null : { sizeBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  }

  async replica(key: Uint8Array): Promise<ReplicaView> {
    this.checkOpen();
    return toReplicaView(checkKey(key), [this.nodeId], await this.router.get(key, this.defaultTimeoutMs));
  }

  async clusterStatus(): Promise<ClusterStatus> {
    const { keysEstimate: totalKeys, storage, dataBytes, disk } = await this.storageState();
    const queued = Math.max(0, ...this.router.clients.map((c) => c.queuedOps));
    return {
      nodes: [{ id: this.nodeId, address: this.address, ...nodeHealth('ALIVE', storage), load: Math.min(1, queued / this.queueOpsMax), data_bytes: dataBytes, ...(disk !== null && { disk_size_bytes: disk.sizeBytes, disk_free_bytes: disk.freeBytes }), tokens: [] }],
      ring_version: 0,
      total_keys: totalKeys,
      replication_factor: 1,
    };
  }

  repair(): Promise<RepairSummary> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'a single node has no other replicas to repair against; repair is for cluster nodes'));
  }

  cleanup(): Promise<CleanupSummary> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'a single node replicates every key; cleanup is for cluster nodes'));
  }

  async cleanupTo(owned: TokenRange[]): Promise<LocalCleanup> {
    this.checkOpen();
    const started = Date.now();
    const sum: LocalCleanup = { tables: 0, tablesRewritten: 0, tablesRemoved: 0, entriesDropped: 0, bytesBefore: 0, bytesAfter: 0, cutShort: false, durationMs: 0 };
    for (const r of await this.router.cleanup(owned)) {
      sum.tables += r.tables;
      sum.tablesRewritten += r.tablesRewritten;
      sum.tablesRemoved += r.tablesRemoved;
      sum.entriesDropped += r.entriesDropped;
      sum.bytesBefore += r.bytesBefore;
      sum.bytesAfter += r.bytesAfter;
      sum.cutShort ||= r.cutShort;
    }
    sum.durationMs = Date.now() - started;
    return sum;
  }

  addNode(_req: AddNodeRequest): Promise<AddNodeResult> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'a single node takes no members; start the nodes of a cluster with --seeds'));
  }

  decommission(): Promise<DecommissionSummary> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'a single node has nowhere to hand its data to; decommission is for cluster nodes'));
  }

  /** See Coordinator.snapshot and LocalCoordinator.snapshot. */
  async snapshot(name: string | undefined, syncedSinceMs?: number, marks: readonly SnapshotMark[] = []): Promise<SnapshotSummary> {
    this.checkOpen();
    const started = Date.now();
    const snapshotName = name ?? new Date(started).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(snapshotName) || snapshotName === '.' || snapshotName === '..') {
      throw new RingkvError(ErrorCode.InvalidArgument, `snapshot name ${JSON.stringify(snapshotName)} must be 1..64 of A-Z a-z 0-9 _ . -`);
    }
    const root = path.join(this.dataDir, snapshotsDirName, snapshotName);
    fs.mkdirSync(path.dirname(root), { recursive: true });
    try {
      fs.mkdirSync(root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new RingkvError(ErrorCode.Conflict, `snapshot ${snapshotName} exists already (${root})`, { details: { path: root } });
      throw err;
    }
    let shards: Array<{ tables: number; bytes: number }>;
    try {
      // A data dir of its own: the node's names and shard layout beside each shard's tables,
      // synced with the folders that name them (each shard syncs its own). A cluster node's
      // PEERS too: a node restored from it starts with the ring it had, and its start check
      // knows the others' tombstone graces (last_run.ts startGrace).
      for (const f of [nodeIdFileName, clusterNameFileName, zoneFileName, datacenterFileName, layoutFileName, peersFileName]) {
        if (!fs.existsSync(path.join(this.dataDir, f))) continue;
        fs.copyFileSync(path.join(this.dataDir, f), path.join(root, f));
        await fsyncDir(path.join(root, f)); // opens read-only and syncs: a file as well as a folder
      }
      // What a node restored from it is back to (last_run.ts): its flush, whatever the live data dir says.
      writeLastRun(path.join(root, lastRunFileName), started);
      // And how far back its ranges were synced: a node restored from it counts their age from
      // then, not from its start (a snapshot days old is that much nearer the tombstone grace).
      if (syncedSinceMs !== undefined) writeTimeFile(path.join(root, syncedSinceFileName), syncedSinceMs);
      // Before the tables: a snapshot is never whole without them (a crash between left one that
      // restored as a node serving a rebuild's unfilled tables as whole).
      for (const m of marks) writeFileDurably(path.join(root, m.file), m.text);
      shards = await this.router.snapshot(root);
      await fsyncDir(root);
      await fsyncDir(path.dirname(root));
    } catch (err) {
      // Half a snapshot would restore as a node missing data: none rather than that.
      fs.rmSync(root, { recursive: true, force: true });
      throw err;
    }
    return {
      name: snapshotName,
      path: root,
      tables: shards.reduce((n, s) => n + s.tables, 0),
      bytes: shards.reduce((n, s) => n + s.bytes, 0),
      durationMs: Date.now() - started,
    };
  }

  /** See Coordinator.flush. */
  async flush(): Promise<void> {
    this.checkOpen();
    await this.router.flush();
  }

  /** See Coordinator.scrub: every shard at once, each on its own thread. */
  async scrub(options: ScrubOptions = {}): Promise<ScrubSummary> {
    this.checkOpen();
    const started = Date.now();
    const reports = await this.router.scrub(options.bytesPerSecond ?? 0, options.salvage ?? false);
    const summary: ScrubSummary = { tables: 0, entries: 0, bytesRead: 0, quarantined: [], corrupt: [], cutShort: false, durationMs: 0, repair: null };
    reports.forEach((r, shard) => {
      summary.tables += r.tables;
      summary.entries += r.entries;
      summary.bytesRead += r.bytesRead;
      summary.cutShort ||= r.cutShort;
      for (const q of r.quarantined) summary.quarantined.push({ shard, ...q });
      for (const q of r.corrupt) summary.corrupt.push({ shard, ...q });
    });
    summary.durationMs = Date.now() - started;
    return summary;
  }

  removeNode(_nodeId: string): Promise<RemoveNodeResult> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'a single node has no members to remove; removing a node is for cluster nodes'));
  }

  async stats(): Promise<CoordinatorStats> {
    this.checkOpen();
    const [shards, disk] = await Promise.all([this.router.stats(), this.diskSpace()]);
    const levels: number[] = [];
    const shardGcSeconds = emptyGcSnapshots();
    const shardMemory = emptyThreadMemory();
    const backgroundMemory = emptyThreadMemory();
    const shardLaneSeconds = emptyLaneStageSeconds();
    const shardLoopDelaySeconds = emptySnapshot();
    const out: CoordinatorStats = {
      memtableBytes: 0,
      sstablesPerLevel: levels,
      compactionBacklog: 0,
      walSyncs: 0,
      walSyncSeconds: emptySnapshot(),
      shardGcSeconds,
      shardLaneSeconds,
      shardLoopDelaySeconds,
      shardMemory,
      backgroundMemory,
      diskBytes: 0,
      readRepairs: 0,
      hintsQueued: 0,
      writeStalls: 0,
      blockCacheHits: 0,
      blockCacheMisses: 0,
      blockCacheBlocksWarmed: 0,
      blockCacheHeldBytes: 0,
      arenaFreeBytes: 0,
      tableIndexFilterBytes: 0,
      shardBatches: 0,
      shardOps: 0,
      shardQueuedOps: 0,
      shardBusyRejections: 0,
      shardTimeouts: 0,
      shardWorkerRestarts: 0,
      shardReadsAskedAgain: 0,
      shardWritesAskedAgain: 0,
      idempotentReplays: 0,
      siblingsDropped: 0,
      unreadableRecordsReplaced: 0,
      shardsRefusingWrites: 0,
      shardsOutOfSpace: 0,
      shardsCompactionsHeldForSpace: 0,
      sstablesQuarantined: 0,
      shards: shards.length,
      ...(disk !== null && { filesystemSizeBytes: disk.sizeBytes, filesystemFreeBytes: disk.freeBytes }),
    };
    const add = (name: string, v: number) => {
      out[name] = (out[name] as number) + v;
    };
    for (const s of shards) {
      add('memtableBytes', s.storage.memtableBytes);
      add('compactionBacklog', s.storage.compactionBacklog);
      add('walSyncs', s.storage.walSyncs);
      addSnapshot(out.walSyncSeconds, s.storage.walSyncSeconds);
      for (const kind of gcKinds) addSnapshot(shardGcSeconds[kind], s.gcSeconds[kind]);
      addSnapshot(shardLoopDelaySeconds, s.loopDelaySeconds);
      addThreadMemory(shardMemory, s.memory);
      addThreadMemory(backgroundMemory, s.storage.backgroundMemory);
      add('diskBytes', s.storage.diskBytes);
      add('writeStalls', s.storage.writeStalls);
      add('blockCacheHits', s.storage.blockCacheHits);
      add('blockCacheMisses', s.storage.blockCacheMisses);
      add('blockCacheBlocksWarmed', s.storage.blockCacheBlocksWarmed);
      add('blockCacheHeldBytes', s.storage.blockCacheHeldBytes);
      add('arenaFreeBytes', s.storage.arenaFreeBytes);
      add('tableIndexFilterBytes', s.storage.tableIndexFilterBytes);
      add('idempotentReplays', s.idempotentReplays);
      add('siblingsDropped', s.siblingsDropped);
      add('unreadableRecordsReplaced', s.unreadableRecordsReplaced);
      add('shardsRefusingWrites', s.storage.writesRefused);
      add('shardsOutOfSpace', s.storage.outOfSpace);
      add('shardsCompactionsHeldForSpace', s.storage.compactionsHeldForSpace);
      add('sstablesQuarantined', s.storage.tablesQuarantined);
      s.storage.sstablesPerLevel.forEach((n, i) => (levels[i] = (levels[i] ?? 0) + n));
    }
    for (const c of this.router.clients) {
      add('shardBatches', c.counters.batchTasks);
      add('shardOps', c.counters.opsSent);
      add('shardQueuedOps', c.queuedOps);
      add('shardBusyRejections', c.counters.busyRejections);
      add('shardTimeouts', c.counters.timeouts);
      add('shardWorkerRestarts', c.counters.workerRestarts);
      add('shardReadsAskedAgain', c.counters.readsAskedAgain);
      add('shardWritesAskedAgain', c.counters.writesAskedAgain);
      addLaneStageSeconds(shardLaneSeconds, c.laneTiming.snapshot());
    }
    return out;
  }

  close(): Promise<void> {
    this.closing ??= this.router.close().finally(() => this.dirLock.release());
    return this.closing;
  }
}
