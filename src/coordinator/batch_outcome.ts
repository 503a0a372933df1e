// A batch of one (put/get/delete on a coordinator whose one path is batch()) unwrapped for its
// caller: the outcome's error thrown as the call's own; and a read's outcome held to the
// caller's room for answers.
import { ErrorCode, RingkvError } from '../errors';
import type { AnswerRoom, BatchOutcome } from './types';

/**
 * A read's outcome within the caller's room (Coordinator.batch): a found value that does not fit
 * becomes RKV_ERR_BUSY, and the value is let go here, before the rest of the batch is done.
 */
export function withinRoom(o: BatchOutcome, room: AnswerRoom | undefined): BatchOutcome {
  if (room === undefined || !o.ok || o.op !== 'get' || !o.result.found) return o;
  const r = o.result;
  let bytes = r.context.byteLength;
  for (const s of r.siblings) bytes += s.value.byteLength;
  // With siblings an answer carries the newest value twice: as the value and as a sibling.
  if (r.siblings.length > 1) bytes += r.value.byteLength;
  if (room.take(bytes)) return o;
  return { ok: false, error: new RingkvError(ErrorCode.Busy, `no room for this answer (${bytes} bytes) beside the answers already held for this connection or node: ask again`) };
}

/** Throws the error of a failed outcome, or an internal error for an outcome of the wrong kind. */
export function failed(o: BatchOutcome): never {
  if (!o.ok) throw o.error;
  throw new RingkvError(ErrorCode.Internal, `an outcome of the wrong kind: ${o.op}`);
}
