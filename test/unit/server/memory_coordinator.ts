// A test double of the Coordinator contract for in-process front-end tests: a Map with versions,
// conditional writes and a gate that holds operations until released (to fill in-flight limits
// deterministically). Not storage: the real coordinator is exercised by test/process/*.
import { batchEach } from '../../helpers/batch_each';
import type {
  AnswerRoom,
  BatchOp,
  BatchOutcome,
  CleanupSummary,
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
  ReplicaView,
  DecommissionSummary,
  RepairSummary,
  ScrubSummary,
  SnapshotSummary,
} from '../../../src/coordinator/types';
import { ErrorCode, RingkvError } from '../../../src/errors';
import { emptySnapshot } from '../../../src/histogram';
import type { ScrubOptions } from '../../../src/storage/types';

interface Cell {
  value: Uint8Array;
  version: string;
  timestampMs: number;
  deleted: boolean;
}

export class MemoryCoordinator implements Coordinator {
  readonly nodeId = 'memnode';
  private readonly cells = new Map<string, Cell>();
  private counter = 0;
  private gated: (() => void)[] | null = null;
  /** Keys (as text) whose operations wait until releaseKeys(), and what waits. */
  private readonly heldKeys = new Set<string>();
  private keyWaiters: (() => void)[] = [];
  closed = false;
  /** Each operation's timeoutMs as it reached this coordinator (undefined: none said), in order. */
  readonly timeouts: Array<number | undefined> = [];

  /** Holds every later operation until openGate(). */
  closeGate(): void {
    this.gated ??= [];
  }
  openGate(): void {
    const g = this.gated ?? [];
    this.gated = null;
    g.forEach((release) => release());
  }
  get heldOps(): number {
    return (this.gated?.length ?? 0) + this.keyWaiters.length;
  }
  /** Holds every later operation on `key` until releaseKeys(); the others go on. */
  holdKey(key: string): void {
    this.heldKeys.add(key);
  }
  releaseKeys(): void {
    this.heldKeys.clear();
    this.keyWaiters.splice(0).forEach((release) => release());
  }

  private async pass(key: Uint8Array): Promise<void> {
    if (this.closed) throw new RingkvError(ErrorCode.Closed, 'closed');
    if (this.gated !== null) await new Promise<void>((resolve) => this.gated!.push(resolve));
    if (this.heldKeys.has(Buffer.from(key).toString())) await new Promise<void>((resolve) => this.keyWaiters.push(resolve));
  }

  /** As the engine does (WriteOp.notAfterMs): a write its client gave up on is not applied. */
  private checkNotAfter(notAfterMs: number | undefined): void {
    if (notAfterMs !== undefined && Date.now() > notAfterMs) throw new RingkvError(ErrorCode.Timeout, 'not applied: its client gave up on it');
  }

  private check(ifMatch: string | undefined, cell: Cell | undefined): void {
    if (ifMatch === undefined) return;
    const current = cell && !cell.deleted ? cell.version : '';
    if (current !== ifMatch) {
      throw new RingkvError(ErrorCode.Conflict, 'Value has been modified since last read', { details: { current_version: current || null } });
    }
  }

  async put(req: PutRequest): Promise<PutResult> {
    this.timeouts.push(req.timeoutMs);
    await this.pass(req.key);
    this.checkNotAfter(req.notAfterMs);
    const k = Buffer.from(req.key).toString('hex');
    this.check(req.ifMatch, this.cells.get(k));
    const ts = Date.now();
    const version = `v${++this.counter}_${Math.floor(ts / 1000)}_${this.nodeId}`;
    this.cells.set(k, { value: req.value, version, timestampMs: ts, deleted: false });
    return { key: req.key, version, timestampMs: ts, acks: 1 };
  }

  batch(ops: readonly BatchOp[], room?: AnswerRoom): Promise<BatchOutcome[]> {
    return batchEach(this, ops, room);
  }

  async get(req: GetRequest): Promise<GetResult> {
    this.timeouts.push(req.timeoutMs);
    await this.pass(req.key);
    const c = this.cells.get(Buffer.from(req.key).toString('hex'));
    if (c === undefined || c.deleted) return { found: false, key: req.key };
    return {
      found: true,
      key: req.key,
      value: c.value,
      version: c.version,
      timestampMs: c.timestampMs,
      siblings: [{ value: c.value, version: c.version, timestampMs: c.timestampMs }],
      context: new Uint8Array(Buffer.from(c.version)),
    };
  }

  async delete(req: DeleteRequest): Promise<DeleteResult> {
    this.timeouts.push(req.timeoutMs);
    await this.pass(req.key);
    this.checkNotAfter(req.notAfterMs);
    const k = Buffer.from(req.key).toString('hex');
    this.check(req.ifMatch, this.cells.get(k));
    const ts = Date.now();
    const version = `v${++this.counter}_${Math.floor(ts / 1000)}_${this.nodeId}`;
    this.cells.set(k, { value: new Uint8Array(0), version, timestampMs: ts, deleted: true });
    return { key: req.key, version, timestampMs: ts, tombstoneExpiryMs: ts + 864_000_000 };
  }

  async replica(key: Uint8Array): Promise<ReplicaView> {
    const c = this.cells.get(Buffer.from(key).toString('hex'));
    return { key, replicas: [this.nodeId], versions: c === undefined ? [] : [{ value: c.value, version: c.version, timestampMs: c.timestampMs, tombstone: c.deleted, expiresAtMs: 0 }] };
  }

  repair(): Promise<RepairSummary> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'no replicas here'));
  }

  snapshot(_name: string | undefined): Promise<SnapshotSummary> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'no tables here'));
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  cleanup(): Promise<CleanupSummary> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'nothing to clean here'));
  }

  scrub(_options?: ScrubOptions): Promise<ScrubSummary> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'no tables here'));
  }

  addNode(_req: AddNodeRequest): Promise<AddNodeResult> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'no cluster here'));
  }

  decommission(): Promise<DecommissionSummary> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'no cluster here'));
  }

  removeNode(_nodeId: string): Promise<RemoveNodeResult> {
    return Promise.reject(new RingkvError(ErrorCode.InvalidArgument, 'no cluster here'));
  }

  async clusterStatus(): Promise<ClusterStatus> {
    return {
      nodes: [{ id: this.nodeId, address: '127.0.0.1:0', status: 'healthy', load: 0, tokens: [] }],
      ring_version: 1,
      total_keys: this.cells.size,
      replication_factor: 1,
    };
  }

  async stats(): Promise<CoordinatorStats> {
    return { memtableBytes: 0, arenaFreeBytes: 0, blockCacheHeldBytes: 0, tableIndexFilterBytes: 0, sstablesPerLevel: [0], compactionBacklog: 0, walSyncs: 0, walSyncSeconds: emptySnapshot(), diskBytes: 0, readRepairs: 0, hintsQueued: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
