// Vector clocks (design.md §7.3): {nodeId: counter}, with dominance, merge, increment and
// pruning. Pure values: every function returns a new clock and never mutates its arguments.
//
// Representation: an array of entries sorted by node id (JavaScript string order) with no
// duplicates and no zero counters; a missing node means counter 0. Each entry also carries the
// wall time (ms) of the last increment at that node, used only to prune the oldest entries first
// (Riak's vclock pruning); the timestamps never take part in ordering.
//
// Binary form (the client's opaque `context`, base64'd by the HTTP layer):
//   u8 format = 1
//   varint entryCount (0..vectorClockEntriesMax)
//   entryCount × { u8 idLength, id bytes (UTF-8), varint counter (>= 1), varint timestampMs }
// Entries are in strictly increasing id order; anything else is refused (the bytes come from
// clients, so a decoder that accepted two spellings of one clock would let them disagree).
import { vectorClockEntriesMax, versionVectorBytesMax, nodeIdBytesMax } from '../constants';
import { ErrorCode, RingkvError, assert } from '../errors';
import { ByteReader, ByteWriter, shortStringBytes } from './byte_io';

export interface ClockEntry {
  readonly node: string;
  /** Events this node has coordinated for the key, >= 1. */
  readonly counter: number;
  /** Wall time of the last increment at `node`; only pruning looks at it. */
  readonly timestampMs: number;
}

export type VectorClock = readonly ClockEntry[];

export type ClockOrder = 'before' | 'after' | 'equal' | 'concurrent';

export const emptyClock: VectorClock = Object.freeze([]) as VectorClock;

const clockFormat = 1;
const nodeIdPattern = /^[A-Za-z0-9._:-]+$/;

/** True for a well-formed node id: 1..nodeIdBytesMax of [A-Za-z0-9._:-]. */
export function isValidNodeId(id: string): boolean {
  return id.length >= 1 && id.length <= nodeIdBytesMax && nodeIdPattern.test(id);
}

export function assertNodeId(id: string): void {
  if (!isValidNodeId(id)) {
    throw new RingkvError(ErrorCode.InvalidArgument, `node id must be 1..${nodeIdBytesMax} characters of [A-Za-z0-9._:-]: ${JSON.stringify(id)}`);
  }
}

/** The counter of `node` in `clock` (0 when absent). Clocks are short: a linear scan. */
export function counterOf(clock: VectorClock, node: string): number {
  for (const e of clock) if (e.node === node) return e.counter;
  return 0;
}

/** Asserts the representation invariants (sorted, unique, counters >= 1). */
export function assertClock(clock: VectorClock): void {
  for (let i = 0; i < clock.length; i++) {
    const e = clock[i]!;
    assert(Number.isSafeInteger(e.counter) && e.counter >= 1, () => `clock counter must be >= 1: ${e.counter}`);
    assert(Number.isSafeInteger(e.timestampMs) && e.timestampMs >= 0, 'clock timestamp must be a non-negative integer');
    if (i > 0) assert(clock[i - 1]!.node < e.node, 'clock entries must be sorted by node id and unique');
  }
}

/**
 * How `a` relates to `b`: 'after' when a dominates b (every counter >= and one >), 'before' when
 * b dominates a, 'equal' when all counters match, else 'concurrent'.
 */
export function compareClocks(a: VectorClock, b: VectorClock): ClockOrder {
  let aGreater = false;
  let bGreater = false;
  let i = 0;
  let j = 0;
  // Both are sorted by node: one merge-walk compares every node present in either.
  while (i < a.length || j < b.length) {
    const ea = a[i];
    const eb = b[j];
    if (eb === undefined || (ea !== undefined && ea.node < eb.node)) {
      aGreater = true;
      i++;
    } else if (ea === undefined || eb.node < ea.node) {
      bGreater = true;
      j++;
    } else {
      if (ea.counter > eb.counter) aGreater = true;
      else if (ea.counter < eb.counter) bGreater = true;
      i++;
      j++;
    }
    if (aGreater && bGreater) return 'concurrent';
  }
  if (aGreater) return 'after';
  if (bGreater) return 'before';
  return 'equal';
}

/** True when `a` has seen everything `b` has (a dominates or equals b). */
export function descends(a: VectorClock, b: VectorClock): boolean {
  const order = compareClocks(a, b);
  return order === 'after' || order === 'equal';
}

/** The least upper bound: per node the larger counter (and that entry's timestamp, the later on ties). */
export function mergeClocks(a: VectorClock, b: VectorClock): VectorClock {
  const out: ClockEntry[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const ea = a[i];
    const eb = b[j];
    if (eb === undefined || (ea !== undefined && ea.node < eb.node)) {
      out.push(ea!);
      i++;
    } else if (ea === undefined || eb.node < ea.node) {
      out.push(eb);
      j++;
    } else {
      if (ea.counter > eb.counter) out.push(ea);
      else if (eb.counter > ea.counter) out.push(eb);
      else out.push(ea.timestampMs >= eb.timestampMs ? ea : eb);
      i++;
      j++;
    }
  }
  return out;
}

/** `clock` with `node`'s counter set to `counter` (which must not go backwards). */
export function withCounter(clock: VectorClock, node: string, counter: number, timestampMs: number): VectorClock {
  assert(Number.isSafeInteger(counter) && counter >= 1, 'counter must be >= 1');
  // Made at its size (a version's full clock, on every PUT's path): one more entry unless `node` has one.
  let at = 0;
  while (at < clock.length && clock[at]!.node < node) at++;
  const replaces = at < clock.length && clock[at]!.node === node;
  if (replaces) assert(counter >= clock[at]!.counter, 'a counter never goes backwards');
  const out = new Array<ClockEntry>(replaces ? clock.length : clock.length + 1);
  for (let i = 0; i < at; i++) out[i] = clock[i]!;
  out[at] = { node, counter, timestampMs };
  for (let i = replaces ? at + 1 : at; i < clock.length; i++) out[replaces ? i : i + 1] = clock[i]!;
  return out;
}

/** `clock` with `node`'s counter one higher: the event of a write coordinated at `node`. */
export function incrementClock(clock: VectorClock, node: string, timestampMs: number): VectorClock {
  return withCounter(clock, node, counterOf(clock, node) + 1, timestampMs);
}

/**
 * Drops the entries with the oldest timestamps until at most `entriesMax` remain and the encoded
 * size is at most `bytesMax`. The nodes in `keep` are never dropped (a new version's past keeps
 * the dots of the versions it supersedes: dropping one would leave that version its sibling on
 * every replica); the caller keeps few enough for the bounds to be met. Pruning only forgets
 * history: a pruned clock can make two versions look concurrent (a spurious sibling), never make
 * a newer version look older (so no write is silently lost).
 */
export function pruneClock(
  clock: VectorClock,
  entriesMax: number = vectorClockEntriesMax,
  bytesMax: number = versionVectorBytesMax,
  keep: readonly string[] = [],
): VectorClock {
  assert(entriesMax >= 1, 'a pruned clock keeps at least one entry');
  if (clock.length <= entriesMax && encodedClockBytes(clock) <= bytesMax) return clock;
  // Oldest first; ties by node id so every replica prunes the same clock the same way.
  const victims = clock
    .filter((e) => !keep.includes(e.node))
    .sort((x, y) => x.timestampMs - y.timestampMs || (x.node < y.node ? -1 : 1));
  const dropped = new Set<string>();
  let size = encodedClockBytes(clock);
  let count = clock.length;
  for (const v of victims) {
    if (count <= entriesMax && size <= bytesMax) break;
    dropped.add(v.node);
    count--;
    size -= entryBytes(v);
  }
  return clock.filter((e) => !dropped.has(e.node));
}

function entryBytes(e: ClockEntry): number {
  return 1 + shortStringBytes(e.node).length + varintLen(e.counter) + varintLen(e.timestampMs);
}

function varintLen(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

export function encodedClockBytes(clock: VectorClock): number {
  let size = 1 + varintLen(clock.length);
  for (const e of clock) size += entryBytes(e);
  return size;
}

/** Appends a clock's entries (count first) to `w`; the body of both the context form and the sibling form. */
export function writeClockBody(w: ByteWriter, clock: VectorClock): void {
  w.varint(clock.length);
  for (const e of clock) {
    w.shortString(e.node);
    w.varint(e.counter);
    w.varint(e.timestampMs);
  }
}

export function readClockBody(r: ByteReader): VectorClock {
  const count = r.varint();
  if (count > vectorClockEntriesMax) r.fail(`clock has ${count} entries, more than ${vectorClockEntriesMax}`);
  const out: ClockEntry[] = [];
  for (let i = 0; i < count; i++) {
    const node = r.shortString();
    if (!isValidNodeId(node)) r.fail(`bad node id in clock: ${JSON.stringify(node)}`);
    if (i > 0 && !(out[i - 1]!.node < node)) r.fail('clock entries not in increasing node order');
    const counter = r.varint();
    if (counter < 1) r.fail('clock counter 0');
    const timestampMs = r.varint();
    out.push({ node, counter, timestampMs });
  }
  return out;
}

/** The client-facing opaque context: a clock in its binary form. */
export function encodeClock(clock: VectorClock): Uint8Array {
  assertClock(clock);
  const w = new ByteWriter(encodedClockBytes(clock));
  w.u8(clockFormat);
  writeClockBody(w, clock);
  const out = w.finish();
  assert(out.length === encodedClockBytes(clock), 'encodedClockBytes disagrees with the encoder');
  return out;
}

/** Decodes a context; malformed bytes are RKV_ERR_INVALID_ARGUMENT unless `code` says otherwise. */
export function decodeClock(bytes: Uint8Array, code: ErrorCode = ErrorCode.InvalidArgument): VectorClock {
  if (bytes.length > versionVectorBytesMax) {
    throw new RingkvError(code, `vector clock: ${bytes.length} bytes, more than ${versionVectorBytesMax}`);
  }
  const r = new ByteReader(bytes, code, 'vector clock');
  const format = r.u8();
  if (format !== clockFormat) r.fail(`unknown format ${format}`);
  const clock = readClockBody(r);
  r.end();
  return clock;
}
