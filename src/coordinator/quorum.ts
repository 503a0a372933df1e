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
 * Replicas a write at `level` needs out of `n`: what the level needs, and in 'cp' mode never
 * fewer than a majority (design.md §10, scenario 2: the minority side of a partition refuses
 * writes). With R + W > N for every read level that is QUORUM or ALL, such a read then sees every
 * acknowledged write even when the writer asked for ONE.
 */
export function writeReplicasNeeded(level: ConsistencyLevel, n: number, mode: PartitionMode): number {
  const needed = replicasNeeded(level, n);
  return mode === 'cp' ? Math.max(needed, replicasNeeded('QUORUM', n)) : needed;
}

/** Replicas a level needs out of `n` (design.md §7.2): ONE 1, QUORUM ⌊n/2⌋+1, ALL n. */
export function replicasNeeded(level: ConsistencyLevel, n: number): number {
  assert(Number.isInteger(n) && n >= 1, 'a key has at least one replica');
  switch (level) {
    case 'ONE':
      return 1;
    case 'QUORUM':
      return Math.floor(n / 2) + 1;
    case 'ALL':
      return n;
  }
}

export type TallyState = 'waiting' | 'met' | 'failed';

export class QuorumTally {
  private oks = 0;
  private fails = 0;
  /** The first failure's reason, and how many failures were a full disk. */
  private firstFailure: string | null = null;
  private noSpaceFails = 0;

  /** `needed` of the `asked` replicas must answer well. */
  constructor(
    readonly needed: number,
    readonly asked: number,
  ) {
    assert(Number.isInteger(needed) && needed >= 1, 'a quorum needs at least one reply');
    assert(Number.isInteger(asked) && asked >= 0, 'asked is a count');
  }

  ok(): TallyState {
    this.oks++;
    assert(this.oks + this.fails <= this.asked, 'more replies than replicas asked');
    return this.state;
  }

  /** A replica failed; `reason` (its error) words the error if the level cannot be met. */
  fail(reason?: unknown): TallyState {
    this.fails++;
    if (isRingkvError(reason, ErrorCode.NoSpace)) this.noSpaceFails++;
    if (this.firstFailure === null && reason instanceof Error) this.firstFailure = reason.message;
    assert(this.oks + this.fails <= this.asked, 'more replies than replicas asked');
    return this.state;
  }

  get answered(): number {
    return this.oks;
  }

  get failed(): number {
    return this.fails;
  }

  get pending(): number {
    return this.asked - this.oks - this.fails;
  }

  /** met once `needed` answered well; failed as soon as the rest cannot make it up. */
  get state(): TallyState {
    if (this.oks >= this.needed) return 'met';
    if (this.oks + this.pending < this.needed) return 'failed';
    return 'waiting';
  }

  /**
   * The error for a tally that cannot meet its level (all replies in, or too few replicas up),
   * with the first failure's reason. When every failure was a full disk it says so in its code
   * (507 over HTTP): the client's problem is then space, not replicas down.
   */
  unavailable(level: ConsistencyLevel, what: string): RingkvError {
    const reason = this.firstFailure === null ? '' : `; first failure: ${this.firstFailure}`;
    const code = this.fails > 0 && this.noSpaceFails === this.fails ? ErrorCode.NoSpace : ErrorCode.Unavailable;
    return new RingkvError(code, `${what} at ${level} needs ${this.needed} replicas, ${this.oks} answered (${this.fails} failed, ${this.asked} reachable)${reason}`, {
      details: { needed: this.needed, answered: this.oks, failed: this.fails, reachable: this.asked, consistency: level },
    });
  }

  timeout(level: ConsistencyLevel, what: string, timeoutMs: number): RingkvError {
    return new RingkvError(ErrorCode.Timeout, `${what} at ${level} needs ${this.needed} replicas, ${this.oks} answered within ${timeoutMs} ms`, {
      details: { needed: this.needed, answered: this.oks, timeout_ms: timeoutMs, consistency: level },
    });
  }
}

/**
 * Fails fast when fewer replicas are up than the level needs: waiting for the timeout would only
 * tell the client the same thing later (Cassandra's UnavailableException).
 */
export function checkEnoughAlive(level: ConsistencyLevel, needed: number, alive: number, n: number, what: string): void {
  if (alive >= needed) return;
  // More than the level asks for: the cp floor (writeReplicasNeeded) raised it.
  const why = needed > replicasNeeded(level, n) ? ' (partition mode cp: a write needs a majority of its replicas)' : '';
  throw new RingkvError(ErrorCode.Unavailable, `${what} at ${level} needs ${needed} of ${n} replicas, only ${alive} alive${why}`, {
    details: { needed, answered: 0, alive, replicas: n, consistency: level },
  });
}
