// A key's sibling set stored as ONE storage entry (StorageEntry in src/storage/types.ts), so the
// engine's "newest write of a key wins" rule and its atomic batches keep a set whole.
//
// The entry's fields:
//   value         the sibling values concatenated in set order (for one sibling: just its value,
//                 so the common case stores the value as is); empty when every sibling is a
//                 tombstone.
//   versionVector the set's metadata, below.
//   timestampMs   the newest sibling's timestamp.
//   tombstone     true when every sibling is a tombstone (the engine then keeps it until grace).
//   expiresAtMs   0 when a value sibling never expires (or every sibling is a tombstone), else
//                 the latest value sibling's expiry. A tombstone beside values with a TTL expires
//                 with them: the engine then keeps the whole set as a tombstone for the grace
//                 (counted from the later of its newest write and its expiry), so the delete does
//                 not vanish with its neighbour, and purges it after.
//
// versionVector layout (all integers unsigned LEB128 varints unless marked u8):
//   u8 format = 1
//   u8 nodeCount (1..255), then nodeCount × { u8 idLength, id bytes }  node-id table, strictly
//                                                  increasing; siblings refer to ids by index
//   u8 siblingCount (1..siblingsMax), then per sibling, newest first (compareNewestFirst):
//     u8 flags                bit 0 = tombstone, other bits 0
//     varint timestampMs
//     varint expiresAtMs      0 = never; 0 for tombstones
//     varint valueLength      0 for tombstones; the lengths sum to the entry's value length
//     u8 dotNode (table index), varint dotCounter (>= 1)
//     u8 pastCount (<= vectorClockEntriesMax), then pastCount × { u8 node index (strictly
//       increasing), varint counter (>= 1), varint timestampMs }
//
// Decoding trusts nothing: every count, index, length and order is checked and a failure is a
// RingkvError (CORRUPTION for bytes from disk, INVALID_ARGUMENT for bytes from a peer or client, as
// the caller says), never a crash. One lenient case: the engine may turn an expired TTL entry into
// a tombstone in compaction, keeping our versionVector but dropping the value; such a record
// decodes with every sibling as a tombstone (their dots are kept, so causality survives).
import { siblingsMax, valueBytesMax, vectorClockEntriesMax, versionVectorBytesMax } from '../constants';
import { ErrorCode, RingkvError, assert } from '../errors';
import { ByteReader, ByteWriter, shortStringBytes } from './byte_io';
import type { StoredSibling } from './sibling';
import { compareNewestFirst } from './sibling';
import type { ClockEntry } from './vector_clock';
import { isValidNodeId } from './vector_clock';

const setFormat = 1;
/** The node-id table's length is one byte. */
const nodeTableIdsMax = 255;
const flagTombstone = 1;

/** The storage-entry fields a sibling set occupies (everything but the key). */
export interface SiblingRecord {
  value: Uint8Array;
  versionVector: Uint8Array;
  timestampMs: number;
  tombstone: boolean;
  expiresAtMs: number;
}

/** Ids past which nodeTable sorts with Array.prototype.sort instead of by insertion. */
const insertionSortIdsMax = 32;

/**
 * Every node id the set names, sorted, each once. An array sorted by insertion, not a Set, a Map
 * and Array.prototype.sort (which makes itself work space on every call, ~0.9 KB per PUT in a
 * sampling heap profile, ad hoc): a set names a few ids (a version's dot and its past), and
 * encoding one is on every PUT's path.
 */
function nodeTable(siblings: readonly StoredSibling[]): string[] {
  let n = 0;
  for (const s of siblings) n += 1 + s.past.length;
  const ids = new Array<string>(n);
  let kept = 0;
  const add = (id: string): void => {
    if (n > insertionSortIdsMax) {
      ids[kept++] = id;
      return;
    }
    let i = kept;
    while (i > 0 && ids[i - 1]! > id) i--;
    if (i > 0 && ids[i - 1] === id) return;
    for (let j = kept; j > i; j--) ids[j] = ids[j - 1]!;
    ids[i] = id;
    kept++;
  };
  for (const s of siblings) {
    add(s.dot.node);
    for (const e of s.past) add(e.node);
  }
  if (n > insertionSortIdsMax) {
    ids.sort();
    let unique = 0;
    for (let i = 0; i < n; i++) if (unique === 0 || ids[unique - 1] !== ids[i]) ids[unique++] = ids[i]!;
    kept = unique;
  }
  ids.length = kept;
  return ids;
}

/** Encodes a set (1..siblingsMax versions, in newest-first order as reconcile leaves them). */
export function encodeSiblingSet(siblings: readonly StoredSibling[]): SiblingRecord {
  assert(siblings.length >= 1 && siblings.length <= siblingsMax, () => `a sibling set holds 1..${siblingsMax} versions`);
  const table = nodeTable(siblings);
  assert(table.length <= nodeTableIdsMax, 'node-id table over 255 ids');

  const w = new ByteWriter(64 + table.length * 16 + siblings.length * 64);
  w.u8(setFormat);
  w.u8(table.length);
  for (const id of table) w.shortString(id);
  w.u8(siblings.length);
  let valueBytes = 0;
  let allTombstones = true;
  let anyForever = false;
  let newest = 0;
  let latestExpiry = 0;
  for (let i = 0; i < siblings.length; i++) {
    const s = siblings[i]!;
    if (i > 0) assert(compareNewestFirst(siblings[i - 1]!, s) < 0, 'siblings must be in newest-first order, unique');
    assert(!s.tombstone || (s.value.length === 0 && s.expiresAtMs === 0), 'a tombstone has no value and no TTL');
    assert(s.past.length <= vectorClockEntriesMax, 'sibling past over vectorClockEntriesMax');
    w.u8(s.tombstone ? flagTombstone : 0);
    w.varint(s.timestampMs);
    w.varint(s.expiresAtMs);
    w.varint(s.value.length);
    w.u8(table.indexOf(s.dot.node)); // a linear search: a few ids, at most 255
    w.varint(s.dot.counter);
    w.u8(s.past.length);
    for (const e of s.past) {
      w.u8(table.indexOf(e.node));
      w.varint(e.counter);
      w.varint(e.timestampMs);
    }
    valueBytes += s.value.length;
    if (!s.tombstone) allTombstones = false;
    // Only a value keeps the set alive (expiresAtMs in the header says why).
    if (!s.tombstone) {
      if (s.expiresAtMs === 0) anyForever = true;
      else latestExpiry = Math.max(latestExpiry, s.expiresAtMs);
    }
    newest = Math.max(newest, s.timestampMs);
  }
  const versionVector = w.finish();
  assert(versionVector.length <= versionVectorBytesMax, 'sibling set metadata over versionVectorBytesMax (fitSiblings first)');

  let value: Uint8Array;
  if (siblings.length === 1) {
    value = siblings[0]!.value;
  } else {
    value = new Uint8Array(valueBytes);
    let at = 0;
    for (const s of siblings) {
      value.set(s.value, at);
      at += s.value.length;
    }
  }
  return {
    value,
    versionVector,
    timestampMs: newest,
    tombstone: allTombstones,
    expiresAtMs: anyForever ? 0 : latestExpiry,
  };
}

/** Whether the set's metadata can be written: its versionVector within versionVectorBytesMax, and at most 255 node ids in it. Builds nothing. */
export function siblingSetMetaFits(siblings: readonly StoredSibling[]): boolean {
  // Small sets: encoding the metadata alone is cheap and cannot disagree with the encoder.
  const table = nodeTable(siblings);
  // The table's length is a byte: a set naming more ids cannot be written at all. Versions whose
  // contexts name many ids (up to vectorClockEntriesMax each) can together name more.
  if (table.length > nodeTableIdsMax) return false;
  let size = 2 + table.reduce((n, id) => n + 1 + shortStringBytes(id).length, 0) + 1;
  for (const s of siblings) {
    size += 1 + vlen(s.timestampMs) + vlen(s.expiresAtMs) + vlen(s.value.length) + 1 + vlen(s.dot.counter) + 1;
    for (const e of s.past) size += 1 + vlen(e.counter) + vlen(e.timestampMs);
  }
  return size <= versionVectorBytesMax;
}

function vlen(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/**
 * Decodes a stored set. The values are views into `record.value` (no copy); copy them if the
 * record's buffer is about to be reused.
 */
export function decodeSiblingSet(record: Pick<SiblingRecord, 'value' | 'versionVector' | 'tombstone'>, code: ErrorCode = ErrorCode.Corruption): StoredSibling[] {
  if (record.versionVector.length > versionVectorBytesMax) {
    throw new RingkvError(code, `sibling set: versionVector of ${record.versionVector.length} bytes`);
  }
  const r = new ByteReader(record.versionVector, code, 'sibling set');
  const format = r.u8();
  if (format !== setFormat) r.fail(`unknown format ${format}`);
  const nodeCount = r.u8();
  if (nodeCount === 0) r.fail('empty node table');
  // Arrays made at their size: one grown by push from empty gets room for 17 elements, and a
  // decode makes several per stored version on every PUT a shard coordinates.
  const table = new Array<string>(nodeCount);
  for (let i = 0; i < nodeCount; i++) {
    const id = r.shortString();
    if (!isValidNodeId(id)) r.fail(`bad node id ${JSON.stringify(id)}`);
    if (i > 0 && !(table[i - 1]! < id)) r.fail('node table not strictly increasing');
    table[i] = id;
  }
  const count = r.u8();
  if (count < 1 || count > siblingsMax) r.fail(`sibling count ${count} outside 1..${siblingsMax}`);

  // The engine turned an expired TTL entry into a tombstone and dropped its value (see header):
  // then every version reads as a tombstone with no value. Otherwise the values lie in the
  // entry's value one after another, and their lengths must add up to it (checked after).
  const valueDropped = record.tombstone && record.value.length === 0;
  const out = new Array<StoredSibling>(count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    if ((flags & ~flagTombstone) !== 0) r.fail(`unknown sibling flags ${flags}`);
    const timestampMs = r.varint();
    const expiresAtMs = r.varint();
    const length = r.varint();
    if (length > valueBytesMax) r.fail(`sibling value of ${length} bytes`);
    if ((flags & flagTombstone) !== 0 && (length !== 0 || expiresAtMs !== 0)) r.fail('tombstone with a value or a TTL');
    const dotIndex = r.u8();
    if (dotIndex >= nodeCount) r.fail(`dot node index ${dotIndex} out of range`);
    const dotCounter = r.varint();
    if (dotCounter < 1) r.fail('dot counter 0');
    const pastCount = r.u8();
    if (pastCount > vectorClockEntriesMax) r.fail(`past of ${pastCount} entries`);
    const past = new Array<ClockEntry>(pastCount);
    let last = -1;
    for (let j = 0; j < pastCount; j++) {
      const idx = r.u8();
      if (idx >= nodeCount || idx <= last) r.fail('past node indexes out of range or not increasing');
      last = idx;
      const counter = r.varint();
      if (counter < 1) r.fail('past counter 0');
      past[j] = { node: table[idx]!, counter, timestampMs: r.varint() };
    }
    const tombstone = valueDropped || (flags & flagTombstone) !== 0;
    const end = total + length;
    const s: StoredSibling = {
      // The entry's own (empty) value where it was dropped; past its end only when the lengths
      // are wrong, which fails below.
      value: valueDropped ? record.value : record.value.subarray(total, end),
      tombstone,
      timestampMs,
      expiresAtMs: tombstone ? 0 : expiresAtMs,
      dot: { node: table[dotIndex]!, counter: dotCounter },
      past,
    };
    if (i > 0 && !(compareNewestFirst(out[i - 1]!, s) < 0)) {
      throw new RingkvError(code, 'sibling set: versions not in newest-first order');
    }
    out[i] = s;
    total = end;
  }
  r.end();
  if (!(valueDropped && total > 0) && total !== record.value.length) {
    throw new RingkvError(code, `sibling set: value lengths sum to ${total}, the entry holds ${record.value.length}`);
  }
  if (record.tombstone && out.some((s) => !s.tombstone)) {
    throw new RingkvError(code, 'sibling set: a tombstone entry holds a live version');
  }
  return out;
}

const noValue = new Uint8Array(0);

/**
 * Whether a set reads as deleted (every version a tombstone or expired at `nowMs`) and its newest
 * write is `graceMs` old: replicas may purge it, and their Merkle trees leave it out (ShardCore
 * merkleLeaves, by the same rule on the stored entry). Bytes that do not decode: false.
 */
export function purgeable(record: Pick<SiblingRecord, 'value' | 'versionVector' | 'tombstone'>, nowMs: number, graceMs: number): boolean {
  let siblings: StoredSibling[];
  try {
    siblings = decodeSiblingSet(record, ErrorCode.InvalidArgument);
  } catch {
    return false;
  }
  let newestMs = 0;
  for (const s of siblings) {
    if (!s.tombstone && (s.expiresAtMs === 0 || s.expiresAtMs > nowMs)) return false;
    newestMs = Math.max(newestMs, s.timestampMs);
  }
  return nowMs >= newestMs + graceMs;
}

/**
 * `record` with every version a tombstone: one form for a set that reads as deleted, however a
 * replica holds it (as written; as the tombstone its compaction made of an expired entry, which
 * keeps the written metadata; as a merge re-encoded it). Anti-entropy hashes this form.
 */
export function deadForm(record: Pick<SiblingRecord, 'value' | 'versionVector' | 'tombstone'>): SiblingRecord {
  return encodeSiblingSet(decodeSiblingSet(record).map((s) => (s.tombstone ? s : { ...s, value: noValue, tombstone: true, expiresAtMs: 0 })));
}
