// Reply counting for one quorum request, apart from any I/O (riak_kv keeps this in its own pure
// module beside the put/get state machines). A tally knows how many replicas the consistency
// level needs, how many were asked, and how many answered well or badly; from that alone it says
// whether the request is still waiting, has met its level, or can no longer meet it. The
// structured errors carry {needed, answered} so a client sees why.
import { assert, ErrorCode, isRingkvError, RingkvError } from '../errors';
import type { ConsistencyLevel } from './types';

/** ClusterOptions.partitionMode: whether writes take a floor of QUORUM (cp) or not (ap). */
export type PartitionMode = 'ap' | 'cp';

/**
 * Where a cluster's nodes are in more than one datacenter: which one each replica is in, and the
 * coordinator's own. Null where there is one datacenter (or none): the levels then count every
 * replica alike.
 */
export interface DatacenterView {
  /** The coordinator's datacenter. */
  readonly local: string;
  /** Every datacenter of the ring. */
  readonly names: readonly string[];
  of(nodeId: string): string;
}

/**
 * Replicas a write at `level` needs out of `n`: what the level needs, and in 'cp' mode never
 * fewer than a majority (design.md §10, scenario 2: the minority side of a partition refuses
 * writes). With R + W > N for every read level that is QUORUM or ALL, such a read then sees every
 * acknowledged write even when the writer asked for ONE.
 */
export function writeReplicasNeeded(level: ConsistencyLevel, n: number, mode: PartitionMode): number {
  const needed = replicasNeeded(level, n);
  return mode === 'cp' ? Math.max(needed, replicasNeeded('QUORUM', n)) : needed;
}

/**
 * The level a conditional write (If-Match) reads its key at to check the version: its own, and in
 * 'cp' mode never below the floor its write takes (writeReplicasNeeded; LOCAL_QUORUM for the
 * LOCAL_* levels). The check then overlaps every acknowledged write's majority, as a read at the
 * floor does; at ONE it would take the coordinator's own copy, which a write acknowledged while
 * that replica was down never reached.
 */
export function conditionalReadLevel(level: ConsistencyLevel, mode: PartitionMode): ConsistencyLevel {
  if (mode === 'ap') return level;
  if (level === 'ONE') return 'QUORUM';
  if (level === 'LOCAL_ONE') return 'LOCAL_QUORUM';
  return level;
}

/**
 * Replicas a level needs out of the `n` it counts (design.md §7.2): ONE 1, QUORUM ⌊n/2⌋+1, ALL n;
 * the datacenter levels as their plain ones over the replicas they count (tallyFor).
 */
export function replicasNeeded(level: ConsistencyLevel, n: number): number {
  assert(Number.isInteger(n) && n >= 1, 'a key has at least one replica');
  switch (level) {
    case 'ONE':
    case 'LOCAL_ONE':
      return 1;
    case 'QUORUM':
    case 'LOCAL_QUORUM':
    case 'EACH_QUORUM':
      return Math.floor(n / 2) + 1;
    case 'ALL':
      return n;
  }
}

/** A group of replicas a level counts on its own: its datacenter ('' for all of them), how many it needs, how many were asked. */
interface Group {
  readonly datacenter: string;
  readonly needed: number;
  readonly asked: number;
  oks: number;
  fails: number;
}

/**
 * The tally for one request at `level` over `up`, the live replicas of its preference list, with
 * `n` replicas per datacenter; throws Unavailable at once when too few are up (checkEnoughAlive).
 * `mode` is the partition mode for a write, null for a read. Quorum math is over `n`, not over
 * the preference list: a node whose ring is short of N nodes (restarted and not told of its peers
 * yet, or a cluster smaller than N) must not take one copy for a QUORUM. Across datacenters,
 * ONE, QUORUM and ALL count over every replica (N per datacenter), LOCAL_* over the coordinator's
 * datacenter's, EACH_QUORUM a quorum in each; the cp floor of a LOCAL_* write is LOCAL_QUORUM.
 */
export function tallyFor(level: ConsistencyLevel, n: number, mode: PartitionMode | null, up: readonly string[], dcs: DatacenterView | null, what: string): QuorumTally {
  if (dcs === null || dcs.names.length < 2) {
    const plain = level === 'LOCAL_ONE' ? 'ONE' : level === 'LOCAL_QUORUM' || level === 'EACH_QUORUM' ? 'QUORUM' : level;
    const needed = needs(plain, n, mode);
    checkEnoughAlive(level, needed, up.length, n, what);
    return new QuorumTally(needed, up.length);
  }
  if (level === 'ONE' || level === 'QUORUM' || level === 'ALL') {
    const total = n * dcs.names.length;
    const needed = needs(level, total, mode);
    checkEnoughAlive(level, needed, up.length, total, what);
    return new QuorumTally(needed, up.length);
  }
  const names = level === 'EACH_QUORUM' ? dcs.names : [dcs.local];
  const needed = needs(level, n, mode); // the same in every datacenter: N each
  const groups: Group[] = names.map((datacenter) => {
    const asked = up.reduce((count, id) => (dcs.of(id) === datacenter ? count + 1 : count), 0);
    checkEnoughAlive(level, needed, asked, n, what, datacenter);
    return { datacenter, needed, asked, oks: 0, fails: 0 };
  });
  return QuorumTally.grouped(groups, (id) => names.indexOf(dcs.of(id)));
}

/** What a read (`mode` null) or a write at `level` needs of `count` replicas. */
function needs(level: ConsistencyLevel, count: number, mode: PartitionMode | null): number {
  return mode === null ? replicasNeeded(level, count) : writeReplicasNeeded(level, count, mode);
}

export type TallyState = 'waiting' | 'met' | 'failed';

export class QuorumTally {
  // Set once, here or by grouped().
  private groups: Group[];
  /** Which group a replica counts in (-1: none, as another datacenter's at LOCAL_*); null: one group of every replica. */
  private groupOf: ((nodeId: string) => number) | null;
  /** The first failure's reason, and how many failures were a full disk. */
  private firstFailure: string | null = null;
  private noSpaceFails = 0;

  /** `needed` of the `asked` replicas must answer well. */
  constructor(needed: number, asked: number) {
    assert(Number.isInteger(needed) && needed >= 1, 'a quorum needs at least one reply');
    assert(Number.isInteger(asked) && asked >= 0, 'asked is a count');
    this.groups = [{ datacenter: '', needed, asked, oks: 0, fails: 0 }];
    this.groupOf = null;
  }

  /** Every group must meet its own count; replicas `groupOf` puts in none are not counted. */
  static grouped(groups: Group[], groupOf: (nodeId: string) => number): QuorumTally {
    assert(groups.length >= 1, 'a tally has a group');
    const t = new QuorumTally(groups[0]!.needed, groups[0]!.asked);
    t.groups = groups;
    t.groupOf = groupOf;
    return t;
  }

  /** Whether `nodeId`'s answer counts toward the level (every replica's does but at LOCAL_*). */
  counts(nodeId: string): boolean {
    return this.groupOf === null || this.groupOf(nodeId) >= 0;
  }

  /** Whether the level needs answers from more than one datacenter on their own (EACH_QUORUM across datacenters). */
  get perDatacenter(): boolean {
    return this.groups.length > 1;
  }

  /** Replicas the level needs in all. */
  get needed(): number {
    return this.sum((g) => g.needed);
  }

  /** Replicas whose answers count that were asked. */
  get asked(): number {
    return this.sum((g) => g.asked);
  }

  ok(nodeId?: string): TallyState {
    const g = this.groupFor(nodeId);
    if (g !== undefined) {
      g.oks++;
      assert(g.oks + g.fails <= g.asked, 'more replies than replicas asked');
    }
    return this.state;
  }

  /** A replica failed; `reason` (its error) words the error if the level cannot be met. */
  fail(reason?: unknown, nodeId?: string): TallyState {
    const g = this.groupFor(nodeId);
    if (g !== undefined) {
      g.fails++;
      if (isRingkvError(reason, ErrorCode.NoSpace)) this.noSpaceFails++;
      if (this.firstFailure === null && reason instanceof Error) this.firstFailure = reason.message;
      assert(g.oks + g.fails <= g.asked, 'more replies than replicas asked');
    }
    return this.state;
  }

  /** Good answers that count. */
  get answered(): number {
    return this.sum((g) => g.oks);
  }

  get failed(): number {
    return this.sum((g) => g.fails);
  }

  get pending(): number {
    return this.sum((g) => g.asked - g.oks - g.fails);
  }

  /** met once every group has its count; failed as soon as one group's rest cannot make it up. */
  get state(): TallyState {
    let met = true;
    for (const g of this.groups) {
      if (g.oks >= g.needed) continue;
      if (g.asked - g.fails < g.needed) return 'failed';
      met = false;
    }
    return met ? 'met' : 'waiting';
  }

  /**
   * The error for a tally that cannot meet its level (all replies in, or too few replicas up),
   * with the first failure's reason. When every failure was a full disk it says so in its code
   * (507 over HTTP): the client's problem is then space, not replicas down.
   */
  unavailable(level: ConsistencyLevel, what: string): RingkvError {
    const reason = this.firstFailure === null ? '' : `; first failure: ${this.firstFailure}`;
    const fails = this.failed;
    const code = fails > 0 && this.noSpaceFails === fails ? ErrorCode.NoSpace : ErrorCode.Unavailable;
    return new RingkvError(code, `${what} at ${level} needs ${this.needed} replicas${this.where()}, ${this.answered} answered (${fails} failed, ${this.asked} reachable)${reason}`, {
      details: { needed: this.needed, answered: this.answered, failed: fails, reachable: this.asked, consistency: level },
    });
  }

  timeout(level: ConsistencyLevel, what: string, timeoutMs: number): RingkvError {
    return new RingkvError(ErrorCode.Timeout, `${what} at ${level} needs ${this.needed} replicas${this.where()}, ${this.answered} answered within ${timeoutMs} ms`, {
      details: { needed: this.needed, answered: this.answered, timeout_ms: timeoutMs, consistency: level },
    });
  }

  /** ' (2 in dc east, 2 in dc west)' for a tally by datacenter; '' for one of every replica. */
  private where(): string {
    if (this.groupOf === null) return '';
    return ` (${this.groups.map((g) => `${g.needed} in datacenter ${g.datacenter || '(none)'}: ${g.oks} answered`).join('; ')})`;
  }

  private groupFor(nodeId: string | undefined): Group | undefined {
    if (this.groupOf === null) return this.groups[0];
    assert(nodeId !== undefined, 'a tally by datacenter needs the replica that answered');
    return this.groups[this.groupOf(nodeId)];
  }

  private sum(f: (g: Group) => number): number {
    let total = 0;
    for (const g of this.groups) total += f(g);
    return total;
  }
}

/**
 * Fails fast when fewer replicas are up than the level needs: waiting for the timeout would only
 * tell the client the same thing later (Cassandra's UnavailableException).
 */
export function checkEnoughAlive(level: ConsistencyLevel, needed: number, alive: number, n: number, what: string, datacenter?: string): void {
  if (alive >= needed) return;
  // More than the level asks for: the cp floor (writeReplicasNeeded) raised it.
  const why = needed > replicasNeeded(level, n) ? ' (partition mode cp: a write needs a majority of its replicas)' : '';
  const where = datacenter === undefined ? '' : ` in datacenter ${datacenter || '(none)'}`;
  throw new RingkvError(ErrorCode.Unavailable, `${what} at ${level} needs ${needed} of ${n} replicas${where}, only ${alive} alive${why}`, {
    details: { needed, answered: 0, alive, replicas: n, consistency: level, ...(datacenter !== undefined && { datacenter }) },
  });
}
