// Validation of coordinator requests at the boundary, shared by every coordinator: each check
// names the field and the limit, and fails with the code the HTTP/WebSocket layers map to a status
// (KEY_TOO_LARGE 414, VALUE_TOO_LARGE 413, INVALID_ARGUMENT 400).
import {
  idempotencyKeyBytesMax,
  keyBytesMax,
  ttlSecondsMax,
  valueBytesMax,
  versionStringBytesMax,
  versionVectorBytesMax,
} from '../constants';
import { ErrorCode, RingkvError } from '../errors';
import type { VectorClock } from '../versioning';
import { contextCounterMax, decodeClock, parseVersion } from '../versioning';
import type { DeleteRequest, GetRequest, PutRequest } from './types';
import { consistencyLevels } from './types';
import { answerWithinMs } from './timeout_groups';

function invalid(message: string): never {
  throw new RingkvError(ErrorCode.InvalidArgument, message);
}

export function checkKey(key: unknown): Uint8Array {
  if (!(key instanceof Uint8Array)) invalid('key must be bytes');
  if (key.length === 0) invalid('key must not be empty');
  if (key.length > keyBytesMax) {
    throw new RingkvError(ErrorCode.KeyTooLarge, `key of ${key.length} bytes exceeds ${keyBytesMax}`, { details: { bytes: key.length, max: keyBytesMax } });
  }
  return key;
}

/**
 * A request's timeout: the coordinator's own (`ownTimeoutMs`), or, when its requester waits
 * `leftMs` and that is less, a little under it (answerWithinMs), so the requester gets the answer
 * (a Timeout naming how many replicas answered) rather than giving up on its own.
 */
export function requestTimeoutMs(leftMs: number | undefined, ownTimeoutMs: number): number {
  return leftMs === undefined ? ownTimeoutMs : Math.min(ownTimeoutMs, answerWithinMs(leftMs));
}

/** Checks what every request carries and returns its timeout (requestTimeoutMs). */
export function checkCommon(req: GetRequest | PutRequest | DeleteRequest, ownTimeoutMs: number): number {
  checkKey(req.key);
  if (!consistencyLevels.includes(req.consistency)) invalid(`consistency must be one of ${consistencyLevels.join(', ')}: ${String(req.consistency)}`);
  const leftMs = req.timeoutMs;
  if (leftMs !== undefined && (typeof leftMs !== 'number' || !Number.isFinite(leftMs) || leftMs <= 0)) invalid(`timeoutMs must be a positive number of ms: ${String(leftMs)}`);
  return requestTimeoutMs(leftMs, ownTimeoutMs);
}

/** A write's notAfterMs (0: none): a time in ms since the epoch when given. */
export function checkNotAfter(notAfterMs: unknown): number {
  if (notAfterMs === undefined) return 0;
  if (typeof notAfterMs !== 'number' || !Number.isFinite(notAfterMs) || notAfterMs <= 0) invalid(`notAfterMs must be a time in ms since the epoch: ${String(notAfterMs)}`);
  return notAfterMs;
}

export function checkValue(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) invalid('value must be bytes');
  if (value.length > valueBytesMax) {
    throw new RingkvError(ErrorCode.ValueTooLarge, `value of ${value.length} bytes exceeds ${valueBytesMax}`, { details: { bytes: value.length, max: valueBytesMax } });
  }
  return value;
}

export function checkTtl(ttlSeconds: number | undefined): number {
  if (ttlSeconds === undefined) return 0;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > ttlSecondsMax) invalid(`ttlSeconds must be an integer 1..${ttlSecondsMax}: ${ttlSeconds}`);
  return ttlSeconds;
}

export function checkIfMatch(ifMatch: string | undefined): string | null {
  if (ifMatch === undefined) return null;
  if (typeof ifMatch !== 'string' || ifMatch.length === 0 || Buffer.byteLength(ifMatch) > versionStringBytesMax) {
    invalid(`If-Match must be a version string of 1..${versionStringBytesMax} bytes`);
  }
  // A malformed one can never match: a typo (or `*`, which this store does not take) is the
  // client's error to hear as such, not a 409 that reads as a lost race.
  parseVersion(ifMatch);
  return ifMatch;
}

/** Validates a client's context (the bytes a read returned); null when absent. */
export function checkContext(context: Uint8Array | undefined): { bytes: Uint8Array; clock: VectorClock } | null {
  if (context === undefined) return null;
  if (!(context instanceof Uint8Array)) invalid('context must be bytes');
  if (context.length > versionVectorBytesMax) invalid(`context of ${context.length} bytes exceeds ${versionVectorBytesMax}`);
  const clock = decodeClock(context, ErrorCode.InvalidArgument);
  const over = clock.find((e) => e.counter > contextCounterMax);
  if (over !== undefined) invalid(`context counter ${over.counter} for node ${over.node} exceeds ${contextCounterMax}: not a context this store returned`);
  return { bytes: context, clock };
}

export function checkIdempotencyKey(k: string | undefined): string | null {
  if (k === undefined) return null;
  if (typeof k !== 'string' || k.length === 0 || Buffer.byteLength(k) > idempotencyKeyBytesMax) {
    invalid(`idempotency key must be 1..${idempotencyKeyBytesMax} bytes`);
  }
  return k;
}
