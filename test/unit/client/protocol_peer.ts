// A small in-process peer that speaks the client protocol with the real codec
// (decodeRequestFrame / encodeResponseFrames) over a real socket on 127.0.0.1, with behaviour a
// test can script: answer late, never, or with an error, and count the frames it received. It
// lets the client's timeouts, retries and frame batching be tested deterministically; tests
// against real node processes live in test/process and test/cluster.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ClusterStatus } from '../../../src/coordinator/types';
import { decodeRequestFrame, type ClientRequest } from '../../../src/protocol/client_request';
import { encodeErrorFrame, encodeResponseFrames, type ClientResult } from '../../../src/protocol/client_response';
import type { WireErrorCode } from '../../../src/protocol/client_codes';

export type Handler = (req: ClientRequest, peer: ProtocolPeer) => ClientResult | Promise<ClientResult> | null;

export class ProtocolPeer {
  framesReceived = 0;
  readonly requests: ClientRequest[] = [];
  status: ClusterStatus | null = null;
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  /** Each connection's TCP socket, to stop reading it. */
  private readonly raw = new Map<WebSocket, Socket>();

  private constructor(public handler: Handler) {
    this.server = http.createServer((req, res) => {
      if (req.url === '/api/v1/cluster/status' && this.status !== null) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(this.status));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    this.wss = new WebSocketServer({ server: this.server, path: '/api/v1/ws' });
    this.wss.on('connection', (ws, req) => {
      this.sockets.add(ws);
      this.raw.set(ws, req.socket);
      ws.on('close', () => {
        this.sockets.delete(ws);
        this.raw.delete(ws);
      });
      ws.on('message', (data: Buffer) => {
        this.framesReceived++;
        for (const d of decodeRequestFrame(new Uint8Array(data)).ops) {
          if (!d.ok) continue;
          this.requests.push(d.request);
          void Promise.resolve(this.handler(d.request, this)).then((r) => {
            if (r !== null && ws.readyState === ws.OPEN) for (const f of encodeResponseFrames([r], 1 << 20)) ws.send(f);
          });
        }
      });
    });
  }

  static async start(handler: Handler): Promise<ProtocolPeer> {
    const p = new ProtocolPeer(handler);
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', r));
    return p;
  }

  get address(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Sends a frame-level error on every open connection (as a node that could not read a frame does). */
  sendErrorFrame(code: WireErrorCode, message: string): void {
    for (const s of this.sockets) s.send(encodeErrorFrame(code, message));
  }

  /** WebSocket connections open to this peer now. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Stops reading every open connection (as a paused node, whose kernel buffers then fill). */
  stopReading(): void {
    for (const s of this.raw.values()) s.pause();
  }

  /** Drops every open connection (as a crashing node would). */
  dropConnections(): void {
    for (const s of this.sockets) s.terminate();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((r) => this.wss.close(() => r()));
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A tiny in-memory store answering like a node: enough for the client's own tests. */
export function memoryHandler(): Handler {
  const data = new Map<string, { value: Uint8Array; version: string }>();
  let counter = 0;
  return (req) => {
    const k = Buffer.from(req.key).toString('hex');
    switch (req.op) {
      case 'get': {
        const v = data.get(k);
        return v === undefined ? { id: req.id, status: 'not_found' } : { id: req.id, status: 'ok', value: v.value, version: v.version, timestampMs: 1, context: new Uint8Array([1]) };
      }
      case 'put': {
        const cur = data.get(k);
        if (req.expectedVersion !== undefined && cur?.version !== req.expectedVersion) {
          return { id: req.id, status: 'error', error: 4, message: 'version mismatch', ...(cur && { currentVersion: cur.version }) };
        }
        const version = `v${++counter}`;
        data.set(k, { value: req.value ?? new Uint8Array(0), version });
        return { id: req.id, status: 'ok', version, timestampMs: 1 };
      }
      case 'delete':
        data.delete(k);
        return { id: req.id, status: 'ok', version: `v${++counter}`, timestampMs: 1, tombstoneExpiryMs: 2 };
    }
  };
}
