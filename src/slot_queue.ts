// A first-in-first-out queue whose members can also leave from anywhere, each step O(1)
// (amortized): the client's operations waiting to be sent (client/connection.ts), which leave
// from the front when sent and from anywhere when they time out, and a target's hints
// (coordinator/hint_queue.ts), which leave when delivered, dropped or replaced.
//
// Why not a plain array: shift() and splice() move every later member, and past ~16k members
// the backing store is a large object, which V8 does not trim from the front in place. A client
// connection with its queue full behind a stalled node held its event loop for a median 1,050
// ms as the operations timed out, against 96 ms with this queue, and a full queue passed 3.26x
// the operations per second (BENCHMARKS.md, "Client connection queue").
// Why not a Map or Set in insertion order: a long-lived one deleted from and added to keeps what
// it dropped alive through every scavenge until the next full collection (hint_queue.ts says
// how that was measured).
//
// Members live in an array at [head, tail), each knowing its index (queueAt); one that leaves
// from the middle leaves a hole (null). Once holes, the front's included, outnumber members by
// more than holesSlack, the members are moved to the front in place. The array is not shortened
// while members are queued (a large array cut short and grown again is reallocated each time);
// an emptied one is dropped once it is over keptSlotsMax.
import { assert } from './errors';

/** What the queue needs of a member: a place of its own to keep its index in. */
export interface Slotted {
  /** The member's index in its queue's array (the queue's to set; -1 when in no queue). */
  queueAt: number;
}

/** Holes tolerated past the count of members before the array is compacted. */
const holesSlack = 64;
/** An emptied array at most this long is kept for the next members; a longer one is dropped. */
const keptSlotsMax = 1024;

export class SlotQueue<T extends Slotted> {
  /** Members in order at [head, tail), holes null; nulls past tail up to the array's length. */
  private slots: Array<T | null> = [];
  private head = 0;
  private tail = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(x: T): void {
    assert(x.queueAt === -1, 'a member already in a queue');
    x.queueAt = this.tail;
    if (this.tail === this.slots.length) this.slots.push(x);
    else this.slots[this.tail] = x;
    this.tail++;
    this.count++;
  }

  /** Puts `x` where `old` is, in its place in the order; `old` leaves the queue. */
  replace(old: T, x: T): void {
    assert(x.queueAt === -1, 'a member already in a queue');
    assert(old.queueAt >= this.head && old.queueAt < this.tail && this.slots[old.queueAt] === old, 'replacing a member that is not queued');
    x.queueAt = old.queueAt;
    this.slots[x.queueAt] = x;
    old.queueAt = -1;
  }

  /** The oldest member, left in the queue. */
  peek(): T | undefined {
    return this.head < this.tail ? (this.slots[this.head] as T) : undefined;
  }

  /** Takes `x` out from wherever it is; it must be in this queue. */
  remove(x: T): void {
    assert(x.queueAt >= this.head && x.queueAt < this.tail && this.slots[x.queueAt] === x, 'removing a member that is not queued');
    this.slots[x.queueAt] = null;
    x.queueAt = -1;
    this.count--;
    while (this.head < this.tail && this.slots[this.head] === null) this.head++;
    this.tidy();
  }

  /** Takes every member out, oldest first. */
  takeAll(): T[] {
    const all = [...this.values()];
    for (const x of all) x.queueAt = -1;
    this.slots.fill(null, this.head, this.tail);
    this.count = 0;
    this.tidy();
    return all;
  }

  /** Oldest first. The queue must not change while the walk goes on (collect, then remove). */
  *values(): IterableIterator<T> {
    for (let i = this.head; i < this.tail; i++) {
      const x = this.slots[i];
      if (x !== null && x !== undefined) yield x;
    }
  }

  /** Checks that indexes, count and holes agree (tests). */
  checkInvariants(): void {
    let n = 0;
    for (let i = 0; i < this.slots.length; i++) {
      const x = this.slots[i];
      if (x === null || x === undefined) continue;
      assert(i >= this.head && i < this.tail && x.queueAt === i, `slot queue: the member at ${i} is misplaced`);
      n++;
    }
    assert(n === this.count, 'slot queue: the count is wrong');
    assert(this.head === this.tail || this.slots[this.head] !== null, 'slot queue: a hole at the head');
    assert(this.tail - this.count <= this.count + holesSlack, 'slot queue: holes over their bound');
  }

  private tidy(): void {
    if (this.count === 0) {
      if (this.slots.length > keptSlotsMax) this.slots = [];
      this.head = 0;
      this.tail = 0;
      return;
    }
    if (this.tail - this.count <= this.count + holesSlack) return;
    let w = 0;
    for (let r = this.head; r < this.tail; r++) {
      const x = this.slots[r];
      if (x === null || x === undefined) continue;
      x.queueAt = w;
      this.slots[w++] = x;
    }
    this.slots.fill(null, w, this.tail);
    this.head = 0;
    this.tail = w;
  }
}
