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

interface Entry {
  result: GetResult;
  level: ConsistencyLevel;
  expiresAtMs: number;
  bytes: number;
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
  /** Least recently used first (a Map keeps insertion order; a hit moves its entry to the end). */
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Write sequence numbers: `seq` counts writes begun or answered; per key, the last one. */
  private seq = 0;
  private readonly written = new Map<string, number>();
  /** Reads begun before this sequence number are not cached (`written` was forgotten). */
  private floor = 0;
  private hitCount = 0;
  private missCount = 0;

  constructor(o: ReadCacheOptions, private readonly now: () => number = Date.now) {
    this.ttlMs = o.ttlMs;
    this.entriesMax = o.entriesMax ?? readCacheEntriesMaxDefault;
    this.bytesMax = o.bytesMax ?? readCacheBytesMaxDefault;
    const whole = (n: number, lo: number, hi: number): boolean => Number.isInteger(n) && n >= lo && n <= hi;
    if (!whole(this.ttlMs, 1, readCacheTtlMsMax)) throw new RingkvError(ErrorCode.InvalidArgument, `readCache.ttlMs must be an integer in 1..${readCacheTtlMsMax}`);
    if (!whole(this.entriesMax, 1, 10_000_000)) throw new RingkvError(ErrorCode.InvalidArgument, 'readCache.entriesMax must be an integer in 1..10000000');
    if (!whole(this.bytesMax, 0, 2 ** 40)) throw new RingkvError(ErrorCode.InvalidArgument, 'readCache.bytesMax must be an integer in 0..2^40');
  }

  /** Keys held, reads answered from here, and reads that were not. */
  stats(): { entries: number; hits: number; misses: number } {
    return { entries: this.entries.size, hits: this.hitCount, misses: this.missCount };
  }

  /** A result read less than ttlMs ago at `level` or a stronger one; undefined otherwise. */
  lookup(key: Uint8Array, level: ConsistencyLevel): GetResult | undefined {
    const k = byteString(key);
    const e = this.entries.get(k);
    const expired = e !== undefined && e.expiresAtMs <= this.now();
    if (e === undefined || expired || levelRank[e.level] < levelRank[level]) {
      if (expired) this.drop(k, e);
      this.missCount++;
      return undefined;
    }
    this.entries.delete(k);
    this.entries.set(k, e);
    this.hitCount++;
    return e.result;
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
    if (old !== undefined) this.drop(k, old); // older than this answer, whether or not that is kept
    const bytes = resultBytes(result);
    if (bytes > this.bytesMax) return;
    const e: Entry = { result: detached(result), level, expiresAtMs: this.now() + this.ttlMs, bytes };
    this.entries.set(k, e);
    this.bytes += bytes;
    for (const [oldest, victim] of this.entries) {
      if (this.entries.size <= this.entriesMax && this.bytes <= this.bytesMax) break;
      this.drop(oldest, victim);
    }
    assert(this.entries.size <= this.entriesMax && this.bytes <= this.bytesMax, 'the read cache stays within its bounds');
  }

  /** A write of `key` through this client begins or was answered (either way: its entry goes). */
  invalidate(key: Uint8Array): void {
    const k = byteString(key);
    const e = this.entries.get(k);
    if (e !== undefined) this.drop(k, e);
    if (this.written.size >= writtenKeysMax && !this.written.has(k)) {
      this.written.clear();
      this.floor = this.seq + 1;
    }
    this.written.set(k, this.seq++);
  }

  private drop(k: string, e: Entry): void {
    this.entries.delete(k);
    this.bytes -= e.bytes;
  }
}
