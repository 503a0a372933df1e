// How far other nodes' wall clocks are from this node's. Nothing in the cluster needs clocks to
// agree for safety, but much leans on them (docs/operations.md, "Clocks"): last-write-wins picks
// the version with the later timestamp, a TTL's expiry and a tombstone's grace are instants every
// replica judges by its own clock, a version counter follows its node's clock
// (versioning/dot_counter.ts). So a node measures every peer it gossips with and says when one
// is far off, before it shows up as lost writes or early expiries.
//
// One sample per exchange, NTP's estimate from a single round trip: the peer's clock as it
// answered, against the midpoint of our send and receive times; it is off by at most half the
// round trip (the answer may have been made at any instant between the two). The newest sample
// per peer is kept; a peer counts as off only when the offset exceeds the limit by more than that
// uncertainty, so a slow exchange (a paused peer answering late) never raises a false alarm.
import { assert } from '../errors';

export interface ClockOffset {
  /** The peer's clock minus ours, in ms: positive when the peer's clock is ahead. */
  offsetMs: number;
  /** Half the round trip of the exchange measured: the true offset is within offsetMs ± this. */
  uncertaintyMs: number;
  /** Our clock when measured. */
  atMs: number;
}

export class ClockOffsets {
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
    this.byNode.set(nodeId, sample);
    const fmt = (ms: number): string => `${Math.round(ms)} ms`;
    const beyond = Math.abs(sample.offsetMs) - sample.uncertaintyMs > this.warnAboveMs;
    const within = Math.abs(sample.offsetMs) + sample.uncertaintyMs <= this.warnAboveMs;
    if (beyond && !this.off.has(nodeId)) {
      this.off.add(nodeId);
      this.log(
        `clock: WARN ${nodeId}'s clock is ${fmt(Math.abs(sample.offsetMs))} ${sample.offsetMs > 0 ? 'ahead of' : 'behind'} this node's (± ${fmt(sample.uncertaintyMs)}), ` +
          `over ${fmt(this.warnAboveMs)}: last-write-wins order, TTLs and tombstone grace go by each node's clock; sync the clocks (NTP)`,
      );
    } else if (within && this.off.delete(nodeId)) {
      this.log(`clock: ${nodeId}'s clock is within ${fmt(this.warnAboveMs)} of this node's again (${sample.offsetMs >= 0 ? '+' : '-'}${fmt(Math.abs(sample.offsetMs))} ± ${fmt(sample.uncertaintyMs)})`);
    }
  }

  /** The newest sample for `nodeId`, if it was ever measured. */
  of(nodeId: string): ClockOffset | undefined {
    return this.byNode.get(nodeId);
  }

  /** Every peer measured, with its newest sample. */
  all(): ReadonlyMap<string, ClockOffset> {
    return this.byNode;
  }

  /** Forgets a node that left the cluster. */
  forget(nodeId: string): void {
    this.byNode.delete(nodeId);
    this.off.delete(nodeId);
  }
}
