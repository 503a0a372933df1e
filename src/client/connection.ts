// One WebSocket connection to one node, pipelined: every operation gets a request id, many are in
// flight at once, and results are matched by id (the node answers in any order, and may split a
// response over frames). Operations enqueued in the same tick leave in ONE request frame: the
// flush runs on process.nextTick, after the caller's synchronous code and promise continuations.
// Bounded: at most wsInflightOpsPerConnectionMax in flight (the node's limit), at most
// clientQueuedOpsPerConnectionMax held in all (more is RKV_ERR_BUSY at once), wsOpsPerFrameMax
// and about clientFrameBytesTarget per frame, and at most about clientUnsentBytesPerConnectionMax
// of frames the socket has not handed to the kernel. The only importer of `ws`.
import WebSocket from 'ws';
import {
  clientConnectTimeoutMsDefault,
  clientFrameBytesTarget,
  clientQueuedOpsPerConnectionMax,
  clientUnsentBytesPerConnectionMax,
  wsFrameBytesMax,
  wsInflightOpsPerConnectionMax,
  wsOpsPerFrameMax,
} from '../constants';
import { assert, ErrorCode, RingkvError } from '../errors';
import { encodeRequestFrame, type ClientRequest } from '../protocol/client_request';
import { decodeResponseFrame, type ClientResult } from '../protocol/client_response';
import { WireErrorCode } from '../protocol/client_codes';
import { InflightTable } from '../protocol/inflight_table';
import { SlotQueue, type Slotted } from '../slot_queue';
import { errorFromWire } from './wire_errors';

/** A request without its id: the connection assigns ids. */
export type OutgoingRequest = Omit<ClientRequest, 'id'>;

/**
 * The request as it goes on the wire, every field present (absent ones undefined) and in one
 * order: all requests share one hidden class, so the flush and the frame encoder read and write
 * their fields monomorphically. A copy (`{ ...req }`) had a class per combination of fields set,
 * and the id and timeout set at the flush moved it to yet another.
 */
function wireRequest(req: OutgoingRequest): ClientRequest {
  return {
    id: 0,
    op: req.op,
    key: req.key,
    value: req.value,
    consistency: req.consistency,
    ttlSeconds: req.ttlSeconds,
    expectedVersion: req.expectedVersion,
    context: req.context,
    idempotencyKey: req.idempotencyKey,
    timeoutMs: 0,
  };
}

interface Pending extends Slotted {
  request: ClientRequest;
  resolve: (r: ClientResult) => void;
  reject: (e: RingkvError) => void;
  timer: NodeJS.Timeout | null;
  timeoutMs: number;
  /** When it times out, by performance.now(): the frame tells the node how long that leaves. */
  deadlineMs: number;
}

export interface ConnectionCounters {
  framesSent: number;
  opsSent: number;
  timeouts: number;
}

type State = 'idle' | 'connecting' | 'open' | 'closed';

export class NodeConnection {
  private ws: WebSocket | null = null;
  private state: State = 'idle';
  private opening: Promise<void> | null = null;
  private readonly inflight = new InflightTable<Pending>(wsInflightOpsPerConnectionMax);
  /** Operations not yet sent, oldest first; one that times out leaves from where it is. */
  private readonly waiting = new SlotQueue<Pending>();
  private flushScheduled = false;
  /** Bytes of frames sent on `ws` that its socket has not written yet (their send callbacks pending). */
  private unsentBytes = 0;
  private nextId = 1;
  private closedByUser = false;

  /**
   * @param address host:port of the node's API
   * @param label how errors name the node (its id once the ring is known)
   */
  constructor(
    readonly address: string,
    readonly label: string,
    private readonly counters: ConnectionCounters,
    private readonly connectTimeoutMs = clientConnectTimeoutMsDefault,
  ) {}

  /** Operations held by this connection (in flight and waiting). */
  get pendingCount(): number {
    return this.inflight.size + this.waiting.size;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Sends one operation; resolves with its wire result (status ok, not_found or error). */
  send(req: OutgoingRequest, timeoutMs: number): Promise<ClientResult> {
    assert(timeoutMs > 0, 'timeoutMs must be positive');
    if (this.closedByUser) return Promise.reject(this.failure(ErrorCode.Closed, 'client is closed', false));
    if (this.pendingCount >= clientQueuedOpsPerConnectionMax) {
      return Promise.reject(
        new RingkvError(ErrorCode.Busy, `${clientQueuedOpsPerConnectionMax} operations already queued for node ${this.label}`, {
          details: { node: this.label },
        }),
      );
    }
    return new Promise<ClientResult>((resolve, reject) => {
      const pending: Pending = { request: wireRequest(req), resolve, reject, timer: null, timeoutMs, deadlineMs: performance.now() + timeoutMs, queueAt: -1 };
      // The timeout covers the wait to be sent as well: a stuck queue must not hang callers.
      pending.timer = setTimeout(() => this.expire(pending), timeoutMs);
      this.waiting.push(pending);
      this.scheduleFlush();
    });
  }

  close(): void {
    this.closedByUser = true;
    this.failAll(this.failure(ErrorCode.Closed, 'client closed', false));
    if (this.ws !== null) this.ws.terminate();
    this.ws = null;
    this.state = 'closed';
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.waiting.size === 0) return;
    if (this.state !== 'open') {
      this.open();
      return;
    }
    const ws = this.ws!;
    while (this.waiting.size > 0 && this.inflight.size < wsInflightOpsPerConnectionMax && this.unsentBytes < clientUnsentBytesPerConnectionMax) {
      const room = Math.min(wsOpsPerFrameMax, wsInflightOpsPerConnectionMax - this.inflight.size);
      const batch: Pending[] = [];
      let bytes = 64;
      for (let next = this.waiting.peek(); next !== undefined && batch.length < room; next = this.waiting.peek()) {
        const size = 64 + next.request.key.byteLength + (next.request.value?.byteLength ?? 0) + (next.request.context?.byteLength ?? 0);
        if (batch.length > 0 && bytes + size > clientFrameBytesTarget) break;
        bytes += size;
        this.waiting.remove(next);
        batch.push(next);
      }
      // Stamped with when it leaves and how long each op has left, so a node that reads it only
      // after this client gave up (held in the network, or the node was paused) does not run it
      // behind a retry (src/protocol/frame_lateness.ts).
      const sentAtMs = performance.now();
      for (const p of batch) {
        p.request.id = this.allocateId();
        p.request.timeoutMs = Math.max(1, Math.ceil(p.deadlineMs - sentAtMs));
        this.inflight.add(p.request.id, p);
      }
      const frame = encodeRequestFrame(batch.map((p) => p.request), sentAtMs);
      assert(frame.byteLength <= wsFrameBytesMax, 'a request frame must fit the node limit');
      this.unsentBytes += frame.byteLength;
      ws.send(frame, { binary: true }, () => {
        // Written (or the connection failed): room for what waits. A connection since replaced keeps its own count.
        if (this.ws !== ws) return;
        this.unsentBytes -= frame.byteLength;
        if (this.waiting.size > 0) this.scheduleFlush();
      });
      this.counters.framesSent++;
      this.counters.opsSent += batch.length;
    }
  }

  private allocateId(): number {
    // uint32 ids, skipping 0 and any whose slot an op still in flight holds (after a wrap, a slow one).
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
      if (this.inflight.isFree(id)) return id;
    }
  }

  private open(): void {
    if (this.opening !== null || this.closedByUser) return;
    this.state = 'connecting';
    let ws: WebSocket;
    try {
      ws = new WebSocket(`ws://${this.address}/api/v1/ws`, {
        perMessageDeflate: false,
        maxPayload: wsFrameBytesMax * 2,
        handshakeTimeout: this.connectTimeoutMs,
      });
    } catch (err) {
      // Thrown in a flush (a tick of its own), it would end the process: fail what waits instead.
      this.lastError = err instanceof Error ? err : new Error(String(err));
      this.onClosed(`cannot connect to ${this.label} (${this.address})`);
      return;
    }
    this.ws = ws;
    this.unsentBytes = 0;
    ws.binaryType = 'nodebuffer';
    this.opening = new Promise<void>((resolve) => {
      ws.once('open', () => {
        this.state = 'open';
        this.opening = null;
        resolve();
        this.flush();
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
      ws.once('close', (code: number, reason: Buffer) => {
        this.opening = null;
        resolve();
        this.onClosed(`connection to ${this.label} (${this.address}) closed: ${code} ${reason.toString() || ''}`.trim());
      });
      // 'close' always follows 'error' in ws; the error only supplies the reason.
      ws.on('error', (err: Error) => {
        this.lastError = err;
      });
    });
  }

  private lastError: Error | null = null;

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      this.protocolFailure('node sent a text message');
      return;
    }
    let frame;
    try {
      frame = decodeResponseFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } catch (err) {
      this.protocolFailure(`undecodable response frame: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (frame.error !== WireErrorCode.None) {
      // The node could not read a request frame (it refuses a frame it can read per operation).
      // Frames carry no id of their own, so every op in flight on this connection may have been
      // in it: fail them all with the frame's error, which the caller may retry (writes carry
      // idempotency keys).
      const err = errorFromWire(frame.error, frame.message, this.label);
      for (const p of this.inflight.takeAll()) this.settle(p, null, err);
      if (this.waiting.size > 0) this.scheduleFlush();
      return;
    }
    for (const r of frame.results) {
      const p = this.inflight.get(r.id);
      // Unknown ids are answers to attempts that already timed out: dropped by design.
      if (p !== undefined) this.settle(p, r, null);
    }
    // Room in flight again: send what waited for it.
    if (this.waiting.size > 0) this.scheduleFlush();
  }

  private settle(p: Pending, result: ClientResult | null, err: RingkvError | null): void {
    if (p.timer !== null) clearTimeout(p.timer);
    p.timer = null;
    if (p.request.id !== 0) this.inflight.delete(p.request.id);
    if (err !== null) p.reject(err);
    else p.resolve(result!);
  }

  private expire(p: Pending): void {
    p.timer = null;
    const queued = p.queueAt !== -1;
    if (queued) this.waiting.remove(p);
    else if (this.inflight.get(p.request.id) === p) this.inflight.delete(p.request.id);
    else return;
    this.counters.timeouts++;
    p.reject(
      new RingkvError(ErrorCode.Timeout, `no answer from node ${this.label} within ${p.timeoutMs} ms`, {
        details: { node: this.label, timeout_ms: p.timeoutMs, sent: !queued },
      }),
    );
  }

  private protocolFailure(message: string): void {
    this.failAll(new RingkvError(ErrorCode.MalformedFrame, `${message} (node ${this.label})`, { details: { node: this.label } }));
    this.ws?.terminate();
  }

  private onClosed(message: string): void {
    this.ws = null;
    this.state = this.closedByUser ? 'closed' : 'idle';
    const cause = this.lastError;
    this.lastError = null;
    this.failAll(this.failure(ErrorCode.Unavailable, cause === null ? message : `${message}: ${cause.message}`, true, cause));
  }

  private failure(code: ErrorCode, message: string, transport: boolean, cause?: unknown): RingkvError {
    return new RingkvError(code, message, { cause, details: { node: this.label, address: this.address, transport } });
  }

  private failAll(err: RingkvError): void {
    const all = [...this.inflight.takeAll(), ...this.waiting.takeAll()];
    for (const p of all) {
      if (p.timer !== null) clearTimeout(p.timer);
      p.timer = null;
      p.reject(err);
    }
  }
}
