// The counter of a new version's dot: above every counter of this node the key shows here, and
// at least the clock term of the moment, (nowMs - dotClockEpochMs) * dotCountsPerMs.
//
// Why the clock term: a dot (node, counter) must name one version of a key for ever. Replicas
// take two versions with one dot for the same one and keep whichever they saw first (reconcile),
// so the other is lost without a trace, and an If-Match naming one matches the other. Counting
// from what is stored is not enough, because what a node stores can go back in time while
// copies of its later versions live on elsewhere:
// - a power loss takes the WAL's unsynced tail, and the versions written there had already gone
//   to the other replicas (a write is replicated before its own fdatasync, not after);
// - a data dir restored from a snapshot or a backup lacks every version made after it;
// - a key's versions, tombstone last, are purged once the tombstone's grace has passed, while a
//   replica that missed the purge keeps an old version of it (Riak's per-key actor epochs, in
//   2.1, answer that case and the first one with a fresh actor per key epoch instead).
// Counting there again from 1 would reissue the lost dots. The clock term puts every counter at
// or above the time it was issued (in units of 1/1024 ms), so any later write, after any restart,
// restore or purge, is issued above it: as long as one node gives one key fewer than 1024
// versions per millisecond on average (a whole node serves far fewer ops), a key's counters never
// run ahead of the clock, and the gap each restart or purge opens is the time it took.
//
// The limit: a wall clock that steps back (an unsynced clock at boot) gives this no protection
// for as long as it is behind; counting from what is stored still holds. Counters stay exact
// (below 2^53) for 278 years past the epoch; version strings carry them in full (14 digits in
// late 2026: `v30107222016001_1796521754_nodeA`).

/** 2026-01-01T00:00:00Z: the clock term is 0 before it (tests' small clocks keep small counters). */
export const dotClockEpochMs = Date.UTC(2026, 0, 1);
export const dotCountsPerMs = 1024;

/**
 * The largest counter a client's context may carry. A new version's counter is one above the
 * context's for its node, and a counter of 2^53 is past exact integers (the encoding refuses it):
 * a context near there would fail that write, or, stored, every later write of the key at that
 * node. The clock term reaches 2^52 139 years past the epoch, and it leaves 2^52 writes of headroom.
 */
export const contextCounterMax = 2 ** 52;

/** The least counter a version coordinated at `nowMs` may take. */
export function dotClockTerm(nowMs: number): number {
  return nowMs <= dotClockEpochMs ? 0 : Math.floor((nowMs - dotClockEpochMs) * dotCountsPerMs);
}
