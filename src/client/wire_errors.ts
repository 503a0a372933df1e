// Turns the wire's error codes into RingkvErrors with the same stable RKV_ERR_* codes the node
// raised, and says which of them a client may retry. The node's table (server/error_map.ts) goes
// one way; this is its inverse, so a caller branches on the same codes whichever side failed.
import { ErrorCode, RingkvError } from '../errors';
import { WireErrorCode, wireErrorName } from '../protocol/client_codes';

const fromWire: Record<number, ErrorCode> = {
  [WireErrorCode.InvalidArgument]: ErrorCode.InvalidArgument,
  [WireErrorCode.KeyTooLarge]: ErrorCode.KeyTooLarge,
  [WireErrorCode.ValueTooLarge]: ErrorCode.ValueTooLarge,
  [WireErrorCode.Conflict]: ErrorCode.Conflict,
  [WireErrorCode.Unavailable]: ErrorCode.Unavailable,
  [WireErrorCode.Timeout]: ErrorCode.Timeout,
  [WireErrorCode.Busy]: ErrorCode.Busy,
  [WireErrorCode.MalformedFrame]: ErrorCode.MalformedFrame,
  [WireErrorCode.FrameTooLarge]: ErrorCode.FrameTooLarge,
  [WireErrorCode.TextFrame]: ErrorCode.MalformedFrame,
  [WireErrorCode.ShuttingDown]: ErrorCode.Closed,
  [WireErrorCode.Internal]: ErrorCode.Internal,
  [WireErrorCode.NoSpace]: ErrorCode.NoSpace,
};

export function errorFromWire(wire: number, message: string | undefined, node: string, currentVersion?: string): RingkvError {
  const code = fromWire[wire] ?? ErrorCode.Internal;
  const details: Record<string, string | number | boolean | null> = { node, wire_error: wireErrorName(wire as WireErrorCode) };
  if (currentVersion !== undefined) details['current_version'] = currentVersion;
  return new RingkvError(code, message ?? `node ${node} answered ${wireErrorName(wire as WireErrorCode)}`, { details });
}

/**
 * Errors after which another attempt may succeed. Writes are only retried because they carry an
 * idempotency key: an Internal or Timeout attempt may have applied, and the key makes the retry
 * apply at most once more, i.e. once (design.md §12 Q3).
 */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof RingkvError)) return false;
  switch (err.code) {
    case ErrorCode.Unavailable:
    case ErrorCode.Timeout:
    case ErrorCode.Busy:
    case ErrorCode.Closed:
    case ErrorCode.Internal:
    // Nothing was applied, and the retry goes to the next candidate, whose disk may have room
    // (the node stays up for reads, so it is not marked down).
    case ErrorCode.NoSpace:
      return true;
    default:
      return false;
  }
}

/**
 * Errors that say the node itself is unreachable or going away: try a different replica next.
 * An operation sent that timed out here had no answer at all: a node answers its own Timeout
 * before the client's deadline (timeout_groups.ts answerWithinMs), so one that did not is stopped,
 * hung, or cut off from this client while its connection stays open, which nothing else shows.
 */
export function isNodeFailure(err: unknown): boolean {
  return err instanceof RingkvError && (err.details['transport'] === true || err.code === ErrorCode.Closed || (err.code === ErrorCode.Timeout && err.details['sent'] === true));
}
