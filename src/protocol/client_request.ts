// Request frames of the client WebSocket protocol: encode (client side) and decode (node side).
// Decoding is the node's defence against bad input: the whole frame is bounds-verified first
// (a broken frame is RKV_ERR_MALFORMED_FRAME and nothing of it runs), then each operation is
// checked on its own, so one bad operation fails alone while the rest of the batch proceeds.
// Decoded byte fields are copies: the node's receive buffer is reused once the handler returns.
// Values and contexts are views into one copy of the frame (frame_copy.ts says why); keys are
// copied alone, since a key may be kept long after its request (hints, caches).
import { type Builder, ByteBuffer } from 'flatbuffers';
import { keyBytesMax, ttlSecondsMax, valueBytesMax, wsOpsPerFrameMax } from '../constants';
import type { ConsistencyLevel } from '../coordinator/types';
import { assert, ErrorCode, RingkvError } from '../errors';
import { consistencyFromWire, consistencyToWire, type OpName, opFromWire, opToWire } from './client_codes';
import { clientFileIdentifier, requestFrameSpec, wireStringBytesMax, wireStringFits } from './client_schema';
import { verifyFlatBuffer } from './flatbuffers_verifier';
import { byteVectorFields, byteVectorLength, byteVectorStart } from './field_access';
import { FrameCopy } from './frame_copy';
import { Request } from './generated/client/ringkv/client/request';
import { RequestFrame } from './generated/client/ringkv/client/request-frame';
import { withSharedBuilder } from './shared_builder';

export interface ClientRequest {
  /** Chosen by the client, echoed in its result; uint32. */
  id: number;
  op: OpName;
  key: Uint8Array;
  /** put only. */
  value?: Uint8Array;
  /** Absent: the node's default (QUORUM). */
  consistency?: ConsistencyLevel;
  /** put only; absent or 0: no expiry. */
  ttlSeconds?: number;
  /** put/delete: conditional on this being the current version. */
  expectedVersion?: string;
  /** put/delete: the causal context a get returned. */
  context?: Uint8Array;
  /** put/delete: retries with the same key apply once. */
  idempotencyKey?: string;
  /** How long the client still waits for the answer, from the frame's sentAtMs; absent or 0: not said. */
  timeoutMs?: number;
}

/** One decoded operation: ready to run, or refused on its own with a typed error. */
/** `op`, when the operation named a known one: its error is counted under it (metrics). */
export type DecodedOp = { ok: true; request: ClientRequest } | { ok: false; id: number; op?: OpName; error: RingkvError };

export interface DecodedFrame {
  ops: DecodedOp[];
  /** When the client sent the frame, by its own steady clock (ms, any origin); 0: not said. */
  sentAtMs: number;
}

/**
 * Encodes one request frame, sent at `sentAtMs` by the client's steady clock (0: not said).
 * Asserts the limits a well-behaved client keeps.
 */
export function encodeRequestFrame(ops: readonly ClientRequest[], sentAtMs = 0): Uint8Array {
  assert(Number.isFinite(sentAtMs) && sentAtMs >= 0, () => `sentAtMs ${sentAtMs} is not a time`);
  assert(ops.length >= 1 && ops.length <= wsOpsPerFrameMax, () => `a frame carries 1..${wsOpsPerFrameMax} operations, not ${ops.length}`);
  let size = 64;
  for (const op of ops) size += 64 + op.key.byteLength + (op.value?.byteLength ?? 0) + (op.context?.byteLength ?? 0);
  // Copied out of the shared builder: a client may queue the frame before it sends it.
  return withSharedBuilder(size, (b) => buildRequestFrame(b, ops, sentAtMs).slice());
}

function buildRequestFrame(b: Builder, ops: readonly ClientRequest[], sentAtMs: number): Uint8Array {
  const offsets: number[] = [];
  for (const op of ops) {
    assert(Number.isInteger(op.id) && op.id >= 0 && op.id <= 0xffffffff, () => `request id ${op.id} is not a uint32`);
    assert(wireStringFits(op.expectedVersion) && wireStringFits(op.idempotencyKey), () => `a string field is over ${wireStringBytesMax} bytes`);
    assert(op.timeoutMs === undefined || (Number.isInteger(op.timeoutMs) && op.timeoutMs >= 0 && op.timeoutMs <= 0xffffffff), () => `timeoutMs ${op.timeoutMs} is not a uint32`);
    const key = b.createByteVector(op.key);
    const value = op.value === undefined ? 0 : b.createByteVector(op.value);
    const context = op.context === undefined ? 0 : b.createByteVector(op.context);
    const expected = op.expectedVersion === undefined ? 0 : b.createString(op.expectedVersion);
    const idem = op.idempotencyKey === undefined ? 0 : b.createString(op.idempotencyKey);
    Request.startRequest(b);
    Request.addId(b, op.id);
    Request.addOp(b, opToWire(op.op));
    Request.addKey(b, key);
    if (value) Request.addValue(b, value);
    Request.addConsistency(b, consistencyToWire(op.consistency));
    if (op.ttlSeconds) Request.addTtlSeconds(b, op.ttlSeconds);
    if (expected) Request.addExpectedVersion(b, expected);
    if (context) Request.addContext(b, context);
    if (idem) Request.addIdempotencyKey(b, idem);
    if (op.timeoutMs) Request.addTimeoutMs(b, op.timeoutMs);
    offsets.push(Request.endRequest(b));
  }
  const vec = RequestFrame.createOpsVector(b, offsets);
  RequestFrame.startRequestFrame(b);
  RequestFrame.addOps(b, vec);
  if (sentAtMs) RequestFrame.addSentAtMs(b, sentAtMs);
  b.finish(RequestFrame.endRequestFrame(b), clientFileIdentifier);
  return b.asUint8Array();
}

function invalid(message: string): RingkvError {
  return new RingkvError(ErrorCode.InvalidArgument, message);
}

function decodeOp(r: Request, bytes: Uint8Array, frame: FrameCopy): DecodedOp {
  const id = r.id();
  const op = opFromWire(r.op());
  if (op === undefined) return { ok: false, id, error: invalid(`unknown op code ${r.op()}`) };
  const consistency = consistencyFromWire(r.consistency());
  if (consistency === null) return { ok: false, id, op, error: invalid(`unknown consistency code ${r.consistency()}`) };

  // Positions in `bytes` (the buffer the frame was verified in), not views: field_access.ts.
  const keyAt = byteVectorStart(r, byteVectorFields.requestKey);
  const keyLength = byteVectorLength(r, keyAt);
  if (keyLength === 0) return { ok: false, id, op, error: invalid('key is empty') };
  if (keyLength > keyBytesMax) {
    return {
      ok: false,
      id,
      op,
      error: new RingkvError(ErrorCode.KeyTooLarge, `key of ${keyLength} bytes is over the ${keyBytesMax}-byte limit`),
    };
  }
  const valueAt = byteVectorStart(r, byteVectorFields.requestValue);
  const valueLength = byteVectorLength(r, valueAt);
  if (valueAt !== -1 && op !== 'put') return { ok: false, id, op, error: invalid(`a ${op} carries no value`) };
  if (valueLength > valueBytesMax) {
    return {
      ok: false,
      id,
      op,
      error: new RingkvError(ErrorCode.ValueTooLarge, `value of ${valueLength} bytes is over the ${valueBytesMax}-byte limit`),
    };
  }
  const ttl = r.ttlSeconds();
  if (ttl > ttlSecondsMax) return { ok: false, id, op, error: invalid(`ttl_seconds ${ttl} is over the ${ttlSecondsMax}-second limit`) };
  if (ttl !== 0 && op !== 'put') return { ok: false, id, op, error: invalid(`a ${op} carries no ttl`) };

  const request: ClientRequest = { id, op, key: Uint8Array.prototype.slice.call(bytes, keyAt, keyAt + keyLength) };
  if (op === 'put') request.value = valueAt === -1 ? new Uint8Array(0) : frame.keepRange(valueAt, valueLength);
  if (consistency !== undefined) request.consistency = consistency;
  if (ttl !== 0) request.ttlSeconds = ttl;
  const timeoutMs = r.timeoutMs();
  if (timeoutMs !== 0) request.timeoutMs = timeoutMs;
  if (op !== 'get') {
    const expected = r.expectedVersion();
    if (expected !== null) request.expectedVersion = expected;
    const contextAt = byteVectorStart(r, byteVectorFields.requestContext);
    if (contextAt !== -1) request.context = frame.keepRange(contextAt, byteVectorLength(r, contextAt));
    const idem = r.idempotencyKey();
    if (idem !== null) request.idempotencyKey = idem;
  }
  return { ok: true, request };
}

/**
 * Decodes a request frame. Throws RKV_ERR_MALFORMED_FRAME when the bytes are not a RequestFrame,
 * RKV_ERR_FRAME_TOO_LARGE over wsOpsPerFrameMax operations or when it has none; otherwise returns
 * one DecodedOp per operation in frame order, and when the client sent it.
 */
export function decodeRequestFrame(bytes: Uint8Array): DecodedFrame {
  verifyFlatBuffer(bytes, requestFrameSpec, clientFileIdentifier);
  const frame = RequestFrame.getRootAsRequestFrame(new ByteBuffer(bytes));
  const n = frame.opsLength();
  if (n === 0) throw new RingkvError(ErrorCode.MalformedFrame, 'a request frame carries no operations');
  const sentAtMs = frame.sentAtMs();
  if (!(Number.isFinite(sentAtMs) && sentAtMs >= 0)) throw new RingkvError(ErrorCode.MalformedFrame, `sent_at_ms ${sentAtMs} is not a time`);
  const out: DecodedOp[] = new Array(n);
  const r = new Request();
  const copy = new FrameCopy(bytes);
  for (let i = 0; i < n; i++) {
    const op = frame.ops(i, r);
    assert(op !== null, 'verified ops vector has every element');
    out[i] = decodeOp(op, bytes, copy);
  }
  return { ops: out, sentAtMs };
}
