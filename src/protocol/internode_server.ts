// The answering side of inter-node links: a TCP server on the node's peer port. Each incoming
// connection is one peer's request stream; requests are handled concurrently (the handler is
// async) and replies go back with the request's id in whatever order they finish, batched per
// tick like the requesting side. A frame that is too large or fails verification closes that
// connection only; the server and every other connection carry on.
import * as net from 'node:net';
import { internodeFrameBytesMax, internodeInflightPerPeerMax } from '../constants';
import { assert, ErrorCode, RingkvError } from '../errors';
import { decodeInternode, encodeInternodeFrame, errorReply, type InternodeMessage } from './internode_codec';
import { writeBatched } from './internode_connection';
import { FrameDecoder } from './internode_framing';

/** Answers one request; the reply's id and isReply are filled in by the server. */
export type InternodeHandler = (req: InternodeMessage) => Promise<Omit<InternodeMessage, 'id' | 'isReply'>>;

export interface InternodeServerOptions {
  host: string;
  port: number;
  handler: InternodeHandler;
  frameBytesMax?: number;
  inflightMax?: number;
  log?: (line: string) => void;
}

export interface InternodeServerStats {
  connectionsAccepted: number;
  connectionsClosedMalformed: number;
  requestsHandled: number;
}

export class InternodeServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly o: Required<InternodeServerOptions>;
  readonly stats: InternodeServerStats = { connectionsAccepted: 0, connectionsClosedMalformed: 0, requestsHandled: 0 };

  constructor(options: InternodeServerOptions) {
    this.o = { frameBytesMax: internodeFrameBytesMax, inflightMax: internodeInflightPerPeerMax, log: () => {}, ...options };
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /** Listens; resolves with the bound port (useful with port 0 in tests). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
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
    this.stats.connectionsAccepted++;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(this.o.frameBytesMax);
    let inflight = 0;
    let queue: Buffer[] = [];
    let flushScheduled = false;
    const send = (reply: InternodeMessage) => {
      if (socket.destroyed) return;
      queue.push(encodeInternodeFrame(reply, this.o.frameBytesMax));
      if (flushScheduled) return;
      flushScheduled = true;
      process.nextTick(() => {
        flushScheduled = false;
        const frames = queue;
        queue = [];
        if (!socket.destroyed) writeBatched(socket, frames);
      });
    };
    socket.on('data', (chunk: Buffer) => {
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
      for (const req of requests) {
        if (inflight >= this.o.inflightMax) {
          send(errorReply(req.id, new RingkvError(ErrorCode.Busy, `${inflight} requests in flight on this connection`)));
          continue;
        }
        inflight++;
        this.stats.requestsHandled++;
        this.o.handler(req).then(
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
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  }
}
