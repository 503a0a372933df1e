// Requests in flight on one connection, by the uint32 id their answer will carry: a ring of slots
// (id & mask) at least twice the in-flight bound, so an id whose slot is taken is skipped when ids
// are handed out (isFree) and a late answer for an id whose slot was reused finds a different id
// there. For the connections that multiplex requests by id: a node's links to its peers, and the
// TypeScript client's to a node.
//
// Not a Map. V8 rehashes a Map that entries keep being added to and deleted from into a new table
// every so many operations, and the table it leaves points to the new one and still holds the
// entries it had; once a full collection has moved the current table to the old generation, that
// table, garbage as it is, keeps every later table and every request they held (with whatever the
// request's callbacks reach) alive through each scavenge until the next full collection
// (shards/shard_client.ts, BatchesById, has the figures). Here the slots are written when a
// request leaves and cleared when it ends, in one array allocated once.
import { assert } from '../errors';

export class InflightTable<T> {
  private readonly entries: (T | undefined)[];
  private readonly ids: Uint32Array;
  private readonly mask: number;
  size = 0;

  constructor(inflightMax: number) {
    assert(Number.isInteger(inflightMax) && inflightMax >= 1 && inflightMax <= 1 << 20, () => `an in-flight bound of ${inflightMax}`);
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(2, inflightMax * 2)));
    this.entries = new Array<T | undefined>(capacity).fill(undefined);
    this.ids = new Uint32Array(capacity);
    this.mask = capacity - 1;
  }

  /** Whether a request with this id could be added now. */
  isFree(id: number): boolean {
    return this.entries[id & this.mask] === undefined;
  }

  get(id: number): T | undefined {
    const i = id & this.mask;
    return this.ids[i] === id ? this.entries[i] : undefined;
  }

  add(id: number, entry: T): void {
    assert(Number.isInteger(id) && id >= 0 && id <= 0xffffffff, () => `request id ${id} is not a uint32`);
    assert(this.isFree(id), 'an in-flight slot taken twice');
    const i = id & this.mask;
    this.entries[i] = entry;
    this.ids[i] = id;
    this.size++;
  }

  /** Removes the request with this id; false when none is in flight (answered or timed out). */
  delete(id: number): boolean {
    if (this.get(id) === undefined) return false;
    this.entries[id & this.mask] = undefined;
    this.size--;
    return true;
  }

  /** Removes and returns every request in flight. */
  takeAll(): T[] {
    const all: T[] = [];
    if (this.size === 0) return all;
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (e !== undefined) {
        all.push(e);
        this.entries[i] = undefined;
      }
    }
    this.size = 0;
    return all;
  }
}
