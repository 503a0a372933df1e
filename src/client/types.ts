// The client's public types: what each call takes and what its promise resolves with. Kept apart
// from the wire (protocol/) so the API can stay stable while the frames evolve.
import type { ConsistencyLevel } from '../coordinator/types';

export type { ConsistencyLevel };

/** Keys are bytes on the wire; strings are sent as UTF-8. */
export type KeyInput = string | Uint8Array;
export type ValueInput = string | Uint8Array;

export interface OpOptions {
  /** Replicas that must answer; absent: the node's default (QUORUM). */
  consistency?: ConsistencyLevel;
  /** Per-attempt timeout; defaults to constants.clientAttemptTimeoutMsDefault. */
  timeoutMs?: number;
}

export interface PutOptions extends OpOptions {
  ttlSeconds?: number;
  /** Conditional write: fails with RKV_ERR_CONFLICT unless this is the current version. */
  expectedVersion?: string;
  /** The causal context of a read: the write supersedes every sibling that read returned. */
  context?: Uint8Array;
  /** Retries reuse it, so the node that took the first attempt applies the write once (the keys are per node); generated per call when absent. */
  idempotencyKey?: string;
}

export interface DeleteOptions extends OpOptions {
  expectedVersion?: string;
  context?: Uint8Array;
  idempotencyKey?: string;
}

export interface Sibling {
  value: Uint8Array;
  version: string;
  timestampMs: number;
}

export type GetResult =
  | {
      found: true;
      key: Uint8Array;
      /**
       * The newest sibling's value: a view into one copy of the response frame it came in, shared
       * with the other results of that frame (copy it to keep it apart from them).
       */
      value: Uint8Array;
      version: string;
      timestampMs: number;
      /** Every concurrent version, newest first; length 1 when there is no conflict. */
      siblings: Sibling[];
      /** Send back with a write to resolve the siblings. */
      context: Uint8Array;
      /** The node that answered (its id, or address before the ring is known). */
      node: string;
      /**
       * Answered from the client's read cache (ClientOptions.readCache), or by another read of the
       * key that was in flight: `node` answered it then. Its values are shared with the cache's
       * other answers: copy them before changing them.
       */
      cached?: true;
    }
  | { found: false; key: Uint8Array; node: string; cached?: true };

export interface PutResult {
  key: Uint8Array;
  version: string;
  timestampMs: number;
  node: string;
}

export interface DeleteResult {
  key: Uint8Array;
  version: string;
  timestampMs: number;
  tombstoneExpiryMs: number;
  node: string;
}

export type BatchOp =
  | ({ op: 'get'; key: KeyInput } & OpOptions)
  | ({ op: 'put'; key: KeyInput; value: ValueInput } & PutOptions)
  | ({ op: 'delete'; key: KeyInput } & DeleteOptions);

export type BatchOpResult = GetResult | PutResult | DeleteResult;

/** One entry per batch operation, in order: a batch is not atomic, each op succeeds or fails alone. */
export type BatchEntry = { ok: true; result: BatchOpResult } | { ok: false; error: Error };

export interface ClientStats {
  /** Request frames written to sockets (all connections). */
  framesSent: number;
  /** Operations written in those frames (attempts, so retries count again). */
  opsSent: number;
  /** Attempts that were retried on the same or another node. */
  retries: number;
  /** Attempts that timed out on the client side. */
  timeouts: number;
  /** Times the ring was (re)loaded from cluster status. */
  ringLoads: number;
  ringVersion: number;
  /**
   * Reads answered from the read cache (ClientOptions.readCache), reads it could not answer, of
   * those the ones that waited for the same key's read in flight instead of sending their own, and
   * keys it holds; 0 without one.
   */
  readCacheHits: number;
  readCacheMisses: number;
  readCacheJoined: number;
  readCacheEntries: number;
}
