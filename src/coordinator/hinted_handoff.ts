// Hinted handoff (design.md §7.5, §10): a write meant for a replica that is down, or that did not
// take it (failed or timed out while gossip had it ALIVE), is kept as a hint by another node and
// delivered while the replica is ALIVE. Hints are indexed in memory per target node and, on a
// cluster node, written to `<dataDir>/hints/` (hint_log.ts) so that a stand-in that restarts, or
// crashes, still delivers them (design.md §7.5: "Node D stores the data with a hint").
// Hints for the same key are coalesced: a newer record for the key replaces the queued one only
// after merging, so the queue holds one record per key per target.
// Bounds: per target, hintsPerNodeMax hints and hintBytesPerNodeMax bytes (oldest dropped first,
// counted), hintBytesTotalMax bytes for all targets together (the largest queue gives way); and
// every hint expires hintAgeMsMax after it was taken. Past that the target has
// been away long enough for anti-entropy to be the way back, and a hint delivered after the
// tombstone grace period could bring back a value whose delete has been purged (Cassandra bounds
// hints by gc_grace_seconds for the same reason).
// Delivery is a merge on the target, so delivering a hint twice changes nothing: after a crash
// (not after a clean stop, which compacts the files), hints delivered since their segment was
// last rewritten may be delivered again.
import { byteString } from '../byte_string';
import { hintAgeMsMax, hintBytesPerNodeMax, hintBytesTotalMax, hintSegmentBytesMax, hintSyncIntervalMs, hintsPerNodeMax } from '../constants';
import { assert } from '../errors';
import type { WireRecord } from '../shards/messages';
import { recordBytes } from '../shards/wire_record';
import { HintLog, type HintLocation } from './hint_log';
import { HintQueue, type Queueable } from './hint_queue';
import type { HintTargetStats } from './types';

export interface Hint extends HintLocation, Queueable {
  key: Uint8Array;
  record: WireRecord;
  /** When this node took the oldest write merged into this hint (its age, which ageMsMax bounds). */
  createdMs: number;
}

export interface HintStats {
  hintsQueued: number;
  hintsStored: number;
  hintsDropped: number;
  hintsExpired: number;
  hintsDelivered: number;
  /** Hints read back from disk at start (after coalescing and expiry). */
  hintsRecovered: number;
  hintsDiskBytes: number;
  hintWriteFailures: number;
}

/** Hints for one target that were lost (over a bound, or expired) since the last report. */
export interface HintLosses {
  target: string;
  dropped: number;
  expired: number;
}

export interface HintStoreOptions {
  /** Combines two records for one key (the older first) so that no version is lost. */
  merge: (older: WireRecord, newer: WireRecord) => WireRecord;
  perNodeMax?: number;
  perNodeBytesMax?: number;
  /** All targets together. */
  totalBytesMax?: number;
  ageMsMax?: number;
  now?: () => number;
}

export interface HintFilesOptions {
  dir: string;
  log: (line: string) => void;
  segmentBytesMax?: number;
  syncIntervalMs?: number;
}

export class HintStore {
  private readonly byNode = new Map<string, HintQueue<Hint>>();
  private readonly perNodeMax: number;
  private readonly perNodeBytesMax: number;
  private readonly totalBytesMax: number;
  /** Bytes of every queue (recordBytes of each hint). */
  private bytes = 0;
  private readonly ageMsMax: number;
  private readonly now: () => number;
  private files: HintLog | null = null;
  private readonly counters = { hintsStored: 0, hintsDropped: 0, hintsExpired: 0, hintsDelivered: 0, hintsRecovered: 0 };
  /** Per target, hints lost to a bound or to age since takeLosses (not those of a node that left). */
  private losses = new Map<string, { dropped: number; expired: number }>();

  constructor(private readonly o: HintStoreOptions) {
    this.perNodeMax = o.perNodeMax ?? hintsPerNodeMax;
    this.perNodeBytesMax = o.perNodeBytesMax ?? hintBytesPerNodeMax;
    this.totalBytesMax = o.totalBytesMax ?? hintBytesTotalMax;
    this.ageMsMax = o.ageMsMax ?? hintAgeMsMax;
    this.now = o.now ?? Date.now;
    assert(this.perNodeMax >= 1 && this.perNodeBytesMax >= 1 && this.totalBytesMax >= 1 && this.ageMsMax >= 1, 'hint bounds are positive');
  }

  /**
   * A store whose hints are also kept in `files.dir`: reads what an earlier run left there
   * (coalesced, bounded and expired as if added now, in the order they were taken), writes the
   * live ones into a fresh segment and deletes the old files.
   */
  static open(o: HintStoreOptions, files: HintFilesOptions): HintStore {
    const store = new HintStore(o);
    const { log, recovery } = HintLog.open({
      dir: files.dir,
      segmentBytesMax: files.segmentBytesMax ?? hintSegmentBytesMax,
      syncIntervalMs: files.syncIntervalMs ?? hintSyncIntervalMs,
      log: files.log,
    });
    const oldest = store.now() - store.ageMsMax;
    let expired = 0;
    // Oldest first, as expire() needs each queue: the files hold them in the order written, and a
    // segment rewrite (onSparse) writes older hints again after newer ones. A stable sort keeps
    // a key's records in the order taken, so the later one is merged in last.
    const records = recovery.records.slice().sort((a, b) => a.createdMs - b.createdMs);
    for (const r of records) {
      if (r.createdMs < oldest) {
        expired++;
        store.lost(r.target).expired++;
      } else store.insert(r.target, r.key, r.record, r.createdMs);
    }
    store.counters.hintsExpired = expired;
    store.counters.hintsRecovered = store.size();
    store.files = log;
    for (const [target, q] of store.byNode) for (const h of q.values()) log.append(h, target, h.key, h.record, h.createdMs);
    log.finishRecovery();
    log.onSparse = (segments) => store.rewrite(segments);
    if (recovery.files > 0) {
      files.log(
        `hints: ${store.size()} hints for ${store.targets().length} nodes recovered from ${recovery.files} files in ${files.dir}` +
          ` (${recovery.records.length} records, ${expired} expired, ${recovery.skipped} damaged skipped, ${recovery.tornTails} torn tails cut)`,
      );
    }
    return store;
  }

  /**
   * Queues a hint for `target`; one for a key already queued is merged with it and keeps its place
   * and its age (insert). `ageMs`: how old it already is (a hint handed on by another holder):
   * it expires as it would have there, not a full hintAgeMsMax from now.
   */
  add(target: string, key: Uint8Array, record: WireRecord, ageMs = 0): void {
    assert(Number.isSafeInteger(ageMs) && ageMs >= 0, 'a hint\'s age is a whole number of ms');
    if (ageMs >= this.ageMsMax) {
      // Handed on already expired: kept, it would be delivered past half the tombstone grace.
      this.counters.hintsExpired++;
      this.lost(target).expired++;
      return;
    }
    const h = this.insert(target, key, record, this.now() - ageMs);
    this.files?.append(h, target, h.key, h.record, h.createdMs);
    this.counters.hintsStored++;
  }

  /** How old `h` is now (ms). */
  ageMsOf(h: Hint): number {
    return Math.max(0, this.now() - h.createdMs);
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
    if (q.get(hint.ks) === hint) {
      this.remove(q, hint);
      this.counters.hintsDelivered++;
    }
  }

  /**
   * Drops hints taken more than ageMsMax ago: from the front of a queue that is oldest first, by
   * a walk over all of one that is not (HintQueue.unordered), until it is in order again.
   */
  expire(): void {
    const oldest = this.now() - this.ageMsMax;
    for (const [target, q] of this.byNode) {
      if (!q.unordered) {
        for (let h = q.oldest(); h !== undefined && h.createdMs < oldest; h = q.oldest()) this.expireHint(target, q, h);
        continue;
      }
      const due: Hint[] = [];
      for (const h of q.values()) if (h.createdMs < oldest) due.push(h);
      for (const h of due) this.expireHint(target, q, h);
      this.checkOrder(q);
    }
  }

  private expireHint(target: string, q: HintQueue<Hint>, h: Hint): void {
    this.remove(q, h);
    this.counters.hintsExpired++;
    this.lost(target).expired++;
  }

  /** Clears q.unordered once its hints are oldest first again. */
  private checkOrder(q: HintQueue<Hint>): void {
    let last = Number.NEGATIVE_INFINITY;
    for (const h of q.values()) {
      if (h.createdMs < last) return;
      last = h.createdMs;
    }
    q.unordered = false;
    q.newestCreatedMs = last;
  }

  /** Per target with hints queued: how many, how big, how old the oldest. */
  targetStats(): HintTargetStats[] {
    const now = this.now();
    const out: HintTargetStats[] = [];
    for (const [target, q] of this.byNode) {
      const first = q.oldest();
      if (first === undefined) continue;
      let createdMs = first.createdMs;
      if (q.unordered) for (const h of q.values()) createdMs = Math.min(createdMs, h.createdMs);
      out.push({ target, queued: q.size, bytes: q.bytes, oldestAgeSeconds: Math.max(0, Math.round((now - createdMs) / 1000)) });
    }
    return out;
  }

  /** The hints lost per target since the last call (each needs a repair of that node to be made good). */
  takeLosses(): HintLosses[] {
    const out = [...this.losses].map(([target, l]) => ({ target, ...l }));
    this.losses = new Map();
    return out;
  }

  private lost(target: string): { dropped: number; expired: number } {
    let l = this.losses.get(target);
    if (l === undefined) {
      l = { dropped: 0, expired: 0 };
      this.losses.set(target, l);
    }
    return l;
  }

  /** Drops every hint for `target` (a node that left the ring: its ranges are others' now), counted as dropped. */
  dropTarget(target: string): void {
    const q = this.byNode.get(target);
    if (q === undefined) return;
    for (let h = q.oldest(); h !== undefined; h = q.oldest()) {
      this.remove(q, h);
      this.counters.hintsDropped++;
    }
    this.byNode.delete(target);
  }

  size(target?: string): number {
    if (target !== undefined) return this.byNode.get(target)?.size ?? 0;
    let n = 0;
    for (const q of this.byNode.values()) n += q.size;
    return n;
  }

  stats(): HintStats {
    return {
      hintsQueued: this.size(),
      ...this.counters,
      hintsDiskBytes: this.files?.diskBytes() ?? 0,
      hintWriteFailures: this.files?.counters.hintWriteFailures ?? 0,
    };
  }

  /**
   * Writes what is pending and syncs it, leaving only live hints on disk for the next run. Hints
   * added from here on stay in memory.
   */
  async close(): Promise<void> {
    const files = this.files;
    if (files === null) return;
    files.compact();
    this.files = null;
    await files.close();
  }

  private insert(target: string, key: Uint8Array, record: WireRecord, createdMs: number): Hint {
    let q = this.byNode.get(target);
    if (q === undefined) {
      q = new HintQueue<Hint>();
      this.byNode.set(target, q);
    }
    const ks = byteString(key);
    const old = q.get(ks);
    let h: Hint;
    if (old !== undefined) {
      // As old as the oldest write in it: a merged record may still hold that write (a sibling
      // the newer one did not supersede), and a write must not be delivered past ageMsMax (its
      // delete's tombstone may be purged by then). Taking the newer age, as this did, let a hot
      // key's first write ride in its hint for as long as the key kept being written.
      h = { key: old.key, ks, record: this.o.merge(old.record, record), createdMs: Math.min(old.createdMs, createdMs), queueAt: -1, segment: 0, diskBytes: 0 };
      this.release(q, old);
      q.push(h, old);
      if (h.createdMs < old.createdMs) q.unordered = true;
    } else {
      h = { key, ks, record, createdMs, queueAt: -1, segment: 0, diskBytes: 0 };
      q.push(h);
      // Older than what is queued: a hint handed on with its age (or a wall clock stepped back).
      if (createdMs < q.newestCreatedMs) q.unordered = true;
      else q.newestCreatedMs = createdMs;
    }
    const bytes = recordBytes(h.key, h.record);
    q.bytes += bytes;
    this.bytes += bytes;
    // The oldest give way, never the hint just queued: it holds the newest write, though merged
    // into an old hint it keeps that one's place and may be the oldest.
    while (q.size > 1 && (q.size > this.perNodeMax || q.bytes > this.perNodeBytesMax)) this.dropOldest(target, q, h);
    // All targets together: the hints live in memory as well as on disk. Past the total, the
    // largest queue gives way (the node furthest behind needs a repair anyway).
    while (this.bytes > this.totalBytesMax) {
      let largest: [string, HintQueue<Hint>] | null = null;
      for (const e of this.byNode) if (e[1].size > (e[1] === q ? 1 : 0) && (largest === null || e[1].bytes > largest[1].bytes)) largest = e;
      if (largest === null) break;
      this.dropOldest(largest[0], largest[1], h);
    }
    return h;
  }

  /** Drops q's oldest hint other than `keep`. */
  private dropOldest(target: string, q: HintQueue<Hint>, keep: Hint): void {
    let oldest: Hint | undefined;
    for (const h of q.values()) {
      if (h === keep) continue;
      oldest = h;
      break;
    }
    assert(oldest !== undefined, 'dropping from a hint queue that holds nothing else');
    this.remove(q, oldest);
    this.counters.hintsDropped++;
    this.lost(target).dropped++;
  }

  private remove(q: HintQueue<Hint>, h: Hint): void {
    q.remove(h);
    this.release(q, h);
  }

  /** Its bytes off the counts, and its place in the files given up. */
  private release(q: HintQueue<Hint>, h: Hint): void {
    const bytes = recordBytes(h.key, h.record);
    q.bytes -= bytes;
    this.bytes -= bytes;
    this.files?.release(h);
  }

  /** Writes the live hints held in `segments` again, so those files can go (HintLog.roll). */
  private rewrite(segments: ReadonlySet<number>): void {
    const files = this.files;
    if (files === null) return;
    for (const [target, q] of this.byNode) {
      for (const h of q.values()) {
        if (!segments.has(h.segment)) continue;
        files.release(h);
        files.append(h, target, h.key, h.record, h.createdMs);
      }
    }
  }
}
