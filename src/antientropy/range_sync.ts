// Anti-entropy between two replicas of one token range (design.md §7.4), as a pipeline in three
// steps (Cassandra's repair has the same shape):
//   validate  both replicas hash their data in the range into Merkle leaves, in parallel;
//   diff      compare the leaves; equal trees end the sync;
//   sync      for the differing leaves (adjacent ones joined into one sub-range), read both
//             replicas' entries, and apply to each side the records the other holds differently.
// Applying is a merge (the shard's reconcile), never an overwrite, so the direction of a copy
// cannot lose a version: concurrent versions become siblings, as with read repair.
//
// The replicas are behind RangeReplica, so the same pipeline runs between a node's own shards and
// a peer over the network (coordinator/) or between two in-process replicas in tests.
import { byteString } from '../byte_string';
import { antiEntropyLeavesPerSyncMax, rangeScanPageBytesMax, rangeScanPageEntriesMax } from '../constants';
import { assert, ErrorCode, RingkvError } from '../errors';
import { keyToken } from '../ring';
import type { ScannedEntry } from '../shards/batch_codec';
import type { MerkleLeaves, WireRecord } from '../shards/messages';
import { recordBytes, sameRecord } from '../shards/wire_record';
import { purgeable } from '../versioning';
import { assertRange, leafRange, MerkleTree, type TokenRange } from './merkle_tree';

export interface RangeEntry {
  key: Uint8Array;
  record: WireRecord;
}

/** Where the next page of a scan starts: after this (token, key). */
export interface RangeCursor {
  token: bigint;
  key: Uint8Array;
}

export interface RangePage {
  entries: RangeEntry[];
  /** False when the page reached the end of the range. */
  more: boolean;
}

/** One replica of a range, local or remote. */
export interface RangeReplica {
  readonly nodeId: string;
  merkleLeaves(range: TokenRange, depth: number): Promise<MerkleLeaves>;
  scanPage(range: TokenRange, after: RangeCursor | null): Promise<RangePage>;
  /**
   * Merges the records in; resolves with how many changed what the replica stores. A record the
   * replica refuses (one it cannot decode) does not keep the others out: applyEach.
   */
  apply(entries: readonly RangeEntry[]): Promise<number>;
}

/** The replica (or the way to it) is not there: nothing more of a sync can land. */
function replicaGone(err: unknown): boolean {
  return err instanceof RingkvError && (err.code === ErrorCode.Unavailable || err.code === ErrorCode.Timeout || err.code === ErrorCode.Closed || err.code === ErrorCode.Busy);
}

/**
 * Applies `entries` one by one through `applyOne`, at most `inflightMax` at once; how many
 * changed the replica. A record refused on its own (one the replica cannot decode, or whose own
 * copy it cannot read) is passed over and the rest applied, its error thrown once they are: one
 * bad record must not keep every later key of a range from ever syncing. A replica gone
 * (unavailable, timed out, closed, busy) ends it at once.
 */
export async function applyEach(entries: readonly RangeEntry[], applyOne: (e: RangeEntry) => Promise<boolean>, inflightMax: number): Promise<number> {
  let changed = 0;
  let refused: unknown = null;
  for (let i = 0; i < entries.length; i += inflightMax) {
    const done = await Promise.allSettled(entries.slice(i, i + inflightMax).map(applyOne));
    for (const d of done) {
      if (d.status === 'fulfilled') {
        if (d.value) changed++;
      } else if (replicaGone(d.reason)) throw d.reason;
      else refused ??= d.reason;
    }
  }
  if (refused !== null) throw refused;
  return changed;
}

export interface SyncResult {
  range: TokenRange;
  depth: number;
  /** Entries each side hashed. */
  localEntries: number;
  remoteEntries: number;
  leavesDiffering: number;
  /** Leaves synced this time (at most leavesMax; the rest wait for another round). */
  leavesSynced: number;
  /** Records that changed the local replica, and the remote one. */
  pulled: number;
  pushed: number;
}

export interface SyncOptions {
  leavesMax?: number;
  /**
   * Copy only from `remote` to `local`: for a source that is not a replica of the range any more
   * (a joining node pulls from the range's previous owner, which a cleanup will later empty), so
   * nothing is pushed where it would only be dropped.
   */
  pullOnly?: boolean;
  /**
   * The cluster's shortest tombstone grace (MerkleRequest's): a set that reads as deleted and is
   * that old is not sent to a replica that lacks it. The trees leave such sets out, so their
   * leaf differs through other keys only; sent along, they were stored again by the replica
   * that had purged them (and sent back once the sender had purged its own). Undefined: sent.
   */
  tombstoneGraceMs?: number;
}

export async function syncRange(local: RangeReplica, remote: RangeReplica, range: TokenRange, depth: number, options: SyncOptions = {}): Promise<SyncResult> {
  assertRange(range);
  assert(local.nodeId !== remote.nodeId, 'a replica does not sync with itself');
  const leavesMax = options.leavesMax ?? antiEntropyLeavesPerSyncMax;
  const pullOnly = options.pullOnly === true;
  assert(Number.isInteger(leavesMax) && leavesMax >= 1, 'leavesMax must be a positive integer');

  // Validate.
  const [mine, theirs] = await Promise.all([local.merkleLeaves(range, depth), remote.merkleLeaves(range, depth)]);
  if (theirs.leaves.length !== 1 << depth) {
    throw new RingkvError(ErrorCode.MalformedFrame, `replica ${remote.nodeId} sent ${theirs.leaves.length} Merkle leaves for depth ${depth}`);
  }
  const a = MerkleTree.fromLeaves(range, depth, mine.leaves);
  const b = MerkleTree.fromLeaves(range, depth, theirs.leaves);
  const result: SyncResult = { range, depth, localEntries: mine.entries, remoteEntries: theirs.entries, leavesDiffering: 0, leavesSynced: 0, pulled: 0, pushed: 0 };

  // Diff.
  const differing = a.diff(b);
  result.leavesDiffering = differing.length;
  const chosen = differing.slice(0, leavesMax);
  result.leavesSynced = chosen.length;

  const grace = options.tombstoneGraceMs;
  const nowMs = Date.now();
  const unwanted = grace === undefined ? null : (r: WireRecord): boolean => purgeable(r, nowMs, grace);

  // Sync, one run of adjacent leaves at a time so memory stays bounded by a few leaves' data.
  // A record refused on its own leaves its run short and the sync failed (thrown at the end);
  // the other runs still sync.
  let refused: unknown = null;
  const appliedCount = (side: PromiseSettledResult<number>): number => {
    if (side.status === 'fulfilled') return side.value;
    if (replicaGone(side.reason)) throw side.reason;
    refused ??= side.reason;
    return 0;
  };
  for (const sub of joinLeaves(range, depth, chosen)) {
    const [l, r] = await Promise.all([scanAll(local, sub), scanAll(remote, sub)]);
    const toLocal = differences(r, l, unwanted);
    const toRemote = pullOnly ? [] : differences(l, r, unwanted);
    const [pulled, pushed] = await Promise.allSettled([toLocal.length > 0 ? local.apply(toLocal) : 0, toRemote.length > 0 ? remote.apply(toRemote) : 0]);
    result.pulled += appliedCount(pulled);
    result.pushed += appliedCount(pushed);
  }
  if (refused !== null) throw refused;
  return result;
}

/**
 * Copies every record `remote` holds in `range` into `local` (a merge, so nothing `local` holds is
 * lost), page by page, fetching the next page while the last is applied; nothing is pushed. For a
 * replica rebuilt from an empty data dir: validate and diff would find nearly every leaf
 * differing, and scanning the range once more on both sides to learn that is most of what a
 * sync costs there. What such a replica holds of the range came to it as a replica of live
 * writes, which their coordinators sent to the other replicas too. The result reads as a sync at
 * depth 0 whose one leaf differed and was synced.
 */
export async function pullRange(local: RangeReplica, remote: RangeReplica, range: TokenRange): Promise<SyncResult> {
  assertRange(range);
  assert(local.nodeId !== remote.nodeId, 'a replica does not pull from itself');
  const result: SyncResult = { range, depth: 0, localEntries: 0, remoteEntries: 0, leavesDiffering: 1, leavesSynced: 1, pulled: 0, pushed: 0 };
  const fetch = (after: RangeCursor | null): Promise<RangePage> => {
    const page = remote.scanPage(range, after);
    // Fetched ahead, it may fail before its turn (a peer gone, a timeout), or never get one (an
    // apply that failed): that is no unhandled rejection, which would end the process. Its
    // turn's await still sees the failure.
    void page.catch(() => undefined);
    return page;
  };
  let next: Promise<RangePage> | null = fetch(null);
  // A record refused on its own fails the pull, once the rest of the range is in (applyEach).
  let refused: unknown = null;
  while (next !== null) {
    const page: RangePage = await next;
    const after = cursorAfter(remote, page);
    next = after === null ? null : fetch(after);
    result.remoteEntries += page.entries.length;
    if (page.entries.length === 0) continue;
    try {
      result.pulled += await local.apply(page.entries);
    } catch (err) {
      if (replicaGone(err)) throw err;
      refused ??= err;
    }
  }
  if (refused !== null) throw refused;
  return result;
}

/** Runs of adjacent leaves as token ranges, each at most `runMax` leaves long. */
export function joinLeaves(range: TokenRange, depth: number, leaves: readonly number[], runMax = 16): TokenRange[] {
  const out: TokenRange[] = [];
  let i = 0;
  while (i < leaves.length) {
    let j = i;
    while (j + 1 < leaves.length && leaves[j + 1] === leaves[j]! + 1 && j + 1 - i < runMax) j++;
    out.push({ from: leafRange(range, depth, leaves[i]!).from, to: leafRange(range, depth, leaves[j]!).to });
    i = j + 1;
  }
  return out;
}

/** Entries of `from` that `to` holds differently, or lacks and wants (not `unwanted`). */
function differences(from: Map<string, RangeEntry>, to: Map<string, RangeEntry>, unwanted: ((r: WireRecord) => boolean) | null): RangeEntry[] {
  const out: RangeEntry[] = [];
  for (const [k, e] of from) {
    const other = to.get(k);
    if (other === undefined ? !unwanted?.(e.record) : !sameRecord(e.record, other.record)) out.push(e);
  }
  return out;
}

/** A replica's entries in `range`, a page at a time, in (token, key) order. */
export async function* scanPages(replica: RangeReplica, range: TokenRange): AsyncGenerator<RangeEntry[]> {
  let after: RangeCursor | null = null;
  for (;;) {
    const page: RangePage = await replica.scanPage(range, after);
    yield page.entries;
    after = cursorAfter(replica, page);
    if (after === null) return;
  }
}

/** Where the scan goes on after `page`; null when the page reached the end of the range. */
function cursorAfter(replica: RangeReplica, page: RangePage): RangeCursor | null {
  if (!page.more) return null;
  const last = page.entries[page.entries.length - 1];
  if (last === undefined) throw new RingkvError(ErrorCode.MalformedFrame, `replica ${replica.nodeId} sent an empty page that says more follows`);
  return { token: keyToken(last.key), key: last.key };
}

async function scanAll(replica: RangeReplica, range: TokenRange): Promise<Map<string, RangeEntry>> {
  const out = new Map<string, RangeEntry>();
  for await (const entries of scanPages(replica, range)) for (const e of entries) out.set(byteString(e.key), e);
  return out;
}

/** What a replica's local side needs: the ShardRouter's range operations. */
export interface RangeStore {
  scanRange(fromToken: bigint, toToken: bigint, opts: { limit: number; includeExpired: boolean; bytesMax: number; afterKey: Uint8Array | null }): Promise<ScannedEntry[]>;
  /** `tombstoneGraceMs`: MerkleRequest's. */
  merkleLeaves(range: TokenRange, depth: number, tombstoneGraceMs: number): Promise<MerkleLeaves>;
  apply(key: Uint8Array, record: WireRecord, timeoutMs: number): Promise<boolean>;
}

/**
 * One page of a local scan after `after`. Pages are cut at rangeScanPageEntriesMax entries or
 * once rangeScanPageBytesMax bytes of records are in (a page always holds at least one entry).
 */
export async function localScanPage(store: RangeStore, range: TokenRange, after: RangeCursor | null): Promise<RangePage> {
  assertRange(range);
  const from = after === null ? range.from : after.token;
  assert(from >= range.from && from <= range.to, 'a scan cursor lies in its range');
  // Keys that share the cursor's token and sort at or before its key were in an earlier page
  // (afterKey). The scan stops one entry past a page, by count or by bytes, so that a full page
  // still says "more"; the shards read no more than that (a page of large values is a few).
  // Expired TTL entries go too: one still supersedes the older versions its past covers, which a
  // replica that missed it may hold (shard_core.ts withExpired).
  const raw = await store.scanRange(from, range.to, { limit: rangeScanPageEntriesMax + 1, includeExpired: true, bytesMax: rangeScanPageBytesMax, afterKey: after?.key ?? null });
  const entries: RangeEntry[] = [];
  let bytes = 0;
  let cut = false;
  for (const e of raw) {
    if (entries.length >= rangeScanPageEntriesMax || (entries.length > 0 && bytes >= rangeScanPageBytesMax)) {
      cut = true;
      break;
    }
    entries.push({ key: e.key, record: e.record });
    bytes += recordBytes(e.key, e.record);
  }
  return { entries, more: cut || raw.length > rangeScanPageEntriesMax };
}

/** This node's own replica of every range, over its shards; `tombstoneGraceMs`: the cluster's shortest tombstone grace now (MerkleRequest). */
export function localRangeReplica(nodeId: string, store: RangeStore, timeoutMs: number, tombstoneGraceMs: () => number, applyInflightMax = 256): RangeReplica {
  return {
    nodeId,
    merkleLeaves: (range, depth) => store.merkleLeaves(range, depth, tombstoneGraceMs()),
    scanPage: (range, after) => localScanPage(store, range, after),
    apply: (entries) => applyEach(entries, (e) => store.apply(e.key, e.record, timeoutMs), applyInflightMax),
  };
}
