// The requesting side of one inter-node link: a single persistent TCP connection to one peer,
// multiplexed and pipelined. Each request gets a uint32 id and its own timeout; any number (up to
// internodeInflightPerPeerMax) are in flight at once and replies may come in any order. Frames
// queued in the same tick are written together (one write per internodeBatchBytesMax), so a
// burst of small replica writes costs a few syscalls, not one each.
//
// The connection is opened lazily by the first request and reopened after a failure, but not
// before an exponential back-off (internodeReconnectBackoffMsMin doubling to ...Max) has passed:
// during the back-off requests fail at once with RKV_ERR_UNAVAILABLE rather than queueing behind
// a peer that is down. When the socket dies, requests already sent fail with RKV_ERR_UNAVAILABLE
// (they may or may not have been applied; the coordinator's counting treats them as no answer).
//
// Every connection opens with a Hello (this node's cluster and id, and the id of the node it
// means to reach), pipelined ahead of the first requests, so it costs no round trip. A peer that
// refuses it (another cluster, or another node now at that address) has handled none of the
// requests behind it; they, and every request until the back-off has passed, fail with its
// refusal (RKV_ERR_WRONG_PEER), which is logged once.
//
// What waits to be sent is bounded by bytes, per peer and over all peers (the pool's account): a
// request that times out is answered, but its frame stays in the socket's buffer until the peer
// reads it, and a peer that has stopped reading (a hung process, a partition that drops rather
// than resets) would otherwise collect every frame sent to it for as long as the socket lives.
// Past either bound a request fails at once with RKV_ERR_BUSY (a replica write is then hinted).
import * as net from 'node:net';
import {
  internodeBatchBytesMax,
  internodeConnectRestartAfterMs,
  internodeConnectTimeoutMs,
  internodeFrameBytesMax,
  internodeInflightPerPeerMax,
  internodeReconnectBackoffMsMax,
  internodeReconnectBackoffMsMin,
  internodeUnsentRequestBytesNodeMax,
  internodeUnsentRequestBytesPerPeerMax,
} from '../constants';
import { type ByteAccount, byteAccount, ByteShare } from '../byte_bound';
import { assert, ErrorCode, RingkvError } from '../errors';
import { Histogram } from '../histogram';
import { decodeInternode, encodeInternodeFrame, errorFromReply, type InternodeKind, type InternodeMessage } from './internode_codec';
import { FrameDecoder } from './internode_framing';
import { InflightTable } from './inflight_table';

/** What a connection says of itself in its Hello (internode.fbs Kind.Hello). */
export interface HelloOptions {
  clusterName: string;
  /** This node's id. */
  fromNode: string;
  /** The node meant to answer at host:port; undefined for a seed address (any node of the cluster). */
  toNode?: string;
}

export interface PeerConnectionOptions {
  host: string;
  port: number;
  hello: HelloOptions;
  connectTimeoutMs?: number;
  /** A connect pending this long is replaced by a new one when the back-off is reset (resetBackoff). */
  connectRestartAfterMs?: number;
  inflightMax?: number;
  backoffMsMin?: number;
  backoffMsMax?: number;
  frameBytesMax?: number;
  /** Bytes this connection may hold unsent; a request past it is RKV_ERR_BUSY. */
  unsentBytesMax?: number;
  /**
   * Where the bytes held unsent are counted with other connections' (a pool's; its own, of
   * internodeUnsentRequestBytesNodeMax, otherwise). A connection looks again when it sends,
   * writes, drains, hears from its peer or closes.
   */
  unsentAccount?: ByteAccount;
  /**
   * The clock of the back-off and of a connect's age (tests); performance.now by default: on the
   * wall clock, a step back held the peer unreachable for the size of the step.
   */
  now?: () => number;
  /** Where a refused Hello is reported. */
  log?: (line: string) => void;
}

interface Pending {
  resolve: (m: InternodeMessage) => void;
  reject: (e: RingkvError) => void;
  timer: NodeJS.Timeout;
  kind: InternodeKind;
  /** When it was made (performance.now()): its round trip is timed from there. */
  sentAtMs: number;
}

export type OutgoingRequest = Omit<InternodeMessage, 'id' | 'isReply'>;

export interface PeerConnectionStats {
  requests: number;
  timeouts: number;
  connects: number;
  connectFailures: number;
  writes: number;
  framesWritten: number;
  /** Hellos the peer refused. */
  refusals: number;
  /** Pending connects replaced by resetBackoff. */
  connectsRestarted: number;
  /** Requests failed as busy because this connection, or all of the account's, held too many bytes unsent. */
  requestsRefused: number;
}

export class PeerConnection {
  readonly address: string;
  private readonly o: Required<PeerConnectionOptions>;
  private socket: net.Socket | undefined;
  private connected = false;
  private closed = false;
  private nextId = 1;
  private readonly inflight: InflightTable<Pending>;
  /** Frames waiting for the socket to connect or for the end-of-tick flush. */
  private queue: Buffer[] = [];
  private queueBytes = 0;
  /** This connection's part of o.unsentAccount (reportUnsent). */
  private readonly unsentShare: ByteShare;
  private flushScheduled = false;
  private backoffMs: number;
  private retryAtMs = 0;
  /** When the current socket's connect began. */
  private connectStartedMs = 0;
  /** The id of this socket's Hello until its reply comes; 0 after. */
  private helloId = 0;
  /**
   * Whether the peer accepted this socket's Hello. Only that ends the back-off: a peer that
   * takes the TCP connection and then refuses it, or closes it at once (over its connection
   * cap), is not up for this node, and retrying it at the least back-off would be every 50 ms.
   */
  private greeted = false;
  /** The peer's refusal of the last Hello, until one is accepted: requests in the back-off fail with it. */
  private refusal: RingkvError | undefined;
  /** The socket whose Hello was refused, until its 'close' (which applies the back-off). */
  private refusedSocket: net.Socket | undefined;
  readonly stats: PeerConnectionStats = { requests: 0, timeouts: 0, connects: 0, connectFailures: 0, writes: 0, framesWritten: 0, refusals: 0, connectsRestarted: 0, requestsRefused: 0 };
  /**
   * Round trips of the requests answered (an error reply included; not those that timed out), by
   * kind: from the request being made to its reply being taken up here, so a wait for the
   * connection, the peer's work, both sockets and both event loops are all in it.
   */
  readonly roundTrips = new Map<InternodeKind, Histogram>();

  constructor(options: PeerConnectionOptions) {
    this.o = {
      connectTimeoutMs: internodeConnectTimeoutMs,
      connectRestartAfterMs: internodeConnectRestartAfterMs,
      inflightMax: internodeInflightPerPeerMax,
      backoffMsMin: internodeReconnectBackoffMsMin,
      backoffMsMax: internodeReconnectBackoffMsMax,
      frameBytesMax: internodeFrameBytesMax,
      unsentBytesMax: internodeUnsentRequestBytesPerPeerMax,
      now: () => performance.now(),
      log: () => {},
      ...options,
      unsentAccount: options.unsentAccount ?? byteAccount(internodeUnsentRequestBytesNodeMax),
    };
    this.unsentShare = new ByteShare(this.o.unsentAccount);
    assert(this.o.unsentBytesMax > 0, 'a peer connection must be allowed some unsent bytes');
    assert(this.o.port > 0 && this.o.port < 65536, () => `peer port ${this.o.port} out of range`);
    this.inflight = new InflightTable<Pending>(this.o.inflightMax);
    assert(this.o.backoffMsMin > 0 && this.o.backoffMsMin <= this.o.backoffMsMax, 'back-off bounds');
    this.address = `${this.o.host}:${this.o.port}`;
    this.backoffMs = this.o.backoffMsMin;
  }

  /** The node this connection's Hello asks for; undefined for a seed address (any node). */
  get nodeId(): string | undefined {
    return this.o.hello.toNode;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Bytes queued here or in the socket's buffer: sent by this node, not yet taken by the kernel. */
  get unsentBytes(): number {
    return (this.socket?.writableLength ?? 0) + this.queueBytes;
  }

  /** Sends one request and resolves with its reply; rejects with a RingkvError (an error reply included). */
  request(req: OutgoingRequest, timeoutMs: number): Promise<InternodeMessage> {
    assert(timeoutMs > 0, 'a request needs a positive timeout');
    if (this.closed) return Promise.reject(new RingkvError(ErrorCode.Closed, `connection to ${this.address} is closed`));
    if (this.inflight.size >= this.o.inflightMax) {
      return Promise.reject(new RingkvError(ErrorCode.Busy, `${this.inflight.size} requests in flight to ${this.address}`, { details: { peer: this.address } }));
    }
    if (this.socket === undefined) {
      if (this.o.now() < this.retryAtMs) {
        if (this.refusal !== undefined) return Promise.reject(this.refusal);
        return Promise.reject(new RingkvError(ErrorCode.Unavailable, `peer ${this.address} unreachable (retrying in ${this.retryAtMs - this.o.now()} ms)`, { details: { peer: this.address } }));
      }
      this.connect();
    }
    const id = this.allocateId();
    // Stamped now: time it then waits here (behind a connect) counts against its timeout too.
    const sentAtMs = performance.now();
    const framed = encodeInternodeFrame({ ...req, id, isReply: false, timeoutMs, sentAtMs }, this.o.frameBytesMax);
    this.reportUnsent();
    if (!this.unsentShare.fits(framed.length, this.o.unsentBytesMax)) {
      this.stats.requestsRefused++;
      return Promise.reject(
        new RingkvError(ErrorCode.Busy, `${this.unsentShare.bytes} bytes wait to be sent to ${this.address} (${this.o.unsentAccount.heldBytes} to all peers): the peer does not read them`, {
          details: { peer: this.address },
        }),
      );
    }
    this.stats.requests++;
    return new Promise<InternodeMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.inflight.delete(id)) {
          this.stats.timeouts++;
          reject(new RingkvError(ErrorCode.Timeout, `peer ${this.address} did not answer ${req.kind} within ${timeoutMs} ms`, { details: { peer: this.address, timeout_ms: timeoutMs } }));
        }
      }, timeoutMs);
      this.inflight.add(id, { resolve, reject, timer, kind: req.kind, sentAtMs });
      this.enqueue(framed);
    });
  }

  /**
   * Ends a back-off early: the caller has other evidence that the peer is up (gossip heard from
   * it), so the next request connects at once instead of failing for up to backoffMsMax. A
   * connect pending for connectRestartAfterMs or more began while the peer was unreachable (a
   * partition, a stopped process): its lost SYN would be sent again only after the kernel's
   * retransmit timeout (a second or more), and the requests queued behind it would wait for it or
   * for the connect timeout. It is replaced by a new connect at once, the requests kept behind it.
   */
  resetBackoff(): void {
    this.retryAtMs = 0;
    this.backoffMs = this.o.backoffMsMin;
    const pending = this.socket;
    if (pending !== undefined && !this.connected && this.o.now() - this.connectStartedMs >= this.o.connectRestartAfterMs) {
      const queued = this.queue.slice(1); // its Hello first: the new socket has its own
      this.clearQueue();
      this.socket = undefined; // its 'close' then finds another socket current and fails nothing
      pending.destroy();
      this.stats.connectsRestarted++;
      this.connect();
      for (const f of queued) this.pushFrame(f);
      this.reportUnsent();
    }
  }

  /** Fails everything in flight and stops reconnecting. */
  close(): void {
    this.closed = true;
    this.failAll(new RingkvError(ErrorCode.Closed, `connection to ${this.address} closed`));
    this.socket?.destroy();
    this.socket = undefined;
    this.clearQueue();
    this.reportUnsent();
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
      if (this.inflight.isFree(id)) return id;
    }
  }

  private connect(): void {
    const socket = net.connect({ host: this.o.host, port: this.o.port });
    this.socket = socket;
    this.connectStartedMs = this.o.now();
    this.connected = false;
    this.greeted = false;
    socket.setNoDelay(true);
    socket.setTimeout(this.o.connectTimeoutMs, () => {
      if (!this.connected) socket.destroy(new RingkvError(ErrorCode.Unavailable, `connect to ${this.address} timed out`));
    });
    const decoder = new FrameDecoder(this.o.frameBytesMax);
    // First on the socket: the requests that made us connect are queued behind it.
    assert(this.queue.length === 0, 'frames queued before a connection was opened');
    this.helloId = this.allocateId();
    const h = this.o.hello;
    this.pushFrame(encodeInternodeFrame({ id: this.helloId, kind: 'hello', isReply: false, clusterName: h.clusterName, fromNode: h.fromNode, ...(h.toNode !== undefined && { toNode: h.toNode }), sentAtMs: performance.now() }, this.o.frameBytesMax));
    socket.on('connect', () => {
      if (this.socket !== socket) return;
      socket.setTimeout(0);
      this.connected = true;
      this.stats.connects++;
      this.scheduleFlush();
    });
    socket.on('drain', () => {
      if (this.socket === socket) this.reportUnsent();
    });
    socket.on('data', (chunk: Buffer) => {
      // A reply means the peer reads: what was written before it has likely left the buffer.
      if (this.socket === socket) this.reportUnsent();
      let frames: Buffer[];
      try {
        frames = decoder.push(chunk);
        for (const f of frames) {
          const m = decodeInternode(f);
          if (m.isReply && m.id === this.helloId && this.helloId !== 0) this.onHelloReply(m, socket);
          else this.onReply(m);
          if (socket.destroyed) return;
        }
      } catch (err) {
        // A peer that sends garbage gets its connection closed; nothing after it can be trusted.
        socket.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    });
    socket.on('error', () => {
      // 'close' follows and does the cleanup.
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      const refused = this.refusedSocket === socket;
      this.refusedSocket = undefined;
      // A refusal explains this back-off; after a failed connect, or a socket closed before it
      // was answered, an earlier one no longer does.
      if (!refused) this.refusal = undefined;
      if (!this.greeted) {
        this.stats.connectFailures++;
        this.retryAtMs = this.o.now() + this.backoffMs;
        this.backoffMs = Math.min(this.o.backoffMsMax, this.backoffMs * 2);
      }
      this.socket = undefined;
      this.connected = false;
      this.clearQueue();
      this.reportUnsent();
      this.helloId = 0;
      this.failAll(refused ? this.refusal! : new RingkvError(ErrorCode.Unavailable, `connection to ${this.address} lost`, { details: { peer: this.address } }));
    });
  }

  private onHelloReply(m: InternodeMessage, socket: net.Socket): void {
    this.helloId = 0;
    if (m.kind === 'hello') {
      this.refusal = undefined;
      this.greeted = true;
      this.backoffMs = this.o.backoffMsMin;
      return;
    }
    const why = m.kind === 'error' ? errorFromReply(m) : new RingkvError(ErrorCode.MalformedFrame, `a ${m.kind} answered a Hello`);
    this.stats.refusals++;
    const refusal = new RingkvError(ErrorCode.WrongPeer, `peer ${this.address} refused this node: ${why.message}`, { details: { ...why.details, peer: this.address } });
    if (this.refusal?.message !== refusal.message) this.o.log(`internode: ERROR ${refusal.message}`);
    this.refusal = refusal;
    this.refusedSocket = socket;
    socket.destroy();
  }

  private onReply(m: InternodeMessage): void {
    if (!m.isReply) throw new RingkvError(ErrorCode.MalformedFrame, 'a request arrived on a requesting connection');
    const p = this.inflight.get(m.id);
    if (p === undefined) return; // timed out already
    this.inflight.delete(m.id);
    clearTimeout(p.timer);
    let h = this.roundTrips.get(p.kind);
    if (h === undefined) this.roundTrips.set(p.kind, (h = new Histogram()));
    h.record((performance.now() - p.sentAtMs) / 1000);
    if (m.kind === 'error') p.reject(errorFromReply(m));
    else p.resolve(m);
  }

  private failAll(err: RingkvError): void {
    for (const p of this.inflight.takeAll()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  private enqueue(buf: Buffer): void {
    this.pushFrame(buf);
    this.reportUnsent();
    this.scheduleFlush();
  }

  private pushFrame(buf: Buffer): void {
    this.queue.push(buf);
    this.queueBytes += buf.length;
  }

  private clearQueue(): void {
    this.queue = [];
    this.queueBytes = 0;
  }

  private reportUnsent(): void {
    this.unsentShare.set(this.unsentBytes);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || !this.connected || this.queue.length === 0) return;
    this.flushScheduled = true;
    process.nextTick(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const socket = this.socket;
    if (socket === undefined || !this.connected) return;
    const frames = this.queue;
    this.clearQueue();
    this.stats.framesWritten += frames.length;
    this.stats.writes += writeBatched(socket, frames);
    this.reportUnsent();
  }
}

/** Writes frames in groups of up to internodeBatchBytesMax (one socket write each); returns the write count. */
export function writeBatched(socket: net.Socket, frames: Buffer[]): number {
  let writes = 0;
  let group: Buffer[] = [];
  let groupBytes = 0;
  const emit = () => {
    if (group.length === 0) return;
    socket.write(group.length === 1 ? group[0]! : Buffer.concat(group, groupBytes));
    writes++;
    group = [];
    groupBytes = 0;
  };
  for (const f of frames) {
    if (groupBytes + f.length > internodeBatchBytesMax) emit();
    group.push(f);
    groupBytes += f.length;
  }
  emit();
  return writes;
}
