// A batch of one (put/get/delete on a coordinator whose one path is batch()) unwrapped for its
// caller: the outcome's error thrown as the call's own.
import { ErrorCode, RingkvError } from '../errors';
import type { BatchOutcome } from './types';

/** Throws the error of a failed outcome, or an internal error for an outcome of the wrong kind. */
export function failed(o: BatchOutcome): never {
  if (!o.ok) throw o.error;
  throw new RingkvError(ErrorCode.Internal, `an outcome of the wrong kind: ${o.op}`);
}
