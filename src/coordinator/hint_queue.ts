// One target node's queued hints (hinted_handoff.ts): found by key, walked oldest first, a hint
// taken again for a key taking the place of the one it replaces (it is as old as the oldest write
// in it: hinted_handoff.ts).
//
// A hint taken again for a key already queued replaces it in place in the Map (and in the order):
// the Map is not deleted from and set again per hint, which is what this was.
// While a replica is down its queue lives for minutes, so its Map is in the old generation, and a
// Map that is deleted from and added to is rehashed every few operations; each table it leaves
// behind keeps the entries it held, and being old itself it is a root for every scavenge until
// the next full collection. A node writing a few hot keys with a replica down then kept every hint
// it had replaced since that collection alive, copied by each scavenge (median 1.2 MB surviving a
// scavenge with 10 hot keys, against 7 KB without full collections between, ad hoc;
// test/unit/coordinator/hint_queue.test.ts pins it down). A hint that leaves (delivered, dropped,
// expired) is deleted from the Map: those are old hints, and a rehash that follows keeps only what
// was queued then. The order is a SlotQueue (slot_queue.ts): taking the oldest is its head, not a
// walk over a Map's deleted entries from its front (which made every add past the target's bound
// cost a walk over thousands).
import { assert } from '../errors';
import { SlotQueue, type Slotted } from '../slot_queue';

/** What the queue needs of a hint: its key, and a place of its own in the order. */
export interface Queueable extends Slotted {
  /** The key as a latin1 byte string (byte_string.ts), the queue's key for it. */
  readonly ks: string;
}

export class HintQueue<H extends Queueable> {
  private readonly byKey = new Map<string, H>();
  private readonly order = new SlotQueue<H>();
  /** recordBytes of the hints queued, kept by the owner. */
  bytes = 0;
  /**
   * Kept by the owner: the latest creation time queued, and whether a hint was queued out of that
   * order (one handed on with its age, or merged into a newer one's place), which makes the
   * oldest no longer the first.
   */
  newestCreatedMs = Number.NEGATIVE_INFINITY;
  unordered = false;

  get size(): number {
    return this.byKey.size;
  }

  get(ks: string): H | undefined {
    return this.byKey.get(ks);
  }

  /**
   * Queues `h`: at the back, or, when its key has a hint queued (which must be `replacing`), in
   * that hint's place.
   */
  push(h: H, replacing?: H): void {
    assert(h.queueAt === -1, 'a hint in two queues');
    if (replacing !== undefined) {
      assert(replacing.ks === h.ks, 'a hint replacing the hint of another key');
      assert(this.byKey.get(h.ks) === replacing, 'removing a hint that is not queued');
      this.order.replace(replacing, h);
    } else {
      assert(!this.byKey.has(h.ks), 'a hint queued twice for one key');
      this.order.push(h);
    }
    // In place when replacing: the Map gets no new entry and loses none.
    this.byKey.set(h.ks, h);
  }

  /** Takes `h` out of the queue; it must be the hint queued for its key. */
  remove(h: H): void {
    assert(this.byKey.get(h.ks) === h, 'removing a hint that is not queued');
    this.order.remove(h);
    this.byKey.delete(h.ks);
  }

  oldest(): H | undefined {
    return this.order.peek();
  }

  /** Oldest first. The queue must not change while the walk goes on (collect, then remove). */
  values(): IterableIterator<H> {
    return this.order.values();
  }

  /** Checks that the order and the keys agree (tests). */
  checkInvariants(): void {
    this.order.checkInvariants();
    assert(this.order.size === this.byKey.size, 'hint queue: the order and the keys differ');
    for (const h of this.order.values()) assert(this.byKey.get(h.ks) === h, `hint queue: ${h.ks} is queued but not the hint of its key`);
  }
}
