// One target node's queued hints (hinted_handoff.ts): found by key, walked oldest first, a hint
// taken again for a key moving to the back.
//
// Not a Map that hints are deleted from and set again, which is what this was. While a replica is
// down its queue lives for minutes, so its Map is in the old generation, and a Map that is
// deleted from and added to is rehashed again and again; each table it leaves behind keeps the
// entries it held, and being old itself it is a root for every scavenge until the next full
// collection. A node writing a few hot keys with a replica down then kept every hint it had
// replaced since that collection alive, copied by each scavenge (ad hoc: median 1.3 MB surviving a
// scavenge with 10 hot keys, against 7 KB without full collections between;
// test/unit/coordinator/hint_queue.test.ts pins it down). Here nothing is deleted from the Map: a
// key whose hint leaves keeps its entry, set to null, until the Map is built afresh (after as many
// removals as there are hints, so at most twice the keys). Replacing a key's hint sets its value in
// place. Order is an array, a hint's place nulled when it leaves, compacted in place once the holes
// outnumber the hints.
import { assert } from '../errors';

/** What the queue needs of a hint: its key and a place of its own to keep its slot in. */
export interface Queueable {
  /** The key as a latin1 byte string (byte_string.ts), the queue's key for it. */
  readonly ks: string;
  /** The hint's index in its queue's order (the queue's to set; -1 when in no queue). */
  queueAt: number;
}

/** Removals (or holes) tolerated past the live count before the Map (or the order) is rebuilt. */
const slackMin = 1024;

export class HintQueue<H extends Queueable> {
  private byKey = new Map<string, H | null>();
  private readonly order: Array<H | null> = [];
  /** order[0, head) are all null: hints taken from the front. */
  private head = 0;
  private live = 0;
  /** recordBytes of the hints queued, kept by the owner. */
  bytes = 0;

  get size(): number {
    return this.live;
  }

  /** Keys in the Map whose hint has left (their entries set to null). */
  private get removedKeys(): number {
    return this.byKey.size - this.live;
  }

  get(ks: string): H | undefined {
    return this.byKey.get(ks) ?? undefined;
  }

  /**
   * Queues `h` at the back; its key must not be queued (the caller looked it up and removed the
   * old hint: checking again here would be a second lookup per hint, so checkInvariants does).
   */
  push(h: H): void {
    assert(h.queueAt === -1, 'a hint in two queues');
    this.byKey.set(h.ks, h);
    h.queueAt = this.order.length;
    this.order.push(h);
    this.live++;
  }

  /** Takes `h` out of the queue; it must be the hint queued for its key. */
  remove(h: H): void {
    assert(h.queueAt >= this.head && this.order[h.queueAt] === h && this.byKey.get(h.ks) === h, 'removing a hint that is not queued');
    this.order[h.queueAt] = null;
    h.queueAt = -1;
    this.byKey.set(h.ks, null);
    this.live--;
    while (this.head < this.order.length && this.order[this.head] === null) this.head++;
    if (this.removedKeys > this.live + slackMin) this.rebuildKeys();
    if (this.order.length - this.live > this.live + slackMin || this.live === 0) this.compact();
  }

  oldest(): H | undefined {
    return this.head < this.order.length ? (this.order[this.head] as H) : undefined;
  }

  /** Oldest first. The queue must not change while the walk goes on (collect, then remove). */
  *values(): IterableIterator<H> {
    for (let i = this.head; i < this.order.length; i++) {
      const h = this.order[i];
      if (h !== null && h !== undefined) yield h;
    }
  }

  /** Checks that the order, the keys and the counts agree (tests). */
  checkInvariants(): void {
    let n = 0;
    for (let i = 0; i < this.order.length; i++) {
      const h = this.order[i];
      if (h === null || h === undefined) continue;
      assert(i >= this.head && h.queueAt === i && this.byKey.get(h.ks) === h, `hint queue: the hint at ${i} is misplaced`);
      n++;
    }
    let keys = 0;
    let nulls = 0;
    for (const v of this.byKey.values()) {
      if (v === null) nulls++;
      else keys++;
    }
    assert(n === this.live && keys === this.live && nulls === this.removedKeys, 'hint queue counts');
    assert(this.head === this.order.length || this.order[this.head] !== null, 'hint queue head');
  }

  /** A fresh Map of the queued hints only: the old one, nulls and all, is garbage as a whole. */
  private rebuildKeys(): void {
    const byKey = new Map<string, H | null>();
    for (const h of this.values()) byKey.set(h.ks, h);
    this.byKey = byKey;
  }

  /** Moves the queued hints to the front of the same array, keeping their order. */
  private compact(): void {
    let w = 0;
    for (let r = this.head; r < this.order.length; r++) {
      const h = this.order[r];
      if (h === null || h === undefined) continue;
      h.queueAt = w;
      this.order[w++] = h;
    }
    this.order.length = w;
    this.head = 0;
  }
}
