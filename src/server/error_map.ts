// The one table that turns a RingkvError code into what a client sees: the HTTP status and JSON
// `error` string, and the WebSocket wire error code. Every failure on either transport goes
// through errorReply, so the two transports can never disagree about an error.
import { ErrorCode, isRingkvError, type RingkvError } from '../errors';
import { WireErrorCode } from '../protocol/client_codes';

export interface ErrorReply {
  httpStatus: number;
  /** The JSON body's `error` field. */
  error: string;
  wire: WireErrorCode;
  message: string;
  /** Conflict only: the version the store holds now. */
  currentVersion?: string;
  /**
   * 503 and 504 only: what the refusal names for a caller to act on (`needed`/`answered` of a
   * quorum, `nodes_down`, `retry_after_ms` of an admin command). Other errors' details stay in the
   * node (a storage error's file and errno are the operator's, in the log).
   */
  details?: Readonly<Record<string, string | number | boolean | null>>;
}

interface Row {
  httpStatus: number;
  error: string;
  wire: WireErrorCode;
}

const table: Record<ErrorCode, Row> = {
  [ErrorCode.InvalidArgument]: { httpStatus: 400, error: 'invalid_argument', wire: WireErrorCode.InvalidArgument },
  [ErrorCode.KeyTooLarge]: { httpStatus: 414, error: 'key_too_large', wire: WireErrorCode.KeyTooLarge },
  [ErrorCode.ValueTooLarge]: { httpStatus: 413, error: 'value_too_large', wire: WireErrorCode.ValueTooLarge },
  [ErrorCode.NotFound]: { httpStatus: 404, error: 'not_found', wire: WireErrorCode.InvalidArgument },
  [ErrorCode.Conflict]: { httpStatus: 409, error: 'conflict', wire: WireErrorCode.Conflict },
  [ErrorCode.Busy]: { httpStatus: 503, error: 'busy', wire: WireErrorCode.Busy },
  // Between nodes and threads only (the requester asks again); were one to get out, it is a busy replica.
  [ErrorCode.ReplyFull]: { httpStatus: 503, error: 'busy', wire: WireErrorCode.Busy },
  [ErrorCode.Timeout]: { httpStatus: 504, error: 'timeout', wire: WireErrorCode.Timeout },
  [ErrorCode.Unavailable]: { httpStatus: 503, error: 'unavailable', wire: WireErrorCode.Unavailable },
  // A peer that refused us is a replica this node cannot reach: to a client, the same as one down.
  [ErrorCode.WrongPeer]: { httpStatus: 503, error: 'unavailable', wire: WireErrorCode.Unavailable },
  [ErrorCode.Closed]: { httpStatus: 503, error: 'shutting_down', wire: WireErrorCode.ShuttingDown },
  [ErrorCode.FrameTooLarge]: { httpStatus: 413, error: 'frame_too_large', wire: WireErrorCode.FrameTooLarge },
  [ErrorCode.MalformedFrame]: { httpStatus: 400, error: 'malformed_frame', wire: WireErrorCode.MalformedFrame },
  // The node's disk is full: nothing was applied, and the node takes writes again by itself once
  // space is freed (WebDAV's 507, as S3-compatible stores answer a full disk).
  [ErrorCode.NoSpace]: { httpStatus: 507, error: 'insufficient_storage', wire: WireErrorCode.NoSpace },
  // Faults inside the node: the client cannot fix them by changing the request.
  [ErrorCode.Corruption]: { httpStatus: 500, error: 'internal', wire: WireErrorCode.Internal },
  [ErrorCode.TornWrite]: { httpStatus: 500, error: 'internal', wire: WireErrorCode.Internal },
  [ErrorCode.Io]: { httpStatus: 500, error: 'internal', wire: WireErrorCode.Internal },
  [ErrorCode.NativeUnavailable]: { httpStatus: 500, error: 'internal', wire: WireErrorCode.Internal },
  [ErrorCode.Internal]: { httpStatus: 500, error: 'internal', wire: WireErrorCode.Internal },
};

/** What a client is told about `err`. Errors that are not RingkvErrors are bugs: 500, internal. */
export function errorReply(err: unknown): ErrorReply {
  if (!isRingkvError(err)) {
    return { httpStatus: 500, error: 'internal', wire: WireErrorCode.Internal, message: 'internal error' };
  }
  const row = table[err.code] ?? table[ErrorCode.Internal];
  const reply: ErrorReply = { ...row, message: err.message };
  if (err.code === ErrorCode.Conflict) {
    const current = (err as RingkvError).details['current_version'];
    if (typeof current === 'string') reply.currentVersion = current;
  }
  if ((err.code === ErrorCode.Unavailable || err.code === ErrorCode.Timeout) && Object.keys(err.details).length > 0) reply.details = err.details;
  return reply;
}

/** Every HTTP status the API answers with, and its reason phrase (uWS wants "200 OK"). */
export const httpStatusLine: Readonly<Record<number, string>> = {
  200: '200 OK',
  400: '400 Bad Request',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  414: '414 URI Too Long',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
  504: '504 Gateway Timeout',
  507: '507 Insufficient Storage',
};
