// A node's membership service: the gossip loop of design.md §7.5 around a MembershipTable, the
// ring derived from it, and counters for the metrics endpoint. Every gossipIntervalMs the node
// advances its own heartbeat, runs the failure detector, and does a push-pull exchange of its
// whole table with one random live peer (and, now and then, a DEAD one, so a recovered node is
// noticed even if it does not call first). A node joins by exchanging with any seed address.
//
// The network, the clock and the random source are injected, so unit tests run whole clusters
// of these in simulation; the real node wires the inter-node transport in as the network.
import { clockOffsetWarnMsDefault, clusterNodesMax } from '../constants';
import { assert, ErrorCode, isRingkvError } from '../errors';
import { Ring, ringMemberOf, type RingMember } from '../ring';
import { ClockOffsets } from './clock_offsets';
import { MembershipTable, type TombstoneGraceHolder } from './table';
import type { MemberInfo, MemberLoad, MemberStatus, PeerAddress, RebuildKind, StatusChange, StorageTrouble } from './types';

export interface GossipNetwork {
  /**
   * Sends our digest to `to` and resolves with the peer's answer; rejects when unreachable.
   * `admitted`: this exchange takes `to` into the cluster (Membership.admit).
   */
  exchange(to: PeerAddress, digest: MemberInfo[], admitted?: boolean): Promise<GossipAnswer>;
}

/** What a node answers to a gossip exchange. */
export interface GossipAnswer {
  /** Its table. */
  members: MemberInfo[];
  /** Its wall clock (its wallClock()) as it answered; absent or 0 from a node that does not say. */
  wallClockMs?: number;
}

/** A member as an earlier run kept it (the coordinator's PEERS file): `leftIncarnation` for a node that had left. */
export type RememberedMember = Pick<MemberInfo, 'nodeId' | 'host' | 'httpPort' | 'peerPort' | 'vnodes' | 'zone' | 'datacenter' | 'tombstoneGraceMs'> & { leftIncarnation?: number };

export interface MembershipOptions {
  /** This node as it advertises itself (heartbeat starts at 0). */
  self: Omit<MemberInfo, 'heartbeat' | 'status'>;
  seeds: readonly PeerAddress[];
  gossipIntervalMs: number;
  suspectAfterMs: number;
  deadAfterMs: number;
  /** A peer whose clock is further than this from ours is warned of (clock_offsets.ts); clockOffsetWarnMsDefault if not given. */
  clockOffsetWarnMs?: number;
  network: GossipNetwork;
  /**
   * The clock of the failure detector, leave times and the ring's age, in ms; performance.now by
   * default. Monotonic: on the wall clock, a step back (NTP, a VM restored) would make DEAD nodes
   * ALIVE for the length of the step, and requests and hints would go to them.
   */
  monotonicNow?: () => number;
  /** The wall clock (Date.now by default): only for measuring peers' clocks (clock_offsets.ts). */
  wallClock?: () => number;
  /** Uniform in [0, 1); Math.random by default, a seeded PRNG in simulations. */
  random?: () => number;
  log?: (line: string) => void;
  /** Called every round for what the node advertises about its own data. */
  localLoad?: () => MemberLoad;
  /** Called after every status change (the coordinator replays hints on ALIVE). */
  onChange?: (change: StatusChange) => void;
  /**
   * Called with the table's members (LEFT ones too, until forgotten) when what a restart must
   * remember of them changes: the ring's members, the shortest tombstone grace or the node keeping
   * it, or a LEFT node forgotten (the coordinator keeps them on disk, PEERS). Not while this node knows no other: a file of itself alone would make a
   * data dir whose first start failed (a refused join) look used, and its next start would not
   * bootstrap.
   */
  onPeersChange?: (members: readonly MemberInfo[]) => void;
  /**
   * Called once when gossip shows this node's id from an earlier process (an older incarnation)
   * after preflight found no seed that knew it: a node whose only seed is itself, contacted by
   * the cluster it was in before.
   */
  onIdKnown?: () => void;
  /**
   * Called when the shortest tombstone grace a node keeps (MembershipTable.shortestTombstoneGrace)
   * or the node keeping it changes, and once when it is first known.
   */
  onTombstoneGrace?: (shortest: TombstoneGraceHolder) => void;
}

/** Exchanges in flight at once; a peer that hangs (SIGSTOP) must not stack up rounds. */
const exchangesInflightMax = 4;

/** Why a node must not join the cluster its seeds are in (Membership.preflight). */
export type JoinRefusal =
  | {
      reason: 'twin' | 'settings';
      /** The running node with our id (twin), or a node with other settings (settings). */
      member: MemberInfo;
    }
  | {
      /** A seed belongs to another cluster: it refused our connection (RKV_ERR_WRONG_PEER). */
      reason: 'cluster';
      seed: PeerAddress;
      message: string;
    };

export interface MembershipStats {
  gossipRounds: number;
  gossipExchanges: number;
  gossipExchangeFailures: number;
  membershipNodesJoined: number;
  membershipToSuspect: number;
  membershipToDead: number;
  membershipToAlive: number;
  membershipToLeft: number;
  /** LEFT nodes forgotten after the longest tombstone grace (table.ts forgetLeft). */
  membershipNodesForgotten: number;
  /** New nodes ignored because the table held clusterNodesMax. */
  membershipNodesRefused: number;
  /** Processes seen gossiping this node's id from a later start than ours (table.ts merge). */
  membershipIdConflicts: number;
  /** Nodes seen running with cluster settings other than ours (MemberInfo.settings). */
  membershipSettingsConflicts: number;
  /** This node's count of ring changes (Ring.version): not comparable across nodes. */
  ringVersion: number;
  /**
   * The ring's digest (Ring.digest) as a number, the same on every node holding the same ring:
   * `ringkv_ring_digest`, whose distinct values over a cluster's nodes count the rings they hold.
   */
  ringDigest: number;
}

export class Membership {
  readonly table: MembershipTable;
  private ringValue: Ring;
  /** When (this.o.monotonicNow()) the ring last changed: a cleanup waits for it to have settled. */
  private ringChangedMs: number;
  /** A seed's table listed this node's id at preflight: the cluster had it as a member before. */
  private idKnown = false;
  /** A seed other than this node answered at preflight: there is a running cluster to join. */
  private seedAnswered = false;
  /** The seed's entry for this node's id at preflight when it was LEFT (removed, or decommissioned). */
  private leftEntry: MemberInfo | null = null;
  private readonly o: Required<Omit<MembershipOptions, 'onChange' | 'localLoad' | 'onPeersChange' | 'onIdKnown' | 'onTombstoneGrace'>> &
    Pick<MembershipOptions, 'onChange' | 'localLoad' | 'onPeersChange' | 'onIdKnown' | 'onTombstoneGrace'>;
  /** The shortest tombstone grace as last seen (onTombstoneGrace was called with it). */
  private graceSeen: TombstoneGraceHolder | null = null;
  private timer: NodeJS.Timeout | undefined;
  private inflight = 0;
  private readonly counters: MembershipStats;
  /** What each exchange we started measured of the answering peer's clock. */
  readonly clockOffsets: ClockOffsets;

  constructor(options: MembershipOptions) {
    assert(options.gossipIntervalMs > 0, 'gossipIntervalMs must be positive');
    assert(options.suspectAfterMs > options.gossipIntervalMs, 'suspectAfterMs must exceed the gossip interval');
    this.o = {
      monotonicNow: () => performance.now(),
      wallClock: Date.now,
      random: Math.random,
      clockOffsetWarnMs: clockOffsetWarnMsDefault,
      log: (line: string) => process.stderr.write(`${line}\n`),
      ...options,
    };
    const now = this.o.monotonicNow();
    this.table = new MembershipTable({ ...options.self, heartbeat: 0, status: 'ALIVE' }, options, now);
    this.ringValue = Ring.build([ringMemberOf(options.self)], 1);
    this.ringChangedMs = now;
    this.clockOffsets = new ClockOffsets(this.o.clockOffsetWarnMs, clusterNodesMax, (line) => this.o.log(`membership ${this.selfId}: ${line}`));
    this.counters = {
      gossipRounds: 0,
      gossipExchanges: 0,
      gossipExchangeFailures: 0,
      membershipNodesJoined: 0,
      membershipToSuspect: 0,
      membershipToDead: 0,
      membershipToAlive: 0,
      membershipToLeft: 0,
      membershipNodesForgotten: 0,
      membershipNodesRefused: 0,
      membershipIdConflicts: 0,
      membershipSettingsConflicts: 0,
      ringVersion: 1,
      ringDigest: 0,
    };
  }

  get selfId(): string {
    return this.table.selfId;
  }

  get ring(): Ring {
    return this.ringValue;
  }

  /**
   * Takes in the members an earlier run of this node knew (its data dir's PEERS), as DEAD with
   * incarnation 0: the ring has them from the start, so until gossip reaches this node it neither
   * counts a ring of itself for a quorum nor leaves a write for them without a hint. Anything
   * gossip says of them is newer. round() probes them as it probes DEAD nodes, by node id: their
   * addresses are an earlier run's, where another node or another cluster may listen now, and the
   * connection's Hello names the node and the cluster, which a wrong one refuses before anything
   * is merged. After a whole-cluster restart with the seeds still down, they are how the others
   * find each other (with only seeds and live nodes to ask, each would hold all the others DEAD
   * until a seed came back). Their tombstone graces count toward the shortest
   * (MembershipTable.shortestTombstoneGrace) as well.
   */
  remember(peers: readonly RememberedMember[]): void {
    const entries: MemberInfo[] = peers
      .filter((p) => p.nodeId !== this.selfId)
      .map((p) => ({
        nodeId: p.nodeId,
        host: p.host,
        httpPort: p.httpPort,
        peerPort: p.peerPort,
        vnodes: p.vnodes,
        ...(p.zone ? { zone: p.zone } : {}),
        ...(p.datacenter ? { datacenter: p.datacenter } : {}),
        ...(p.tombstoneGraceMs !== undefined && { tombstoneGraceMs: p.tombstoneGraceMs }),
        // A node that left is LEFT at the incarnation it left at, as gossip had it: a later
        // process of it on its old data dir is not taken back (table.ts).
        ...(p.leftIncarnation !== undefined ? { incarnation: p.leftIncarnation, status: 'LEFT' as const } : { incarnation: 0, status: 'DEAD' as const }),
        heartbeat: 0,
        keyEstimate: 0,
        load: 0,
      }));
    this.apply(this.table.merge(entries, this.o.monotonicNow()));
  }

  /** Starts the gossip timer (unref'd: the server's sockets keep the process alive). */
  start(): void {
    assert(this.timer === undefined, 'membership already started');
    this.timer = setInterval(() => this.round(), this.o.gossipIntervalMs);
    this.timer.unref();
    this.round();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Whether preflight() found this node's id in a seed's table, or gossip has since shown it from
   * an earlier process (onIdKnown): the cluster knew a node of this id before this process (a
   * restart, or a node replaced under the same id).
   */
  get idKnownToCluster(): boolean {
    return this.idKnown;
  }

  /**
   * The entry preflight() found for this node's id when the cluster holds it LEFT: an earlier
   * process under this id was decommissioned, or removed as gone for good, and the ring has no
   * place for it; null otherwise.
   */
  get leftBeforeThisStart(): MemberInfo | null {
    return this.leftEntry;
  }

  /** Whether preflight() reached a seed other than this node: it joins a running cluster. */
  get joinsRunningCluster(): boolean {
    return this.seedAnswered;
  }

  /** Whether this node was given a seed other than itself (a first node seeds only itself). */
  get hasOtherSeeds(): boolean {
    const self = this.table.self;
    return this.o.seeds.some((s) => !(s.host === self.host && s.peerPort === self.peerPort));
  }

  /** How long ago the ring last changed, in ms. */
  get ringAgeMs(): number {
    return this.o.monotonicNow() - this.ringChangedMs;
  }

  status(nodeId: string): MemberStatus | undefined {
    return this.table.status(nodeId);
  }

  /**
   * This node has handed its ranges over: it marks itself LEFT, drops out of its own ring, and
   * tells every peer it has heard from at once (push-pull exchanges, awaited, each bounded by the
   * gossip timeout), then keeps gossiping while the process runs (a restart on the same data dir
   * is refused: decommissioned.ts). Telling them at once matters because an operator stops the
   * process as soon as the decommission answers: left to a gossip round a second, a node stopped
   * first was never heard LEFT, and the others kept it in their rings (SUSPECT, then DEAD) as a
   * replica every write hinted for and a level of ALL could never reach. Resolves with how many
   * peers heard it; the others learn it by gossip from those.
   */
  async leave(): Promise<{ told: number; peers: number }> {
    this.markSelfLeft();
    const { told, peers } = await this.tellPeers();
    return { told, peers };
  }

  /** Takes what this node says of itself (localLoad) into its own entry now, not at the next round. */
  refreshSelf(): void {
    this.table.beat(this.o.monotonicNow(), { ...this.o.localLoad?.(), ringDigest: this.ringValue.digest });
  }

  /**
   * refreshSelf, then tells every peer at once, as leave() does: for a change the others must
   * know before this node's next step (a decommission says it is leaving before it streams a
   * range). Each exchange is push-pull, so what the peers answered is merged here when this
   * resolves. `silent`: the peers that did not answer.
   */
  async announce(): Promise<{ told: number; peers: number; silent: string[] }> {
    this.refreshSelf();
    return this.tellPeers();
  }

  /** One awaited exchange with every peer heard from in this run that has not left and is not DEAD. */
  private async tellPeers(): Promise<{ told: number; peers: number; silent: string[] }> {
    const peers = this.table
      .members()
      .filter((m) => m.nodeId !== this.selfId && m.status !== 'LEFT' && m.status !== 'DEAD' && m.incarnation !== 0)
      .map((m): PeerAddress => ({ host: m.host, peerPort: m.peerPort, nodeId: m.nodeId }));
    const told = await Promise.allSettled(peers.map((to) => this.introduce(to)));
    const silent = peers.filter((_, i) => told[i]!.status === 'rejected').map((p) => p.nodeId!);
    return { told: peers.length - silent.length, peers: peers.length, silent };
  }

  /**
   * An operator removes a node that is gone for good (its machine lost): a DEAD node is marked
   * LEFT here and gossip spreads that, so every ring drops it and its ranges pass to the next
   * nodes (a repair then copies the data there). Only a DEAD node: one that is ALIVE or SUSPECT
   * may still hold writes no other replica has, and leaves by decommissioning itself.
   * Returns the status it had ('LEFT' when it already had left, which changes nothing), or
   * 'UNHEARD' for a node DEAD here only as an earlier run remembered it (Membership.remember:
   * incarnation 0), which nothing in this run has said is down, and which is not removed: the
   * mark would go nowhere (gossip of incarnation 0 is older than anything the others hold) and
   * be undone the first time this node heard of it, while this node dropped its hints for it.
   */
  removeDead(nodeId: string): MemberStatus | 'UNHEARD' | undefined {
    const status = this.table.status(nodeId);
    if (status !== 'DEAD') return status;
    if (this.table.info(nodeId)!.incarnation === 0) return 'UNHEARD';
    this.table.markLeft(nodeId, this.o.monotonicNow());
    this.apply([{ nodeId, from: 'DEAD', to: 'LEFT', atMs: this.o.monotonicNow() }]);
    return status;
  }

  /** ALIVE only: SUSPECT, DEAD and LEFT nodes are treated as down by the coordinator. */
  isAlive(nodeId: string): boolean {
    return this.table.status(nodeId) === 'ALIVE';
  }

  /** Whether the node last said it rebuilds its replica (MemberInfo.rebuilding). */
  isRebuilding(nodeId: string): boolean {
    return this.table.rebuilding(nodeId) !== null;
  }

  /** Why the node last said it rebuilds its replica; null: it does not. */
  rebuildKind(nodeId: string): RebuildKind | null {
    return this.table.rebuilding(nodeId);
  }

  /** Whether the node last said it hands its ranges over (MemberInfo.leaving). */
  isLeaving(nodeId: string): boolean {
    return this.table.info(nodeId)?.leaving === true;
  }

  /** Whether the node last said a cleanup runs on it (MemberInfo.cleaningUp). */
  isCleaningUp(nodeId: string): boolean {
    return this.table.info(nodeId)?.cleaningUp === true;
  }

  /** Whether any other ALIVE node says so: reads order replicas only then. */
  anyRebuilding(): boolean {
    return this.table.anyRebuilding();
  }

  /** Whether another ALIVE node says it holds hints for this one (MemberInfo.hintsFor): it is behind. */
  hintsHeldFor(nodeId: string): boolean {
    return this.table.hintsHeldFor(nodeId);
  }

  /** Whether ALIVE node `holder` says it holds hints for `target` (MemberInfo.hintsFor names at most gossipHintTargetsMax). */
  holdsHintsFor(holder: string, target: string): boolean {
    const m = this.table.info(holder);
    return m !== undefined && m.status === 'ALIVE' && (m.hintsFor?.includes(target) ?? false);
  }

  /** Whether any other ALIVE node says it holds hints: reads look further only then. */
  anyHintsHeld(): boolean {
    return this.table.anyHintsHeld();
  }

  /** About how many entries a member stores, as it last gossiped (0 when unknown). */
  keyEstimateOf(nodeId: string): number {
    return this.table.info(nodeId)?.keyEstimate ?? 0;
  }

  /** What the node last said of its storage (MemberInfo.storage); undefined: it takes writes. */
  storageOf(nodeId: string): StorageTrouble | undefined {
    return this.table.info(nodeId)?.storage;
  }

  peerAddress(nodeId: string): PeerAddress | undefined {
    const info = this.table.info(nodeId);
    return info === undefined ? undefined : { host: info.host, peerPort: info.peerPort, nodeId: info.nodeId };
  }

  stats(): MembershipStats {
    return { ...this.counters, ringVersion: this.ringValue.version, ringDigest: this.ringValue.digest };
  }

  /**
   * One gossip round: beat, detect, then exchange with a random live peer (a seed while we know
   * nobody), and with a DEAD node with probability dead/(live+1). Exchanges are not awaited, so a
   * hung peer never delays our own heartbeat.
   */
  round(): void {
    const now = this.o.monotonicNow();
    this.counters.gossipRounds++;
    this.refreshSelf();
    this.apply(this.table.detect(now));
    const forgotten = this.table.forgetLeft(now);
    for (const id of forgotten) {
      this.counters.membershipNodesForgotten++;
      this.o.log(`membership ${this.selfId}: ${id} LEFT longer than the longest tombstone grace; forgotten`);
    }
    if (forgotten.length > 0 && this.table.size > 1) this.o.onPeersChange?.(this.table.members());
    const live: PeerAddress[] = [];
    const dead: PeerAddress[] = [];
    for (const m of this.table.members()) {
      if (m.nodeId === this.selfId || m.status === 'LEFT') continue;
      // Incarnation 0: remembered from an earlier run, not heard from in this one (see remember()).
      (m.status === 'DEAD' || m.incarnation === 0 ? dead : live).push({ host: m.host, peerPort: m.peerPort, nodeId: m.nodeId });
    }
    const self = this.table.self;
    const seeds = this.o.seeds.filter((s) => !(s.peerPort === self.peerPort && s.host === self.host));
    if (live.length > 0) this.exchange(this.pick(live));
    else if (seeds.length > 0) this.exchange(this.pick(seeds));
    if (dead.length > 0 && this.o.random() < dead.length / (live.length + 1)) this.exchange(this.pick(dead));
  }

  /**
   * One exchange with `to`, awaited (an operator adding a node by address): both tables merge, so
   * the node there joins our membership and we join its; gossip spreads the rest. Rejects when
   * `to` does not answer.
   */
  async introduce(to: PeerAddress): Promise<void> {
    await this.exchangeAwaited(to, false);
  }

  /**
   * introduce(), taking in a node started on its own (addnode): the exchange says so, and the
   * node, its data dir new, rebuilds as a joining node (its only seed was itself, so nothing else
   * tells it that it joins a running cluster).
   */
  async admit(to: PeerAddress): Promise<void> {
    await this.exchangeAwaited(to, true);
  }

  private async exchangeAwaited(to: PeerAddress, admitted: boolean): Promise<void> {
    this.counters.gossipExchanges++;
    try {
      await this.exchangeWith(to, this.table.digest(), admitted);
    } catch (err) {
      this.counters.gossipExchangeFailures++;
      throw err;
    }
  }

  /**
   * What the node at `to` knows, without telling it anything (an empty digest: it merges
   * nothing). Rejects when it does not answer.
   */
  async peek(to: PeerAddress): Promise<MemberInfo[]> {
    return (await this.o.network.exchange(to, [])).members;
  }

  /** The receiving side of an exchange: merge the sender's digest, answer with ours. */
  handleGossip(remote: readonly MemberInfo[]): GossipAnswer {
    this.mergeRemote(remote);
    return { members: this.table.digest(), wallClockMs: this.o.wallClock() };
  }

  /** Sends `digest` to `to`, measures its clock if it is a known node, and merges its answer. */
  private async exchangeWith(to: PeerAddress, digest: MemberInfo[], admitted = false): Promise<void> {
    const sentMs = this.o.wallClock();
    const answer = await this.o.network.exchange(to, digest, admitted);
    if (to.nodeId !== undefined && answer.wallClockMs) this.clockOffsets.record(to.nodeId, sentMs, answer.wallClockMs, this.o.wallClock());
    this.mergeRemote(answer.members);
  }

  private pick<T>(from: readonly T[]): T {
    assert(from.length > 0, 'pick from an empty list');
    return from[Math.min(from.length - 1, Math.floor(this.o.random() * from.length))]!;
  }

  private exchange(to: PeerAddress): void {
    if (this.inflight >= exchangesInflightMax) return;
    this.inflight++;
    this.counters.gossipExchanges++;
    this.exchangeWith(to, this.table.digest()).then(
      () => {
        this.inflight--;
      },
      () => {
        this.inflight--;
        this.counters.gossipExchangeFailures++;
      },
    );
  }

  /** This node LEFT in its own table, and out of its own ring. */
  private markSelfLeft(): void {
    this.table.leave(this.o.monotonicNow());
    this.apply([{ nodeId: this.selfId, from: 'ALIVE', to: 'LEFT', atMs: this.o.monotonicNow() }]);
  }

  private mergeRemote(remote: readonly MemberInfo[]): void {
    this.apply(this.table.merge(remote, this.o.monotonicNow()));
    const refused = this.table.takeRefused();
    if (refused.length > 0) {
      this.counters.membershipNodesRefused += refused.length;
      this.o.log(
        `membership ${this.selfId}: ERROR the membership table holds ${clusterNodesMax} nodes, the most it may; ignored ${refused.slice(0, 5).join(', ')}${refused.length > 5 ? ` and ${refused.length - 5} more` : ''}: ` +
          `remove DEAD nodes that will not come back (DELETE /api/v1/cluster/nodes/<id>); LEFT ones are forgotten after the longest tombstone grace`,
      );
    }
    if (this.table.takeRemoved()) {
      // LEFT holds for this incarnation wherever it is gossiped, so the others will never take
      // this process back: keeping itself in its own ring would only make it coordinate writes
      // to a replica no other node reads. It leaves as they have it (no hand-over: they already
      // serve its ranges without it).
      this.markSelfLeft();
      this.o.log(
        `membership ${this.selfId}: ERROR the cluster has removed this node (DELETE /api/v1/cluster/nodes/${this.selfId}) while it did not hear from it; ` +
          `it is out of every ring now, this one's too. To bring it back, stop it and start it with a new, empty data dir: it joins again and streams its ranges`,
      );
    }
    const leftBefore = this.table.takeLeftBefore();
    if (leftBefore !== null) {
      // What preflight refuses when it reaches a seed (ClusterCoordinator.start): others do not
      // take this process back (table.ts merge), so it would only coordinate writes to a replica
      // no other node reads.
      this.markSelfLeft();
      this.o.log(
        `membership ${this.selfId}: ERROR the cluster holds this node as left (decommissioned, or removed as gone for good) since before this process started ` +
          `(the process it knew started at ${new Date(leftBefore.incarnation).toISOString()}), and this data dir misses every write made since: ` +
          `it is out of every ring now, this one's too. To bring it back, stop it and start it with a new, empty data dir: it joins again and streams its ranges`,
      );
    }
    if (!this.idKnown && this.table.earlierSelfSeen) {
      this.idKnown = true;
      this.o.onIdKnown?.();
    }
    for (const o of this.table.takeOutrun()) {
      this.o.log(
        `membership ${this.selfId}: WARN gossip knows this node from an earlier process at this address that started at ${new Date(o.earlier).toISOString()}, ` +
          `later than this one's start (${new Date(o.was).toISOString()}) by this machine's clock: is the clock behind? Incarnation ${o.was} -> ${o.earlier + 1}, so the cluster takes this process as the newer`,
      );
    }
    for (const c of this.table.takeClaims()) {
      this.counters.membershipIdConflicts++;
      this.o.log(
        `membership ${this.selfId}: ERROR another node runs with this node's id, at ${c.host}:${c.peerPort} (HTTP ${c.httpPort}), ` +
          `started after this one; the cluster now routes ${this.selfId} there. A copied data dir or a repeated --node-id: stop one of the two`,
      );
    }
    for (const m of this.table.takeMismatches()) {
      this.counters.membershipSettingsConflicts++;
      this.o.log(
        `membership ${this.selfId}: ERROR node ${m.nodeId} at ${m.host}:${m.peerPort} runs with ${m.settings}, this node with ${this.table.self.settings}: ` +
          `every node of a cluster must share them (stop the nodes and start them all with the same settings)`,
      );
    }
  }

  /**
   * Before this node gossips: asks the seeds, without telling them anything (an empty digest, so
   * they merge nothing), what they know, and says why this node must not join, or null:
   * - `cluster`: a seed is a node of another cluster (it refused the connection);
   * - `settings`: an ALIVE node there runs with cluster settings other than ours;
   * - `twin`: a node with our id is known at another peer address and answers there as our id
   *   (one that is silent there is our own earlier run at an address we no longer use).
   * When no other seed answers, the nodes PEERS remembers are asked for `settings` alone
   * (rememberedSettingsRefusal); null then, gossip finds the cluster later and merge() reports.
   * On null after a seed answered, its table is merged into ours.
   */
  async preflight(): Promise<JoinRefusal | null> {
    const self = this.table.self;
    for (const seed of this.o.seeds) {
      if (seed.host === self.host && seed.peerPort === self.peerPort) continue;
      let known: MemberInfo[];
      try {
        known = await this.peek(seed);
      } catch (err) {
        if (isRingkvError(err, ErrorCode.WrongPeer) && err.details.reason === 'cluster') return { reason: 'cluster', seed, message: err.message };
        continue;
      }
      this.seedAnswered = true;
      const ours = known.find((m) => m.nodeId === self.nodeId);
      if (ours !== undefined) this.idKnown = true;
      if (ours?.status === 'LEFT') this.leftEntry = { ...ours };
      const differing = this.runsOtherSettings(known);
      if (differing !== undefined) return { reason: 'settings', member: differing };
      const claim = known.find((m) => m.nodeId === self.nodeId && !(m.host === self.host && m.peerPort === self.peerPort) && m.status !== 'LEFT');
      if (claim !== undefined) {
        try {
          const there = await this.peek({ host: claim.host, peerPort: claim.peerPort });
          // A node counts itself ALIVE; a stale entry for our id there would not be.
          const twin = there.find((m) => m.nodeId === self.nodeId && m.host === claim.host && m.peerPort === claim.peerPort && m.status === 'ALIVE');
          if (twin !== undefined) return { reason: 'twin', member: twin };
        } catch {
          // Nobody answers there: our own earlier run's address.
        }
      }
      // Start from the seed's view, as a first gossip exchange would: a node that took requests
      // with a ring of itself alone would answer for every key (with N = 1, alone).
      this.mergeRemote(known);
      return null;
    }
    return this.rememberedSettingsRefusal();
  }

  /**
   * No seed answered, or this node is its only seed (the first node of `ringkv cluster` seeds
   * itself): the nodes of its last run, as PEERS remembers them, are asked for their settings
   * alone, so that a node restarted with another --replication or --conflict-mode is refused
   * here too and does not serve by settings its cluster does not share. Asked by id (the Hello
   * names it): whatever else listens at an old address refuses the connection and is skipped.
   * Nothing they answer is merged; gossip reaches them as remember() says.
   */
  private async rememberedSettingsRefusal(): Promise<JoinRefusal | null> {
    const earlier = this.table.members().filter((m) => m.nodeId !== this.selfId && m.incarnation === 0);
    const answers = await Promise.allSettled(earlier.map((m) => this.peek({ host: m.host, peerPort: m.peerPort, nodeId: m.nodeId })));
    for (const a of answers) {
      if (a.status !== 'fulfilled') continue;
      const differing = this.runsOtherSettings(a.value);
      if (differing !== undefined) return { reason: 'settings', member: differing };
    }
    return null;
  }

  /** An ALIVE node among `known` (another node's table) that runs with other cluster settings than ours. */
  private runsOtherSettings(known: readonly MemberInfo[]): MemberInfo | undefined {
    return known.find((m) => m.nodeId !== this.selfId && m.status === 'ALIVE' && this.table.differs(m));
  }

  /** Whether the shortest tombstone grace, or the node keeping it, changed (onTombstoneGrace told). */
  private noteGrace(): boolean {
    const g = this.table.shortestTombstoneGrace();
    if (g === null || (this.graceSeen !== null && g.nodeId === this.graceSeen.nodeId && g.ms === this.graceSeen.ms)) return false;
    this.graceSeen = g;
    this.o.onTombstoneGrace?.(g);
    return true;
  }

  private apply(changes: StatusChange[]): void {
    const graceChanged = this.noteGrace();
    for (const c of changes) {
      if (c.from === 'UNKNOWN') this.counters.membershipNodesJoined++;
      else if (c.to === 'SUSPECT') this.counters.membershipToSuspect++;
      else if (c.to === 'DEAD') this.counters.membershipToDead++;
      else if (c.to === 'ALIVE') this.counters.membershipToAlive++;
      else if (c.to === 'LEFT') this.counters.membershipToLeft++;
      if (c.to === 'LEFT') this.clockOffsets.forget(c.nodeId);
      this.o.log(`membership ${this.selfId}: ${c.nodeId} ${c.from} -> ${c.to}`);
      this.o.onChange?.(c);
    }
    // PEERS keeps addresses too: a node that moved (same tokens, same ring) is saved again, or the
    // next start's preflight and gossip probes would ask its old address in vain.
    const moved = this.table.takeMoved();
    const remembered = this.table.members().filter((m) => m.status !== 'LEFT');
    const members: RingMember[] = remembered.map(ringMemberOf);
    const ringChanged = !this.ringValue.sameMembers(members);
    if (ringChanged) {
      this.ringValue = Ring.build(members, this.ringValue.version + 1);
      this.ringChangedMs = this.o.monotonicNow();
      this.o.log(`membership ${this.selfId}: ring version ${this.ringValue.version} with ${members.length} nodes`);
      // Likely an operator's slip (one node started without --datacenter, or a cluster's first
      // node given one): the nodes without one form a datacenter of their own, which then keeps
      // N more replicas of every key and counts as a group in EACH_QUORUM. Said on every ring
      // change while it lasts, so it is in the log next to the change that caused it.
      if (this.ringValue.datacenters > 1 && this.ringValue.datacenterNames.includes('')) {
        const unplaced = members.filter((m) => (m.datacenter ?? '') === '').map((m) => m.nodeId);
        this.o.log(
          `membership ${this.selfId}: WARNING: ${unplaced.join(', ')} ${unplaced.length === 1 ? 'has' : 'have'} no datacenter while other nodes do; ` +
            `they count as a datacenter of their own ('') that keeps its own N replicas of every key: start every node with --datacenter`,
        );
      }
    }
    if ((ringChanged || graceChanged || moved) && this.table.size > 1) this.o.onPeersChange?.(this.table.members());
  }
}

