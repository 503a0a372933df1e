// One PeerConnection per peer address, made on first use and kept: a node holds exactly one
// requesting connection to each peer it talks to (the peer holds its own towards us), whatever
// the number of requests.
import { assert } from '../errors';
import { PeerConnection, type OutgoingRequest, type PeerConnectionOptions } from './internode_connection';
import type { InternodeMessage } from './internode_codec';

export class PeerPool {
  private readonly peers = new Map<string, PeerConnection>();
  private closed = false;

  constructor(private readonly defaults: Omit<PeerConnectionOptions, 'host' | 'port'> = {}) {}

  connection(host: string, port: number): PeerConnection {
    assert(!this.closed, 'peer pool is closed');
    const key = `${host}:${port}`;
    let c = this.peers.get(key);
    if (c === undefined) {
      c = new PeerConnection({ ...this.defaults, host, port });
      this.peers.set(key, c);
    }
    return c;
  }

  request(host: string, port: number, req: OutgoingRequest, timeoutMs: number): Promise<InternodeMessage> {
    return this.connection(host, port).request(req, timeoutMs);
  }

  /** Ends the back-off of the connection to host:port, if there is one (PeerConnection.resetBackoff). */
  resetBackoff(host: string, port: number): void {
    this.peers.get(`${host}:${port}`)?.resetBackoff();
  }

  /** Sum of the connections' counters, for the metrics endpoint. */
  stats(): { peerConnections: number; internodeRequests: number; internodeTimeouts: number; internodeWrites: number; internodeFramesWritten: number } {
    let internodeRequests = 0;
    let internodeTimeouts = 0;
    let internodeWrites = 0;
    let internodeFramesWritten = 0;
    for (const c of this.peers.values()) {
      internodeRequests += c.stats.requests;
      internodeTimeouts += c.stats.timeouts;
      internodeWrites += c.stats.writes;
      internodeFramesWritten += c.stats.framesWritten;
    }
    return { peerConnections: this.peers.size, internodeRequests, internodeTimeouts, internodeWrites, internodeFramesWritten };
  }

  close(): void {
    this.closed = true;
    for (const c of this.peers.values()) c.close();
    this.peers.clear();
  }
}
