// What the client knows of the cluster: the nodes and their addresses, the ring rebuilt from
// cluster status (reusing src/ring, so client and nodes compute the same preference lists), and
// which nodes failed recently. `candidates(key)` is the routing decision: the key's preference
// list first (any replica can coordinate, and going to one saves the hop from a non-owner), those
// in the client's zone first among them, those behind (hints wait for them) after the rest and
// those rebuilding their replica last, nodes believed down moved to the back, then the rest of
// the ring as a last resort. A read that asks a quorum (`spread`) starts at each of the key's
// best replicas in turn, so a hot key's reads are coordinated, and read locally first, by all of
// them rather than by its first replica alone (design.md §10 scenario 5, "read replicas").
// Writes and ONE (and LOCAL_ONE) reads keep the list's order: one coordinator per key orders a
// key's blind writes instead of making siblings of them, and a ONE read then goes to the replica
// that took the client's own write first.
// Ring versions are each node's own count of ring changes, not a cluster-wide number, so a
// status is compared by its members, not its version. And a status that leaves out a member the
// client knows is a partial view, not news: a node leaves only as LEFT, which every status keeps
// listing; one that is not listed at all is unknown to the node asked (a node just restarted knows
// only itself until gossip reaches it, and routing every key to it made it the only replica of
// what it then took: a rolling restart through the client found it). A status from a node of
// another cluster than the one the client follows (an address reused) is refused outright.
import type { ClusterStatus, ConsistencyLevel } from '../coordinator/types';
import { clusterNodesMax } from '../constants';
import { assert, ErrorCode, RingkvError } from '../errors';
import { keyToken, Ring, takeTurns, tokenFromString, nodeTokens } from '../ring';
import { ringMembersOf } from './cluster_status';

export interface NodeAddress {
  /** The node id once cluster status named it; the address until then. */
  id: string;
  address: string;
}

/** Statuses in a row that leave out a known member before the client believes them. */
const partialViewsMax = 3;

/**
 * Whether a request is a `spread` read (see the header): a GET asking more than one replica
 * (QUORUM, ALL, LOCAL_QUORUM; the node's default is QUORUM). ONE and LOCAL_ONE read the node
 * they reach first, which should be the key's first replica, where a write at ONE went.
 */
export function isSpreadRead(op: 'get' | 'put' | 'delete', consistency: ConsistencyLevel | undefined): boolean {
  return op === 'get' && consistency !== 'ONE' && consistency !== 'LOCAL_ONE';
}

export class Topology {
  private ring: Ring | null = null;
  private replicationFactor = 1;
  private readonly byId = new Map<string, NodeAddress>();
  private readonly downUntilMs = new Map<string, number>();
  private readonly liveness = new Map<string, string>();
  /** Nodes the last status said rebuild their replica (a new data dir): tried after the others. */
  private readonly rebuilding = new Set<string>();
  /** Nodes the last status said are behind (hints wait for them): tried after the rest, before rebuilding ones. */
  private readonly behind = new Set<string>();
  private roundRobin = 0;
  /** Turns of the `spread` reads (see the header). */
  private spreadTurn = 0;
  private version = -1;
  /** Partial views in a row (see the header); one that persists this long is taken after all. */
  private partialViews = 0;

  constructor(
    private readonly seeds: readonly string[],
    private readonly nodeDownMs: number,
    /** The cluster followed: given, or fixed by the first status that names one. */
    private clusterName?: string,
    /** The client's zone: replicas there are tried first (the node then reads its own zone's copy first too). */
    private readonly zone?: string,
    /** The client's datacenter: replicas there are tried before any other datacenter's (their LOCAL_* levels are its). */
    private readonly datacenter?: string,
  ) {
    assert(seeds.length > 0, 'a client needs at least one node address');
  }

  get ringVersion(): number {
    return this.version;
  }

  get hasRing(): boolean {
    return this.ring !== null;
  }

  /** The addresses the client may still connect to: its seeds, and every known node's that has not left. */
  addressesInUse(): Set<string> {
    const out = new Set(this.seeds);
    for (const n of this.byId.values()) if (this.liveness.get(n.id) !== 'left') out.add(n.address);
    return out;
  }

  /** Addresses to ask for cluster status: known nodes first, then the seeds. */
  statusSources(): string[] {
    const out = [...this.byId.values()].filter((n) => !this.isDown(n.address)).map((n) => n.address);
    for (const s of this.seeds) if (!out.includes(s)) out.push(s);
    return out;
  }

  /**
   * Applies a cluster status. Returns true when the ring changed. A status whose tokens are not the
   * ones src/ring derives from the node ids is refused: routing by a different ring would be wrong.
   */
  apply(status: ClusterStatus): boolean {
    if (status.cluster_name !== undefined) {
      if (this.clusterName !== undefined && status.cluster_name !== this.clusterName) {
        throw new RingkvError(ErrorCode.WrongPeer, `a node of cluster ${status.cluster_name} answered; this client follows cluster ${this.clusterName}`, {
          details: { reason: 'cluster', cluster_name: status.cluster_name },
        });
      }
      this.clusterName = status.cluster_name;
    }
    for (const n of status.nodes) {
      this.byId.set(n.id, { id: n.id, address: n.address });
      this.liveness.set(n.id, n.status);
      if (n.rebuilding === true) this.rebuilding.add(n.id);
      else this.rebuilding.delete(n.id);
      if (n.behind === true) this.behind.add(n.id);
      else this.behind.delete(n.id);
    }
    const members = ringMembersOf(status);
    if (this.ring !== null) {
      const listed = new Set(status.nodes.map((n) => n.id));
      if (this.ring.members.some((m) => !listed.has(m.nodeId)) && ++this.partialViews < partialViewsMax) return false;
      this.partialViews = 0;
      if (this.ring.sameMembers(members)) {
        this.version = status.ring_version;
        return false;
      }
    }
    this.version = status.ring_version;
    this.replicationFactor = Math.max(1, status.replication_factor);
    if (members.length === 0) {
      // A single node, or a cluster still forming: no placement to follow yet.
      this.ring = null;
      return true;
    }
    for (const n of status.nodes) {
      if (n.tokens.length === 0) continue;
      const derived = new Set(nodeTokens(n.id, n.tokens.length));
      for (const t of n.tokens) {
        if (!derived.has(tokenFromString(t))) {
          throw new RingkvError(ErrorCode.Internal, `node ${n.id} reports token ${t} that src/ring does not derive from its id`, { details: { node: n.id } });
        }
      }
    }
    this.ring = Ring.build(members, Math.max(0, status.ring_version));
    return true;
  }

  markDown(address: string, nowMs: number): void {
    this.downUntilMs.set(address, nowMs + this.nodeDownMs);
  }

  markUp(address: string): void {
    this.downUntilMs.delete(address);
  }

  isDown(address: string, nowMs = performance.now()): boolean {
    const until = this.downUntilMs.get(address);
    return until !== undefined && until > nowMs;
  }

  /** The key's preference list as node ids ([] without a ring). */
  preferenceList(key: Uint8Array): string[] {
    return this.ring === null ? [] : [...this.ring.preferenceList(keyToken(key), this.replicationFactor)];
  }

  /**
   * Nodes to try for `key`, best first. Never empty. `spread`: start at the next of its best
   * replicas in turn. `count`: how many the caller may try; past the usable replicas the ring is
   * walked only as far as that needs (a walk of every node, on every request, costs O(nodes) and
   * the ring keeps each walk: a list of every node per vnode). `local`: a LOCAL_* request, of the
   * client's datacenter, where it has one: only its nodes, so that a retry never has another
   * datacenter's quorum answer it (Cassandra's drivers keep LOCAL_* at home too).
   */
  candidates(key: Uint8Array, nowMs = performance.now(), spread = false, count = clusterNodesMax, local = false): NodeAddress[] {
    assert(Number.isInteger(count) && count >= 1, 'a caller tries at least one node');
    let ordered: NodeAddress[];
    if (this.ring !== null) {
      const token = keyToken(key);
      const prefIds = this.ring.preferenceList(token, this.replicationFactor);
      const address = (id: string): NodeAddress => this.byId.get(id) ?? { id, address: id };
      const pref = prefIds.map(address);
      const usable = (n: NodeAddress): boolean => !this.isDown(n.address, nowMs) && this.liveness.get(n.id) !== 'dead' && this.liveness.get(n.id) !== 'left';
      const ring = this.ring;
      // Among the usable replicas: the client's zone first, then the rest of its datacenter,
      // behind ones after those (a coordinator reads its own copy first), other datacenters'
      // next, rebuilding ones last; a stable sort, as the coordinators rank replicas
      // (coordinator/quorum_reads.ts).
      const cost = (n: NodeAddress): number =>
        (this.rebuilding.has(n.id) ? 4 : 0) +
        (this.behind.has(n.id) ? 2 : 0) +
        (this.datacenter !== undefined && ring.datacenterOf(n.id) !== this.datacenter ? 3 : this.zone !== undefined && ring.zoneOf(n.id) !== this.zone ? 1 : 0);
      const ranked = this.zone !== undefined || this.datacenter !== undefined || this.rebuilding.size > 0 || this.behind.size > 0 ? pref.filter(usable).sort((a, b) => cost(a) - cost(b)) : pref.filter(usable);
      const near = spread && ranked.length > 1 ? takeTurns(ranked, cost, this.spreadTurn++) : ranked;
      const home = this.datacenter;
      const inScope = local && home !== undefined && ring.datacenterNames.includes(home) ? (n: NodeAddress): boolean => ring.datacenterOf(n.id) === home : null;
      // The nodes after the replicas, as far as `count` needs. Not a prefix of the walk where
      // there are datacenters (N of each): a longer list less this one.
      const rest = (inScope === null ? near : near.filter(inScope)).length >= count ? [] : ring.preferenceList(token, Math.min(this.replicationFactor + count, clusterNodesMax)).filter((id) => !prefIds.includes(id)).map(address);
      ordered = [...near, ...rest.filter(usable), ...pref.filter((n) => !usable(n)), ...rest.filter((n) => !usable(n))];
      if (inScope !== null) ordered = ordered.filter(inScope);
    } else {
      // No ring: spread over what we know, starting from a rotating point.
      const known = this.byId.size > 0 ? [...this.byId.values()] : this.seeds.map((a) => ({ id: a, address: a }));
      const start = this.roundRobin++ % known.length;
      const rotated = [...known.slice(start), ...known.slice(0, start)];
      ordered = [...rotated.filter((n) => !this.isDown(n.address, nowMs)), ...rotated.filter((n) => this.isDown(n.address, nowMs))];
    }
    assert(ordered.length > 0, 'there is always a node to try');
    return ordered;
  }
}
