// What the HTTP and WebSocket handlers of one server share: the coordinator they call, the
// metrics they record into, their limits, and the counters that graceful shutdown waits on.
import type { Coordinator } from '../coordinator/types';
import { type ByteAccount, fitsBytes } from '../byte_bound';
import { assert } from '../errors';
import type { Metrics } from './metrics';

export interface ServerLimits {
  httpInflightRequestsMax: number;
  httpBodyBytesMax: number;
  httpUnsentBytesMax: number;
  httpAnswerSendMsMax: number;
  requestBytesHeldMax: number;
  wsConnectionsMax: number;
  wsFrameBytesMax: number;
  wsOpsPerFrameMax: number;
  wsInflightOpsPerConnectionMax: number;
  wsBufferedBytesMax: number;
  wsSendQueueBytesMax: number;
  wsResponseFrameBytesTarget: number;
  wsAnswerBytesPerConnectionMax: number;
  wsAnswerBytesMax: number;
  wsHeldBytesMax: number;
  idleTimeoutSeconds: number;
}

export interface ServerState {
  /** HTTP requests accepted and not yet answered (or aborted). */
  httpInflight: number;
  /** HTTP answer bytes the sockets have not taken yet, all connections together (http_api.ts Reply); its bound is httpUnsentBytesMax. */
  httpUnsent: ByteAccount;
  wsConnections: number;
  /** WebSocket operations accepted and not yet handed to the socket, over all connections. */
  wsInflightOps: number;
  /** Response bytes waiting in send queues (past the socket's own buffer), over all connections. */
  wsQueuedBytes: number;
  /** Read answers' bytes held by frames still running, over all connections (ws_api.ts). */
  wsAnswerBytes: number;
  /** Everything WebSocket connections hold for their clients, each as it last looked (ws_api.ts); its bound is wsHeldBytesMax. */
  wsHeld: ByteAccount;
  /**
   * Bytes of requests received and still running, HTTP and WebSocket together: a PUT's body (or
   * room for the largest, when it has no Content-Length), a WebSocket frame's copy.
   */
  requestBytesHeld: number;
  /** Set at the start of shutdown: new requests get 503 shutting_down. */
  closing: boolean;
}

export interface ServerContext {
  readonly coordinator: Coordinator;
  readonly metrics: Metrics;
  readonly limits: ServerLimits;
  readonly state: ServerState;
  /** One line to the node's log (stderr by default). */
  readonly log: (line: string) => void;
  /** Called whenever in-flight work drops, so shutdown can wait without polling. */
  readonly onIdle: () => void;
}

/**
 * Takes room for `sizeBytes` of a request about to be held (requestBytesHeld), or says it does
 * not fit: it would take what is held past requestBytesHeldMax. One request always fits where
 * nothing is held, so none is refused for good, and one that holds nothing (a GET) always fits.
 */
export function holdRequestBytes(ctx: ServerContext, sizeBytes: number): boolean {
  const held = ctx.state.requestBytesHeld;
  if (sizeBytes > 0 && !fitsBytes(held, sizeBytes, ctx.limits.requestBytesHeldMax)) {
    ctx.metrics.count('request_bytes_refusals');
    return false;
  }
  ctx.state.requestBytesHeld = held + sizeBytes;
  return true;
}

/** Gives back what holdRequestBytes took, once the request is answered (or its client gone). */
export function releaseRequestBytes(ctx: ServerContext, sizeBytes: number): void {
  ctx.state.requestBytesHeld -= sizeBytes;
  assert(ctx.state.requestBytesHeld >= 0, 'request bytes are given back once');
}
