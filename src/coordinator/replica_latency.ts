// When a read should stop waiting for a replica and ask another (speculative retry, Cassandra's
// rapid read protection), which replicas reads should ask last, and whose turn it is among those
// equally good to ask (the reads of a hot key take turns over them). A replica that gossip still
// has ALIVE can be unreachable (its links cut off while its own gossip gets out) or stalled (a
// long GC or swap); without this, every read that asked it first waited for the request timeout
// although another replica could have answered at once.
//  - A read waits the p99 of recent remote round trips before its speculative ask: a healthy
//    cluster pays one extra replica read for about 1 read in 100.
//  - Speculative asks come out of a budget (speculativeRetryBudgetShare of the remote reads), so
//    an overloaded cluster, where every read is slower than the last p99, is not sent more reads.
//  - A replica that let a read time out is asked last for slowReplicaAvoidMs, so a silent one
//    costs a speculative ask now and then, not one per read.
import { performance } from 'node:perf_hooks';
import {
  replicaRoundTripRecomputeEvery,
  replicaRoundTripSamples,
  slowReplicaAvoidMs,
  speculativeRetryBudgetShare,
  speculativeRetryBurst,
  speculativeRetryMsInitial,
  speculativeRetryMsMin,
} from '../constants';

export class ReplicaLatency {
  /** The last replicaRoundTripSamples round trips (ms) of remote reads that answered, all peers. */
  private readonly samples = new Float64Array(replicaRoundTripSamples);
  private filled = 0;
  private next = 0;
  private sinceRecompute = 0;
  private p99Ms = speculativeRetryMsInitial;
  /** Speculative asks that may be made now. */
  private budget = speculativeRetryBurst;
  /** node id → until when (performance.now() ms) reads ask it last. */
  private readonly avoidUntil = new Map<string, number>();
  /** Reads ranked so far: which of the equally good replicas a read starts at (quorum_reads.ts). */
  private turn = 0;

  constructor(private readonly nowMs: () => number = () => performance.now()) {}

  /** One remote read is asked now: adds to the budget and returns its start, for answered(). */
  asked(): number {
    this.budget = Math.min(speculativeRetryBurst, this.budget + speculativeRetryBudgetShare);
    return this.nowMs();
  }

  /** The remote read asked at `startedMs` answered (not called when it fails). */
  answered(startedMs: number): void {
    this.record(this.nowMs() - startedMs);
  }

  record(roundTripMs: number): void {
    this.samples[this.next] = roundTripMs;
    this.next = (this.next + 1) % this.samples.length;
    if (this.filled < this.samples.length) this.filled++;
    if (++this.sinceRecompute >= replicaRoundTripRecomputeEvery) this.recompute();
  }

  /** How long a read with `timeoutMs` waits for its replicas before it asks one more. */
  speculateAfterMs(timeoutMs: number): number {
    return Math.max(speculativeRetryMsMin, Math.min(this.p99Ms, timeoutMs / 2));
  }

  /** Takes one speculative ask from the budget; false when it is spent. */
  takeSpeculation(): boolean {
    if (this.budget < 1) return false;
    this.budget--;
    return true;
  }

  /** The next read's turn among the replicas that are equally good to ask. */
  nextTurn(): number {
    const t = this.turn;
    this.turn = (t + 1) % 0x4000_0000;
    return t;
  }

  /** A read of `nodeId` timed out: reads ask it last for a while. */
  gaveUpOn(nodeId: string): void {
    this.avoidUntil.set(nodeId, this.nowMs() + slowReplicaAvoidMs);
  }

  /** Whether any replica is being asked last (the common case, none, costs reads nothing). */
  get avoiding(): boolean {
    if (this.avoidUntil.size === 0) return false;
    const now = this.nowMs();
    for (const [id, until] of this.avoidUntil) if (until <= now) this.avoidUntil.delete(id);
    return this.avoidUntil.size > 0;
  }

  /** Whether reads should ask `nodeId` last now. */
  avoided(nodeId: string): boolean {
    const until = this.avoidUntil.get(nodeId);
    if (until === undefined) return false;
    if (until > this.nowMs()) return true;
    this.avoidUntil.delete(nodeId);
    return false;
  }

  private recompute(): void {
    this.sinceRecompute = 0;
    const sorted = this.samples.slice(0, this.filled).sort();
    this.p99Ms = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
  }
}
