// The answering side of inter-node links: a TCP server on the node's peer port. Each incoming
// connection is one peer's request stream; requests are handled concurrently (the handler is
// async) and replies go back with the request's id in whatever order they finish, batched per
// tick like the requesting side. A frame that is too large or fails verification closes that
// connection only; the server and every other connection carry on.
//
// A connection's first frame must be a Hello from a node of this node's cluster that means to
// reach this node (or any node, for a seed address); until then nothing is handled. A refused
// connection gets the refusal as the answer to every request it sent and is then closed, so a
// node of another cluster, or one with a stale address for a node that moved, changes nothing
// here.
//
// Limits, since anything that reaches the port can connect: at most connectionsMax connections
// (more are closed as they come), a Hello within helloTimeoutMs and of at most
// helloFrameBytesMax, and a connection whose peer leaves over unsentReplyBytesMax of replies
// unread is not read until they drain. Requests already read still finish meanwhile (up to
// inflightMax of them, with replies of up to a frame each): a reply that would take what the
// connection holds unsent past heldReplyBytesMax is sent as RKV_ERR_BUSY instead (a few dozen
// bytes; the requester retries or counts the replica as failed), so a connection holds at most
// that bound plus its small refusals, not inflightMax of the largest replies. All connections
// together hold at most heldReplyAccount's bound the same way (connectionsMax of them each at
// its own bound would be hundreds of GiB).
import * as net from 'node:net';
import { type ByteAccount, byteAccount, ByteShare } from '../byte_bound';
import {
  frameLatenessQuietMsMax,
  frameLatenessWindowMs,
  internodeConnectionsMax,
  internodeFrameBytesMax,
  internodeHelloFrameBytesMax,
  internodeHeldReplyBytesMax,
  internodeHeldReplyBytesNodeMax,
  internodeHelloTimeoutMs,
  internodeInflightPerPeerMax,
  internodeUnsentReplyBytesMax,
} from '../constants';
import { assert, ErrorCode, RingkvError } from '../errors';
import { decodeInternode, encodeInternodeFrame, errorReply, type InternodeMessage } from './internode_codec';
import { writeBatched } from './internode_connection';
import { FrameLateness } from './frame_lateness';
import { FrameDecoder } from './internode_framing';

/**
 * Answers one request; the reply's id and isReply are filled in by the server. `latenessMs`: how
 * much later than its connection's quickest frames lately the request arrived (frame_lateness.ts;
 * 0 when its requester did not say when it sent it), to be counted against its timeoutMs.
 */
export type InternodeHandler = (req: InternodeMessage, latenessMs: number) => Promise<Omit<InternodeMessage, 'id' | 'isReply'>>;

export interface InternodeServerOptions {
  host: string;
  port: number;
  /** This node's cluster and id, which a Hello must match. */
  clusterName: string;
  nodeId: string;
  handler: InternodeHandler;
  /**
   * Hears the id of every node of this cluster whose connection's Hello was accepted: it is up
   * and listening, so a link to it that is backing off from its absence need not wait (a node
   * that restarted faster than the failure detector noticed changes no status to say so).
   */
  onPeer?: (nodeId: string) => void;
  frameBytesMax?: number;
  inflightMax?: number;
  /** Connections held at once; more are closed as they come (constants.ts internodeConnectionsMax). */
  connectionsMax?: number;
  /** A connection without its Hello this long after it opened is closed. */
  helloTimeoutMs?: number;
  /** The largest first frame (the Hello) a connection may send. */
  helloFrameBytesMax?: number;
  /** Unsent reply bytes past which a connection's requests are not read until they drain. */
  unsentReplyBytesMax?: number;
  /** Unsent reply bytes past which a reply is sent as RKV_ERR_BUSY instead (the header says why). */
  heldReplyBytesMax?: number;
  /** Where every connection's unsent reply bytes are counted together, under its bound (byteAccount(internodeHeldReplyBytesNodeMax) when absent). */
  heldReplyAccount?: ByteAccount;
  log?: (line: string) => void;
}

/**
 * The cluster name a Hello gives to ask a seed for its own (no cluster can have it: names are
 * 1..64 of A-Z a-z 0-9 _ . -). The seed refuses it with its name in the refusal, as it refuses any
 * other cluster, but does not count or log it as a refusal.
 */
export const clusterNameAsk = '?';

export interface InternodeServerStats {
  connectionsAccepted: number;
  connectionsClosedMalformed: number;
  /** Connections whose Hello named another cluster or node, or that sent none. */
  connectionsRefused: number;
  /** Connections closed at once because connectionsMax were open. */
  connectionsOverCap: number;
  /** Connections closed for sending no Hello within helloTimeoutMs. */
  connectionsWithoutHello: number;
  /** Times a connection's reading was paused because its peer did not read its replies. */
  readsPaused: number;
  /** Replies sent as RKV_ERR_BUSY because their connection held heldReplyBytesMax unsent, or all connections their account's bound. */
  repliesRefused: number;
  requestsHandled: number;
}

export class InternodeServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly o: Required<InternodeServerOptions>;
  readonly stats: InternodeServerStats = { connectionsAccepted: 0, connectionsClosedMalformed: 0, connectionsRefused: 0, connectionsOverCap: 0, connectionsWithoutHello: 0, readsPaused: 0, repliesRefused: 0, requestsHandled: 0 };

  constructor(options: InternodeServerOptions) {
    this.o = {
      frameBytesMax: internodeFrameBytesMax,
      inflightMax: internodeInflightPerPeerMax,
      connectionsMax: internodeConnectionsMax,
      helloTimeoutMs: internodeHelloTimeoutMs,
      helloFrameBytesMax: internodeHelloFrameBytesMax,
      unsentReplyBytesMax: internodeUnsentReplyBytesMax,
      heldReplyBytesMax: internodeHeldReplyBytesMax,
      log: () => {},
      onPeer: () => {},
      ...options,
      heldReplyAccount: options.heldReplyAccount ?? byteAccount(internodeHeldReplyBytesNodeMax),
    };
    assert(this.o.helloFrameBytesMax <= this.o.frameBytesMax, 'the Hello cap is within the frame cap');
    assert(this.o.unsentReplyBytesMax < this.o.heldReplyBytesMax, 'a connection stops being read before its replies are refused');
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /** Bytes of replies every connection holds unsent, as each last looked (heldReplyAccount). */
  get heldReplyBytes(): number {
    return this.o.heldReplyAccount.heldBytes;
  }

  /** Listens; resolves with the bound port (useful with port 0 in tests). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        // After listen an 'error' is a failed accept (EMFILE, ENFILE, ENOBUFS): the server goes on
        // listening, but an 'error' event without a listener throws and ends the process.
        this.server.on('error', (err) => this.o.log(`internode: WARN the peer port could not take a connection: ${String(err)}`));
        const addr = this.server.address();
        assert(addr !== null && typeof addr === 'object', 'a TCP server has an address');
        resolve(addr.port);
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    if (this.sockets.size >= this.o.connectionsMax) {
      // Not logged: a flood would flood the log too; the count is a metric.
      this.stats.connectionsOverCap++;
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    this.stats.connectionsAccepted++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(this.o.frameBytesMax, this.o.helloFrameBytesMax);
    let helloTimer: NodeJS.Timeout | null = setTimeout(() => {
      helloTimer = null;
      this.stats.connectionsWithoutHello++;
      this.o.log(`internode: closing connection from ${socket.remoteAddress}:${socket.remotePort}: no Hello within ${this.o.helloTimeoutMs} ms`);
      socket.destroy();
    }, this.o.helloTimeoutMs);
    const stopHelloTimer = (): void => {
      if (helloTimer !== null) clearTimeout(helloTimer);
      helloTimer = null;
    };
    let inflight = 0;
    const lateness = new FrameLateness(frameLatenessWindowMs, frameLatenessQuietMsMax);
    let queue: Buffer[] = [];
    let queueBytes = 0;
    // This connection's part of the node's unsent reply bytes, set whenever it looks.
    const held = new ByteShare(this.o.heldReplyAccount);
    const look = (): void => held.set(socket.destroyed ? 0 : socket.writableLength + queueBytes);
    let flushScheduled = false;
    /** Undefined until the Hello; then null (accepted) or the refusal every request gets. */
    let greeting: RingkvError | null | undefined;
    const send = (reply: InternodeMessage) => {
      if (socket.destroyed || socket.writableEnded) return;
      let bytes: Buffer;
      try {
        bytes = encodeInternodeFrame(reply, this.o.frameBytesMax);
      } catch (err) {
        // A reply this node cannot send (over the frame cap: a handler's bug) fails its request
        // alone. Thrown here it would end the process: send runs in the handler's promise reaction.
        this.o.log(`internode: cannot send the reply to request ${reply.id} (${reply.kind}): ${err instanceof Error ? err.message : String(err)}`);
        bytes = encodeInternodeFrame(errorReply(reply.id, new RingkvError(ErrorCode.Internal, `the reply to this ${reply.kind} could not be sent: ${err instanceof Error ? err.message : String(err)}`)), this.o.frameBytesMax);
      }
      look();
      if (!held.fits(bytes.length, this.o.heldReplyBytesMax)) {
        this.stats.repliesRefused++;
        const why = `${held.bytes} bytes of replies wait for this connection's requester to read them, ${this.o.heldReplyAccount.heldBytes} for all peers`;
        bytes = encodeInternodeFrame(errorReply(reply.id, new RingkvError(ErrorCode.Busy, why)), this.o.frameBytesMax);
      }
      queue.push(bytes);
      queueBytes += bytes.length;
      look();
      if (flushScheduled) return;
      flushScheduled = true;
      process.nextTick(() => {
        flushScheduled = false;
        const frames = queue;
        queue = [];
        queueBytes = 0;
        if (socket.destroyed || socket.writableEnded) return look();
        writeBatched(socket, frames);
        look();
        if (greeting) {
          socket.end();
          // A peer that keeps its side open would keep this connection, counted against
          // connectionsMax, for good: it is given a Hello timeout to close it.
          const linger = setTimeout(() => socket.destroy(), this.o.helloTimeoutMs);
          socket.once('close', () => clearTimeout(linger));
        } else if (socket.writableLength > this.o.unsentReplyBytesMax && !socket.isPaused()) {
          // The peer does not read its replies: read no more of its requests until it does.
          this.stats.readsPaused++;
          socket.pause();
          socket.once('drain', () => socket.resume());
        }
      });
    };
    socket.on('data', (chunk: Buffer) => {
      // Refused and answered: nothing more can be said on it, so nothing more is decoded (or buffered).
      if (greeting && socket.writableEnded) return;
      let requests: InternodeMessage[];
      try {
        requests = decoder.push(chunk).map((f) => decodeInternode(f));
        for (const r of requests) if (r.isReply) throw new RingkvError(ErrorCode.MalformedFrame, 'a reply arrived on an answering connection');
      } catch (err) {
        this.stats.connectionsClosedMalformed++;
        this.o.log(`internode: closing connection from ${socket.remoteAddress}:${socket.remotePort}: ${err instanceof Error ? err.message : String(err)}`);
        socket.destroy();
        return;
      }
      const arrivedMs = performance.now();
      for (const req of requests) {
        // Every request sets the baseline (gossip and pings keep it fresh), the Hello too.
        const latenessMs = lateness.of(req.sentAtMs ?? 0, arrivedMs);
        if (greeting === undefined) {
          stopHelloTimer();
          greeting = this.greet(req, socket);
          send(greeting === null ? { id: req.id, kind: 'hello', isReply: true, clusterName: this.o.clusterName, fromNode: this.o.nodeId } : errorReply(req.id, greeting));
          continue;
        }
        if (greeting !== null) {
          send(errorReply(req.id, greeting));
          continue;
        }
        if (req.kind === 'hello') {
          send(errorReply(req.id, new RingkvError(ErrorCode.MalformedFrame, 'a second Hello on one connection')));
          continue;
        }
        if (inflight >= this.o.inflightMax) {
          send(errorReply(req.id, new RingkvError(ErrorCode.Busy, `${inflight} requests in flight on this connection`)));
          continue;
        }
        inflight++;
        this.stats.requestsHandled++;
        this.o.handler(req, latenessMs).then(
          (reply) => {
            inflight--;
            send({ ...reply, id: req.id, isReply: true });
          },
          (err: unknown) => {
            inflight--;
            send(errorReply(req.id, err));
          },
        );
      }
    });
    socket.on('drain', look);
    socket.on('error', () => {});
    socket.on('close', () => {
      stopHelloTimer();
      this.sockets.delete(socket);
      queue = [];
      queueBytes = 0;
      held.set(0);
    });
  }

  /** Null when the connection's first frame is a Hello this node accepts, else why not. */
  private greet(req: InternodeMessage, socket: net.Socket): RingkvError | null {
    const from = `${socket.remoteAddress}:${socket.remotePort}`;
    const here = `node ${this.o.nodeId} of cluster ${this.o.clusterName}`;
    let refusal: RingkvError | null = null;
    if (req.kind !== 'hello') {
      refusal = new RingkvError(ErrorCode.WrongPeer, `${here} answers only connections that open with a Hello, not with a ${req.kind}`, { details: { reason: 'hello' } });
    } else if (req.clusterName !== this.o.clusterName) {
      refusal = new RingkvError(ErrorCode.WrongPeer, `${here} does not answer node ${req.fromNode ?? '?'} of cluster ${req.clusterName ?? '(none)'}`, {
        details: { reason: 'cluster', cluster_name: this.o.clusterName, node_id: this.o.nodeId },
      });
    } else if (req.toNode !== undefined && req.toNode !== this.o.nodeId) {
      refusal = new RingkvError(ErrorCode.WrongPeer, `${here} is not node ${req.toNode}, which node ${req.fromNode ?? '?'} meant to reach here`, {
        details: { reason: 'node', cluster_name: this.o.clusterName, node_id: this.o.nodeId },
      });
    }
    if (refusal !== null && req.clusterName === clusterNameAsk) {
      // A new node asking which cluster this is (coordinator/cluster_name.ts): the refusal tells it.
      this.o.log(`internode: told node ${req.fromNode ?? '?'} at ${from} this node's cluster name`);
    } else if (refusal !== null) {
      this.stats.connectionsRefused++;
      this.o.log(`internode: refused a connection from ${from}: ${refusal.message}`);
    } else if (req.fromNode !== undefined && req.fromNode !== this.o.nodeId) {
      this.o.onPeer(req.fromNode);
    }
    return refusal;
  }
}
