// What a shard worker does with its engine, apart from Piscina so tests can drive it in-process:
// executes a batch of key operations against one StorageEngine. The worker thread is the only
// owner of the engine, and a batch's read-reconcile-write runs without yielding, so each op is
// atomic per key without locks. Within a batch, ops see the writes of earlier ops (an overlay),
// all the batch's writes go to the engine together (one WAL record per shardStorageWriteBytesMax,
// so the batch shares its fsyncs), and every op is answered only after that write is durable.
//
// Several batches may be in flight (the client pipelines them): a batch's writes are handed to
// the engine before it awaits their durability, and until that write completes its key states
// (and idempotent replies) stay in `unsettled`, so a later batch builds on them even if the
// engine queued the write behind a stall. The order of writes to a key is the order of batches.
//
// If a storage write fails, every op of the batch fails with that error (some of them may have
// been applied, as after a timeout). Per-op errors (If-Match conflict, a bad context, a corrupt
// stored record) fail that op alone.
//
// A batch's answer carries at most shardBatchReadBytesMax of records (the first always goes): the
// GETs past it are answered RKV_ERR_REPLY_FULL unread, and so are the writes that answer with
// their record (the cluster coordinator's, a whole sibling set each, to replicate), unapplied;
// the shard client sends them again. Once one write is put off, every later one that returns its
// record is too, so those keep their order; a write that returns no record never is.
import { performance } from 'node:perf_hooks';
import { byteString } from '../byte_string';
import { shardBatchReadBytesMax, shardStorageWriteBytesMax, storageBatchEntriesMax, ttlSecondsMax } from '../constants';
import { ErrorCode, RingkvError, assert, isRingkvError } from '../errors';
import { MerkleTree } from '../antientropy/merkle_tree';
import { keyToken } from '../storage';
import type { StorageEngine, StorageEntry } from '../storage/types';
import type { ConflictMode, StoredSibling } from '../versioning';
import { checkIfMatch, coordinateWrite, deadForm, decodeClock, decodeSiblingSet, encodeSiblingSet, reconcile } from '../versioning';
import type { ScannedEntry } from './batch_codec';
import { IdempotencyCache } from './idempotency_cache';
import { ReadSlab } from './read_slab';
import { recordBytes } from './wire_record';
import type { ApplyOp, MerkleLeaves, MerkleRequest, OpResult, ScanRequest, ShardOp, WireError, WireRecord, WriteDone, WriteOp } from './messages';

export interface ShardCoreOptions {
  nodeId: string;
  conflictMode: ConflictMode;
  idempotencyKeysMax: number;
  idempotencyTtlMs: number;
  /** Injectable clock (tests); Date.now by default. */
  now?: () => number;
  /**
   * Injectable elapsed-time clock (tests); performance.now by default. The idempotency cache's
   * entries live idempotencyTtlMs of it: on the wall clock, a step forward of the NTP kind forgot
   * every remembered write at once, and a client's retry was applied a second time.
   */
  monotonicNow?: () => number;
}

export interface ShardCoreCounters {
  opsApplied: number;
  batches: number;
  idempotentReplays: number;
  siblingsDropped: number;
  /** Stored records that could not be decoded, replaced by another replica's (apply). */
  unreadableRecordsReplaced: number;
}

/** What a batch wrote, visible to later batches until its storage write completes. */
interface UnsettledBatch {
  /** Key states it wrote, by key string. */
  states: Map<string, KeyState>;
  /** Its idempotent replies, by slot. */
  replies: Map<string, Reply>;
  /** Its storage write. */
  written: Promise<void>;
}

interface KeyState {
  siblings: StoredSibling[];
  /** The record as stored (or as this batch will store it); null when absent. */
  record: WireRecord | null;
}

/** An applied batch's results once `durable` settles: as they are, or every op failed with the storage error. */
export async function durableResults(results: OpResult[], durable: Promise<void>): Promise<OpResult[]> {
  try {
    await durable;
  } catch (err) {
    const error = toWireError(err);
    return results.map(() => ({ ok: false, error }));
  }
  return results;
}

/** A thrown value as it crosses the thread boundary, code and details kept. */
export function toWireError(err: unknown): WireError {
  if (isRingkvError(err)) return { code: err.code, message: err.message, details: { ...err.details } };
  const message = err instanceof Error ? err.message : String(err);
  return { code: ErrorCode.Internal, message: `shard worker: ${message}`, details: {} };
}

interface Reply {
  version: string;
  timestampMs: number;
  /** IdempotencyCache.slotHash of its slot, computed once when the write looked the slot up. */
  slotHash: number;
}

/**
 * Every read of stored versions here sees expired ones too: an expired version still supersedes
 * the older versions its past covers (reconcile.ts), and the answers to clients keep only live
 * ones (get_result.ts). Reading it as absent let a replica that missed an overwrite with a TTL
 * hand the overwritten value back once the TTL had passed, to a read's repair or anti-entropy.
 */
const withExpired = { includeExpired: true } as const;
const noValue = new Uint8Array(0);

/**
 * `siblings` with the values of those read through peekSync (all but `fresh`) copied: a set kept
 * in the overlay outlives the engine memory they were read from. (new Uint8Array(view) copies;
 * Buffer's slice would not.)
 */
function owned(siblings: StoredSibling[], fresh: readonly StoredSibling[]): StoredSibling[] {
  return siblings.map((x) => (fresh.includes(x) ? x : { ...x, value: new Uint8Array(x.value) }));
}

export class ShardCore {
  private readonly idempotency: IdempotencyCache;
  /**
   * Batches whose storage write has not completed, oldest first; a lookup walks them newest
   * first. Normally a few (the shard client keeps shardBatchesInFlightMax out); more while a WAL
   * sync is slow and batches answered early pile up behind it, which makes lookups slower then,
   * never wrong. Each batch keeps its own maps, made for it and dropped with it. One long-lived
   * map that every batch added its keys to and deleted them from again (as this was) kept what
   * the batches put in it alive through young-generation collections: with 32-op PUT batches a
   * scavenge found ~13% of everything allocated since the previous one still alive and took
   * 20-30 ms (64 MiB semi-space) instead of well under 1 ms, and ShardCore PUT over an engine that
   * keeps nothing cost 5.1 instead of 1.7 us/op (an ad-hoc run; test/unit/shards/shard_core_gc.test.ts
   * checks what a scavenge finds alive).
   */
  private readonly unsettled: UnsettledBatch[] = [];
  /**
   * Whether the batch applyBatch is running has answered from an unsettled batch (a state or an
   * idempotent reply): it is durable only once they are too. applyBatch runs in one turn.
   */
  private readUnsettled = false;
  private readonly now: () => number;
  private readonly monotonicNow: () => number;
  /** monotonicNow() at the start of the batch being applied: the idempotency cache's time. */
  private batchMonotonicMs = 0;
  readonly counters: ShardCoreCounters = { opsApplied: 0, batches: 0, idempotentReplays: 0, siblingsDropped: 0, unreadableRecordsReplaced: 0 };

  constructor(
    readonly engine: StorageEngine,
    private readonly options: ShardCoreOptions,
  ) {
    this.idempotency = new IdempotencyCache(options.idempotencyKeysMax, options.idempotencyTtlMs);
    this.now = options.now ?? Date.now;
    this.monotonicNow = options.monotonicNow ?? (() => performance.now());
  }

  get idempotencyKeys(): number {
    return this.idempotency.size;
  }

  /** Runs a batch and answers once its writes are durable; a failed storage write fails every op. */
  async execute(ops: readonly ShardOp[]): Promise<OpResult[]> {
    const { results, durable } = this.applyBatch(ops);
    return durableResults(results, durable);
  }

  /**
   * Runs a batch up to the point where its writes are in the engine (visible to every later
   * batch), without waiting for them to be durable: `results` are the ops' answers as of now and
   * `durable` settles when the storage writes do (rejecting with the storage error). A caller
   * that answers from `results` before `durable` settles must say so: the cluster coordinator
   * ships a record to the other replicas while its own copy is still being synced.
   */
  applyBatch(ops: readonly ShardOp[]): { results: OpResult[]; durable: Promise<void> } {
    const now = this.now();
    const monotonicMs = this.monotonicNow();
    this.batchMonotonicMs = monotonicMs;
    this.readUnsettled = false;
    const overlay = new Map<string, KeyState>();
    const writes = new Map<string, StorageEntry>();
    const remembered = new Map<string, Reply>();
    const results: OpResult[] = [];
    let slab: ReadSlab | null = null;
    // Records in the answer so far (GETs', and writes' that return theirs), and their bytes.
    let records = 0;
    let recordBytes = 0;
    const counted = (record: WireRecord | null): void => {
      records++;
      if (record !== null) recordBytes += record.versionVector.byteLength + record.value.byteLength;
    };
    const noRoom = (): OpResult => ({
      ok: false,
      error: { code: ErrorCode.ReplyFull, message: `no room in this batch's answer (${recordBytes} bytes of records, at most ${shardBatchReadBytesMax}): ask again`, details: {} },
    });

    const stateOf = (key: Uint8Array, ks: string): KeyState => {
      const cached = overlay.get(ks) ?? this.unsettledState(ks);
      if (cached !== undefined) return cached;
      const entry = this.engine.peekSync(key, withExpired);
      let state: KeyState;
      if (entry === null) {
        state = { siblings: [], record: null };
      } else {
        // The view is valid until the next engine call: copied (with the batch's other reads).
        const [versionVector, value] = (slab ??= new ReadSlab()).copyPair(entry.versionVector, entry.value);
        const record = { versionVector, value, tombstone: entry.tombstone };
        state = { siblings: decodeSiblingSet(record, ErrorCode.Corruption), record };
      }
      overlay.set(ks, state);
      return state;
    };
    // A write (or a replica's apply) needs the stored versions' metadata, rarely their values: a
    // state not cached yet is read without the engine's copy (peekSync), used before the next
    // engine call, and not cached; what store() keeps of it is copied (owned()).
    const peekState = (key: Uint8Array, ks: string): { state: KeyState; borrowed: boolean } => {
      const cached = overlay.get(ks) ?? this.unsettledState(ks);
      if (cached !== undefined) return { state: cached, borrowed: false };
      const entry = this.engine.peekSync(key, withExpired);
      if (entry === null) return { state: { siblings: [], record: null }, borrowed: false };
      return { state: { siblings: decodeSiblingSet(entry, ErrorCode.Corruption), record: null }, borrowed: true };
    };
    const store = (key: Uint8Array, ks: string, siblings: StoredSibling[]): WireRecord => {
      const rec = encodeSiblingSet(siblings);
      writes.set(ks, { key, ...rec });
      const record: WireRecord = { versionVector: rec.versionVector, value: rec.value, tombstone: rec.tombstone };
      overlay.set(ks, { siblings, record });
      return record;
    };

    for (const op of ops) {
      try {
        const ks = byteString(op.key);
        const full = records > 0 && recordBytes >= shardBatchReadBytesMax;
        if (op.op === 'get') {
          if (full) {
            results.push(noRoom());
            continue;
          }
          const record = stateOf(op.key, ks).record;
          counted(record);
          results.push({ ok: true, op: 'get', record });
        } else if (op.op === 'apply') {
          results.push(this.apply(op, ks, now, peekState, store));
        } else if (op.returnRecord && full) {
          results.push(noRoom());
        } else {
          const r = this.write(op, ks, now, stateOf, peekState, store, remembered);
          if (op.returnRecord) counted(r.record);
          results.push(r);
        }
      } catch (err) {
        results.push({ ok: false, error: toWireError(err) });
      }
    }

    // Publish this batch's states before the first await: a batch arriving meanwhile must see them.
    // A read or a replay answered from an earlier batch whose write has not completed (the WAL
    // sync under way) waits for it: answered on this batch's own write, a GET-only batch (nothing
    // to write) would tell the client of a write that a crash or a failed sync then loses.
    const earlier = this.readUnsettled ? this.unsettled.map((u) => u.written) : [];
    const written = this.writeAll([...writes.values()]);
    let published: UnsettledBatch | null = null;
    if (writes.size > 0 || remembered.size > 0) {
      const states = new Map<string, KeyState>();
      for (const ks of writes.keys()) states.set(ks, overlay.get(ks)!);
      published = { states, replies: remembered, written };
      this.unsettled.push(published);
    }
    const durable = (earlier.length === 0 ? written : Promise.all([written, ...earlier])).then(
      () => {
        this.forget(published);
        for (const [slot, reply] of remembered) this.idempotency.remember(slot, reply.slotHash, reply, monotonicMs);
        this.counters.batches++;
        this.counters.opsApplied += ops.length;
      },
      (err: unknown) => {
        this.forget(published);
        throw err;
      },
    );
    return { results, durable };
  }

  /** Drops a settled batch (a later batch's states for the same keys stay: they are its own). */
  private forget(published: UnsettledBatch | null): void {
    if (published === null) return;
    const i = this.unsettled.indexOf(published);
    assert(i >= 0, 'a batch settled twice');
    this.unsettled.splice(i, 1);
  }

  /** The newest state an unsettled batch wrote for the key. */
  private unsettledState(ks: string): KeyState | undefined {
    for (let i = this.unsettled.length - 1; i >= 0; i--) {
      const state = this.unsettled[i]!.states.get(ks);
      if (state !== undefined) {
        this.readUnsettled = true;
        return state;
      }
    }
    return undefined;
  }

  /** The newest idempotent reply an unsettled batch made for the slot. */
  private unsettledReply(slot: string): Reply | undefined {
    for (let i = this.unsettled.length - 1; i >= 0; i--) {
      const reply = this.unsettled[i]!.replies.get(slot);
      if (reply !== undefined) {
        this.readUnsettled = true;
        return reply;
      }
    }
    return undefined;
  }

  private write(
    op: WriteOp,
    ks: string,
    now: number,
    stateOf: (key: Uint8Array, ks: string) => KeyState,
    peekState: (key: Uint8Array, ks: string) => { state: KeyState; borrowed: boolean },
    store: (key: Uint8Array, ks: string, siblings: StoredSibling[]) => WireRecord,
    remembered: Map<string, Reply>,
  ): WriteDone {
    if (!Number.isInteger(op.ttlSeconds) || op.ttlSeconds < 0 || op.ttlSeconds > ttlSecondsMax) {
      throw new RingkvError(ErrorCode.InvalidArgument, `ttl must be 0..${ttlSecondsMax} seconds`);
    }
    if (op.notAfterMs !== 0 && now > op.notAfterMs) {
      throw new RingkvError(ErrorCode.Timeout, `not applied: its client gave up on it ${now - op.notAfterMs} ms before it could be (it reached this node late, or waited here)`);
    }
    const slot = op.idempotencyKey === null ? null : IdempotencyCache.slotKey(op.idempotencyKey, op.key);
    const slotHash = slot === null ? 0 : this.idempotency.slotHash(slot);
    if (slot !== null) {
      const prior = remembered.get(slot) ?? this.unsettledReply(slot) ?? this.idempotency.get(slot, slotHash, this.batchMonotonicMs);
      if (prior !== null && prior !== undefined) {
        this.counters.idempotentReplays++;
        const record = op.returnRecord ? stateOf(op.key, ks).record : null;
        return { ok: true, op: op.op, version: prior.version, timestampMs: prior.timestampMs, record, replayed: true };
      }
    }
    const { state, borrowed } = peekState(op.key, ks);
    if (op.ifMatch !== null) checkIfMatch(state.siblings, op.ifMatch, now);
    const context = op.context === null ? null : decodeClock(op.context, ErrorCode.InvalidArgument);
    const tombstone = op.op === 'delete';
    assert(!tombstone || op.value.length === 0, 'a delete carries no value');
    const cw = coordinateWrite(state.siblings, {
      nodeId: this.options.nodeId,
      nowMs: now,
      mode: this.options.conflictMode,
      value: op.value,
      tombstone,
      ttlMs: tombstone ? 0 : op.ttlSeconds * 1000,
      context,
    });
    this.counters.siblingsDropped += cw.dropped;
    const record = store(op.key, ks, borrowed ? owned(cw.siblings, [cw.sibling]) : cw.siblings);
    if (slot !== null) remembered.set(slot, { version: cw.version, timestampMs: cw.sibling.timestampMs, slotHash });
    return { ok: true, op: op.op, version: cw.version, timestampMs: cw.sibling.timestampMs, record: op.returnRecord ? record : null, replayed: false };
  }

  private apply(
    op: ApplyOp,
    ks: string,
    now: number,
    peekState: (key: Uint8Array, ks: string) => { state: KeyState; borrowed: boolean },
    store: (key: Uint8Array, ks: string, siblings: StoredSibling[]) => WireRecord,
  ): OpResult {
    // The record comes from another node: bad bytes there are an invalid argument here, not
    // corruption of this replica's data.
    const incoming = decodeSiblingSet(op.record, ErrorCode.InvalidArgument);
    let stored: { state: KeyState; borrowed: boolean };
    try {
      stored = peekState(op.key, ks);
    } catch (err) {
      if (!isRingkvError(err, ErrorCode.Corruption)) throw err;
      // What this replica holds cannot be read (bytes that passed the storage checksums but not
      // the sibling codec): every read of the key fails here, and anti-entropy finds the leaf
      // differing every round. Another replica's record is the best there is: it replaces it.
      stored = { state: { siblings: [], record: null }, borrowed: false };
      this.counters.unreadableRecordsReplaced++;
    }
    const { state, borrowed } = stored;
    const res = reconcile(state.siblings, incoming, this.options.conflictMode, now);
    this.counters.siblingsDropped += res.dropped;
    // An empty result means everything had expired: the engine already reads it as absent.
    if (!res.changed || res.siblings.length === 0) return { ok: true, op: 'apply', changed: false };
    store(op.key, ks, borrowed ? owned(res.siblings, incoming) : res.siblings);
    return { ok: true, op: 'apply', changed: true };
  }

  /**
   * Writes in chunks that each fit one WAL record. Every chunk is handed to the engine before
   * any is awaited: the engine applies (or queues) writes in call order, so a later chunk never
   * lands first and a later batch's write never lands before this one's.
   */
  private async writeAll(entries: StorageEntry[]): Promise<void> {
    const pending: Promise<void>[] = [];
    let chunk: StorageEntry[] = [];
    let bytes = 0;
    for (const e of entries) {
      const size = e.key.length + e.value.length + e.versionVector.length + 32;
      if (chunk.length > 0 && (bytes + size > shardStorageWriteBytesMax || chunk.length >= storageBatchEntriesMax)) {
        pending.push(this.engine.write(chunk));
        chunk = [];
        bytes = 0;
      }
      chunk.push(e);
      bytes += size;
    }
    if (chunk.length > 0) pending.push(this.engine.write(chunk));
    await Promise.all(pending);
  }

  /**
   * This shard's part of a Merkle tree (see MerkleRequest). Expired TTL entries are in it (range
   * syncs carry them: see withExpired). A set that reads as deleted (tombstones, expired
   * versions) is hashed in one form, every version as a tombstone (deadForm): a replica holds it
   * as it was written, as the tombstone its compaction made of an expired entry (the written
   * metadata kept), or as a replica's merge of that wrote it (the tombstone form re-encoded), and
   * hashed as held these differed for good, each sync sending the set across to no change.
   * Those older than the grace are left out (as Cassandra's validation leaves out purgeable
   * ones): one replica's compaction drops them, another's has not yet, and hashed in they made
   * the two differ until both had compacted, each sync sending the tombstone back to the replica
   * that had dropped it. Their age counts from their newest version's write, which every form
   * keeps (an expired version's replicas have had since then to hear of it).
   */
  async merkleLeaves(req: MerkleRequest): Promise<MerkleLeaves> {
    assert(req.fromToken <= req.toToken && req.fromToken >= req.range.from && req.toToken <= req.range.to, 'a shard hashes a part of the tree range');
    assert(Number.isSafeInteger(req.tombstoneGraceMs) && req.tombstoneGraceMs >= 0, 'a tombstone grace is a whole number of ms');
    const tree = MerkleTree.empty(req.range, req.depth);
    const now = this.now();
    for await (const e of this.engine.scanRange(req.fromToken, req.toToken, { includeExpired: true })) {
      const expired = !e.tombstone && e.expiresAtMs !== 0 && e.expiresAtMs <= now;
      if (!e.tombstone && !expired) {
        tree.add({ token: keyToken(e.key), key: e.key, versionVector: e.versionVector, value: e.value, tombstone: false });
        continue;
      }
      if (now >= e.timestampMs + req.tombstoneGraceMs) continue;
      let versionVector = e.versionVector;
      try {
        versionVector = deadForm(e).versionVector;
      } catch {
        // Hashed as held: its replicas differ, and the sync that follows shows the damage.
      }
      tree.add({ token: keyToken(e.key), key: e.key, versionVector, value: noValue, tombstone: true });
    }
    return { leaves: tree.leaves, entries: tree.entries };
  }

  async scan(req: ScanRequest): Promise<ScannedEntry[]> {
    assert(req.fromToken <= req.toToken, 'scan range must not wrap (split it at the top of the ring)');
    const out: ScannedEntry[] = [];
    // Entries come in (token, key) order: the cursor's skip ends at the first entry it keeps.
    let skipping = req.afterKey !== null;
    let bytesBeforeLast = 0;
    let lastBytes = 0;
    // The loop keeps the limit, not the engine, which would count the entries skipped too.
    for await (const e of this.engine.scanRange(req.fromToken, req.toToken, { includeExpired: req.includeExpired })) {
      if (skipping) {
        if (keyToken(e.key) === req.fromToken && Buffer.compare(e.key, req.afterKey!) <= 0) continue;
        skipping = false;
      }
      const record: WireRecord = { versionVector: e.versionVector, value: e.value, tombstone: e.tombstone };
      out.push({ key: e.key, timestampMs: e.timestampMs, expiresAtMs: e.expiresAtMs, record });
      bytesBeforeLast += lastBytes;
      lastBytes = recordBytes(e.key, record);
      if (out.length >= req.limit || bytesBeforeLast >= req.bytesMax) break;
    }
    return out;
  }
}
