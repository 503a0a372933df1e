// The cluster coordinator's view of replicas: the local one (this node's shards, through the
// ShardRouter's ops) and remote ones (the same ops over the inter-node transport), behind one
// pair of calls, read and apply, so the quorum state machines never care where a replica lives.
// Remote calls leave in per-peer batches (replica_batcher.ts); the peer side of a batch is
// answerReplicaBatch below, one ShardRouter.submitMany per batch. Records travel as the
// versioning layer's encoding (a sibling set: versionVector + value + tombstone flag), opaque to
// the transport.
import type { RangeStore } from '../antientropy';
import { fitsBytes } from '../byte_bound';
import { replicaReplyBytesMax } from '../constants';
import { assert, ErrorCode, RingkvError } from '../errors';
import type { Membership } from '../membership';
import type { InternodeItem, InternodeMessage } from '../protocol/internode_codec';
import type { PeerPool } from '../protocol/internode_pool';
import type { AnswerCallback, AppliedCallback } from '../shards';
import type { OpResult, ShardOp, WireRecord } from '../shards/messages';
import type { LocalCleanup, LocalCoordinator, SnapshotMark, StorageState } from './local_coordinator';
import { ReplicaBatcher, type ReplicaBatcherStats } from './replica_batcher';
import { checkKey } from './request_checks';
import type { CoordinatorStats, ScrubSummary, SnapshotSummary } from './types';
import type { ScrubOptions, TokenRange } from '../storage/types';

/** This node's shards as the cluster coordinator uses them: the ShardRouter's ops, plus figures. */
export interface LocalReplica {
  get(key: Uint8Array, timeoutMs: number): Promise<WireRecord | null>;
  /** Merges a record from another replica; true when it changed what is stored. */
  apply(key: Uint8Array, record: WireRecord, timeoutMs: number): Promise<boolean>;
  /**
   * Ops that share a deadline, each answered by index once durable; writes coordinated here also
   * once applied, before their sync, when `onApplied` is given (ShardRouter.submitMany).
   */
  submitMany(ops: readonly ShardOp[], timeoutMs: number, onAnswer: AnswerCallback, onApplied?: AppliedCallback): void;
  /** Storage figures for stats(): memtable bytes, SSTables per level, WAL syncs, ... */
  storageStats(): Promise<CoordinatorStats>;
  /** About how many keys this node stores, whether its storage refuses writes, tables quarantined (LocalCoordinator.storageState). */
  storageState(): Promise<StorageState>;
  /** The token-range operations anti-entropy needs (the ShardRouter's). */
  readonly ranges: RangeStore;
  /** Scrubs this node's tables (LocalCoordinator.scrub). */
  scrub(options: ScrubOptions): Promise<ScrubSummary>;
  /** Drops every key outside `owned` (LocalCoordinator.cleanupTo). */
  cleanup(owned: TokenRange[]): Promise<LocalCleanup>;
  /** Writes every shard's memtable to a table (LocalCoordinator.flush). */
  flush(): Promise<void>;
  /** LocalCoordinator.snapshot. */
  snapshot(name: string | undefined, syncedSinceMs?: number, marks?: readonly SnapshotMark[]): Promise<SnapshotSummary>;
  close(): Promise<void>;
}

/** The local replica of a node: the single-node coordinator's router and figures. */
export function localReplicaOf(lc: LocalCoordinator): LocalReplica {
  return {
    get: (key, timeoutMs) => lc.router.get(key, timeoutMs),
    apply: (key, record, timeoutMs) => lc.router.apply(key, record, timeoutMs),
    submitMany: (ops, timeoutMs, onAnswer, onApplied) => lc.router.submitMany(ops, timeoutMs, onAnswer, onApplied ?? null),
    storageStats: () => lc.stats(),
    storageState: () => lc.storageState(),
    ranges: lc.router,
    scrub: (options) => lc.scrub(options),
    cleanup: (owned) => lc.cleanupTo(owned),
    flush: () => lc.flush(),
    snapshot: (name, syncedSinceMs, marks) => lc.snapshot(name, syncedSinceMs, marks),
    close: () => lc.close(),
  };
}

export function recordToWire(record: WireRecord): Pick<InternodeMessage, 'record' | 'value' | 'recordTombstone'> {
  return { record: record.versionVector, value: record.value, recordTombstone: record.tombstone };
}

export function recordFromWire(m: InternodeMessage): WireRecord {
  if (m.record === undefined) throw new RingkvError(ErrorCode.MalformedFrame, 'a replica message lacks its record');
  return { versionVector: m.record, value: m.value ?? new Uint8Array(0), tombstone: m.recordTombstone === true };
}

/** Reads and applies records on any replica, local or remote. */
export class ReplicaClient {
  private readonly batcher: ReplicaBatcher;

  constructor(
    private readonly selfId: string,
    private readonly local: LocalReplica,
    private readonly membership: Membership,
    pool: PeerPool,
  ) {
    this.batcher = new ReplicaBatcher(pool);
  }

  get stats(): ReplicaBatcherStats {
    return this.batcher.stats;
  }

  private peer(nodeId: string): { host: string; peerPort: number } {
    const addr = this.membership.peerAddress(nodeId);
    if (addr === undefined) throw new RingkvError(ErrorCode.Unavailable, `no address known for node ${nodeId}`, { details: { node: nodeId } });
    return addr;
  }

  /**
   * Reads `key` on the replica `nodeId`; `done` hears what it stores (null: no entry) or why not.
   * A callback, not a promise: a frame's reads ask two or three replicas each.
   */
  read(nodeId: string, key: Uint8Array, timeoutMs: number, done: (record: WireRecord | null, err: unknown) => void): void {
    if (nodeId === this.selfId) {
      this.local.get(key, timeoutMs).then(
        (record) => done(record, null),
        (err: unknown) => done(null, err),
      );
      return;
    }
    let peer: { host: string; peerPort: number };
    try {
      peer = this.peer(nodeId);
    } catch (err) {
      done(null, err);
      return;
    }
    this.batcher.read(nodeId, peer, key, timeoutMs, (reply, err) => {
      if (err !== null) done(null, err);
      else if (reply!.found !== true) done(null, null);
      else if (reply!.record === undefined) done(null, new RingkvError(ErrorCode.MalformedFrame, 'a replica read answered found without its record'));
      else done({ versionVector: reply!.record, value: reply!.value ?? new Uint8Array(0), tombstone: reply!.tombstone === true }, null);
    });
  }

  /**
   * Merges `record` into the replica on `nodeId` (or stores it there as a hint for `hintFor`);
   * `done` hears null once it is durable there, or the error. A callback for the same reason as
   * read: a frame's writes each go to two or three replicas.
   */
  apply(nodeId: string, key: Uint8Array, record: WireRecord, timeoutMs: number, done: (err: unknown) => void, hintFor?: string, hintAgeMs = 0): void {
    if (nodeId === this.selfId && hintFor === undefined) {
      this.local.apply(key, record, timeoutMs).then(
        () => done(null),
        (err: unknown) => done(err),
      );
      return;
    }
    let peer: { host: string; peerPort: number };
    try {
      peer = this.peer(nodeId);
    } catch (err) {
      done(err);
      return;
    }
    const item: InternodeItem = { key, record: record.versionVector, value: record.value, tombstone: record.tombstone };
    if (hintFor !== undefined) item.hintFor = hintFor;
    if (hintFor !== undefined && hintAgeMs > 0) item.hintAgeMs = Math.min(0xffffffff, Math.round(hintAgeMs));
    this.batcher.write(nodeId, peer, item, timeoutMs, (_reply, err) => done(err));
  }
}

function itemError(e: { code: string; message: string }): InternodeItem {
  return { errorCode: e.code, errorMessage: e.message };
}

/** A shard's answer to one op of a replica batch, as the reply item. */
function itemOf(result: OpResult | null, error: RingkvError | null): InternodeItem {
  if (error !== null) return itemError(error);
  assert(result !== null, 'a shard answers with a result or an error');
  if (!result.ok) return itemError(result.error);
  if (result.op === 'apply') return result.changed ? { found: true } : {};
  assert(result.op === 'get', 'a replica batch holds only gets and applies');
  const r = result.record;
  return r === null ? {} : { found: true, record: r.versionVector, value: r.value, tombstone: r.tombstone };
}

/**
 * The peer side of a replica batch: every item through this node's shards in one submitMany;
 * resolves with one reply item per request item, in order. A bad item (no key, a write without
 * its record) fails alone. A write item with `hintFor` naming another node is handed to
 * `storeHint` instead (hinted handoff: this node is the stand-in).
 */
export function answerReplicaBatch(
  local: LocalReplica,
  kind: 'replicaReadBatch' | 'replicaWriteBatch',
  items: readonly InternodeItem[],
  timeoutMs: number,
  hint: {
    selfId: string;
    /** `ageMs`: how old the hint already is at its sender (InternodeItem.hintAgeMs). */
    storeHint: (target: string, key: Uint8Array, record: WireRecord, ageMs: number) => void;
    /** Hears each write this replica applied (a leaving node passes them on to its successors). */
    applied?: (key: Uint8Array, record: WireRecord) => void;
  },
): Promise<InternodeItem[]> {
  const out = new Array<InternodeItem>(items.length);
  const ops: ShardOp[] = [];
  const at: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    try {
      const key = checkKey(it.key ?? new Uint8Array(0));
      if (kind === 'replicaReadBatch') {
        ops.push({ op: 'get', key });
        at.push(i);
        continue;
      }
      if (it.record === undefined) throw new RingkvError(ErrorCode.MalformedFrame, 'a replica write item lacks its record');
      const record: WireRecord = { versionVector: it.record, value: it.value ?? new Uint8Array(0), tombstone: it.tombstone === true };
      if (it.hintFor !== undefined && it.hintFor !== hint.selfId) {
        hint.storeHint(it.hintFor, key, record, it.hintAgeMs ?? 0);
        out[i] = {};
        continue;
      }
      ops.push({ op: 'apply', key, record });
      at.push(i);
    } catch (err) {
      out[i] = itemError(err instanceof RingkvError ? err : new RingkvError(ErrorCode.Internal, String(err)));
    }
  }
  if (ops.length === 0) return Promise.resolve(out);
  const room = kind === 'replicaReadBatch' ? replyRoom() : null;
  return new Promise((resolve) => {
    let left = ops.length;
    local.submitMany(ops, timeoutMs, (j, result, error) => {
      const item = itemOf(result, error);
      out[at[j]!] = room === null ? item : room(item);
      const op = ops[j]!;
      if (op.op === 'apply' && error === null && result?.ok === true) hint.applied?.(op.key, op.record);
      if (--left === 0) resolve(out);
    });
  });
}

/**
 * A read batch's reply items as they are answered: those whose records would take the reply past
 * `bytesMax` become RKV_ERR_REPLY_FULL (the requester asks again), dropped at once, so a batch of
 * 1,024 keys of 1 MiB never holds more than one reply's worth. The first record always stays:
 * one of the largest size fits.
 */
export function replyRoom(bytesMax = replicaReplyBytesMax): (item: InternodeItem) => InternodeItem {
  let bytes = 0;
  return (it) => {
    const size = (it.record?.byteLength ?? 0) + (it.value?.byteLength ?? 0);
    if (!fitsBytes(bytes, size, bytesMax)) return itemError(new RingkvError(ErrorCode.ReplyFull, `no room for this record in a reply of ${bytes} bytes (at most ${bytesMax}): ask again`));
    bytes += size;
    return it;
  };
}
