// Recent idempotency keys of one shard → the result of the write that used them, so a client's
// retry of a write (design.md §12 Q3: the client times out and retries, maybe through another
// coordinator) is applied once. Bounded in count (the oldest entry goes first) and in time (an
// entry older than its TTL is ignored). It lives in the shard worker's memory: it is per node and
// lost on restart, so a retry that reaches another node or outlives the TTL writes again (the
// write then becomes a new version, which vector clocks keep as an ordinary successor).
import { assert } from '../errors';

export interface RememberedWrite {
  version: string;
  timestampMs: number;
}

interface Slot {
  result: RememberedWrite;
  expiresAtMs: number;
}

export class IdempotencyCache {
  // A Map iterates in insertion order, which is age order here: entries are never refreshed.
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly entriesMax: number,
    private readonly ttlMs: number,
  ) {
    assert(entriesMax >= 1 && ttlMs >= 1, 'idempotency cache bounds must be positive');
  }

  /** Scope a client's key by the data key, so one idempotency key on two keys means two writes. */
  static slotKey(idempotencyKey: string, key: Uint8Array): string {
    return `${idempotencyKey}\u0000${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64')}`;
  }

  get(slotKey: string, nowMs: number): RememberedWrite | null {
    const slot = this.slots.get(slotKey);
    if (slot === undefined) return null;
    if (slot.expiresAtMs <= nowMs) {
      this.slots.delete(slotKey);
      return null;
    }
    return slot.result;
  }

  remember(slotKey: string, result: RememberedWrite, nowMs: number): void {
    this.slots.delete(slotKey);
    this.slots.set(slotKey, { result, expiresAtMs: nowMs + this.ttlMs });
    while (this.slots.size > this.entriesMax) {
      const oldest = this.slots.keys().next().value as string;
      this.slots.delete(oldest);
    }
    assert(this.slots.size <= this.entriesMax, 'idempotency cache over its bound');
  }

  get size(): number {
    return this.slots.size;
  }
}
