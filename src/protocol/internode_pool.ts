// One PeerConnection per peer, made on first use and kept: a node holds exactly one requesting
// connection to each peer it talks to (the peer holds its own towards us), whatever the number
// of requests. A peer is a node id at an address, or an address alone (a seed, whose node is not
// known yet): the id is what the connection's Hello asks the listener to be, so a request meant
// for one node never reaches another that took over its address. A node's connection at an
// address it has left (restarted elsewhere: a new IP, a new port) is closed when one to its new
// address is made: kept, every address a node ever had held a connection (each with its in-flight
// table) and its back-off retries for good. The connections share one account of the bytes they
// hold unsent (internodeUnsentRequestBytesNodeMax over all peers).
import { assert } from '../errors';
import { type ByteAccount, byteAccount } from '../byte_bound';
import { internodeUnsentRequestBytesNodeMax } from '../constants';
import { PeerConnection, type HelloOptions, type OutgoingRequest, type PeerConnectionOptions } from './internode_connection';
import { addSnapshot, type HistogramSnapshot } from '../histogram';
import type { InternodeKind, InternodeMessage } from './internode_codec';

/** One peer's round trips of one kind of request (plain data). */
export interface PeerRoundTrips {
  /** Its node id, or its address (host:peerPort) while no id is known. */
  peer: string;
  kind: InternodeKind;
  seconds: HistogramSnapshot;
}

/** Where a request goes: a peer port, and the node expected there when it is known. */
export interface PeerTarget {
  host: string;
  peerPort: number;
  nodeId?: string;
}

export class PeerPool {
  private readonly peers = new Map<string, PeerConnection>();
  /** The key of each node id's connection (one per id: the one to its latest address). */
  private readonly keyOfNode = new Map<string, string>();
  private closed = false;
  private readonly unsent: ByteAccount;

  constructor(
    private readonly self: Omit<HelloOptions, 'toNode'>,
    private readonly defaults: Omit<PeerConnectionOptions, 'host' | 'port' | 'hello'> = {},
  ) {
    this.unsent = defaults.unsentAccount ?? byteAccount(internodeUnsentRequestBytesNodeMax);
  }

  connection(to: PeerTarget): PeerConnection {
    assert(!this.closed, 'peer pool is closed');
    const key = keyOf(to);
    let c = this.peers.get(key);
    if (c === undefined) {
      c = new PeerConnection({ ...this.defaults, unsentAccount: this.unsent, host: to.host, port: to.peerPort, hello: { ...this.self, ...(to.nodeId !== undefined && { toNode: to.nodeId }) } });
      this.peers.set(key, c);
      if (to.nodeId !== undefined) {
        const old = this.keyOfNode.get(to.nodeId);
        if (old !== undefined) {
          this.peers.get(old)?.close();
          this.peers.delete(old);
        }
        this.keyOfNode.set(to.nodeId, key);
      }
    }
    return c;
  }

  request(to: PeerTarget, req: OutgoingRequest, timeoutMs: number): Promise<InternodeMessage> {
    return this.connection(to).request(req, timeoutMs);
  }

  /** Ends the back-off of the connection to `to`, if there is one (PeerConnection.resetBackoff). */
  resetBackoff(to: PeerTarget): void {
    this.peers.get(keyOf(to))?.resetBackoff();
  }

  /** Sum of the connections' counters, for the metrics endpoint. */
  stats(): {
    peerConnections: number;
    internodeRequests: number;
    internodeTimeouts: number;
    internodeWrites: number;
    internodeFramesWritten: number;
    internodeRefusals: number;
    internodeConnectsRestarted: number;
    internodeRequestsRefused: number;
    internodeUnsentRequestBytes: number;
  } {
    let internodeRequests = 0;
    let internodeTimeouts = 0;
    let internodeWrites = 0;
    let internodeFramesWritten = 0;
    let internodeRefusals = 0;
    let internodeConnectsRestarted = 0;
    let internodeRequestsRefused = 0;
    for (const c of this.peers.values()) {
      internodeRequests += c.stats.requests;
      internodeTimeouts += c.stats.timeouts;
      internodeWrites += c.stats.writes;
      internodeFramesWritten += c.stats.framesWritten;
      internodeRefusals += c.stats.refusals;
      internodeConnectsRestarted += c.stats.connectsRestarted;
      internodeRequestsRefused += c.stats.requestsRefused;
    }
    return {
      peerConnections: this.peers.size,
      internodeRequests,
      internodeTimeouts,
      internodeWrites,
      internodeFramesWritten,
      internodeRefusals,
      internodeConnectsRestarted,
      internodeRequestsRefused,
      internodeUnsentRequestBytes: this.unsent.heldBytes,
    };
  }

  /**
   * Every peer's request round trips (PeerConnection.roundTrips) by kind, a peer named by its node
   * id (by its address while only that is known: a seed), its connections' added together.
   */
  roundTrips(): PeerRoundTrips[] {
    const byKey = new Map<string, PeerRoundTrips>();
    for (const c of this.peers.values()) {
      const peer = c.nodeId ?? c.address;
      for (const [kind, h] of c.roundTrips) {
        const k = `${peer} ${kind}`;
        const seen = byKey.get(k);
        if (seen === undefined) byKey.set(k, { peer, kind, seconds: h.snapshot() });
        else addSnapshot(seen.seconds, h.snapshot());
      }
    }
    return [...byKey.values()];
  }

  close(): void {
    this.closed = true;
    for (const c of this.peers.values()) c.close();
    this.peers.clear();
    this.keyOfNode.clear();
  }
}

function keyOf(to: PeerTarget): string {
  return `${to.nodeId ?? ''}@${to.host}:${to.peerPort}`;
}
