// How far other nodes' wall clocks are from this node's. Nothing in the cluster needs clocks to
// agree for safety, but much leans on them (docs/operations.md, "Clocks"): last-write-wins picks
// the version with the later timestamp, a TTL's expiry and a tombstone's grace are instants every
// replica judges by its own clock, a version counter follows its node's clock
// (versioning/dot_counter.ts). So a node measures every peer it gossips with and says when one
// is far off, before it shows up as lost writes or early expiries.
//
// One sample per exchange, NTP's estimate from a single round trip: the peer's clock as it
// answered, against the midpoint of our send and receive times; it is off by at most half the
// round trip (the answer may have been made at any instant between the two). Of the last
// clockSamplesMax samples per peer, none older than clockSampleAgeMaxMs, the one with the shortest
// round trip is the estimate (NTP's clock filter, RFC 5905 §10): one slow exchange (a busy event
// loop, a paused peer answering late) then neither widens the doubt nor moves the estimate. Each
// sample bounds the offset to an interval; a new sample whose interval misses an older one's says
// a clock was stepped (or drifted) since, so that older sample is dropped, and a corrected clock
// is seen at the next exchange. A peer counts as off only when the estimate exceeds the limit by
// more than its uncertainty, so a slow exchange never raises a false alarm.
import { clockSampleAgeMaxMs, clockSamplesMax } from '../constants';
import { assert } from '../errors';

export interface ClockOffset {
  /** The peer's clock minus ours, in ms: positive when the peer's clock is ahead. */
  offsetMs: number;
  /** Half the round trip of the exchange measured: the true offset is within offsetMs ± this. */
  uncertaintyMs: number;
  /** Our clock when measured. */
  atMs: number;
}

function consistent(a: ClockOffset, b: ClockOffset): boolean {
  return Math.abs(a.offsetMs - b.offsetMs) <= a.uncertaintyMs + b.uncertaintyMs;
}

export class ClockOffsets {
  /** Each peer's recent samples, oldest first (at most clockSamplesMax). */
  private readonly samples = new Map<string, ClockOffset[]>();
  /** Each peer's estimate: the sample of `samples` with the shortest round trip (the newest of equals). */
  private readonly byNode = new Map<string, ClockOffset>();
  /** Peers currently reported as off (logged once when they go off, once when they come back). */
  private readonly off = new Set<string>();

  constructor(
    private readonly warnAboveMs: number,
    private readonly nodesMax: number,
    private readonly log: (line: string) => void,
  ) {
    assert(warnAboveMs > 0, 'clock offset warning limit must be positive');
  }

  /**
   * One exchange with `nodeId`: sent at `sentMs` and answered at `receivedMs` by our clock, with
   * the peer's clock reading `peerClockMs` as it answered.
   */
  record(nodeId: string, sentMs: number, peerClockMs: number, receivedMs: number): void {
    // Our own clock stepped back during the exchange: no round trip to bound the sample by.
    if (!(receivedMs >= sentMs) || !(peerClockMs > 0)) return;
    if (!this.byNode.has(nodeId) && this.byNode.size >= this.nodesMax) return; // bounded like the membership table
    const sample: ClockOffset = { offsetMs: peerClockMs - (sentMs + receivedMs) / 2, uncertaintyMs: (receivedMs - sentMs) / 2, atMs: receivedMs };
    // Kept: recent samples (by our clock, which may have stepped back too) that agree with this one.
    const kept = (this.samples.get(nodeId) ?? []).filter((x) => x.atMs <= receivedMs && receivedMs - x.atMs <= clockSampleAgeMaxMs && consistent(x, sample));
    kept.push(sample);
    if (kept.length > clockSamplesMax) kept.shift();
    let best = sample;
    for (const x of kept) if (x.uncertaintyMs < best.uncertaintyMs) best = x;
    this.samples.set(nodeId, kept);
    this.byNode.set(nodeId, best);

    const fmt = (ms: number): string => `${Math.round(ms)} ms`;
    const beyond = Math.abs(best.offsetMs) - best.uncertaintyMs > this.warnAboveMs;
    const within = Math.abs(best.offsetMs) + best.uncertaintyMs <= this.warnAboveMs;
    if (beyond && !this.off.has(nodeId)) {
      this.off.add(nodeId);
      this.log(
        `clock: WARN ${nodeId}'s clock is ${fmt(Math.abs(best.offsetMs))} ${best.offsetMs > 0 ? 'ahead of' : 'behind'} this node's (± ${fmt(best.uncertaintyMs)}), ` +
          `over ${fmt(this.warnAboveMs)}: last-write-wins order, TTLs and tombstone grace go by each node's clock; sync the clocks (NTP)`,
      );
    } else if (within && this.off.delete(nodeId)) {
      this.log(`clock: ${nodeId}'s clock is within ${fmt(this.warnAboveMs)} of this node's again (${best.offsetMs >= 0 ? '+' : '-'}${fmt(Math.abs(best.offsetMs))} ± ${fmt(best.uncertaintyMs)})`);
    }
  }

  /** The estimate for `nodeId`, if it was ever measured. */
  of(nodeId: string): ClockOffset | undefined {
    return this.byNode.get(nodeId);
  }

  /** Every peer measured, with its estimate. */
  all(): ReadonlyMap<string, ClockOffset> {
    return this.byNode;
  }

  /** Forgets a node that left the cluster. */
  forget(nodeId: string): void {
    this.samples.delete(nodeId);
    this.byNode.delete(nodeId);
    this.off.delete(nodeId);
  }
}
