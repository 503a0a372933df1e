// When a read should stop waiting for a replica and ask another (speculative retry, Cassandra's
// rapid read protection): after the p99 of recent remote replica round trips. A replica that
// gossip still has ALIVE can be unreachable (its links cut off while its own gossip gets out) or
// stalled (a long GC or swap); without this, every read that asked it first waited for the
// request timeout although another replica could have answered at once. By the choice of p99,
// a healthy cluster pays one extra replica read for about 1 read in 100.
import { performance } from 'node:perf_hooks';
import { replicaRoundTripRecomputeEvery, replicaRoundTripSamples, speculativeRetryMsInitial, speculativeRetryMsMin } from '../constants';

export class ReplicaLatency {
  /** The last replicaRoundTripSamples round trips (ms) of remote reads that answered, all peers. */
  private readonly samples = new Float64Array(replicaRoundTripSamples);
  private filled = 0;
  private next = 0;
  private sinceRecompute = 0;
  private p99Ms = speculativeRetryMsInitial;

  /** Starts timing one remote read; call the result when it answers (not when it fails). */
  start(): () => void {
    const startedMs = performance.now();
    return () => this.record(performance.now() - startedMs);
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

  private recompute(): void {
    this.sinceRecompute = 0;
    const sorted = this.samples.slice(0, this.filled).sort();
    this.p99Ms = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
  }
}
