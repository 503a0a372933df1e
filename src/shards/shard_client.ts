// The main thread's side of one shard: a Piscina pool of exactly one thread (Piscina cannot send a
// task to a chosen worker, so each shard is its own pool; the thread owns the shard's engine) and
// the queue of requests waiting for it.
//
// Two ways in: control tasks (open, scan, merkle, flush, compact, scrub, cleanup, snapshot, close)
// are Piscina tasks; batches, the hot path, travel on the shard's lane, a MessageChannel handed to
// the worker by the 'open' task, and so do stats requests (messages.ts StatsRequest says why).
// Piscina's per-task bookkeeping (task info, promise, worker selection) made about half of the
// ~10 KiB of main-thread garbage of a one-op batch, and a Piscina round trip between idle threads
// takes about twice a bare postMessage's p50 and p99 (BENCHMARKS.md, "One thread hop"); the
// latency suite's requests cross four to eight such hops.
// Piscina still owns the thread: it starts it, and when it dies (pool 'workerDestroy' or
// 'error'), every batch in flight fails with RKV_ERR_INTERNAL and a new worker is opened.
//
// Batching: up to batchesInFlightMax batches (default shardBatchesInFlightMax = 2) are in flight;
// while all are, new requests wait in the queue, and when one returns, up to shardBatchOpsMax
// queued requests (and at most shardBatchBytesMax of payload) leave as ONE batch. One thread hop
// costs ~60-100 µs, so under load many requests share it, and the worker shares one WAL write
// (and its fsync) among them. A batch leaves at the end of the event-loop turn in which its first
// request arrived (setImmediate: after the poll phase has handed over every socket and worker
// message that was ready), so requests that arrive together share one batch even when a slot is
// free, at no cost in latency. Two in flight rather than one keeps the worker busy while a batch
// waits for its WAL sync and the main thread decodes the previous answer; the worker keeps per-key
// order across them (ShardCore applies a batch's writes before it awaits their durability).
//
// Early answers: a write submitted (submitMany) with `onApplied` (the cluster coordinator's own
// writes) hears its result as soon as the worker has applied it, before the WAL sync, so the
// record can go to the other replicas while this one syncs; its answer still comes only once it
// is durable. Such a batch is marked `early`, and the worker reports its sync later on the lane,
// under the batch's id (after the batch's answer: one port keeps order); the batch's writes wait
// in `awaiting` until then (and count against the queue bound), its reads are answered at once.
//
// Asked again: a batch's answer carries at most shardBatchReadBytesMax of records (shard_core.ts);
// the worker answers the GETs past it RKV_ERR_REPLY_FULL unread, and the writes that return their
// record unapplied, and they go back to the head of the queue, in order, for the next batch,
// under their own deadline. So the memory a batch's answer takes is bounded by bytes, not by its
// keys, and no caller sees the error.
//
// Back-pressure: more than shardQueueOpsMax queued requests is RKV_ERR_BUSY for the newcomer, and
// so is one whose payload would take what the shard holds (queued, in flight, or waiting for its
// sync) past shardQueueBytesMax: by count alone, 65,536 writes of 1 MiB values were 64 GiB held
// for one shard. One request is always taken when nothing is held, so the largest fits.
// Timeouts: a request that has not left by its deadline is dropped from the queue; one in flight
// is answered RKV_ERR_TIMEOUT (it may still be applied, as with any timeout).
// Requests submitted together (submitMany: a WebSocket frame's operations for this shard) share
// one deadline timer and one answer callback: a frame costs no promise or timer per operation.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type Piscina from 'piscina';
import { fitsBytes } from '../byte_bound';
import { shardBatchBytesMax, shardBatchOpsMax, shardBatchesInFlightMax, shardQueueBytesMax, shardQueueOpsMax, shardStatsAskedMax, shardStatsTimeoutMs, versionVectorBytesMax } from '../constants';
import { ErrorCode, RingkvError, assert } from '../errors';
import { decodeResults, decodeScan, encodeRequests, opBytes } from './batch_codec';
import type { ScannedEntry } from './batch_codec';
import { LaneTiming, laneClockMs } from './lane_timing';
import { withCarried } from './shard_stats';
import type { AnswerTimes, BatchRequest, ClosingNotice, ControlReply, ControlTask, LaneMessage, OpResult, ScanRequest, ShardOp, ShardStats, StatsRequest, WireError, WriteDone } from './messages';

export interface ShardLimits {
  queueOpsMax: number;
  /** Payload bytes of the requests held, from being queued until answered (opBytes). */
  queueBytesMax: number;
  batchOpsMax: number;
  batchBytesMax: number;
  /** Batches in flight to the worker at once. */
  batchesInFlightMax: number;
}

/** Observers of a shard's traffic (tests count tasks and check buffers are moved, not copied). */
export interface ShardClientHooks {
  /** Called right after a batch buffer was posted to the worker (a moved buffer is detached by then). */
  onBatchSent?: (shard: number, buffer: ArrayBuffer, ops: number) => void;
}

export const defaultShardLimits: ShardLimits = {
  queueOpsMax: shardQueueOpsMax,
  queueBytesMax: shardQueueBytesMax,
  batchOpsMax: shardBatchOpsMax,
  batchBytesMax: shardBatchBytesMax,
  batchesInFlightMax: shardBatchesInFlightMax,
};

/**
 * Requests submitted together (submitMany; submit is a group of one): they share a deadline, so
 * one timer serves them all, and one callback hears each answer by its index.
 */
interface Group {
  onAnswer: AnswerCallback;
  timeoutMs: number;
  timer: NodeJS.Timeout | null;
  members: Pending[];
  unsettled: number;
  /** When it was queued (laneClockMs). */
  queuedAtMs: number;
}

interface Pending {
  op: ShardOp;
  bytes: number;
  group: Group;
  /** Its index in the array it was submitted in. */
  index: number;
  /** 'queued' until sent; 'sent'; 'settled' once answered or timed out. */
  state: 'queued' | 'sent' | 'settled';
  /** Told the write's result once applied, before it is durable (see the header). */
  onApplied: AppliedCallback | null;
  /** Its answer, kept while it waits for its batch's durability notice. */
  result: OpResult | null;
}

/**
 * Hears one request's answer, exactly once: its result (which may be an op-level failure), or
 * the error that kept it from one (busy, timeout, closing, a lost worker).
 */
export type AnswerCallback = (index: number, result: OpResult | null, error: RingkvError | null) => void;

/** Hears a coordinated write's result once it is applied, before it is durable, by its index. */
export type AppliedCallback = (index: number, result: WriteDone) => void;

export interface ShardClientCounters {
  /** Batches posted to the worker. */
  batchTasks: number;
  opsSent: number;
  busyRejections: number;
  timeouts: number;
  /** Times the worker thread died and was replaced. */
  workerRestarts: number;
  /** GETs sent again because their batch's answer had no room for their records (shardBatchReadBytesMax). */
  readsAskedAgain: number;
  /** Writes that return their record, sent again unapplied for the same reason. */
  writesAskedAgain: number;
}

interface InFlightBatch {
  id: number;
  batch: Pending[];
  ops: ShardOp[];
  /** Answered early (see the header). */
  early: boolean;
  /** When its oldest request was queued, and when it was posted (laneClockMs). */
  queuedAtMs: number;
  sentAtMs: number;
}

/** A stats request, until its answer. */
interface StatsAsked {
  id: number;
  resolve: (stats: ShardStats) => void;
  reject: (err: RingkvError) => void;
  /** Also what keeps the process alive for the answer: the lane and an idle worker do not. */
  timer: NodeJS.Timeout;
}

/** An early-answered batch's writes, waiting for its durability notice. */
interface AwaitingBatch {
  id: number;
  waiting: Pending[];
  /** When the worker had it applied (laneClockMs): its sync is timed from there. */
  appliedAtMs: number;
}

/**
 * A shard's batches in some state (out on the lane, or waiting for their sync), oldest first, taken
 * out by id. Not a Map: a long-lived Map churned once per batch keeps every later batch alive
 * through each scavenge once a full collection has moved its table to the old generation
 * (protocol/inflight_table.ts says how). On a node's main thread under PUT load, with a full
 * collection after each scavenge, the scavenges copied ~10 MB each (a third of what had been
 * allocated since the previous one) against well under 1 MB with these arrays (ad hoc,
 * --trace-gc-nvp; shard_client_gc.test.ts checks). A few entries, answered in order but for
 * failures: a scan from the front finds one at once.
 */
class BatchesById<T extends { id: number }> {
  private readonly entries: T[] = [];

  add(entry: T): void {
    this.entries.push(entry);
  }

  /** Removes and returns the entry with this id; undefined when there is none. */
  take(id: number): T | undefined {
    for (let i = 0; i < this.entries.length; i++) {
      if (this.entries[i]!.id === id) return i === 0 ? this.entries.shift() : this.entries.splice(i, 1)[0];
    }
    return undefined;
  }

  /** Removes and returns every entry. */
  takeAll(): T[] {
    return this.entries.splice(0);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Every entry, oldest first, left in place. */
  all(): readonly T[] {
    return this.entries;
  }
}

export function fromWireError(e: WireError): RingkvError {
  return new RingkvError(e.code, e.message, { details: e.details });
}

/** Expired requests the queue may keep (beyond as many live ones) before it is compacted (expire). */
const queueExpiredKeptMax = 1024;

export class ShardClient {
  /** Requests not yet sent from `head` on; the slots before it are cleared as requests leave. */
  private queue: (Pending | undefined)[] = [];
  private head = 0;
  /** Queued and not yet settled (timed-out entries leave this count at once). */
  private queued = 0;
  /** Payload bytes of the requests not yet settled (queued, in flight, awaiting their sync). */
  private heldBytes = 0;
  /** Batch tasks sent and not yet answered. */
  private inFlight = 0;
  private closing = false;
  readonly counters: ShardClientCounters = { batchTasks: 0, opsSent: 0, busyRejections: 0, timeouts: 0, workerRestarts: 0, readsAskedAgain: 0, writesAskedAgain: 0 };
  /** Where its batches' time goes (lane_timing.ts). */
  readonly laneTiming = new LaneTiming();
  private idleWaiters: (() => void)[] = [];
  private pumpScheduled = false;
  /** Early-answered batches waiting for their durability notice. */
  private readonly awaiting = new BatchesById<AwaitingBatch>();
  private awaitingOps = 0;
  /** Where batches go; null until the worker is open (and again while a dead one is replaced). */
  private lane: MessagePort | null = null;
  private nextBatchId = 0;
  private readonly inFlightBatches = new BatchesById<InFlightBatch>();
  /** Set when a replacement worker could not be opened: every request fails with it. */
  private broken: RingkvError | null = null;
  /** Stats requests not answered: on the lane, or waiting for one while a dead worker is replaced. */
  private readonly statsAsked = new BatchesById<StatsAsked>();
  private nextStatsId = 0;
  /** The live worker's last figures, and the counters of the workers that died (shard_stats.ts). */
  private lastStats: ShardStats | null = null;
  private carriedStats: ShardStats | null = null;

  constructor(
    readonly index: number,
    private readonly pool: Piscina<ControlTask, unknown>,
    private readonly limits: ShardLimits = defaultShardLimits,
    private readonly hooks: ShardClientHooks = {},
  ) {
    assert(limits.batchOpsMax >= 1 && limits.batchOpsMax <= limits.queueOpsMax, 'batchOpsMax must be 1..queueOpsMax');
    assert(Number.isInteger(limits.batchesInFlightMax) && limits.batchesInFlightMax >= 1 && limits.batchesInFlightMax <= 8, 'batchesInFlightMax must be 1..8');
    // Batches are not Piscina tasks, so Piscina cannot fail them when the thread dies; these can.
    // Without an 'error' listener, a worker dying with no task running would throw on the main thread.
    pool.on('workerDestroy', () => this.workerLost('the shard worker thread exited'));
    pool.on('error', (err: unknown) => this.workerLost(`the shard worker thread failed: ${String(err)}`));
  }

  get queuedOps(): number {
    return this.queued;
  }

  /** Starts the worker's engine and gives it the lane. */
  async open(): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (m: LaneMessage) => this.onLaneMessage(port1, m));
    // The port must not keep the process alive by itself; the pool's thread does while it runs.
    port1.unref();
    const task: ControlTask = { kind: 'open', lane: port2 };
    const reply = (await this.pool.run(task, { transferList: [port2] as unknown as ArrayBuffer[] })) as ControlReply<boolean>;
    if (!reply.ok) {
      port1.close();
      throw fromWireError(reply.error);
    }
    this.lane = port1;
    // Those asked of the worker that died (its answers are not ours any more) and since.
    for (const a of this.statsAsked.all()) port1.postMessage({ kind: 'stats', id: a.id } satisfies StatsRequest);
    this.schedulePump();
  }

  /**
   * The worker died: what was in flight on the lane fails (it may or may not have been applied,
   * like a timeout), writes waiting for their sync fail, and a new worker is opened for the rest.
   */
  private workerLost(why: string): void {
    // Closing too: close() drains first, and what was in flight on the lane only settles here.
    if (this.lane === null) return;
    this.lane.close();
    this.lane = null;
    const e = new RingkvError(ErrorCode.Internal, `shard ${this.index}: ${why}`);
    for (const f of this.inFlightBatches.takeAll()) for (const p of f.batch) this.settle(p, null, e);
    this.inFlight = 0;
    for (const a of this.awaiting.takeAll()) for (const p of a.waiting) this.settle(p, null, e);
    this.awaitingOps = 0;
    if (this.closing) {
      this.notifyIdle();
      return;
    }
    this.counters.workerRestarts++;
    // Whatever it counted after its last report is lost; what it reported stays counted.
    if (this.lastStats !== null) this.carriedStats = withCarried(this.lastStats, this.carriedStats);
    this.lastStats = null;
    // Not from inside Piscina's 'workerDestroy' callback: the pool refuses tasks until it returns.
    setImmediate(() => {
      if (this.closing) return;
      this.open().catch((err: unknown) => {
        this.broken = new RingkvError(ErrorCode.Internal, `shard ${this.index} could not be reopened: ${String(err)}`, { cause: err });
        for (const p of this.queue) if (p !== undefined && p.state === 'queued') this.settle(p, null, this.broken);
        this.refuseStats(this.broken);
        this.notifyIdle();
      });
    });
    this.notifyIdle();
  }

  /**
   * The worker's figures, its counters with those of the workers it replaced (shard_stats.ts).
   * Asked on the lane, so it does not wait behind long control tasks; while a dead worker is
   * replaced it waits for the new one.
   */
  stats(): Promise<ShardStats> {
    const refused = this.closing
      ? new RingkvError(ErrorCode.Closed, `shard ${this.index} is closing`)
      : this.broken ?? (this.statsAsked.size >= shardStatsAskedMax ? new RingkvError(ErrorCode.Busy, `shard ${this.index} has ${this.statsAsked.size} stats requests unanswered`) : null);
    if (refused !== null) return Promise.reject(refused);
    return new Promise<ShardStats>((resolve, reject) => {
      const id = ++this.nextStatsId;
      const timer = setTimeout(() => {
        if (this.takeStatsAsked(id) === undefined) return;
        reject(new RingkvError(ErrorCode.Timeout, `shard ${this.index} did not answer a stats request in ${shardStatsTimeoutMs} ms`, { details: { timeout_ms: shardStatsTimeoutMs } }));
      }, shardStatsTimeoutMs);
      this.statsAsked.add({ id, resolve, reject, timer });
      this.lane?.postMessage({ kind: 'stats', id } satisfies StatsRequest);
    });
  }

  private takeStatsAsked(id: number): StatsAsked | undefined {
    const a = this.statsAsked.take(id);
    if (a === undefined) return undefined;
    clearTimeout(a.timer);
    return a;
  }

  private refuseStats(err: RingkvError): void {
    for (const a of this.statsAsked.takeAll()) {
      clearTimeout(a.timer);
      a.reject(err);
    }
  }

  /** Queues one op; resolves with its result (which may be an op-level failure) once it is durable. */
  submit(op: ShardOp, timeoutMs: number): Promise<OpResult> {
    return new Promise<OpResult>((resolve, reject) => {
      this.enqueue([op], timeoutMs, (_i, r, e) => (e === null ? resolve(r!) : reject(e)), null);
    });
  }

  /**
   * Queues ops that share a deadline; `onAnswer` hears each one's answer once it is durable, by
   * its index in `ops`. With `onApplied`, the writes among them (put, delete) are also told their
   * result as soon as they are applied (see the header). Refusals (busy, closing) are told before
   * this returns.
   */
  submitMany(ops: readonly ShardOp[], timeoutMs: number, onAnswer: AnswerCallback, onApplied: AppliedCallback | null = null): void {
    this.enqueue(ops, timeoutMs, onAnswer, onApplied);
  }

  private enqueue(ops: readonly ShardOp[], timeoutMs: number, onAnswer: AnswerCallback, onApplied: AppliedCallback | null): void {
    const refused = this.closing
      ? new RingkvError(ErrorCode.Closed, `shard ${this.index} is closing`)
      : this.broken;
    if (refused !== null) {
      for (let i = 0; i < ops.length; i++) onAnswer(i, null, refused);
      return;
    }
    const group: Group = { onAnswer, timeoutMs, timer: null, members: [], unsettled: 0, queuedAtMs: laneClockMs() };
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      // A record from another node (replication, repair, streaming) is checked by the worker as
      // it decodes it, but its version metadata travels here in a 16-bit length first: one over
      // that would fail an assertion in a later tick and end the node.
      if (op.op === 'apply' && op.record.versionVector.length > versionVectorBytesMax) {
        onAnswer(i, null, new RingkvError(ErrorCode.InvalidArgument, `a record's version metadata of ${op.record.versionVector.length} bytes exceeds ${versionVectorBytesMax}`));
        continue;
      }
      const bytes = opBytes(op);
      if (this.queued + this.awaitingOps >= this.limits.queueOpsMax) {
        this.refuseBusy(onAnswer, i, `shard ${this.index} queue is full (${this.limits.queueOpsMax} ops)`, { queued: this.queued, max: this.limits.queueOpsMax });
        continue;
      }
      if (!fitsBytes(this.heldBytes, bytes, this.limits.queueBytesMax)) {
        this.refuseBusy(onAnswer, i, `shard ${this.index} holds ${this.heldBytes} bytes of requests; ${bytes} more would pass its ${this.limits.queueBytesMax}`, {
          held_bytes: this.heldBytes,
          max_bytes: this.limits.queueBytesMax,
        });
        continue;
      }
      const early = onApplied !== null && (op.op === 'put' || op.op === 'delete') ? onApplied : null;
      const p: Pending = { op, bytes, group, index: i, state: 'queued', onApplied: early, result: null };
      group.members.push(p);
      this.queue.push(p);
      this.queued++;
      this.heldBytes += bytes;
    }
    group.unsettled = group.members.length;
    if (group.unsettled === 0) return;
    group.timer = setTimeout(() => this.expire(group), timeoutMs);
    this.schedulePump();
  }

  private refuseBusy(onAnswer: AnswerCallback, index: number, message: string, details: Record<string, number>): void {
    this.counters.busyRejections++;
    onAnswer(index, null, new RingkvError(ErrorCode.Busy, message, { details: { shard: this.index, ...details } }));
  }

  private expire(group: Group): void {
    group.timer = null;
    for (const p of group.members) {
      if (p.state === 'settled') continue;
      this.counters.timeouts++;
      this.settle(
        p,
        null,
        new RingkvError(ErrorCode.Timeout, `shard ${this.index} did not answer within ${group.timeoutMs} ms`, {
          details: { needed: 1, answered: 0, timeout_ms: group.timeoutMs, shard: this.index },
        }),
      );
    }
    // Requests that expired queued stay in the array until a batch is taken past them, with their
    // values and their frames' groups: while the shard is stalled (a WAL sync hung, writes held
    // for compaction) nothing is taken, and the admission bounds count only live requests, so
    // without this a stall of S seconds kept S seconds of arrivals.
    const expired = this.queue.length - this.head - this.queued;
    if (expired > queueExpiredKeptMax && expired > this.queued) {
      this.queue = this.queue.slice(this.head).filter((p) => p!.state === 'queued');
      this.head = 0;
    }
    this.notifyIdle();
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    while (this.head < this.queue.length && batch.length < this.limits.batchOpsMax) {
      const p = this.queue[this.head];
      assert(p !== undefined, 'the queue holds every request from its head on');
      if (p.state !== 'queued') {
        this.queue[this.head++] = undefined;
        continue;
      }
      if (batch.length > 0 && bytes + p.bytes > this.limits.batchBytesMax) break;
      this.queue[this.head++] = undefined;
      p.state = 'sent';
      this.queued--;
      batch.push(p);
      bytes += p.bytes;
    }
    // A request that has left is dropped from its slot at once: the array lives in the old
    // generation, so every entry it still pointed to would survive each scavenge, and when a
    // longer array replaces it (or it is emptied) it would keep pointing to them, garbage as it is,
    // until the next full collection. Kept until past 1024 entries, a cluster node's main thread
    // copied ~3.5 MB per scavenge (ad hoc, --trace-gc-nvp). The array itself is emptied when all
    // have left and cut now and then under a backlog, so that it does not grow for ever.
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.lane !== null && this.inFlight < this.limits.batchesInFlightMax) {
      const batch = this.takeBatch();
      if (batch.length === 0) {
        this.notifyIdle();
        return;
      }
      this.send(batch);
    }
  }

  private send(batch: Pending[]): void {
    const lane = this.lane;
    assert(lane !== null, 'a batch is sent only on an open lane');
    this.inFlight++;
    const ops = batch.map((p) => p.op);
    const buffer = encodeRequests(ops);
    this.counters.batchTasks++;
    this.counters.opsSent += batch.length;
    const early = batch.some((p) => p.onApplied !== null);
    const id = ++this.nextBatchId;
    // The queue is first in, first out: the batch's first request is its oldest.
    this.inFlightBatches.add({ id, batch, ops, early, queuedAtMs: batch[0]!.group.queuedAtMs, sentAtMs: laneClockMs() });
    const request: BatchRequest = { kind: 'batch', id, buffer, early };
    lane.postMessage(request, [buffer]);
    this.hooks.onBatchSent?.(this.index, buffer, batch.length);
  }

  private onLaneMessage(lane: MessagePort, m: LaneMessage): void {
    // A message still queued on the lane of a worker already given up for dead is not ours any more.
    if (lane !== this.lane) return;
    if (m.kind === 'durable') {
      this.onDurable(m.id, m.error, m.postedAtMs);
      return;
    }
    if (m.kind === 'stats') {
      const a = this.takeStatsAsked(m.id);
      if (a === undefined) return; // timed out
      if (!m.reply.ok) {
        a.reject(fromWireError(m.reply.error));
        return;
      }
      this.lastStats = m.reply.value;
      a.resolve(withCarried(m.reply.value, this.carriedStats));
      return;
    }
    const f = this.inFlightBatches.take(m.id);
    assert(f !== undefined, () => `shard ${this.index}: an answer for batch ${m.id}, which is not in flight`);
    this.inFlight--;
    if (m.kind === 'failed') {
      const e = fromWireError(m.error);
      for (const p of f.batch) this.settle(p, null, e);
      this.schedulePump();
      return;
    }
    this.timeAnswer(f, m.times);
    try {
      const results: (OpResult | null)[] = decodeResults(m.buffer, f.ops);
      this.askAgain(f.batch, results);
      if (f.early) {
        this.answeredEarly(m.id, f.batch, results, m.times.appliedAtMs);
      } else {
        for (let i = 0; i < f.batch.length; i++) {
          const r = results[i] ?? null;
          if (r !== null) this.settle(f.batch[i]!, r, null);
        }
      }
    } catch (err) {
      const e = new RingkvError(ErrorCode.Internal, `shard ${this.index} answer unreadable: ${String(err)}`, { cause: err });
      for (const p of f.batch) this.settle(p, null, e);
    }
    // Not at once: the answers just settled may lead to more requests in this same turn.
    this.schedulePump();
  }

  /**
   * Puts the batch's ops answered RKV_ERR_REPLY_FULL (GETs, and writes that return their record)
   * back at the head of the queue, in their order, and marks them in `results` (null) so that
   * the caller does not settle them.
   */
  private askAgain(batch: Pending[], results: (OpResult | null)[]): void {
    const again: Pending[] = [];
    for (let i = 0; i < batch.length; i++) {
      const r = results[i]!;
      const p = batch[i]!;
      if (r.ok || r.error.code !== ErrorCode.ReplyFull || p.state !== 'sent') continue;
      const op = p.op;
      if (op.op === 'get') this.counters.readsAskedAgain++;
      else if ((op.op === 'put' || op.op === 'delete') && op.returnRecord) this.counters.writesAskedAgain++;
      else continue;
      results[i] = null;
      p.state = 'queued';
      this.queued++;
      again.push(p);
    }
    if (again.length === 0) return;
    // Slots before the head are free (takeBatch empties them as requests leave).
    for (let i = again.length - 1; i >= 0; i--) {
      if (this.head > 0) this.queue[--this.head] = again[i];
      else this.queue.unshift(again[i]);
    }
  }

  private timeAnswer(f: InFlightBatch, t: AnswerTimes): void {
    const lane = this.laneTiming;
    lane.record('queue', f.queuedAtMs, f.sentAtMs);
    lane.record('to_worker', f.sentAtMs, t.receivedAtMs);
    lane.record('apply', t.receivedAtMs, t.appliedAtMs);
    if (t.durableAtMs !== null) lane.record('sync', t.appliedAtMs, t.durableAtMs);
    lane.record('to_main', t.postedAtMs, laneClockMs());
  }

  /** An early answer: reads settle now, writes hear onApplied and wait for the batch's notice. */
  private answeredEarly(id: number, batch: Pending[], results: (OpResult | null)[], appliedAtMs: number): void {
    const waiting: Pending[] = [];
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      const r = results[i] ?? null;
      if (r === null) continue; // asked again
      if (!r.ok || r.op === 'get') {
        this.settle(p, r, null);
        continue;
      }
      p.result = r;
      waiting.push(p);
      if (p.onApplied !== null && p.state !== 'settled' && (r.op === 'put' || r.op === 'delete')) p.onApplied(p.index, r);
    }
    this.awaiting.add({ id, waiting, appliedAtMs });
    this.awaitingOps += waiting.length;
  }

  private onDurable(id: number, error: WireError | null, postedAtMs: number): void {
    // The notice follows its batch's answer on the lane; none is waiting when that answer was unreadable.
    const a = this.awaiting.take(id);
    if (a === undefined) return;
    if (a.waiting.length > 0) {
      this.laneTiming.record('sync', a.appliedAtMs, postedAtMs);
      this.laneTiming.record('to_main', postedAtMs, laneClockMs());
    }
    this.awaitingOps -= a.waiting.length;
    this.finishDurable(a.waiting, error);
    this.schedulePump();
  }

  private finishDurable(waiting: Pending[], error: WireError | null): void {
    // A failed sync fails the writes as a failed batch does without early answers: every one.
    for (const p of waiting) this.settle(p, error === null ? p.result : { ok: false, error }, null);
  }

  private settle(p: Pending, result: OpResult | null, error: RingkvError | null): void {
    if (p.state === 'settled') return;
    // A queued request leaves the queue count at once; its entry is skipped when a batch is taken.
    if (p.state === 'queued') this.queued--;
    p.state = 'settled';
    this.heldBytes -= p.bytes;
    assert(this.heldBytes >= 0, 'held bytes count each request once');
    const g = p.group;
    if (--g.unsettled === 0 && g.timer !== null) {
      clearTimeout(g.timer);
      g.timer = null;
    }
    g.onAnswer(p.index, result, error);
  }

  private notifyIdle(): void {
    if (this.inFlight > 0 || this.queued > 0 || this.awaitingOps > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when nothing is queued, in flight or waiting to be durable. */
  drain(): Promise<void> {
    if (this.inFlight === 0 && this.queued === 0 && this.awaitingOps === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** A control task; its failure becomes a thrown RingkvError. */
  async control<T>(task: Exclude<ControlTask, { kind: 'scan' }>): Promise<T> {
    const reply = (await this.pool.run(task)) as ControlReply<T>;
    if (!reply.ok) throw fromWireError(reply.error);
    return reply.value;
  }

  async scan(scan: ScanRequest): Promise<ScannedEntry[]> {
    const answer = (await this.pool.run({ kind: 'scan', scan })) as ArrayBuffer;
    const decoded = decodeScan(answer);
    if (!decoded.ok) throw fromWireError(decoded.error);
    return decoded.entries;
  }

  /** Stops taking requests, waits for the queue to empty, closes the engine, stops the thread. */
  async close(): Promise<void> {
    this.closing = true;
    await this.drain();
    // Before the close task, which may wait behind a scrub and a cleanup (ClosingNotice).
    this.lane?.postMessage({ kind: 'closing' } satisfies ClosingNotice);
    try {
      await this.control<boolean>({ kind: 'close' });
    } finally {
      this.lane?.close();
      this.lane = null;
      this.refuseStats(new RingkvError(ErrorCode.Closed, `shard ${this.index} closed`));
      await this.pool.destroy();
    }
  }
}
