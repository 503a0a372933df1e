// The client's cache of reads, for hot keys (design.md §10, scenario 5: "client-side caching with
// short TTL"): a read answered less than ttlMs ago is answered again from here, without a request.
// Opt-in (ClientOptions.readCache), because a cached read can miss a write another client made
// within the TTL; writes made through this client are never missed: each one drops its key's entry
// when it is sent and again when it is answered, and a read that was in flight across a write is
// not cached (it may have read the value before the write).
//
// Bounds: entriesMax entries and bytesMax bytes of values, least recently used dropped first. An
// entry remembers the level it was read at and answers reads at that level or a weaker one (a
// QUORUM read answers ONE, not ALL). Values are copied out of the response frame they came in, so
// an entry does not keep a whole frame alive.
//
// Reads in flight are shared too: a read of a key that is being read already, at that read's
// level or a weaker one and with at least its time to wait, waits for that read's answer instead
// of sending its own. Without it a hot key's entry expiring sends every read of it made during
// one round trip to the cluster at once, which is the load the cache is there to spare. A read
// that joined gets nothing from a read that failed (it sends its own then), and a write of the
// key through this client ends the sharing of reads sent before it (a read after a write must see
// it). At most flightsMax reads are shared at a time.
import { byteString } from '../byte_string';
import type { ConsistencyLevel } from '../coordinator/types';
import { assert, ErrorCode, RingkvError } from '../errors';
import type { GetResult } from './types';

export interface ReadCacheOptions {
  /** How long a read's answer is reused, in ms (1..readCacheTtlMsMax). */
  ttlMs: number;
  /** Most keys kept (default readCacheEntriesMaxDefault). */
  entriesMax?: number;
  /** Most bytes of values kept, siblings included (default readCacheBytesMaxDefault). */
  bytesMax?: number;
}

export const readCacheTtlMsMax = 3_600_000;
export const readCacheEntriesMaxDefault = 10_000;
export const readCacheBytesMaxDefault = 64 * 1024 * 1024;
/** Past this many keys with recent writes, they are forgotten at once and reads begun before then are not cached. */
const writtenKeysMax = 4096;

// An entry answers reads at its level or a weaker one. The datacenter levels sit by how many
// replicas answered for them: LOCAL_QUORUM's answer serves no QUORUM read, EACH_QUORUM's does.
const levelRank: Record<ConsistencyLevel, number> = { ONE: 0, LOCAL_ONE: 0, LOCAL_QUORUM: 1, QUORUM: 2, EACH_QUORUM: 3, ALL: 4 };

/** Reads in flight that later reads may join; past this, reads are not offered for joining. */
const flightsMax = 4096;
/** Keys of reads no longer in flight kept (as null) past the count in flight before the Map of flights is made afresh. */
const landedKeysSlack = 1024;

interface Flight {
  level: ConsistencyLevel;
  timeoutMs: number;
  /** The read's answer, or null if it failed. */
  answer: Promise<GetResult | null>;
}

interface Entry {
  key: string;
  result: GetResult;
  level: ConsistencyLevel;
  expiresAtMs: number;
  bytes: number;
  /** Neighbours in recency order (older, newer); null at the ends. */
  older: Entry | null;
  newer: Entry | null;
}

function resultBytes(r: GetResult): number {
  return r.found ? r.siblings.reduce((n, s) => n + s.value.byteLength, 0) : 0;
}

/** `r` with its values in buffers of their own (not views into a response frame). */
function detached(r: GetResult): GetResult {
  if (!r.found) return { ...r, key: r.key.slice() };
  const siblings = r.siblings.map((s) => ({ ...s, value: s.value.slice() }));
  return { ...r, key: r.key.slice(), value: siblings[0]?.value ?? r.value.slice(), siblings, context: r.context.slice() };
}

export class ReadCache {
  readonly ttlMs: number;
  private readonly entriesMax: number;
  private readonly bytesMax: number;
  /**
   * By key; recency is a list through the entries, least recently used at `oldest`. Not the Map's
   * own order (a hit deleting its key and setting it again, which is what this was): a full
   * cache's evictions then walked the deleted entries at the Map's front, and every hit churned a
   * long-lived Map (docs/ARCHITECTURE.md, the young generation). BENCHMARKS.md "Client read
   * cache": 11.9 against 3.9 µs per read when every read misses, 1.19 against 0.37 µs at 99% hits.
   */
  private readonly entries = new Map<string, Entry>();
  private oldest: Entry | null = null;
  private newest: Entry | null = null;
  private bytes = 0;
  /** Write sequence numbers: `seq` counts writes begun or answered; per key, the last one. */
  private seq = 0;
  private readonly written = new Map<string, number>();
  /** Reads begun before this sequence number are not cached (`written` was forgotten). */
  private floor = 0;
  private hitCount = 0;
  private missCount = 0;
  private joinCount = 0;
  /**
   * Reads in flight by key. One that lands is set to null, not deleted: a Map deleted from and set
   * again per read is rehashed every few reads, and each table it leaves behind, once in the old
   * generation, keeps the reads it held (their answers and values) alive through every scavenge
   * until a full collection: a median of 18 MB surviving a scavenge against 50 KB without flights,
   * with full collections between (ad hoc; test/unit/client/read_cache.test.ts). The Map is made
   * afresh once the landed keys outnumber those in flight by landedKeysSlack.
   */
  private flights = new Map<string, Flight | null>();
  private flightsInAir = 0;

  constructor(o: ReadCacheOptions, private readonly now: () => number = () => performance.now()) {
    this.ttlMs = o.ttlMs;
    this.entriesMax = o.entriesMax ?? readCacheEntriesMaxDefault;
    this.bytesMax = o.bytesMax ?? readCacheBytesMaxDefault;
    const whole = (n: number, lo: number, hi: number): boolean => Number.isInteger(n) && n >= lo && n <= hi;
    if (!whole(this.ttlMs, 1, readCacheTtlMsMax)) throw new RingkvError(ErrorCode.InvalidArgument, `readCache.ttlMs must be an integer in 1..${readCacheTtlMsMax}`);
    if (!whole(this.entriesMax, 1, 10_000_000)) throw new RingkvError(ErrorCode.InvalidArgument, 'readCache.entriesMax must be an integer in 1..10000000');
    if (!whole(this.bytesMax, 0, 2 ** 40)) throw new RingkvError(ErrorCode.InvalidArgument, 'readCache.bytesMax must be an integer in 0..2^40');
  }

  /** Keys held, reads answered from here, reads that were not, and of those the ones that joined a read in flight. */
  stats(): { entries: number; hits: number; misses: number; joined: number } {
    return { entries: this.entries.size, hits: this.hitCount, misses: this.missCount, joined: this.joinCount };
  }

  /** A result read less than ttlMs ago at `level` or a stronger one; undefined otherwise. */
  lookup(key: Uint8Array, level: ConsistencyLevel): GetResult | undefined {
    const k = byteString(key);
    const e = this.entries.get(k);
    const expired = e !== undefined && e.expiresAtMs <= this.now();
    if (e === undefined || expired || levelRank[e.level] < levelRank[level]) {
      if (expired) this.drop(e);
      this.missCount++;
      return undefined;
    }
    this.unlink(e);
    this.append(e);
    this.hitCount++;
    return e.result;
  }

  /**
   * After a miss: the answer of a read of `key` in flight at `level` or a stronger one, allowed no
   * more than `timeoutMs` per attempt (so waiting for it takes no longer than a read of one's own);
   * undefined when there is none. It resolves to null if that read fails.
   */
  joinable(key: Uint8Array, level: ConsistencyLevel, timeoutMs: number): Promise<GetResult | null> | undefined {
    const f = this.flights.get(byteString(key));
    if (f === undefined || f === null || levelRank[f.level] < levelRank[level] || f.timeoutMs > timeoutMs) return undefined;
    this.joinCount++;
    return f.answer;
  }

  /** A read of `key` was sent: later reads may join it (joinable) until it is answered or the key written. */
  flying(key: Uint8Array, level: ConsistencyLevel, timeoutMs: number, answer: Promise<GetResult>): void {
    const k = byteString(key);
    const prior = this.flights.get(k);
    if (this.flightsInAir >= flightsMax && (prior === undefined || prior === null)) return;
    const f: Flight = { level, timeoutMs, answer: answer.then((r) => r, () => null) };
    if (prior === undefined || prior === null) this.flightsInAir++;
    this.flights.set(k, f);
    void f.answer.then(() => {
      if (this.flights.get(k) === f) this.land(k);
    });
  }

  /** Call when a read is sent; hand the number back to store() with its answer. */
  readBegins(): number {
    return this.seq;
  }

  /** Keeps a read's answer, unless a write of its key began or ended since the read began. */
  store(key: Uint8Array, level: ConsistencyLevel, began: number, result: GetResult): void {
    const k = byteString(key);
    if (began < this.floor || (this.written.get(k) ?? -1) >= began) return;
    const old = this.entries.get(k);
    if (old !== undefined) this.drop(old); // older than this answer, whether or not that is kept
    const bytes = resultBytes(result);
    if (bytes > this.bytesMax) return;
    const e: Entry = { key: k, result: detached(result), level, expiresAtMs: this.now() + this.ttlMs, bytes, older: null, newer: null };
    this.entries.set(k, e);
    this.append(e);
    this.bytes += bytes;
    for (let victim = this.oldest; victim !== null && (this.entries.size > this.entriesMax || this.bytes > this.bytesMax); victim = this.oldest) this.drop(victim);
    assert(this.entries.size <= this.entriesMax && this.bytes <= this.bytesMax, 'the read cache stays within its bounds');
  }

  /** A write of `key` through this client begins or was answered (either way: its entry goes). */
  invalidate(key: Uint8Array): void {
    const k = byteString(key);
    const e = this.entries.get(k);
    if (e !== undefined) this.drop(e);
    const f = this.flights.get(k);
    if (f !== undefined && f !== null) this.land(k);
    if (this.written.size >= writtenKeysMax && !this.written.has(k)) {
      this.written.clear();
      this.floor = this.seq + 1;
    }
    this.written.set(k, this.seq++);
  }

  /** The read of `k` in flight is no longer offered for joining. */
  private land(k: string): void {
    this.flights.set(k, null);
    this.flightsInAir--;
    assert(this.flightsInAir >= 0, 'reads in flight counted below zero');
    if (this.flights.size - this.flightsInAir > this.flightsInAir + landedKeysSlack) {
      const inAir = new Map<string, Flight | null>();
      for (const [key, f] of this.flights) if (f !== null) inAir.set(key, f);
      this.flights = inAir;
    }
  }

  private drop(e: Entry): void {
    this.entries.delete(e.key);
    this.unlink(e);
    this.bytes -= e.bytes;
  }

  private unlink(e: Entry): void {
    if (e.older === null) this.oldest = e.newer;
    else e.older.newer = e.newer;
    if (e.newer === null) this.newest = e.older;
    else e.newer.older = e.older;
    e.older = null;
    e.newer = null;
  }

  private append(e: Entry): void {
    e.older = this.newest;
    e.newer = null;
    if (this.newest === null) this.oldest = e;
    else this.newest.newer = e;
    this.newest = e;
  }
}
