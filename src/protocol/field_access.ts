// Fields of the FlatBuffers tables on the hot paths, written and read without the garbage the
// generated code makes per call. Both codecs (client and inter-node) run for every operation on a
// node's main thread, where short-lived objects are what its young-generation collections cost.
//
// - The 64-bit unsigned fields (timestamps, counters, sizes): flatbuffers' JavaScript code takes
//   and gives them as BigInt. A generated adder gets a BigInt of the value and parses BigInt('0')
//   for its default on every call, the builder splits the value with more BigInt arithmetic, and
//   a generated reader makes a BigInt that the caller turns back into a number: a handful of heap
//   objects per field. Every result of a WebSocket response carries one and every inter-node
//   message several; under WebSocket PUT load they were ~6% of what a node's main thread
//   allocated (a sampling heap profile, ad hoc). These fields only ever hold safe integers, and
//   travel as the same eight little-endian bytes either way.
// - The byte vectors a decoder copies out (key, value, context of a request): the generated
//   `xArray()` makes a view of each only for the caller to copy it.
//
// A field is named by its index in its table, as the generated adders name it
// (`builder.addFieldInt64(INDEX, ...)`); the constants below are those indexes, and
// test/unit/protocol/field_access.test.ts checks each against the generated code.
import type { Builder, ByteBuffer } from 'flatbuffers';
import { assert, ErrorCode, RingkvError } from '../errors';

/** Field indexes of the [ubyte] fields read through byteVectorStart. */
export const byteVectorFields = {
  requestKey: 2,
  requestValue: 3,
  requestContext: 7,
} as const;

/** Field indexes of the ulong fields written or read through this file. */
export const uint64Fields = {
  clientResultTimestampMs: 3,
  clientResultTombstoneExpiryMs: 7,
  clientSiblingTimestampMs: 2,
  messageTimestampMs: 17,
  messageTombstoneExpiryMs: 19,
  messageLeafEntries: 29,
  messageWallClockMs: 40,
  memberIncarnation: 5,
  memberHeartbeat: 6,
  memberKeyEstimate: 8,
  memberDataBytes: 14,
  memberDiskSizeBytes: 15,
  memberDiskFreeBytes: 16,
  memberTombstoneGraceMs: 20,
} as const;

const twoTo32 = 0x1_0000_0000;
/** The high half of 2^53: a field at or above it is no safe integer. */
const highHalfLimit = 0x20_0000;

/**
 * Adds field `index` (a ulong whose default is 0) of the table being built, as the generated
 * adder does: left out when `value` is 0.
 */
export function addUint64Field(b: Builder, index: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, () => `a ulong field takes a safe non-negative integer, not ${value}`);
  if (value === 0) return;
  b.prep(8, 0);
  // The builder writes backwards: the high half lands above the low one, little-endian overall.
  b.writeInt32(Math.floor(value / twoTo32));
  b.writeInt32(value >>> 0);
  b.slot(index);
}

/** A generated table accessor: where its table starts in its buffer. */
export interface TableView {
  bb: ByteBuffer | null;
  bb_pos: number;
}

/**
 * Field `index` (a ulong whose default is 0) of a verified table, or 0 when absent. A value of
 * 2^53 or more is RKV_ERR_MALFORMED_FRAME: no field here carries one.
 */
export function readUint64Field(t: TableView, index: number): number {
  const bb = t.bb;
  assert(bb !== null, 'a table read before it was bound to a buffer');
  const offset = bb.__offset(t.bb_pos, 4 + 2 * index);
  if (offset === 0) return 0;
  const low = bb.readUint32(t.bb_pos + offset);
  const high = bb.readUint32(t.bb_pos + offset + 4);
  if (high >= highHalfLimit) throw new RingkvError(ErrorCode.MalformedFrame, 'a 64-bit field is beyond 2^53');
  return high * twoTo32 + low;
}

/**
 * Where the [ubyte] field `index` of a verified table starts in its buffer (bb.bytes()), or -1
 * when absent; byteVectorLength(t, start) gives its length.
 */
export function byteVectorStart(t: TableView, index: number): number {
  const bb = t.bb;
  assert(bb !== null, 'a table read before it was bound to a buffer');
  const offset = bb.__offset(t.bb_pos, 4 + 2 * index);
  return offset === 0 ? -1 : bb.__vector(t.bb_pos + offset);
}

/**
 * The length of the [ubyte] vector that byteVectorStart found at `start` (0 when it found none):
 * the uint32 just before its first byte, so the field's offset is not looked up twice.
 */
export function byteVectorLength(t: TableView, start: number): number {
  if (start === -1) return 0;
  const bb = t.bb;
  assert(bb !== null, 'a table read before it was bound to a buffer');
  return bb.readUint32(start - 4);
}
