// A node's front end: one uWebSockets.js app serving the HTTP API and the WebSocket protocol in
// front of any Coordinator (single-node or cluster; the server cannot tell). startServer listens
// and resolves once the port is bound; close() is the graceful half of shutdown: refuse new work,
// let in-flight requests finish (bounded by a grace period), then cut the connections. Closing the
// coordinator is the caller's (node.ts), because the caller created it.
import * as constants from '../constants';
import { byteAccount } from '../byte_bound';
import type { Coordinator } from '../coordinator/types';
import { assert, ErrorCode, RingkvError } from '../errors';
import { startEventLoopTiming } from '../event_loop_delay';
import { startGcTiming } from '../gc_pauses';
import { attachHttpApi } from './http_api';
import { Metrics } from './metrics';
import type { ServerContext, ServerLimits, ServerState } from './server_context';
import { listenExclusive, loadUws } from './uws';
import { attachWsApi, type WsRegistry } from './ws_api';

export interface ServerOptions {
  coordinator: Coordinator;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port (see RunningServer.port). */
  port: number;
  limits?: Partial<ServerLimits>;
  log?: (line: string) => void;
}

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  readonly metrics: Metrics;
  /** Stops accepting, waits up to graceMs for in-flight requests, then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

export const defaultServerLimits: Readonly<ServerLimits> = {
  httpInflightRequestsMax: constants.httpInflightRequestsMax,
  httpBodyBytesMax: constants.httpBodyBytesMax,
  httpUnsentBytesMax: constants.httpUnsentBytesMax,
  httpAnswerSendMsMax: constants.httpAnswerSendMsMax,
  requestBytesHeldMax: constants.requestBytesHeldMax,
  wsConnectionsMax: constants.connectionsMax,
  wsFrameBytesMax: constants.wsFrameBytesMax,
  wsOpsPerFrameMax: constants.wsOpsPerFrameMax,
  wsInflightOpsPerConnectionMax: constants.wsInflightOpsPerConnectionMax,
  wsBufferedBytesMax: constants.wsBufferedBytesMax,
  wsSendQueueBytesMax: constants.wsSendQueueBytesMax,
  wsResponseFrameBytesTarget: constants.wsResponseFrameBytesTarget,
  wsAnswerBytesPerConnectionMax: constants.wsAnswerBytesPerConnectionMax,
  wsAnswerBytesMax: constants.wsAnswerBytesMax,
  wsHeldBytesMax: constants.wsHeldBytesMax,
  idleTimeoutSeconds: constants.idleTimeoutSeconds,
};

function checkLimits(l: ServerLimits): void {
  for (const [name, v] of Object.entries(l)) {
    if (!Number.isInteger(v) || v <= 0) throw new RingkvError(ErrorCode.InvalidArgument, `server limit ${name} must be a positive integer, not ${v}`);
  }
  // The wire format's own op-count cap is wsOpsPerFrameMax in the schema verifier.
  assert(l.wsOpsPerFrameMax <= constants.wsOpsPerFrameMax, 'wsOpsPerFrameMax cannot exceed the protocol limit');
  assert(l.wsResponseFrameBytesTarget <= l.wsBufferedBytesMax, 'a response frame must fit under wsBufferedBytesMax');
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const uws = loadUws();
  // The main thread's GC pauses and event loop delay, for /metrics (the shard threads time their own).
  startGcTiming();
  startEventLoopTiming();
  const host = options.host ?? '127.0.0.1';
  const limits: ServerLimits = { ...defaultServerLimits, ...options.limits };
  checkLimits(limits);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const state: ServerState = { httpInflight: 0, httpUnsent: byteAccount(limits.httpUnsentBytesMax), wsConnections: 0, wsInflightOps: 0, wsQueuedBytes: 0, wsAnswerBytes: 0, wsHeld: byteAccount(limits.wsHeldBytesMax), requestBytesHeld: 0, closing: false };
  const idleWaiters: (() => void)[] = [];
  // Shutdown waits for answers as well as operations: an HTTP answer handed to uWS but not yet
  // taken by its socket (a large GET to a slow client) would be cut short by the process's exit.
  const idle = (): boolean => state.httpInflight === 0 && state.wsInflightOps === 0 && state.httpUnsent.heldBytes === 0;
  const ctx: ServerContext = {
    coordinator: options.coordinator,
    metrics: new Metrics(),
    limits,
    state,
    log,
    onIdle: () => {
      if (idle()) idleWaiters.splice(0).forEach((w) => w());
    },
  };
  const registry: WsRegistry = new Set();
  const app = uws.App();
  // The WebSocket route first: the HTTP catch-all must not shadow it.
  attachWsApi(uws, app, ctx, registry);
  attachHttpApi(app, ctx);

  const listenSocket = await listenExclusive(uws, app, host, options.port);
  const port = uws.us_socket_local_port(listenSocket as never);
  assert(port > 0, 'a bound listen socket has a port');

  let closed: Promise<void> | undefined;
  const close = (graceMs = constants.shutdownGraceMsDefault): Promise<void> => {
    closed ??= (async () => {
      state.closing = true;
      uws.us_listen_socket_close(listenSocket);
      if (!idle()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          idleWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      for (const ws of [...registry]) ws.end(1001, 'node shutting down');
    })();
    return closed;
  };
  return { host, port, metrics: ctx.metrics, close };
}
