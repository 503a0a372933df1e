// Reconciliation of a key's versions, and the coordinated write that makes a new one. Pure: the
// caller (the shard worker, which owns the shard's data on one thread) reads the stored set,
// calls these, and writes the result, so read-reconcile-write is atomic per key.
//
// Two modes (design.md §7.3, §9):
// - 'vclock' (default): a version superseded by another (sibling.ts: its dot is in the other's
//   past) is dropped; versions neither of which has seen the other are all kept as siblings and
//   returned to the client, whose next write with the read context resolves them.
// - 'lww': one version survives, the one with the highest (timestampMs, dot node, dot counter);
//   concurrent writes are silently lost, by design.
//
// Bounds: a set keeps at most siblingsMax versions, its metadata fits versionVectorBytesMax (and
// names at most 255 node ids) and,
// with more than one version, its values together fit valueBytesMax (the storage entry's value).
// Past those the oldest versions are dropped and counted (`dropped`); this is lossy, like Riak's
// siblings_maximum, and only happens under heavy concurrent writing to one key.
import { siblingsMax, valueBytesMax, vectorClockEntriesMax, versionVectorBytesMax } from '../constants';
import { ErrorCode, RingkvError, assert } from '../errors';
import type { StoredSibling } from './sibling';
import { compareNewestFirst, contextOf, isLive, sameDot, supersedes, versionOf } from './sibling';
import { siblingSetMetaFits } from './sibling_codec';
import type { VectorClock } from './vector_clock';
import { dotClockTerm } from './dot_counter';
import { counterOf, pruneClock } from './vector_clock';

export type ConflictMode = 'vclock' | 'lww';
export const conflictModes: readonly ConflictMode[] = ['vclock', 'lww'];

export interface ReconcileResult {
  /** The surviving versions, newest first (possibly empty when everything stored had expired). */
  siblings: StoredSibling[];
  /** False when the result is the stored set unchanged (nothing to write). */
  changed: boolean;
  /** Versions dropped only to stay within the bounds above. */
  dropped: number;
}

function expired(s: StoredSibling, nowMs: number): boolean {
  return !s.tombstone && s.expiresAtMs !== 0 && s.expiresAtMs <= nowMs;
}

/** Highest (timestamp, node, counter) wins; the same total order on every replica. */
function lwwWinner(candidates: readonly StoredSibling[]): StoredSibling | undefined {
  let best: StoredSibling | undefined;
  for (const s of candidates) if (best === undefined || compareNewestFirst(s, best) < 0) best = s;
  return best;
}

/**
 * Drops versions until the set fits its bounds: the oldest expired one while there is one (it
 * reads as absent already; only what it superseded may come back), else the oldest. `set` is
 * newest first. `keep` (a write being coordinated now) is never the one dropped, even when a
 * skewed clock makes it look old.
 */
function fitSiblings(set: StoredSibling[], nowMs: number, keep?: StoredSibling): { siblings: StoredSibling[]; dropped: number } {
  let dropped = 0;
  const valueSum = () => set.reduce((n, s) => n + s.value.length, 0);
  while (set.length > 1 && (set.length > siblingsMax || !siblingSetMetaFits(set) || valueSum() > valueBytesMax)) {
    let victim = set.length - 1;
    while (victim >= 0 && !(expired(set[victim]!, nowMs) && set[victim] !== keep)) victim--;
    if (victim < 0) victim = set[set.length - 1] === keep ? set.length - 2 : set.length - 1;
    set = set.filter((_, i) => i !== victim);
    dropped++;
  }
  assert(set.length === 0 || siblingSetMetaFits(set), 'one version alone must fit the metadata bounds');
  return { siblings: set, dropped };
}

/**
 * Merges `incoming` versions (a coordinated write, or a set received from another replica) into
 * the `stored` set. An expired TTL'd version is kept like any other: it reads as absent
 * (liveSiblings), but it still supersedes what its past covers (under LWW: what is older), and a
 * replica that missed it may still hold that older version. Dropping it here (as this did) let a
 * value overwritten by a write with a TTL come back once the TTL had passed, through a hint, a
 * read's repair or anti-entropy. A set whose versions have all expired is the storage engine's to
 * drop: compaction makes it a tombstone, kept for the tombstone grace (sibling_codec.ts).
 */
export function reconcile(
  stored: readonly StoredSibling[],
  incoming: readonly StoredSibling[],
  mode: ConflictMode,
  nowMs: number,
  keep?: StoredSibling,
): ReconcileResult {
  const union = [...stored, ...incoming];
  let kept: StoredSibling[];
  if (mode === 'lww') {
    const w = lwwWinner(union);
    kept = w === undefined ? [] : [w];
  } else {
    kept = [];
    for (let i = 0; i < union.length; i++) {
      const s = union[i]!;
      let obsolete = false;
      for (let j = 0; j < union.length && !obsolete; j++) {
        if (i === j) continue;
        const o = union[j]!;
        // The same dot twice is the same version; keep the first copy (the stored one), unless
        // the other is its tombstone form: an expired version that a replica's compaction made a
        // tombstone (sibling_codec.ts). Both forms read as absent, but their bytes differ, so
        // replicas keeping each their own would differ in anti-entropy's hashes for good.
        if (sameDot(o.dot, s.dot)) obsolete = o.tombstone !== s.tombstone ? o.tombstone : j < i;
        else obsolete = supersedes(o, s);
      }
      if (!obsolete) kept.push(s);
    }
    kept.sort(compareNewestFirst);
  }
  const fit = fitSiblings(kept, nowMs, keep);
  const changed = fit.siblings.length !== stored.length || fit.siblings.some((s, i) => s !== stored[i]);
  return { siblings: fit.siblings, changed, dropped: fit.dropped };
}

export interface WriteIntent {
  /** The coordinating node (its counter is incremented). */
  nodeId: string;
  nowMs: number;
  mode: ConflictMode;
  /** Empty for a delete. */
  value: Uint8Array;
  tombstone: boolean;
  /** 0 = no TTL. */
  ttlMs: number;
  /** The client's context; null = supersede everything stored here. */
  context: VectorClock | null;
}

export interface CoordinatedWrite extends ReconcileResult {
  /** The new version. */
  sibling: StoredSibling;
  version: string;
}

/**
 * The write a coordinating replica makes: new past = the client's context (or, without one, the
 * context of everything stored here), new dot = (nodeId, a counter above every counter of nodeId
 * this key has seen here or in the context, and at least the clock term of nowMs: dot_counter.ts).
 * The new version supersedes exactly what its past covers; stored versions the client had not
 * seen stay as siblings.
 */
export function coordinateWrite(stored: readonly StoredSibling[], intent: WriteIntent): CoordinatedWrite {
  assert(!intent.tombstone || (intent.value.length === 0 && intent.ttlMs === 0), 'a delete has no value and no TTL');
  assert(Number.isSafeInteger(intent.ttlMs) && intent.ttlMs >= 0, 'ttlMs must be a non-negative integer');
  const node = intent.nodeId;
  // The counter must exceed every dot of this node for the key, so a version string is never
  // reused, even when the client sends an old context.
  let seen = intent.context === null ? 0 : counterOf(intent.context, node);
  for (const s of stored) {
    seen = Math.max(seen, counterOf(s.past, node));
    if (s.dot.node === node) seen = Math.max(seen, s.dot.counter);
  }
  let timestampMs = intent.nowMs;
  if (intent.mode === 'lww' || intent.context !== null) {
    // Under LWW a write coordinated here must win over what is stored here, even when this
    // node's clock lags the writer of the stored version. A vclock write with a context may
    // stay beside siblings, and a set over its bounds drops its oldest (fitSiblings) on every
    // replica: were the new version the oldest by this node's lagging clock, the coordinator
    // (keep) would drop another while every other replica dropped it, the write acknowledged.
    for (const s of stored) timestampMs = Math.max(timestampMs, s.timestampMs + 1);
  }
  const pastRaw = intent.context ?? contextOf(stored);
  // Leave room for the other versions of a set and the node table: half the metadata budget. The
  // stored versions' dots stay: a past that forgot one would supersede that version here (the
  // shortcut below keeps the new version alone) but not on the replicas the write reaches, which
  // would keep it as a sibling and spread it back.
  const past = pruneClock(
    pastRaw,
    vectorClockEntriesMax,
    versionVectorBytesMax / 2,
    stored.map((s) => s.dot.node),
  );
  const sibling: StoredSibling = {
    value: intent.value,
    tombstone: intent.tombstone,
    timestampMs,
    // From this node's clock, not the raised timestamp: a stored version from a node an hour
    // ahead would otherwise keep a 60 s TTL alive for an hour.
    expiresAtMs: intent.ttlMs > 0 ? intent.nowMs + intent.ttlMs : 0,
    // At least the clock term of the timestamp it gets, raised over the stored ones: under LWW a
    // version that lost here is gone from the set, its counter with it, and a write in the same
    // millisecond would take that counter (the same version string for another value, which
    // If-Match then takes for it). The timestamp is above the winner's, so above the loser's.
    dot: { node, counter: Math.max(seen + 1, dotClockTerm(timestampMs)) },
    past,
  };
  if (intent.context === null || intent.mode === 'lww') {
    // The common write, without reconcile's unions and sorts: its past is the context of
    // everything stored (vclock) or its timestamp is above every stored one (lww), so reconcile
    // would keep it alone. Nothing is dropped for the bounds: pruneClock fitted its past.
    return { siblings: [sibling], changed: true, dropped: 0, sibling, version: versionOf(sibling) };
  }
  const result = reconcile(stored, [sibling], intent.mode, intent.nowMs, sibling);
  assert(result.siblings.includes(sibling), 'a coordinated write survives its own reconcile');
  return { ...result, sibling, version: versionOf(sibling) };
}

/** The versions a read returns: live ones, newest first. */
export function liveSiblings(stored: readonly StoredSibling[], nowMs: number): StoredSibling[] {
  return stored.filter((s) => isLive(s, nowMs));
}

/**
 * If-Match: the key must hold exactly one live version and its version string must equal
 * `ifMatch`. Otherwise RKV_ERR_CONFLICT with details.current_version (the newest live version,
 * or null when the key is absent) and details.siblings (how many live versions there are).
 */
export function checkIfMatch(stored: readonly StoredSibling[], ifMatch: string, nowMs: number): void {
  const live = liveSiblings(stored, nowMs);
  if (live.length === 1 && versionOf(live[0]!) === ifMatch) return;
  const current = live.length > 0 ? versionOf(live[0]!) : null;
  const why = live.length === 0 ? 'the key does not exist' : live.length > 1 ? `the key has ${live.length} concurrent versions` : `the current version is ${current}`;
  throw new RingkvError(ErrorCode.Conflict, `If-Match ${ifMatch} failed: ${why}`, {
    details: { current_version: current, siblings: live.length, expected_version: ifMatch },
  });
}
