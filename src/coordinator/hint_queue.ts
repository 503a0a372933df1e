// One target node's queued hints (hinted_handoff.ts): found by key, walked oldest first, a hint
// taken again for a key moving to the back.
//
// A hint taken again for a key already queued replaces it in place in the Map (and moves to the
// back of the order): the Map is not deleted from and set again per hint, which is what this was.
// While a replica is down its queue lives for minutes, so its Map is in the old generation, and a
// Map that is deleted from and added to is rehashed every few operations; each table it leaves
// behind keeps the entries it held, and being old itself it is a root for every scavenge until
// the next full collection. A node writing a few hot keys with a replica down then kept every hint
// it had replaced since that collection alive, copied by each scavenge (median 1.2 MB surviving a
// scavenge with 10 hot keys, against 7 KB without full collections between, ad hoc;
// test/unit/coordinator/hint_queue.test.ts pins it down). A hint that leaves (delivered, dropped,
// expired) is deleted from the Map: those are old hints, and a rehash that follows keeps only what
// was queued then. Order is an array, a hint's place nulled when it leaves or is replaced,
// compacted in place once the holes outnumber the hints; taking the oldest is the array's head,
// not a walk over a Map's deleted entries from its front (which made every add past the target's
// bound cost a walk over thousands).
import { assert } from '../errors';

/** What the queue needs of a hint: its key and a place of its own to keep its slot in. */
export interface Queueable {
  /** The key as a latin1 byte string (byte_string.ts), the queue's key for it. */
  readonly ks: string;
  /** The hint's index in its queue's order (the queue's to set; -1 when in no queue). */
  queueAt: number;
}

/** Holes tolerated in the order past the count of hints before it is compacted. */
const holesSlack = 64;

export class HintQueue<H extends Queueable> {
  private readonly byKey = new Map<string, H>();
  /**
   * Hints in order at [head, tail), holes null. The array is not shortened while hints are queued
   * (a large array cut short and grown again is reallocated each time), so past tail it holds
   * nulls, up to about twice the most hints queued at once.
   */
  private readonly order: Array<H | null> = [];
  private head = 0;
  private tail = 0;
  /** recordBytes of the hints queued, kept by the owner. */
  bytes = 0;

  get size(): number {
    return this.byKey.size;
  }

  get(ks: string): H | undefined {
    return this.byKey.get(ks);
  }

  /** Queues `h` at the back; the hint queued for its key, if any, must be `replacing`. */
  push(h: H, replacing?: H): void {
    assert(h.queueAt === -1, 'a hint in two queues');
    if (replacing !== undefined) {
      assert(replacing.ks === h.ks, 'a hint replacing the hint of another key');
      this.unlink(replacing);
    } else {
      assert(!this.byKey.has(h.ks), 'a hint queued twice for one key');
    }
    // In place when replacing: the Map gets no new entry and loses none.
    this.byKey.set(h.ks, h);
    h.queueAt = this.tail;
    if (this.tail === this.order.length) this.order.push(h);
    else this.order[this.tail] = h;
    this.tail++;
    // A replacement leaves a hole as a removal does.
    if (replacing !== undefined) this.tidy();
  }

  /** Takes `h` out of the queue; it must be the hint queued for its key. */
  remove(h: H): void {
    this.unlink(h);
    this.byKey.delete(h.ks);
    this.tidy();
  }

  oldest(): H | undefined {
    return this.head < this.tail ? (this.order[this.head] as H) : undefined;
  }

  /** Oldest first. The queue must not change while the walk goes on (collect, then remove). */
  *values(): IterableIterator<H> {
    for (let i = this.head; i < this.tail; i++) {
      const h = this.order[i];
      if (h !== null && h !== undefined) yield h;
    }
  }

  /** Checks that the order and the keys agree (tests). */
  checkInvariants(): void {
    let n = 0;
    for (let i = 0; i < this.order.length; i++) {
      const h = this.order[i];
      if (h === null || h === undefined) continue;
      assert(i >= this.head && i < this.tail && h.queueAt === i && this.byKey.get(h.ks) === h, `hint queue: the hint at ${i} is misplaced`);
      n++;
    }
    assert(n === this.byKey.size, 'hint queue: the order and the keys differ');
    assert(this.head === this.tail || this.order[this.head] !== null, 'hint queue head');
    assert(this.tail - this.byKey.size <= this.byKey.size + holesSlack, 'hint queue: holes over their bound');
  }

  /** Takes `h`'s place in the order (its key stays in the Map). */
  private unlink(h: H): void {
    assert(h.queueAt >= this.head && this.order[h.queueAt] === h && this.byKey.get(h.ks) === h, 'removing a hint that is not queued');
    this.order[h.queueAt] = null;
    h.queueAt = -1;
    while (this.head < this.tail && this.order[this.head] === null) this.head++;
  }

  /** Compacts the order in place once its holes outnumber the hints (by holesSlack). */
  private tidy(): void {
    if (this.tail - this.byKey.size <= this.byKey.size + holesSlack && this.byKey.size > 0) return;
    let w = 0;
    for (let r = this.head; r < this.tail; r++) {
      const h = this.order[r];
      if (h === null || h === undefined) continue;
      h.queueAt = w;
      this.order[w++] = h;
    }
    // Emptied (the replica caught up): the array goes, not just its contents.
    if (w === 0) this.order.length = 0;
    else this.order.fill(null, w, this.tail);
    this.head = 0;
    this.tail = w;
  }
}
