// The consistent-hash ring: every physical node's vnode tokens in one sorted BigUint64Array, a
// parallel array naming each token's owner, and a binary search for lookups (O(log V)). A key is
// owned by the first vnode whose token is >= the key's token, wrapping past the top of the space;
// its preference list is the first N *distinct physical* nodes met walking clockwise from there
// (design.md §7.1). Where members name zones (racks, availability zones), the walk takes a node of
// each zone not yet in the list before a second node of any zone, as Cassandra's
// NetworkTopologyStrategy does with racks: a zone that fails whole then takes at most
// ceil(N / zones) replicas of a key with it. A ring whose members are all in one zone (or none)
// walks exactly as one without zones. Where members name datacenters, N is per datacenter
// (design.md §8: each datacenter holds a whole copy with its own quorum): the one walk takes the
// first N distinct nodes of each datacenter (zone-aware within it), as NetworkTopologyStrategy
// does, so a preference list holds N × datacenters nodes, in walk order. The ring is immutable and
// pure: membership builds a new one, with a higher version, whenever the set of members, their
// vnode counts, zones or datacenters change. The version counts the changes one node saw (two
// nodes that learned of two joins in one gossip exchange and in two differ by one); the digest,
// a hash of the members, is the same on every node that holds the same ring, which is what an
// operator compares to see that a ring change has reached every node. Liveness is not the ring's business (riak_core
// keeps chash and the node watcher apart); the coordinator joins the two.
import { clusterNodesMax, vnodesPerNodeMax, zoneBytesMax } from '../constants';
import { assert } from '../errors';
import { native } from '../native';
import { nodeTokens, tokenSpace } from './token';

const utf8 = new TextEncoder();

export interface RingMember {
  nodeId: string;
  /** How many tokens this node owns; stronger machines may take more. */
  vnodes: number;
  /** The failure domain the node is in (rack, availability zone); absent or '' is a zone too. */
  zone?: string;
  /** The datacenter the node is in; absent or '' is a datacenter too (the only one, usually). */
  datacenter?: string;
}

const zonePattern = /^[A-Za-z0-9._-]*$/;

/** True for a well-formed zone (or datacenter) name: 0..zoneBytesMax characters of [A-Za-z0-9._-] ('' = none). */
export function isValidZone(zone: string): boolean {
  return zone.length <= zoneBytesMax && zonePattern.test(zone);
}

/** What the ring keeps of a member (or of anything that names one, a gossip entry): zone and datacenter only where not empty. */
export function ringMemberOf(m: RingMember): RingMember {
  return { nodeId: m.nodeId, vnodes: m.vnodes, ...(m.zone ? { zone: m.zone } : {}), ...(m.datacenter ? { datacenter: m.datacenter } : {}) };
}


/** A ring digest as text (`ringkv status`, the cluster status's `ring_digest`): 8 hex digits. */
export function ringDigestText(digest: number): string {
  return digest.toString(16).padStart(8, '0');
}

export class Ring {
  /** This node's count of ring changes: not comparable across nodes (see the header). */
  readonly version: number;
  /** Members sorted by node id. */
  readonly members: readonly RingMember[];
  /** Every vnode token, ascending. */
  private readonly tokens: BigUint64Array;
  /**
   * tokens[i] as the nearest double. The search compares these first: reading a BigUint64Array
   * element makes a BigInt on the heap, and a lookup per request made ~9 of them. Number() is
   * monotonic, so a strict difference between doubles is the tokens' order too; only equal
   * doubles need the exact compare.
   */
  private readonly approx: Float64Array;
  /** owners[i] is the index into `members` of the node owning tokens[i]. */
  private readonly owners: Uint32Array;
  /**
   * zoneIndex[m] numbers the zone of members[m] within its datacenter (zone 'a' of two
   * datacenters is two zones); zoneCount zones in all.
   */
  private readonly zoneIndex: Uint32Array;
  private readonly zoneCount: number;
  /** dcIndex[m] numbers the datacenter of members[m]: an index into dcNames. */
  private readonly dcIndex: Uint32Array;
  /** Every datacenter named ('' for none), in order of first member; dcSizes[d] its members, dcZones[d] its zones. */
  readonly datacenterNames: readonly string[];
  private readonly dcSizes: Uint32Array;
  private readonly dcZones: Uint32Array;
  /**
   * Preference lists already walked, by start vnode and length (the ring never changes, so they
   * never go stale): a request's lookup is then a search and a Map get. At most one entry per
   * vnode and list length asked for.
   */
  private readonly walked = new Map<number, readonly string[]>();
  /** tokensOf's answers, by member index; made at the first ask. */
  private byMember: readonly (readonly bigint[])[] | null = null;
  /** without()'s answers, by the sorted node ids left out. */
  private readonly lessSome = new Map<string, Ring>();
  private digestValue = 0;

  private constructor(version: number, members: RingMember[], tokens: BigUint64Array, owners: Uint32Array) {
    this.version = version;
    this.members = members;
    this.tokens = tokens;
    this.owners = owners;
    this.approx = Float64Array.from(tokens, (t) => Number(t));
    const dcs = new Map<string, number>();
    this.dcIndex = Uint32Array.from(members, (m) => {
      const d = m.datacenter ?? '';
      let i = dcs.get(d);
      if (i === undefined) dcs.set(d, (i = dcs.size));
      return i;
    });
    this.datacenterNames = Object.freeze([...dcs.keys()]);
    this.dcSizes = new Uint32Array(dcs.size);
    this.dcZones = new Uint32Array(dcs.size);
    const zones = new Map<string, number>();
    this.zoneIndex = Uint32Array.from(members, (m, idx) => {
      const d = this.dcIndex[idx]!;
      this.dcSizes[d]!++;
      const z = `${d}\n${m.zone ?? ''}`;
      let i = zones.get(z);
      if (i === undefined) {
        zones.set(z, (i = zones.size));
        this.dcZones[d]!++;
      }
      return i;
    });
    this.zoneCount = zones.size;
  }

  static build(members: readonly RingMember[], version: number): Ring {
    assert(Number.isInteger(version) && version >= 0, 'ring version is a non-negative integer');
    assert(members.length <= clusterNodesMax, () => `a ring holds at most ${clusterNodesMax} nodes`);
    const sorted = [...members].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    for (let i = 0; i < sorted.length; i++) {
      const m = sorted[i]!;
      assert(m.nodeId.length > 0, 'node id must not be empty');
      assert(Number.isInteger(m.vnodes) && m.vnodes >= 1 && m.vnodes <= vnodesPerNodeMax, () => `vnodes of ${m.nodeId} out of range: ${m.vnodes}`);
      assert(m.zone === undefined || isValidZone(m.zone), () => `zone of ${m.nodeId} is not a zone name: ${JSON.stringify(m.zone)}`);
      assert(m.datacenter === undefined || isValidZone(m.datacenter), () => `datacenter of ${m.nodeId} is not a datacenter name: ${JSON.stringify(m.datacenter)}`);
      assert(i === 0 || sorted[i - 1]!.nodeId !== m.nodeId, () => `node ${m.nodeId} appears twice in the ring`);
    }
    // Pair every token with its owner, then sort by (token, owner) so that the (astronomically
    // unlikely) equal tokens still order the same way on every node.
    const pairs: Array<{ token: bigint; owner: number }> = [];
    sorted.forEach((m, owner) => {
      for (const token of nodeTokens(m.nodeId, m.vnodes)) pairs.push({ token, owner });
    });
    pairs.sort((a, b) => (a.token < b.token ? -1 : a.token > b.token ? 1 : a.owner - b.owner));
    const tokens = new BigUint64Array(pairs.length);
    const owners = new Uint32Array(pairs.length);
    pairs.forEach((p, i) => {
      tokens[i] = p.token;
      owners[i] = p.owner;
    });
    return new Ring(version, sorted.map(ringMemberOf), tokens, owners);
  }

  get size(): number {
    return this.members.length;
  }

  get vnodeCount(): number {
    return this.tokens.length;
  }

  has(nodeId: string): boolean {
    return this.memberIndex(nodeId) >= 0;
  }

  /** How many zones the members are in ('' counting as one). */
  get zones(): number {
    return this.zoneCount;
  }

  /** The zone of member `nodeId` ('' for none, or for a node not in the ring). */
  zoneOf(nodeId: string): string {
    const i = this.memberIndex(nodeId);
    return i < 0 ? '' : (this.members[i]!.zone ?? '');
  }

  /** How many datacenters the members are in ('' counting as one). */
  get datacenters(): number {
    return this.datacenterNames.length;
  }

  /** The datacenter of member `nodeId` ('' for none, or for a node not in the ring). */
  datacenterOf(nodeId: string): string {
    const i = this.memberIndex(nodeId);
    return i < 0 ? '' : (this.members[i]!.datacenter ?? '');
  }

  /** How many nodes hold a replica of each key with `n` per datacenter: the length of every preference list. */
  replicaCount(n: number): number {
    let total = 0;
    for (const size of this.dcSizes) total += Math.min(n, size);
    return total;
  }

  /** Index of the first vnode whose token is >= `token`, wrapping to 0 past the last. */
  private successor(token: bigint): number {
    assert(token >= 0n && token < tokenSpace, 'token out of the 64-bit space');
    const t = Number(token);
    let lo = 0;
    let hi = this.tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const a = this.approx[mid]!;
      if (a < t || (a === t && this.tokens[mid]! < token)) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.tokens.length ? 0 : lo;
  }

  /**
   * The first `n` distinct physical nodes of each datacenter clockwise from `token` (fewer where a
   * datacenter has fewer nodes), in walk order. Entry 0 is the key's primary owner.
   */
  preferenceList(token: bigint, n: number): readonly string[] {
    assert(Number.isInteger(n) && n >= 1, 'a preference list has at least one node');
    if (this.tokens.length === 0) return [];
    const want = Math.min(n, this.members.length);
    const start = this.successor(token);
    const at = start * (clusterNodesMax + 1) + want;
    let list = this.walked.get(at);
    if (list === undefined) {
      list = this.walkFrom(start, want);
      this.walked.set(at, list);
    }
    return list;
  }

  /** The walk of preferenceList: `want` nodes of each datacenter (all it has, if fewer). */
  private walkFrom(start: number, want: number): readonly string[] {
    const out: string[] = [];
    const dcs = this.dcSizes.length;
    const seen = new Uint8Array(this.members.length);
    const taken = new Uint32Array(dcs);
    const total = this.replicaCount(want);
    // Per datacenter: nodes passed over because their zone is in the list already come next, in
    // walk order, once every zone of the datacenter is (Cassandra's rack-aware walk).
    const skipped: number[][] = Array.from({ length: dcs }, () => []);
    const zoneSeen = new Uint8Array(this.zoneCount);
    const zonesLeft = Uint32Array.from(this.dcZones);
    for (let step = 0; step < this.tokens.length && out.length < total; step++) {
      const owner = this.owners[(start + step) % this.tokens.length]!;
      if (seen[owner] !== 0) continue;
      seen[owner] = 1;
      const d = this.dcIndex[owner]!;
      if (taken[d]! >= want) continue;
      if (zonesLeft[d] === 0) {
        out.push(this.members[owner]!.nodeId);
        taken[d]!++;
        continue;
      }
      const z = this.zoneIndex[owner]!;
      if (zoneSeen[z] !== 0) {
        skipped[d]!.push(owner);
        continue;
      }
      zoneSeen[z] = 1;
      zonesLeft[d]!--;
      out.push(this.members[owner]!.nodeId);
      taken[d]!++;
      if (zonesLeft[d] === 0) {
        const rest = skipped[d]!;
        for (let i = 0; i < rest.length && taken[d]! < want; i++, taken[d]!++) out.push(this.members[rest[i]!]!.nodeId);
      }
    }
    assert(out.length === total, 'the walk must find every distinct node it wants');
    return Object.freeze(out);
  }

  /**
   * Every node in clockwise order from `token` (zone-aware). Each walk is kept, a list of every
   * node per vnode: for the nodes after a preference list, firstBeyond walks only as far as it must.
   */
  walk(token: bigint): readonly string[] {
    return this.preferenceList(token, this.members.length);
  }

  /**
   * The first node clockwise from `token` that is not in `skip` and that `accept` takes
   * (undefined when none): the stand-in for a replica that is down (hinted handoff). It looks
   * at lists of growing length, so a key whose next node is up costs a list of a few nodes, not
   * the walk of every node (O(nodes), and kept per vnode).
   */
  firstBeyond(token: bigint, skip: readonly string[], accept: (id: string) => boolean): string | undefined {
    const all = this.members.length;
    if (all === 0) return undefined;
    for (let want = Math.min(skip.length + 1, all); ; want = Math.min(want * 2, all)) {
      const found = this.preferenceList(token, want).find((id) => !skip.includes(id) && accept(id));
      if (found !== undefined || want === all) return found;
    }
  }

  /**
   * This ring less `nodeIds` (the ring before they joined), at the same version: who held joining
   * nodes' ranges before them. Removing nodes only merges ranges, so every key of one of this
   * ring's ranges (previous, token] has the same preference list there: the one of `token`.
   * Built once per ring and set of nodes (a few sets are kept).
   */
  without(nodeIds: readonly string[]): Ring {
    const key = [...nodeIds].sort().join('\n');
    let ring = this.lessSome.get(key);
    if (ring === undefined) {
      const gone = new Set(nodeIds);
      ring = Ring.build(this.members.filter((m) => !gone.has(m.nodeId)), this.version);
      if (this.lessSome.size >= 8) this.lessSome.clear();
      this.lessSome.set(key, ring);
    }
    return ring;
  }

  /** The tokens owned by `nodeId`, ascending. */
  tokensOf(nodeId: string): readonly bigint[] {
    const idx = this.memberIndex(nodeId);
    if (idx < 0) return [];
    // Sorted out in one pass for every member at the first ask: cluster status asks for each
    // member's, at every client's poll, and a pass per member was O(members x tokens).
    if (this.byMember === null) {
      const byMember: bigint[][] = this.members.map(() => []);
      for (let i = 0; i < this.tokens.length; i++) byMember[this.owners[i]!]!.push(this.tokens[i]!);
      this.byMember = byMember;
    }
    return this.byMember[idx]!;
  }

  /**
   * The fraction of the token space each node owns as a primary: the ranges (previous token,
   * token] summed per owner. Used by tests and the status page to show balance.
   */
  ownership(): Map<string, number> {
    const out = new Map<string, number>(this.members.map((m) => [m.nodeId, 0]));
    const v = this.tokens.length;
    for (let i = 0; i < v; i++) {
      const prev = this.tokens[(i + v - 1) % v]!;
      const cur = this.tokens[i]!;
      const span = v === 1 ? tokenSpace : (cur - prev + tokenSpace) % tokenSpace;
      const id = this.members[this.owners[i]!]!.nodeId;
      out.set(id, out.get(id)! + Number(span) / Number(tokenSpace));
    }
    return out;
  }

  /**
   * The fraction of the token space each node holds a replica of, with `n` replicas per key
   * (Cassandra's "Owns (effective)"): every range (previous token, token] counted for each node
   * of its preference list. The fractions add up to replicaCount(n).
   */
  effectiveOwnership(n: number): Map<string, number> {
    const out = new Map<string, number>(this.members.map((m) => [m.nodeId, 0]));
    const v = this.tokens.length;
    for (let i = 0; i < v; i++) {
      const prev = this.tokens[(i + v - 1) % v]!;
      const cur = this.tokens[i]!;
      const share = Number(v === 1 ? tokenSpace : (cur - prev + tokenSpace) % tokenSpace) / Number(tokenSpace);
      for (const id of this.preferenceList(cur, n)) out.set(id, out.get(id)! + share);
    }
    return out;
  }

  /**
   * The vnode ranges a node holds a replica of: every (previous token, token] whose preference
   * list of `n` nodes includes `nodeId`, with its replicas. Anti-entropy walks these. The range
   * of the first vnode wraps past the top of the ring (previous > token).
   */
  replicatedRanges(nodeId: string, n: number): Array<{ previous: bigint; token: bigint; replicas: readonly string[] }> {
    const out: Array<{ previous: bigint; token: bigint; replicas: readonly string[] }> = [];
    if (this.memberIndex(nodeId) < 0) return out;
    const v = this.tokens.length;
    for (let i = 0; i < v; i++) {
      const token = this.tokens[i]!;
      const replicas = this.preferenceList(token, n);
      if (replicas.includes(nodeId)) out.push({ previous: this.tokens[(i + v - 1) % v]!, token, replicas });
    }
    return out;
  }

  /**
   * The tokens `nodeId` holds a replica of, with `n` replicas per key, as inclusive ranges,
   * ascending, disjoint and merged where they touch (what a cleanup keeps).
   */
  replicatedTokenRanges(nodeId: string, n: number): Array<{ from: bigint; to: bigint }> {
    const pieces: Array<{ from: bigint; to: bigint }> = [];
    for (const r of this.replicatedRanges(nodeId, n)) {
      if (r.previous === r.token) {
        pieces.push({ from: 0n, to: tokenSpace - 1n }); // one vnode in the ring: all of it
      } else if (r.previous < r.token) {
        pieces.push({ from: r.previous + 1n, to: r.token });
      } else {
        if (r.previous < tokenSpace - 1n) pieces.push({ from: r.previous + 1n, to: tokenSpace - 1n });
        pieces.push({ from: 0n, to: r.token });
      }
    }
    pieces.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
    const out: Array<{ from: bigint; to: bigint }> = [];
    for (const p of pieces) {
      const last = out[out.length - 1];
      if (last !== undefined && p.from <= last.to + 1n) {
        if (p.to > last.to) last.to = p.to;
      } else out.push({ ...p });
    }
    return out;
  }

  /** True when `members` describes the same nodes with the same vnode counts, zones and datacenters as this ring. */
  sameMembers(members: readonly RingMember[]): boolean {
    if (members.length !== this.members.length) return false;
    for (const m of members) {
      const idx = this.memberIndex(m.nodeId);
      const mine = this.members[idx];
      if (mine === undefined || mine.vnodes !== m.vnodes || (mine.zone ?? '') !== (m.zone ?? '') || (mine.datacenter ?? '') !== (m.datacenter ?? '')) return false;
    }
    return true;
  }

  /**
   * 32 bits of xxhash64 over the members (id, vnodes, zone, datacenter: what decides every token
   * and preference list), in id order; never 0, which gossip reads as "does not say". Equal on
   * every node that holds the same ring, whatever its version there.
   */
  get digest(): number {
    if (this.digestValue === 0) {
      const text = this.members.map((m) => `${m.nodeId} ${m.vnodes} ${m.zone ?? ''} ${m.datacenter ?? ''}\n`).join('');
      this.digestValue = Number(native.xxhash64(utf8.encode(text), 0n) & 0xffffffffn) || 1;
    }
    return this.digestValue;
  }

  private memberIndex(nodeId: string): number {
    let lo = 0;
    let hi = this.members.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const id = this.members[mid]!.nodeId;
      if (id === nodeId) return mid;
      if (id < nodeId) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}
