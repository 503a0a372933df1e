// The shape of client.fbs as the verifier needs it: which vtable slot of each table holds what,
// and the most bytes or elements a field may hold before the frame is refused as malformed.
// Keep in step with client.fbs (field ids are declaration order). Semantic limits (a key over
// 256 bytes, a value over 1 MiB) are checked later, per operation, so one bad operation fails
// alone; the caps here only bound what a frame can make the verifier walk.
import { wsFrameBytesMax, wsOpsPerFrameMax } from '../constants';
import type { TableSpec } from './flatbuffers_verifier';

/** Request and response frames carry this at bytes 4..8 (client.fbs file_identifier). */
export const clientFileIdentifier = 'RKV1';

/** Longest version, expected-version, idempotency-key or error message string on the wire. */
export const wireStringBytesMax = 4096;

const bytes = { kind: 'bytes', lengthMax: wsFrameBytesMax } as const;
const str = { kind: 'string', bytesMax: wireStringBytesMax } as const;
const u8 = { kind: 'scalar', bytes: 1 } as const;
const u16 = { kind: 'scalar', bytes: 2 } as const;
const u32 = { kind: 'scalar', bytes: 4 } as const;
const u64 = { kind: 'scalar', bytes: 8 } as const;

export const requestSpec: TableSpec = {
  name: 'Request',
  // id, op, key, value, consistency, ttl_seconds, expected_version, context, idempotency_key,
  // timeout_ms
  fields: [u32, u8, bytes, bytes, u8, u32, str, bytes, str, u32],
};

export const requestFrameSpec: TableSpec = {
  name: 'RequestFrame',
  // A frame with more operations than the limit is refused whole (FrameTooLarge) before this
  // verifier runs, so the cap here is only a backstop.
  // ops, sent_at_ms
  fields: [{ kind: 'tables', table: requestSpec, lengthMax: wsOpsPerFrameMax }, u64],
};

export const siblingSpec: TableSpec = {
  name: 'Sibling',
  fields: [bytes, str, u64],
};

export const resultSpec: TableSpec = {
  name: 'Result',
  // id, status, version, timestamp_ms, value, siblings, context, tombstone_expiry_ms, error,
  // message, current_version
  fields: [u32, u8, str, u64, bytes, { kind: 'tables', table: siblingSpec, lengthMax: 1 << 16 }, bytes, u64, u16, str, str],
};

export const responseFrameSpec: TableSpec = {
  name: 'ResponseFrame',
  fields: [{ kind: 'tables', table: resultSpec, lengthMax: 1 << 20 }, u16, str],
};

/** True when s is absent or its UTF-8 fits a wire string (a UTF-16 unit is at most 3 bytes, so most need no count). */
export function wireStringFits(s: string | undefined): boolean {
  return s === undefined || s.length * 3 <= wireStringBytesMax || Buffer.byteLength(s) <= wireStringBytesMax;
}
