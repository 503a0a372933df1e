// Hinted handoff (design.md §7.5, §10): a write meant for a replica that is down, or that did not
// take it (failed or timed out while gossip had it ALIVE), is kept as a hint by another node and
// delivered while the replica is ALIVE. Hints here live in memory,
// per target node, bounded by hintsPerNodeMax (oldest dropped first and counted): a stand-in
// that crashes loses its hints, and read repair and anti-entropy must then close the gap, as in
// Dynamo, where hints are an availability aid, never the only copy a quorum counted.
// Hints for the same key are coalesced: a newer record for the key replaces the queued one only
// after merging, so the queue holds one record per key per target.
import { hintsPerNodeMax } from '../constants';
import { assert } from '../errors';
import type { WireRecord } from '../shards/messages';

export interface Hint {
  key: Uint8Array;
  record: WireRecord;
}

export interface HintStats {
  hintsQueued: number;
  hintsStored: number;
  hintsDropped: number;
  hintsDelivered: number;
}

function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

export class HintStore {
  /** Per target node: key string → hint, in insertion order (Map keeps it). */
  private readonly byNode = new Map<string, Map<string, Hint>>();
  private readonly perNodeMax: number;
  readonly counters = { hintsStored: 0, hintsDropped: 0, hintsDelivered: 0 };

  constructor(perNodeMax = hintsPerNodeMax) {
    assert(perNodeMax >= 1, 'hint queue must hold at least one hint');
    this.perNodeMax = perNodeMax;
  }

  /**
   * Queues a hint. A hint for a key already queued replaces it (`merge` combines the two
   * records, so no version is lost); past the bound the oldest hint is dropped.
   */
  add(target: string, hint: Hint, merge: (older: WireRecord, newer: WireRecord) => WireRecord): void {
    let q = this.byNode.get(target);
    if (q === undefined) {
      q = new Map();
      this.byNode.set(target, q);
    }
    const ks = keyString(hint.key);
    const old = q.get(ks);
    if (old !== undefined) {
      q.delete(ks);
      q.set(ks, { key: hint.key, record: merge(old.record, hint.record) });
    } else {
      if (q.size >= this.perNodeMax) {
        const oldest = q.keys().next().value as string;
        q.delete(oldest);
        this.counters.hintsDropped++;
      }
      q.set(ks, hint);
    }
    this.counters.hintsStored++;
  }

  targets(): string[] {
    return [...this.byNode.entries()].filter(([, q]) => q.size > 0).map(([t]) => t);
  }

  /** Up to `max` hints for `target`, oldest first, left in the queue until `delivered`. */
  peek(target: string, max: number): Hint[] {
    const q = this.byNode.get(target);
    if (q === undefined) return [];
    const out: Hint[] = [];
    for (const h of q.values()) {
      if (out.length >= max) break;
      out.push(h);
    }
    return out;
  }

  /** Removes a delivered hint, unless a newer one for the key replaced it meanwhile. */
  delivered(target: string, hint: Hint): void {
    const q = this.byNode.get(target);
    if (q === undefined) return;
    const ks = keyString(hint.key);
    if (q.get(ks) === hint) {
      q.delete(ks);
      this.counters.hintsDelivered++;
    }
  }

  size(target?: string): number {
    if (target !== undefined) return this.byNode.get(target)?.size ?? 0;
    let n = 0;
    for (const q of this.byNode.values()) n += q.size;
    return n;
  }

  stats(): HintStats {
    return { hintsQueued: this.size(), ...this.counters };
  }
}
