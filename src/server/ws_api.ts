// The binary WebSocket endpoint /api/v1/ws (docs/wire-protocol.md): decode a request frame, run
// its operations, send the response frame, all under flow control.
//
// Flow control, per connection (uWS v20.30 cannot pause reading a WebSocket, so limits answer
// instead of stalling):
// - an operation is "in flight" from decode until its response frame is handed to the socket;
//   a frame that would take a connection over wsInflightOpsPerConnectionMax is answered with a
//   Busy result for each of its operations, and nothing of it runs;
// - responses go to the socket only while getBufferedAmount() is under wsBufferedBytesMax; past
//   that they wait in the connection's send queue and go out on drain, in order;
// - the values a connection's frames have read count against wsAnswerBytesPerConnectionMax until
//   their answer is handed to the socket (running, then waiting in the send queue), and against
//   wsAnswerBytesMax on the node while their frame runs: past either, a read is answered busy (the
//   client asks again), its value dropped as it arrives: what a connection holds is bounded by
//   bytes, not only by its 4,096 operations (of up to 1 MiB each), and a reader that falls behind
//   meets Busy. The node's share ends with the frame: connections that stopped reading, holding
//   their answers, must not leave every other connection's reads busy;
// - the rest of a send queue (busy and write answers, error frames: what no answer bytes bound)
//   over wsSendQueueBytesMax, a client that keeps sending and never reads, closes the connection
//   with 1008, so memory per connection stays bounded;
// - all connections together: what each holds (answers, the rest of its queue, what uWS buffers
//   for it) is its share of wsHeldBytesMax; past it a read of a connection that holds something
//   is answered busy, and a queue still growing past wsResponseFrameBytesTarget closes its
//   connection (1008): per connection alone, 10,000 connections could each hold ~100 MiB;
// - a frame is held (its copy: values, keys, contexts) until it is answered, counted with the
//   node's HTTP bodies: one that would take them past requestBytesHeldMax is answered with a
//   Busy result for each of its operations, and nothing of it runs.
// Answers are handed to the socket at the end of the event-loop turn they were made in (one cork,
// one write for every frame of a connection that finished in that turn; a shard batch finishes
// many at once), not one write each.
// A frame that cannot be decoded, or a text frame, gets a frame-level error frame and the
// connection stays open: nothing a client sends can throw out of here.
import { ByteShare, fitsBytes } from '../byte_bound';
import { ErrorCode, isRingkvError, RingkvError } from '../errors';
import { WireErrorCode } from '../protocol/client_codes';
import { frameLatenessQuietMsMax, frameLatenessWindowMs } from '../constants';
import { decodeRequestFrame, type DecodedFrame } from '../protocol/client_request';
import { encodeErrorFrame, encodeResponseFrames, type ClientResult } from '../protocol/client_response';
import { errorReply } from './error_map';
import { FrameLateness } from '../protocol/frame_lateness';
import type { AnswerRoom } from '../coordinator/types';
import { holdRequestBytes, releaseRequestBytes, type ServerContext } from './server_context';
import type { TemplatedApp, UwsModule, WebSocket } from './uws';
import { deadlineGroups, runFrame } from './ws_ops';

export const wsPath = '/api/v1/ws';

interface Pending {
  frame: Uint8Array;
  /** Operations this frame answers; they stop counting as in flight once it is handed over. */
  ops: number;
  /** The answer bytes of the frame this one ends, let go once it is handed over. */
  room: FrameRoom | null;
}

export interface WsConn {
  open: boolean;
  /** A flush is due at the end of this event-loop turn. */
  flushScheduled: boolean;
  inflightOps: number;
  queue: Pending[];
  queueBytes: number;
  /** Of queueBytes, the answer bytes their frames hold (what the send-queue bound does not count). */
  queueHeldBytes: number;
  /** Read answers' bytes held by this connection's frames, running or waiting in the queue. */
  answerBytes: number;
  /** What uWS buffered for this connection when it last looked (flush). */
  bufferedBytes: number;
  /** This connection's part of the node's wsHeld: answerBytes, the rest of its queue, bufferedBytes (look()). */
  held: ByteShare;
  /** How late this connection's frames arrive (against what the client stamped on them). */
  lateness: FrameLateness;
}

/** The connections of one server, for shutdown. */
export type WsRegistry = Set<WebSocket<WsConn>>;

/** Sets the connection's part of wsHeld to what it holds now (nothing once it is closed). */
function look(conn: WsConn): void {
  conn.held.set(conn.open ? conn.answerBytes + conn.queueBytes - conn.queueHeldBytes + conn.bufferedBytes : 0);
}

function release(ctx: ServerContext, conn: WsConn, ops: number): void {
  conn.inflightOps -= ops;
  ctx.state.wsInflightOps -= ops;
  if (ops > 0) ctx.onIdle();
}

/** Hands queued frames to the socket while it is under the buffered-bytes bound. */
function flush(ctx: ServerContext, ws: WebSocket<WsConn>, conn: WsConn): void {
  if (!conn.open) return;
  if (conn.queue.length > 0) flushQueue(ctx, ws, conn);
  // What uWS still buffers once the cork is written; 'drain' flushes (and looks) again.
  if (conn.open) {
    conn.bufferedBytes = ws.getBufferedAmount();
    look(conn);
  }
}

function flushQueue(ctx: ServerContext, ws: WebSocket<WsConn>, conn: WsConn): void {
  ws.cork(() => {
    while (conn.open && conn.queue.length > 0 && ws.getBufferedAmount() < ctx.limits.wsBufferedBytesMax) {
      const p = conn.queue.shift()!;
      conn.queueBytes -= p.frame.byteLength;
      ctx.state.wsQueuedBytes -= p.frame.byteLength;
      const status = ws.send(p.frame, true, false);
      release(ctx, conn, p.ops);
      letGo(conn, p);
      if (status === 2) {
        // Dropped by uWS's own maxBackpressure: cannot happen while maxBackpressure is set above
        // wsBufferedBytesMax plus the largest frame, but never continue on a torn stream.
        ctx.log('ws: a frame was dropped by back-pressure; closing the connection');
        ws.end(1011, 'back-pressure');
        return;
      }
    }
  });
}

/** A queued frame leaves the queue (sent, or its connection closed): its answer bytes go (FrameRoom.letGo looks). */
function letGo(conn: WsConn, p: Pending): void {
  if (p.room === null) return;
  conn.queueHeldBytes -= p.room.heldBytes;
  p.room.letGo();
}

/** `room`: the answer bytes of the frame these answer, held until they are handed to the socket. */
function enqueue(ctx: ServerContext, ws: WebSocket<WsConn>, conn: WsConn, frames: Uint8Array[], ops: number, room: FrameRoom | null = null): void {
  if (!conn.open) {
    release(ctx, conn, ops);
    room?.letGo();
    return;
  }
  // What was queued before this answer says whether the client reads: one answer larger than the
  // bound (a frame of GETs of large values) is no sign of a client that stopped reading. Nor are
  // the answers' values: their bytes are bounded (and answered Busy past it) on their own.
  const backlogBytes = conn.queueBytes - conn.queueHeldBytes;
  frames.forEach((frame, i) => {
    const last = i === frames.length - 1;
    conn.queue.push({ frame, ops: last ? ops : 0, room: last ? room : null });
    conn.queueBytes += frame.byteLength;
    ctx.state.wsQueuedBytes += frame.byteLength;
  });
  conn.queueHeldBytes += room?.heldBytes ?? 0;
  look(conn);
  if (backlogBytes > ctx.limits.wsSendQueueBytesMax) {
    ctx.metrics.count('ws_connections_closed', 'reason="send_queue_full"');
    ws.end(1008, 'send queue over limit: read your responses');
    return;
  }
  // All connections together hold more than the node's bound: one whose queue still grows
  // (a client that sends and does not read) is let go before its own bound.
  const held = ctx.state.wsHeld;
  if (backlogBytes > ctx.limits.wsResponseFrameBytesTarget && held.heldBytes > held.heldBytesMax) {
    ctx.metrics.count('ws_connections_closed', 'reason="node_held_full"');
    ws.end(1008, 'the node holds too much for its WebSocket clients: read your responses');
    return;
  }
  if (conn.flushScheduled) return;
  conn.flushScheduled = true;
  setImmediate(() => {
    conn.flushScheduled = false;
    flush(ctx, ws, conn);
  });
}

/** Room for the reads of one frame: its connection's share and the node's, taken as values arrive. */
class FrameRoom implements AnswerRoom {
  /** On the connection, until the answer is handed to the socket. */
  heldBytes = 0;
  /** On the node, while the frame runs. */
  private nodeHeldBytes = 0;

  constructor(
    private readonly ctx: ServerContext,
    private readonly conn: WsConn,
  ) {}

  take(bytes: number): boolean {
    const { ctx, conn } = this;
    // One answer always fits where nothing is held (fitsBytes), on the connection and on the
    // node: a read is never refused for good. A connection holding nothing is served whatever
    // the others hold (ByteShare.fits): those that stopped reading do not make every read busy.
    const fits =
      fitsBytes(conn.answerBytes, bytes, ctx.limits.wsAnswerBytesPerConnectionMax) &&
      fitsBytes(ctx.state.wsAnswerBytes, bytes, ctx.limits.wsAnswerBytesMax) &&
      conn.held.fits(bytes, Number.MAX_SAFE_INTEGER);
    if (!fits) {
      ctx.metrics.count('ws_answers_refused');
      return false;
    }
    conn.answerBytes += bytes;
    ctx.state.wsAnswerBytes += bytes;
    this.heldBytes += bytes;
    this.nodeHeldBytes += bytes;
    look(conn);
    return true;
  }

  /** The frame is answered: its bytes leave the node's share. */
  answered(): void {
    this.ctx.state.wsAnswerBytes -= this.nodeHeldBytes;
    this.nodeHeldBytes = 0;
  }

  /** The frame's answer is handed to the socket (or its connection is gone). */
  letGo(): void {
    this.answered();
    this.conn.answerBytes -= this.heldBytes;
    this.heldBytes = 0;
    look(this.conn);
  }
}

function refuseFrame(ctx: ServerContext, ws: WebSocket<WsConn>, conn: WsConn, code: WireErrorCode, message: string, reason: string): void {
  ctx.metrics.count('ws_frames_refused', `reason="${reason}"`);
  enqueue(ctx, ws, conn, [encodeErrorFrame(code, message)], 0);
}

/**
 * Refuses a frame that decoded, with `error` for each of its operations and none of them run. Not
 * a frame-level error: that names no operation, so the client must fail everything in flight on
 * the connection, including earlier frames' operations that are still running here and will be
 * answered.
 */
function refuseOps(ctx: ServerContext, ws: WebSocket<WsConn>, conn: WsConn, ops: DecodedFrame['ops'], err: RingkvError, reason: string): void {
  ctx.metrics.count('ws_frames_refused', `reason="${reason}"`);
  const reply = errorReply(err);
  // Each operation is a request answered with an error, counted as HTTP counts a refused request.
  for (const d of ops) ctx.metrics.observeError('ws', d.ok ? d.request.op : (d.op ?? 'invalid'), d.ok ? (d.request.consistency ?? 'QUORUM') : 'invalid', reply.error, 0);
  const results: ClientResult[] = ops.map((d) => ({ id: d.ok ? d.request.id : d.id, status: 'error', error: reply.wire, message: reply.message }));
  enqueue(ctx, ws, conn, encodeResponseFrames(results, ctx.limits.wsResponseFrameBytesTarget), 0);
}

function onMessage(ctx: ServerContext, ws: WebSocket<WsConn>, message: ArrayBuffer, isBinary: boolean): void {
  const arrivedMs = performance.now();
  const conn = ws.getUserData();
  if (!isBinary) {
    refuseFrame(ctx, ws, conn, WireErrorCode.TextFrame, 'text frames are not part of the protocol; send binary RequestFrames', 'text');
    return;
  }
  let frame: DecodedFrame;
  try {
    // Decoding copies every field it keeps: uWS reuses `message` once this handler returns.
    frame = decodeRequestFrame(new Uint8Array(message));
  } catch (err) {
    const reply = errorReply(err);
    if (!isRingkvError(err)) ctx.log(`ws: decoding a frame threw a non-RingkvError: ${String(err)}`);
    refuseFrame(ctx, ws, conn, reply.wire, reply.message, reply.wire === WireErrorCode.FrameTooLarge ? 'too_many_ops' : 'malformed');
    return;
  }
  const ops = frame.ops;
  const n = ops.length;
  if (n > ctx.limits.wsOpsPerFrameMax) {
    refuseFrame(ctx, ws, conn, WireErrorCode.FrameTooLarge, `${n} operations in one frame, over ${ctx.limits.wsOpsPerFrameMax}; split it`, 'too_many_ops');
    return;
  }
  if (ctx.state.closing) {
    refuseOps(ctx, ws, conn, ops, new RingkvError(ErrorCode.Closed, 'the node is shutting down'), 'shutting_down');
    return;
  }
  if (conn.inflightOps + n > ctx.limits.wsInflightOpsPerConnectionMax) {
    refuseOps(ctx, ws, conn, ops, new RingkvError(ErrorCode.Busy, `over ${ctx.limits.wsInflightOpsPerConnectionMax} operations in flight on this connection; wait for results`), 'busy');
    return;
  }
  // The frame's copy (its values, keys and contexts: frame_copy.ts) is held until it is answered.
  const frameBytes = message.byteLength;
  if (!holdRequestBytes(ctx, frameBytes)) {
    refuseOps(ctx, ws, conn, ops, new RingkvError(ErrorCode.Busy, `${ctx.state.requestBytesHeld} bytes of requests are held on this node (over ${ctx.limits.requestBytesHeldMax}); retry`), 'request_bytes');
    return;
  }
  conn.inflightOps += n;
  ctx.state.wsInflightOps += n;
  const latenessMs = conn.lateness.of(frame.sentAtMs, arrivedMs);
  // Each group of about the same deadline is answered as soon as it is done (deadlineGroups); the
  // frame's copy is held until the last is.
  const groups = deadlineGroups(ops);
  let groupsLeft = groups.length;
  const groupDone = (): void => {
    if (--groupsLeft === 0) releaseRequestBytes(ctx, frameBytes);
  };
  for (const group of groups) {
    const room = new FrameRoom(ctx, conn);
    void runFrame(ctx.coordinator, group, latenessMs, ctx.metrics, ctx.log, room)
      .then((results) => encodeResponseFrames(results, ctx.limits.wsResponseFrameBytesTarget))
      .then(
        (frames) => {
          groupDone();
          room.answered();
          enqueue(ctx, ws, conn, frames, group.length, room);
        },
        (err: unknown) => {
          groupDone();
          room.letGo();
          // runFrame never rejects; encoding can only fail on a bug (an assertion).
          ctx.log(`ws: answering a frame failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
          enqueue(ctx, ws, conn, [encodeErrorFrame(WireErrorCode.Internal, 'internal error')], group.length);
        },
      );
  }
}

/** Registers /api/v1/ws on `app`. */
export function attachWsApi(uws: UwsModule, app: TemplatedApp, ctx: ServerContext, registry: WsRegistry): void {
  const l = ctx.limits;
  app.ws<WsConn>(wsPath, {
    compression: uws.DISABLED,
    maxPayloadLength: l.wsFrameBytesMax,
    // Above what flush() lets build up (wsBufferedBytesMax plus one frame), so uWS never drops.
    maxBackpressure: l.wsBufferedBytesMax + l.wsSendQueueBytesMax,
    closeOnBackpressureLimit: 0,
    idleTimeout: l.idleTimeoutSeconds,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      if (ctx.state.closing || ctx.state.wsConnections >= l.wsConnectionsMax) {
        const why = ctx.state.closing ? 'the node is shutting down' : `over ${l.wsConnectionsMax} WebSocket connections`;
        ctx.metrics.count('ws_upgrades_refused');
        res.writeStatus('503 Service Unavailable').writeHeader('Content-Type', 'application/json').end(JSON.stringify({ error: 'busy', message: why }));
        return;
      }
      // Counted at upgrade, not open, so a burst of upgrades cannot overshoot the cap.
      ctx.state.wsConnections++;
      const conn: WsConn = {
        open: true,
        flushScheduled: false,
        inflightOps: 0,
        queue: [],
        queueBytes: 0,
        queueHeldBytes: 0,
        answerBytes: 0,
        bufferedBytes: 0,
        held: new ByteShare(ctx.state.wsHeld),
        lateness: new FrameLateness(frameLatenessWindowMs, frameLatenessQuietMsMax),
      };
      res.upgrade(conn, key, protocol, extensions, context);
    },
    open: (ws) => {
      registry.add(ws);
    },
    message: (ws, message, isBinary) => onMessage(ctx, ws, message, isBinary),
    drain: (ws) => flush(ctx, ws, ws.getUserData()),
    close: (ws) => {
      const conn = ws.getUserData();
      conn.open = false;
      registry.delete(ws);
      ctx.state.wsConnections--;
      // Queued answers die with the connection; operations still running release themselves
      // when they finish (enqueue on a closed connection only releases).
      const queued = conn.queue.reduce((n, p) => n + p.ops, 0);
      for (const p of conn.queue) letGo(conn, p);
      conn.queue = [];
      ctx.state.wsQueuedBytes -= conn.queueBytes;
      conn.queueBytes = 0;
      conn.bufferedBytes = 0;
      look(conn);
      release(ctx, conn, queued);
    },
  });
}
