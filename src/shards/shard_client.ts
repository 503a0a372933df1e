// The main thread's side of one shard: a Piscina pool of exactly one thread (Piscina cannot send a
// task to a chosen worker, so each shard is its own pool; the thread owns the shard's engine) and
// the queue of requests waiting for it.
//
// Batching: up to batchesInFlightMax batches (default shardBatchesInFlightMax = 2) are in flight;
// while all are, new requests wait in the queue, and when one returns, up to shardBatchOpsMax
// queued requests (and at most shardBatchBytesMax of payload) leave as ONE task. One thread hop
// costs ~60-100 µs, so under load many requests share it, and the worker shares one WAL write
// (and its fsync) among them. A batch leaves at the end of the event-loop turn in which its first
// request arrived (setImmediate: after the poll phase has handed over every socket and worker
// message that was ready), so requests that arrive together share one task even when a slot is
// free, at no cost in latency. Two
// in flight rather than one keeps the worker busy while a batch waits for its WAL sync and the
// main thread decodes the previous answer; the worker keeps per-key order across them
// (ShardCore applies a batch's writes before it awaits their durability).
//
// Early answers: a write submitted with `onApplied` (the cluster coordinator's own writes) hears
// its result as soon as the worker has applied it, before the WAL sync, so the record can go to
// the other replicas while this one syncs; the write's promise still resolves only once it is
// durable. Such a batch carries a sequence number, and the worker reports its sync on the shard's
// durability port (a MessageChannel given at open); the batch's writes wait in `awaiting` until
// then (and count against the queue bound), its reads are answered at once.
//
// Back-pressure: more than shardQueueOpsMax queued requests is RKV_ERR_BUSY for the newcomer.
// Timeouts: a request that has not left by its deadline is dropped from the queue; one in flight
// is answered RKV_ERR_TIMEOUT (it may still be applied, as with any timeout).
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type Piscina from 'piscina';
import { shardBatchBytesMax, shardBatchOpsMax, shardBatchesInFlightMax, shardQueueOpsMax } from '../constants';
import { ErrorCode, RingkvError, assert } from '../errors';
import { decodeResults, decodeScan, encodeRequests, opBytes } from './batch_codec';
import type { ScannedEntry } from './batch_codec';
import type { ControlReply, ControlTask, DurabilityNotice, OpResult, ScanRequest, ShardOp, ShardTask, WireError, WriteDone } from './messages';

export interface ShardLimits {
  queueOpsMax: number;
  batchOpsMax: number;
  batchBytesMax: number;
  /** Batch tasks in flight to the worker at once (the pool must allow as many concurrent tasks). */
  batchesInFlightMax: number;
}

/** Observers of a shard's traffic (tests count tasks and check buffers are moved, not copied). */
export interface ShardClientHooks {
  /** Called right after a batch buffer was handed to Piscina (a moved buffer is detached by then). */
  onBatchSent?: (shard: number, buffer: ArrayBuffer, ops: number) => void;
}

export const defaultShardLimits: ShardLimits = {
  queueOpsMax: shardQueueOpsMax,
  batchOpsMax: shardBatchOpsMax,
  batchBytesMax: shardBatchBytesMax,
  batchesInFlightMax: shardBatchesInFlightMax,
};

interface Pending {
  op: ShardOp;
  bytes: number;
  resolve: (r: OpResult) => void;
  reject: (e: RingkvError) => void;
  timer: NodeJS.Timeout | null;
  /** 'queued' until sent; 'sent'; 'settled' once answered or timed out. */
  state: 'queued' | 'sent' | 'settled';
  /** Told the write's result once applied, before it is durable (see the header). */
  onApplied: ((r: WriteDone) => void) | null;
  /** Its answer, kept while it waits for its batch's durability notice. */
  result: OpResult | null;
}

export interface ShardClientCounters {
  /** Piscina tasks carrying batches. */
  batchTasks: number;
  opsSent: number;
  busyRejections: number;
  timeouts: number;
}

export function fromWireError(e: WireError): RingkvError {
  return new RingkvError(e.code, e.message, { details: e.details });
}

export class ShardClient {
  private queue: Pending[] = [];
  private head = 0;
  /** Queued and not yet settled (timed-out entries leave this count at once). */
  private queued = 0;
  /** Batch tasks sent and not yet answered. */
  private inFlight = 0;
  private closing = false;
  readonly counters: ShardClientCounters = { batchTasks: 0, opsSent: 0, busyRejections: 0, timeouts: 0 };
  private idleWaiters: (() => void)[] = [];
  private pumpScheduled = false;
  /** Early-answered batches waiting for their durability notice, by sequence number. */
  private readonly awaiting = new Map<number, Pending[]>();
  private awaitingOps = 0;
  /** Notices that arrived before their batch's answer (two ports: no order between them). */
  private readonly earlyNotices = new Map<number, WireError | null>();
  private durabilitySeq = 0;
  private durabilityPort: MessagePort | null = null;

  constructor(
    readonly index: number,
    private readonly pool: Piscina<ShardTask, unknown>,
    private readonly limits: ShardLimits = defaultShardLimits,
    private readonly hooks: ShardClientHooks = {},
  ) {
    assert(limits.batchOpsMax >= 1 && limits.batchOpsMax <= limits.queueOpsMax, 'batchOpsMax must be 1..queueOpsMax');
    assert(Number.isInteger(limits.batchesInFlightMax) && limits.batchesInFlightMax >= 1 && limits.batchesInFlightMax <= 8, 'batchesInFlightMax must be 1..8');
  }

  get queuedOps(): number {
    return this.queued;
  }

  /** Starts the worker's engine and gives it the durability port. */
  async open(): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (n: DurabilityNotice) => this.onDurable(n));
    // The port must not keep the process alive by itself; the pool's thread does while it runs.
    port1.unref();
    this.durabilityPort = port1;
    const task: ControlTask = { kind: 'open', durability: port2 };
    const reply = (await this.pool.run(task, { transferList: [port2] as unknown as ArrayBuffer[] })) as ControlReply<boolean>;
    if (!reply.ok) throw fromWireError(reply.error);
  }

  /**
   * Queues one op; resolves with its result (which may be an op-level failure) once it is
   * durable. A write with `onApplied` is told its result as soon as it is applied (see the header).
   */
  submit(op: ShardOp, timeoutMs: number, onApplied: ((r: WriteDone) => void) | null = null): Promise<OpResult> {
    if (this.closing) return Promise.reject(new RingkvError(ErrorCode.Closed, `shard ${this.index} is closing`));
    if (this.queued + this.awaitingOps >= this.limits.queueOpsMax) {
      this.counters.busyRejections++;
      return Promise.reject(
        new RingkvError(ErrorCode.Busy, `shard ${this.index} queue is full (${this.limits.queueOpsMax} ops)`, {
          details: { shard: this.index, queued: this.queued, max: this.limits.queueOpsMax },
        }),
      );
    }
    return new Promise<OpResult>((resolve, reject) => {
      assert(onApplied === null || op.op === 'put' || op.op === 'delete', 'only a coordinated write is answered early');
      const p: Pending = { op, bytes: opBytes(op), resolve, reject, timer: null, state: 'queued', onApplied, result: null };
      p.timer = setTimeout(() => this.expire(p, timeoutMs), timeoutMs);
      this.queue.push(p);
      this.queued++;
      this.schedulePump();
    });
  }

  private expire(p: Pending, timeoutMs: number): void {
    if (p.state === 'settled') return;
    if (p.state === 'queued') this.queued--;
    p.state = 'settled';
    this.counters.timeouts++;
    p.reject(
      new RingkvError(ErrorCode.Timeout, `shard ${this.index} did not answer within ${timeoutMs} ms`, {
        details: { needed: 1, answered: 0, timeout_ms: timeoutMs, shard: this.index },
      }),
    );
    this.notifyIdle();
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    while (this.head < this.queue.length && batch.length < this.limits.batchOpsMax) {
      const p = this.queue[this.head]!;
      if (p.state !== 'queued') {
        this.head++;
        continue;
      }
      if (batch.length > 0 && bytes + p.bytes > this.limits.batchBytesMax) break;
      this.head++;
      p.state = 'sent';
      this.queued--;
      batch.push(p);
      bytes += p.bytes;
    }
    // Compact the array now and then so a long-lived queue does not keep its history.
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
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
    while (this.inFlight < this.limits.batchesInFlightMax) {
      const batch = this.takeBatch();
      if (batch.length === 0) {
        this.notifyIdle();
        return;
      }
      this.send(batch);
    }
  }

  private send(batch: Pending[]): void {
    this.inFlight++;
    const ops = batch.map((p) => p.op);
    const buffer = encodeRequests(ops);
    this.counters.batchTasks++;
    this.counters.opsSent += batch.length;
    const early = this.durabilityPort !== null && batch.some((p) => p.onApplied !== null);
    const seq = early ? ++this.durabilitySeq : undefined;
    const task: ShardTask = seq === undefined ? { kind: 'batch', buffer } : { kind: 'batch', buffer, durabilitySeq: seq };
    const answer = this.pool.run(task, { transferList: [buffer] });
    this.hooks.onBatchSent?.(this.index, buffer, batch.length);
    answer
      .then(
        (answer) => {
          const results = decodeResults(answer as ArrayBuffer, ops);
          if (seq === undefined) {
            for (let i = 0; i < batch.length; i++) this.settle(batch[i]!, results[i]!, null);
          } else {
            this.answeredEarly(seq, batch, results);
          }
        },
        (err: unknown) => {
          const e = new RingkvError(ErrorCode.Internal, `shard ${this.index} worker failed: ${String(err)}`, { cause: err });
          for (const p of batch) this.settle(p, null, e);
        },
      )
      .catch((err: unknown) => {
        const e = new RingkvError(ErrorCode.Internal, `shard ${this.index} answer unreadable: ${String(err)}`, { cause: err });
        for (const p of batch) this.settle(p, null, e);
      })
      .finally(() => {
        this.inFlight--;
        // Not at once: the answers just settled may lead to more requests in this same turn.
        this.schedulePump();
      });
  }

  /** An early answer: reads settle now, writes hear onApplied and wait for the batch's notice. */
  private answeredEarly(seq: number, batch: Pending[], results: OpResult[]): void {
    const waiting: Pending[] = [];
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      const r = results[i]!;
      if (!r.ok || r.op === 'get') {
        this.settle(p, r, null);
        continue;
      }
      p.result = r;
      waiting.push(p);
      if (p.onApplied !== null && p.state !== 'settled' && (r.op === 'put' || r.op === 'delete')) p.onApplied(r);
    }
    const notice = this.earlyNotices.get(seq);
    if (notice !== undefined) {
      this.earlyNotices.delete(seq);
      this.finishDurable(waiting, notice);
      return;
    }
    this.awaiting.set(seq, waiting);
    this.awaitingOps += waiting.length;
  }

  private onDurable(n: DurabilityNotice): void {
    const waiting = this.awaiting.get(n.seq);
    if (waiting === undefined) {
      // Its answer has not come yet (the two ports keep no order between them): keep the outcome for it.
      if (n.seq > 0 && n.seq <= this.durabilitySeq) this.earlyNotices.set(n.seq, n.error);
      return;
    }
    this.awaiting.delete(n.seq);
    this.awaitingOps -= waiting.length;
    this.finishDurable(waiting, n.error);
    this.schedulePump();
  }

  private finishDurable(waiting: Pending[], error: WireError | null): void {
    // A failed sync fails the writes as a failed batch does without early answers: every one.
    for (const p of waiting) this.settle(p, error === null ? p.result : { ok: false, error }, null);
  }

  private settle(p: Pending, result: OpResult | null, error: RingkvError | null): void {
    if (p.state === 'settled') return;
    p.state = 'settled';
    if (p.timer !== null) clearTimeout(p.timer);
    if (error !== null) p.reject(error);
    else p.resolve(result!);
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
    try {
      await this.control<boolean>({ kind: 'close' });
    } finally {
      this.durabilityPort?.close();
      await this.pool.destroy();
    }
  }
}
