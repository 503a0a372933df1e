// One stored version of a key (a sibling) and the causal order between versions.
//
// Each version carries a *dot*, the event that created it ({node, counter}: the coordinating
// node's counter after the increment), and its *causal past*: the vector clock of what the writer
// had seen (the client's context, or the merge of the versions the coordinating shard held). This
// is a dotted version vector (Preguiça et al., "Dotted Version Vectors", 2010; Riak 2.0's dvv):
//
//   X supersedes Y  ⇔  Y's dot is in X's past (counterOf(X.past, Y.dot.node) >= Y.dot.counter).
//
// Why not compare plain clocks? A coordinator must give every new version a counter above any it
// issued before (so version strings stay unique), but a client may write with an old context.
// With plain clocks the new version {A:4, B:1} would dominate a version {A:3} the client never
// saw, and that write would be lost; with dots, {A:3} is superseded only when the writer's past
// contains A:3. The full clock of a version (past ∪ dot) is an ordinary vector clock, and the
// merge of those is the context handed to clients.
//
// A tombstone is a version like any other (a delete is a versioned write with no value).
import type { VectorClock } from './vector_clock';
import { vectorClockEntriesMax, versionVectorBytesMax } from '../constants';
import { counterOf, mergeClocks, pruneClock, withCounter } from './vector_clock';
import { formatVersion } from './version_string';

export interface Dot {
  readonly node: string;
  readonly counter: number;
}

export interface StoredSibling {
  /** The value; empty for a tombstone. */
  readonly value: Uint8Array;
  readonly tombstone: boolean;
  /** Write time at the coordinator, ms since epoch. */
  readonly timestampMs: number;
  /** 0 = never; past this the version reads as absent. Always 0 for tombstones. */
  readonly expiresAtMs: number;
  readonly dot: Dot;
  /** The causal past: what the writer had seen, not including `dot`. */
  readonly past: VectorClock;
}

/** True when `x` has seen `y` (so `y` is obsolete next to `x`). A version never supersedes itself. */
export function supersedes(x: StoredSibling, y: StoredSibling): boolean {
  return counterOf(x.past, y.dot.node) >= y.dot.counter;
}

export function sameDot(x: Dot, y: Dot): boolean {
  return x.node === y.node && x.counter === y.counter;
}

/** past ∪ dot: every event this version has seen, as a plain vector clock. */
export function fullClock(s: StoredSibling): VectorClock {
  if (counterOf(s.past, s.dot.node) >= s.dot.counter) return s.past;
  return withCounter(s.past, s.dot.node, s.dot.counter, s.timestampMs);
}

/**
 * The causal context of a set of versions: a write carrying it supersedes all of them. It keeps
 * within a clock's bounds, so that a client can send it back (decodeClock refuses more than
 * vectorClockEntriesMax entries): a version's past is pruned to that many and its dot can add one,
 * and each further sibling's clock more. The entries dropped are the oldest, never a sibling's
 * dot (pruneClock's `keep`), so the write still supersedes every version read; pruning only
 * forgets history, as a write's own past does (coordinateWrite).
 */
export function contextOf(siblings: readonly StoredSibling[]): VectorClock {
  // The common set of one version: its own clock, without a merge that copies it.
  let clock: VectorClock = siblings.length === 1 ? fullClock(siblings[0]!) : [];
  if (siblings.length > 1) for (const s of siblings) clock = mergeClocks(clock, fullClock(s));
  // Within the entries bound it is within the bytes bound too (constants.ts asserts so): the
  // common read pays for no size count.
  return clock.length <= vectorClockEntriesMax ? clock : pruneClock(clock, vectorClockEntriesMax, versionVectorBytesMax, siblings.map((s) => s.dot.node));
}

export function versionOf(s: StoredSibling): string {
  return formatVersion(s.dot.counter, s.timestampMs, s.dot.node);
}

/** True when the version reads as present at `nowMs`: not a tombstone and not expired. */
export function isLive(s: StoredSibling, nowMs: number): boolean {
  return !s.tombstone && (s.expiresAtMs === 0 || s.expiresAtMs > nowMs);
}

/** Newest first: by timestamp, then dot node and counter, so every replica orders a set alike. */
export function compareNewestFirst(x: StoredSibling, y: StoredSibling): number {
  if (x.timestampMs !== y.timestampMs) return y.timestampMs - x.timestampMs;
  if (x.dot.node !== y.dot.node) return x.dot.node < y.dot.node ? 1 : -1;
  return y.dot.counter - x.dot.counter;
}
