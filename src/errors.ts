// The one error type ringkv throws across module boundaries. Every error carries a stable
// machine-readable code (RKV_ERR_*) and keeps its cause, so callers branch on `code`, never on
// message text, and the HTTP/WebSocket layers map codes to status codes in one table.

export const ErrorCode = {
  InvalidArgument: 'RKV_ERR_INVALID_ARGUMENT',
  KeyTooLarge: 'RKV_ERR_KEY_TOO_LARGE',
  ValueTooLarge: 'RKV_ERR_VALUE_TOO_LARGE',
  NotFound: 'RKV_ERR_NOT_FOUND',
  Conflict: 'RKV_ERR_CONFLICT',
  Corruption: 'RKV_ERR_CORRUPTION',
  TornWrite: 'RKV_ERR_TORN_WRITE',
  Io: 'RKV_ERR_IO',
  /** The data dir's file system is full: writes are refused until space is back (reads still work). */
  NoSpace: 'RKV_ERR_NO_SPACE',
  Closed: 'RKV_ERR_CLOSED',
  Busy: 'RKV_ERR_BUSY',
  Timeout: 'RKV_ERR_TIMEOUT',
  Unavailable: 'RKV_ERR_UNAVAILABLE',
  /**
   * A node refused an inter-node connection: the requester belongs to another cluster, or meant to
   * reach another node than the one listening at that address (details.reason 'cluster' or 'node').
   */
  WrongPeer: 'RKV_ERR_WRONG_PEER',
  FrameTooLarge: 'RKV_ERR_FRAME_TOO_LARGE',
  /**
   * A reply to a read batch had no room for this item: a replica's to a peer (replicaReplyBytesMax;
   * the requesting node asks again, replica_batcher.ts), or a shard worker's to its main thread
   * (shardBatchReadBytesMax; the shard client asks again). Never to a client.
   */
  ReplyFull: 'RKV_ERR_REPLY_FULL',
  MalformedFrame: 'RKV_ERR_MALFORMED_FRAME',
  NativeUnavailable: 'RKV_ERR_NATIVE_UNAVAILABLE',
  Internal: 'RKV_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface RingkvErrorOptions {
  cause?: unknown;
  /** Structured facts about the failure (file, offset, replicas answered, ...). */
  details?: Readonly<Record<string, string | number | boolean | null>>;
}

export class RingkvError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, string | number | boolean | null>>;

  constructor(code: ErrorCode, message: string, options: RingkvErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RingkvError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isRingkvError(err: unknown, code?: ErrorCode): err is RingkvError {
  return err instanceof RingkvError && (code === undefined || err.code === code);
}

/**
 * A programmer error: an invariant the code itself should have kept. Operating errors (bad input,
 * disk damage, peers down) are RingkvErrors instead and never go through here. A message that
 * interpolates values is passed as a function: asserts sit on hot paths (per message, per op, per
 * varint), and a template literal would build its string on every call, failing or not.
 */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${typeof message === 'string' ? message : message()}`);
}
