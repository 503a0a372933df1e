// What the HTTP and WebSocket handlers of one server share: the coordinator they call, the
// metrics they record into, their limits, and the counters that graceful shutdown waits on.
import type { Coordinator } from '../coordinator/types';
import type { Metrics } from './metrics';

export interface ServerLimits {
  httpInflightRequestsMax: number;
  httpBodyBytesMax: number;
  httpUnsentBytesMax: number;
  httpAnswerSendMsMax: number;
  wsConnectionsMax: number;
  wsFrameBytesMax: number;
  wsOpsPerFrameMax: number;
  wsInflightOpsPerConnectionMax: number;
  wsBufferedBytesMax: number;
  wsSendQueueBytesMax: number;
  wsResponseFrameBytesTarget: number;
  wsAnswerBytesPerConnectionMax: number;
  wsAnswerBytesMax: number;
  idleTimeoutSeconds: number;
}

export interface ServerState {
  /** HTTP requests accepted and not yet answered (or aborted). */
  httpInflight: number;
  /** HTTP answer bytes the sockets have not taken yet, all connections together (http_api.ts Reply). */
  httpUnsentBytes: number;
  wsConnections: number;
  /** WebSocket operations accepted and not yet handed to the socket, over all connections. */
  wsInflightOps: number;
  /** Response bytes waiting in send queues (past the socket's own buffer), over all connections. */
  wsQueuedBytes: number;
  /** Read answers' bytes held by frames still running, over all connections (ws_api.ts). */
  wsAnswerBytes: number;
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
