// The HTTP API on uWebSockets.js (docs/http-api.md): the key-value routes, /health, /metrics and
// /api/v1/cluster/status. One catch-all uWS route dispatches through http_request.route, because
// keys may contain '/' and the 404/405 answers must be JSON.
//
// uWS rules kept here: a request object is valid only until the handler first returns, so every
// header is read synchronously up front; onAborted is attached before any await; after an await,
// writes happen inside res.cork; after abort the response is never touched again.
import { performance } from 'node:perf_hooks';
import type { AddNodeRequest, ConsistencyLevel, RepairSummary } from '../coordinator/types';
import { logScrub } from './scrub_schedule';
import { ErrorCode, isRingkvError, RingkvError } from '../errors';
import { errorReply, httpStatusLine } from './error_map';
import { deleteBody, errorBody, getBody, notFoundBody, putBody, replicaBody } from './http_json';
import {
  decodeKey,
  parseConsistency,
  parseContentLength,
  parseContext,
  parseIdempotencyKey,
  parseIfMatch,
  parseTimeoutMs,
  parseTtl,
  route,
} from './http_request';
import type { Outcome } from './metrics';
import { ByteShare } from '../byte_bound';
import { holdRequestBytes, releaseRequestBytes, type ServerContext } from './server_context';
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws';

/**
 * One response: remembers abort and completion so nothing writes to a dead or finished response.
 * The answer to a HEAD request is the GET answer's status and headers, Content-Length included,
 * without its body (RFC 9110 §9.3.2); uWS would send a body as given, so it is left out here.
 *
 * A body goes out with tryEnd, not end: end keeps whatever the socket does not take in uWS's own
 * buffer, out of sight, so clients that stop reading could hold any number of answers there (a
 * GET's runs to about 2.8 MB: a key's sibling values, which fit 1 MiB together, and the newest
 * again as `value`, in base64). With tryEnd the rest stays here, counted in httpUnsent
 * (reads past httpUnsentBytesMax are answered busy), and goes out as the socket drains
 * (onWritable). uWS closes a connection that takes nothing for its idle timeout; one that keeps
 * taking a trickle is closed once its answer has waited httpAnswerSendMsMax (the idea of Redis's
 * client-output-buffer-limit). Abort is the Reply's: callers hear it through onAbort (uWS keeps
 * one onAborted handler per response; a second would replace this one).
 */
class Reply {
  aborted = false;
  done = false;
  /** The `error` of the error answer given (or that would have been, to an aborted request). */
  errorName: string | undefined = undefined;
  /** Called once if the client goes away (or is cut off) before its answer is all sent. */
  onAbort: (() => void) | undefined = undefined;
  /** This answer's part of the node's unsent answer bytes; made once the socket leaves some. */
  private unsent: ByteShare | undefined = undefined;
  private sendTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    private readonly ctx: ServerContext,
    private readonly res: HttpResponse,
    private readonly head = false,
  ) {
    // Attached at once: an answer may be left half sent when the handler returns, and uWS
    // requires an abort handler for any response still open then.
    res.onAborted(() => this.abort());
  }

  send(status: number, body: string, headers: Readonly<Record<string, string>> = {}, closeConnection = false, type = 'application/json'): void {
    if (this.aborted || this.done) return;
    this.done = true;
    const line = httpStatusLine[status] ?? `${status} Unknown`;
    this.res.cork(() => {
      this.res.writeStatus(line).writeHeader('Content-Type', type);
      for (const [k, v] of Object.entries(headers)) this.res.writeHeader(k, v);
      if (this.head) {
        // Not endWithoutBody(length): this uWS then waits for that many body bytes, and a
        // synchronous answer counts as no answer at all (the process aborts). Any argument
        // makes it add a Content-Length of its own, so a close is asked for by header.
        this.res.writeHeader('Content-Length', String(Buffer.byteLength(body)));
        if (closeConnection) this.res.writeHeader('Connection', 'close');
        this.res.endWithoutBody();
      } else if (closeConnection) {
        // Only error answers close (a few hundred bytes): tryEnd cannot ask for the close.
        this.res.end(body, true);
      } else {
        this.stream(Buffer.from(body));
      }
    });
  }

  private stream(body: Buffer): void {
    const [, done] = this.res.tryEnd(body, body.byteLength);
    if (done) return;
    this.unsent = new ByteShare(this.ctx.state.httpUnsent);
    this.setUnsent(body.byteLength - this.res.getWriteOffset());
    this.sendTimer = setTimeout(() => {
      if (this.aborted || this.unsent?.bytes === 0) return;
      this.ctx.metrics.count('http_connections_closed', 'reason="slow_reader"');
      this.res.close();
      this.abort();
    }, this.ctx.limits.httpAnswerSendMsMax);
    this.sendTimer.unref();
    this.res.onWritable((offset) => {
      const [ok, finished] = this.res.tryEnd(body.subarray(offset), body.byteLength);
      // Once finished, the response is uWS's no more: nothing here touches it again.
      this.setUnsent(finished ? 0 : body.byteLength - this.res.getWriteOffset());
      return ok;
    });
  }

  private setUnsent(bytes: number): void {
    this.unsent?.set(bytes);
    if (bytes === 0 && this.sendTimer !== undefined) {
      clearTimeout(this.sendTimer);
      this.sendTimer = undefined;
    }
    if (bytes === 0) this.ctx.onIdle();
  }

  private abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.setUnsent(0);
    this.onAbort?.();
  }

  sendError(err: unknown, closeConnection = false): void {
    const reply = errorReply(err);
    this.errorName = reply.error;
    this.send(reply.httpStatus, errorBody(reply), {}, closeConnection);
  }

  /**
   * Answers with `err` and closes the connection, from the next turn. uWS closes a connection
   * only once it has parsed all it has read (the close asked for by an answer made while it
   * parses is forgotten when it parses the next request), so a request sent behind this one (the
   * rest of a body whose end is unknown) would be run and answered; while an answer is pending,
   * a request behind it closes the connection instead (uWS refuses async pipelining), unrun.
   */
  closeWithError(err: unknown): void {
    const reply = errorReply(err);
    this.errorName = reply.error;
    setImmediate(() => this.send(reply.httpStatus, errorBody(reply), {}, true));
  }
}

interface KeyRequestHeaders {
  consistency: ConsistencyLevel;
  timeoutMs: number | undefined;
  ttlSeconds: number | undefined;
  ifMatch: string | undefined;
  context: Uint8Array | undefined;
  idempotencyKey: string | undefined;
  contentLength: number | undefined;
}

/**
 * The request headers a key operation reads. uWS's getHeader returns a header's first line only,
 * so a header sent twice (a proxy that adds its own X-Consistency-Level or X-TTL after the
 * client's) would be read as whichever came first, silently: each of these is refused when sent
 * more than once (RFC 9110 §5.3: none of them is a list). Content-Length twice with one value is
 * one Content-Length (RFC 9112 §6.3).
 */
const singleHeaderBits: ReadonlyMap<string, number> = new Map(
  ['x-consistency-level', 'x-timeout-ms', 'x-ttl', 'if-match', 'x-context', 'idempotency-key'].map((name, i) => [name, 1 << i]),
);

/** Thrown for Content-Length sent twice with two values: where the body ends is unknown, so the connection closes after the answer. */
class ConflictingContentLength extends RingkvError {
  constructor() {
    super(ErrorCode.InvalidArgument, 'Content-Length appears more than once with different values: where the body ends is unknown, so the connection is closed');
  }
}

/**
 * Whether Content-Length is sent twice with two values: the other routes' check (a key route's is
 * checkRepeatedHeaders, one pass over its headers). Any route: behind a proxy that takes the
 * other length, the rest of the body would be read as a request of its own (an admin call).
 */
function conflictingContentLength(req: HttpRequest): boolean {
  let first: string | null = null;
  let conflict = false;
  req.forEach((name, value) => {
    if (name !== 'content-length') return;
    if (first === null) first = value.trim();
    else if (first !== value.trim()) conflict = true;
  });
  return conflict;
}

function checkRepeatedHeaders(req: HttpRequest): void {
  let seen = 0;
  let repeated: string | null = null;
  let firstLength: string | null = null;
  let lengths = false;
  req.forEach((name, value) => {
    if (name === 'content-length') {
      if (firstLength === null) firstLength = value.trim();
      else if (firstLength !== value.trim()) lengths = true;
      return;
    }
    const bit = singleHeaderBits.get(name);
    if (bit === undefined) return;
    if ((seen & bit) !== 0) repeated ??= name;
    seen |= bit;
  });
  if (lengths) throw new ConflictingContentLength();
  if (repeated !== null) throw new RingkvError(ErrorCode.InvalidArgument, `the ${repeated} header appears more than once; send it once`);
}

function readKeyHeaders(req: HttpRequest, op: 'put' | 'get' | 'delete'): KeyRequestHeaders {
  checkRepeatedHeaders(req);
  const h: KeyRequestHeaders = {
    consistency: parseConsistency(req.getHeader('x-consistency-level')),
    timeoutMs: parseTimeoutMs(req.getHeader('x-timeout-ms')),
    ttlSeconds: undefined,
    ifMatch: undefined,
    context: undefined,
    idempotencyKey: undefined,
    contentLength: undefined,
  };
  if (op === 'get') return h;
  h.ifMatch = parseIfMatch(req.getHeader('if-match'));
  h.context = parseContext(req.getHeader('x-context'));
  h.idempotencyKey = parseIdempotencyKey(req.getHeader('idempotency-key'));
  if (op === 'put') {
    h.ttlSeconds = parseTtl(req.getHeader('x-ttl'));
    h.contentLength = parseContentLength(req.getHeader('content-length'));
  }
  return h;
}

/** Past the body limit, up to this many more bytes are read and dropped so the 413 arrives whole. */
const bodyDiscardBytesMax = 16 * 1024 * 1024;

/**
 * Reads a request body up to `max` bytes and calls back once: with the body, or with null when
 * it is over `max`. Past `max` nothing more is kept: the rest is read and dropped until the body
 * ends, so the client (still uploading) gets the 413 instead of a reset connection; a body that
 * runs on past bodyDiscardBytesMax is answered at once, with `close` set.
 */
function readBody(res: HttpResponse, reply: Reply, max: number, done: (body: Uint8Array | null, close: boolean) => void): void {
  const chunks: Buffer[] = [];
  let total = 0;
  let answered = false;
  res.onData((chunk, isLast) => {
    if (answered || reply.aborted) return;
    total += chunk.byteLength;
    if (total > max) {
      chunks.length = 0;
      if (isLast || total > max + bodyDiscardBytesMax) {
        answered = true;
        done(null, !isLast);
      }
      return;
    }
    // uWS reuses the chunk's memory after this callback returns: copy it.
    chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (isLast) {
      answered = true;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      done(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), false);
    }
  });
}

function tooLarge(max: number): RingkvError {
  return new RingkvError(ErrorCode.ValueTooLarge, `value is over the ${max}-byte limit`);
}

/** A write's timing fields when the client states no time: none (one object, not one per request). */
const noTimeLeft: { timeoutMs?: number; notAfterMs?: number } = Object.freeze({});

/**
 * Runs one key operation whose headers were read at `startedMs` (performance.now()): with
 * X-Timeout-Ms, the client's time left is what reading the body has not used, and a write is not
 * applied once it is gone.
 */
async function runKeyOp(
  ctx: ServerContext,
  op: 'put' | 'get' | 'delete',
  key: Uint8Array,
  h: KeyRequestHeaders,
  body: Uint8Array | null,
  reply: Reply,
  startedMs: number,
): Promise<Outcome> {
  const c = ctx.coordinator;
  // A body slower than the client's whole time leaves it the least the coordinator takes (1 ms).
  const timeoutMs = h.timeoutMs === undefined ? undefined : Math.max(0.001, h.timeoutMs - (performance.now() - startedMs));
  const left = timeoutMs === undefined ? noTimeLeft : { timeoutMs, notAfterMs: Date.now() + timeoutMs };
  try {
    if (op === 'put') {
      const r = await c.put({
        key,
        value: body ?? new Uint8Array(0),
        consistency: h.consistency,
        ...left,
        ...(h.ttlSeconds !== undefined && { ttlSeconds: h.ttlSeconds }),
        ...(h.ifMatch !== undefined && { ifMatch: h.ifMatch }),
        ...(h.context !== undefined && { context: h.context }),
        ...(h.idempotencyKey !== undefined && { idempotencyKey: h.idempotencyKey }),
      });
      reply.send(200, putBody(r));
      return 'ok';
    }
    if (op === 'get') {
      const r = await c.get(timeoutMs === undefined ? { key, consistency: h.consistency } : { key, consistency: h.consistency, timeoutMs });
      if (!r.found) {
        reply.send(404, notFoundBody(key));
        return 'not_found';
      }
      reply.send(200, getBody(r));
      return 'ok';
    }
    const r = await c.delete({
      key,
      consistency: h.consistency,
      ...left,
      ...(h.ifMatch !== undefined && { ifMatch: h.ifMatch }),
      ...(h.context !== undefined && { context: h.context }),
      ...(h.idempotencyKey !== undefined && { idempotencyKey: h.idempotencyKey }),
    });
    reply.send(200, deleteBody(r));
    return 'ok';
  } catch (err) {
    if (isRingkvError(err, ErrorCode.NotFound)) {
      reply.send(404, notFoundBody(key));
      return 'not_found';
    }
    if (!isRingkvError(err)) ctx.log(`http ${op}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    reply.sendError(err);
    return 'error';
  }
}

function handleKey(ctx: ServerContext, res: HttpResponse, req: HttpRequest, op: 'put' | 'get' | 'delete', rawKey: string, head: boolean): void {
  const started = performance.now();
  const reply = new Reply(ctx, res, head);
  let key: Uint8Array;
  let h: KeyRequestHeaders;
  try {
    // Headers first, then the key: a bad header is 400 whatever the key.
    h = readKeyHeaders(req, op);
    key = decodeKey(rawKey);
  } catch (err) {
    if (err instanceof ConflictingContentLength) reply.closeWithError(err);
    else reply.sendError(err);
    ctx.metrics.observeError('http', op, 'invalid', reply.errorName!, (performance.now() - started) / 1000);
    return;
  }
  const refuse = (err: RingkvError, closeConnection = false): void => {
    reply.sendError(err, closeConnection);
    ctx.metrics.observeError('http', op, h.consistency, reply.errorName!, (performance.now() - started) / 1000);
  };
  if (ctx.state.closing) {
    refuse(new RingkvError(ErrorCode.Closed, 'the node is shutting down'), true);
    return;
  }
  if (ctx.state.httpInflight >= ctx.limits.httpInflightRequestsMax) {
    refuse(new RingkvError(ErrorCode.Busy, `over ${ctx.limits.httpInflightRequestsMax} requests in flight; retry`));
    return;
  }
  if (op === 'get' && ctx.state.httpUnsent.heldBytes >= ctx.limits.httpUnsentBytesMax) {
    // Reads make the large answers; a write's answer is a few hundred bytes.
    refuse(new RingkvError(ErrorCode.Busy, `${ctx.state.httpUnsent.heldBytes} bytes of answers wait for clients that read slowly (over ${ctx.limits.httpUnsentBytesMax}); retry`));
    return;
  }
  const max = ctx.limits.httpBodyBytesMax;
  if (op === 'put' && h.contentLength !== undefined && h.contentLength > max) {
    // Refused before buffering a byte of the body. The connection stays open: uWS parses past the
    // rest of the body and drops it (closing at once would make the kernel reset the connection
    // and the client could lose this answer).
    refuse(tooLarge(max));
    return;
  }
  // The body is held from its first byte until the answer: room for it is taken before a byte is
  // read, for the largest when its length is not known (chunked).
  const bodyBytes = op === 'put' ? (h.contentLength ?? max) : 0;
  if (!holdRequestBytes(ctx, bodyBytes)) {
    refuse(new RingkvError(ErrorCode.Busy, `${ctx.state.requestBytesHeld} bytes of requests are held (over ${ctx.limits.requestBytesHeldMax}); retry`));
    return;
  }

  ctx.state.httpInflight++;
  let finished = false;
  // Once the coordinator has the operation it counts as in flight until it settles, even if the
  // client goes away: shutdown waits for it, and its answer is dropped.
  let handedOver = false;
  const finish = (outcome: Outcome): void => {
    if (finished) return;
    finished = true;
    ctx.state.httpInflight--;
    releaseRequestBytes(ctx, bodyBytes);
    const seconds = (performance.now() - started) / 1000;
    if (outcome !== 'error') ctx.metrics.observe('http', op, h.consistency, outcome, seconds);
    else ctx.metrics.observeError('http', op, h.consistency, reply.errorName ?? (reply.aborted ? 'aborted' : 'internal'), seconds);
    ctx.onIdle();
  };
  reply.onAbort = () => {
    if (!handedOver) finish('error');
  };
  const go = (body: Uint8Array | null): void => {
    handedOver = true;
    runKeyOp(ctx, op, key, h, body, reply, started).then(finish, () => finish('error'));
  };
  if (op !== 'put') {
    go(null);
    return;
  }
  readBody(res, reply, max, (body, close) => {
    if (body !== null) {
      go(body);
      return;
    }
    reply.sendError(tooLarge(max), close);
    finish('error');
  });
}

/** The largest body POST /api/v1/cluster/nodes reads: three short fields. */
/** The admin endpoints' JSON bodies (add a node, name a snapshot) are a few fields. */
const adminBodyBytesMax = 4096;

/** Parses {"node_id", "address", "num_vnodes"?} (design.md §5); a RingkvError (400) when it is not that. */
export function parseAddNodeBody(body: Uint8Array): AddNodeRequest {
  const bad = (why: string) => new RingkvError(ErrorCode.InvalidArgument, why);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw bad('the body is not JSON; expected {"node_id": "...", "address": "host:port", "num_vnodes": N}');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('the body must be a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o.node_id !== 'string') throw bad('node_id must be a string');
  if (typeof o.address !== 'string') throw bad('address must be a string, host:port');
  if (o.num_vnodes !== undefined && typeof o.num_vnodes !== 'number') throw bad('num_vnodes must be a number');
  return { nodeId: o.node_id, address: o.address, vnodes: typeof o.num_vnodes === 'number' ? o.num_vnodes : null };
}

/** A repair pass as POST /api/v1/admin/repair answers it (and a scrub's repair within its answer). */
function repairJson(s: RepairSummary): Record<string, number> {
  return { ranges: s.ranges, synced: s.synced, skipped: s.skipped, failed: s.failed, pulled: s.pulled, pushed: s.pushed, duration_ms: s.durationMs };
}

/** POST /api/v1/admin/snapshot's body: empty (the name is the time) or {"name": "..."}. */
/** An optional admin body: nothing, or a JSON object (`shape` says what it may hold, for the error). */
function optionalJsonObject(body: Uint8Array, shape: string): Record<string, unknown> {
  if (body.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw new RingkvError(ErrorCode.InvalidArgument, `the body is not JSON; expected nothing or ${shape}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RingkvError(ErrorCode.InvalidArgument, 'the body must be a JSON object');
  return v as Record<string, unknown>;
}

export function parseSnapshotBody(body: Uint8Array): string | undefined {
  const name = optionalJsonObject(body, '{"name": "..."}').name;
  if (name !== undefined && typeof name !== 'string') throw new RingkvError(ErrorCode.InvalidArgument, 'name must be a string');
  return name;
}

export function parseScrubBody(body: Uint8Array): { salvage: boolean } {
  const salvage = optionalJsonObject(body, '{"salvage": true}').salvage;
  if (salvage !== undefined && typeof salvage !== 'boolean') throw new RingkvError(ErrorCode.InvalidArgument, 'salvage must be true or false');
  return { salvage: salvage === true };
}

/** An admin request with a small JSON body: read it (bounded), parse it, then run `work`. */
function handleWithBody<T>(ctx: ServerContext, res: HttpResponse, parse: (body: Uint8Array) => T, work: (req: T) => Promise<AsyncAnswer>): void {
  const reply = new Reply(ctx, res);
  readBody(res, reply, adminBodyBytesMax, (body, close) => {
    if (body === null) {
      reply.sendError(new RingkvError(ErrorCode.InvalidArgument, `the body is over ${adminBodyBytesMax} bytes`), close);
      return;
    }
    let req: T;
    try {
      req = parse(body);
    } catch (err) {
      reply.sendError(err);
      return;
    }
    handleAsyncOn(ctx, reply, () => work(req));
  });
}

type AsyncAnswer = { status: number; body: string; type?: string };

function handleAsync(ctx: ServerContext, res: HttpResponse, head: boolean, work: () => Promise<AsyncAnswer>): void {
  const reply = new Reply(ctx, res, head);
  handleAsyncOn(ctx, reply, work);
}

/** Runs `work` and answers with its result or its error. */
function handleAsyncOn(ctx: ServerContext, reply: Reply, work: () => Promise<AsyncAnswer>): void {
  ctx.state.httpInflight++;
  work()
    .then(
      (r) => reply.send(r.status, r.body, {}, false, r.type),
      (err) => reply.sendError(err),
    )
    .finally(() => {
      ctx.state.httpInflight--;
      ctx.onIdle();
    });
}

function serverGauges(ctx: ServerContext): Record<string, number> {
  // The node process's resident set, all its threads together (design.md §11 alerts on memory
  // use); metrics.ts breaks it down by thread.
  return {
    http_inflight_requests: ctx.state.httpInflight,
    http_unsent_bytes: ctx.state.httpUnsent.heldBytes,
    ws_connections: ctx.state.wsConnections,
    ws_inflight_ops: ctx.state.wsInflightOps,
    ws_send_queue_bytes: ctx.state.wsQueuedBytes,
    ws_answer_bytes: ctx.state.wsAnswerBytes,
    ws_held_bytes: ctx.state.wsHeld.heldBytes,
    request_bytes_held: ctx.state.requestBytesHeld,
    process_resident_memory_bytes: process.memoryUsage.rss(),
  };
}

/** Registers the HTTP routes on `app`. Register the WebSocket route before this catch-all. */
export function attachHttpApi(app: TemplatedApp, ctx: ServerContext): void {
  app.any('/*', (res, req) => {
    const method = req.getMethod();
    // HEAD is GET without the body, wherever GET is allowed.
    const head = method === 'head';
    const r = route(head ? 'get' : method, req.getUrl());
    if (r.kind !== 'key' && conflictingContentLength(req)) {
      new Reply(ctx, res, head).closeWithError(new ConflictingContentLength());
      return;
    }
    switch (r.kind) {
      case 'key':
        handleKey(ctx, res, req, r.op, r.rawKey, head);
        return;
      case 'health':
        if (ctx.state.closing) {
          new Reply(ctx, res, head).send(503, JSON.stringify({ status: 'shutting_down', node_id: ctx.coordinator.nodeId }));
          return;
        }
        handleAsync(ctx, res, head, async () => {
          // A shard that refuses writes still serves reads, but whatever routes writes here
          // should stop: 503 while any does. Out of space clears by itself once space is freed;
          // any other storage failure needs a restart. Storage that cannot even say how it is (a
          // shard whose worker could not be opened again) is failed storage too, not "ok".
          let failure: unknown = null;
          const stats = await ctx.coordinator.stats().catch((err: unknown) => ((failure = err), null));
          if (stats === null) {
            const why = failure instanceof Error ? failure.message : String(failure);
            return { status: 503, body: JSON.stringify({ status: 'storage_failed', node_id: ctx.coordinator.nodeId, message: `the node's storage does not answer (${why}); restart the node once that is fixed` }) };
          }
          const refusing = stats?.['shardsRefusingWrites'];
          const outOfSpace = stats?.['shardsOutOfSpace'];
          if (typeof refusing === 'number' && refusing > 0) {
            const shards = String(stats?.['shards'] ?? '?');
            const full = typeof outOfSpace === 'number' ? outOfSpace : 0;
            const failed = refusing - full;
            const message =
              failed > 0
                ? `${failed} of ${shards} shards refuse writes after a failed storage write (the writes' errors say why); restart the node once that is fixed`
                : `${full} of ${shards} shards refuse writes: the data dir's file system is full; they take writes again by themselves once space is freed (the writes' errors say how much)`;
            return { status: 503, body: JSON.stringify({ status: failed > 0 ? 'storage_failed' : 'storage_full', node_id: ctx.coordinator.nodeId, message }) };
          }
          return { status: 200, body: JSON.stringify({ status: 'ok', node_id: ctx.coordinator.nodeId }) };
        });
        return;
      case 'metrics':
        handleAsync(ctx, res, head, async () => {
          const stats = await ctx.coordinator.stats().catch(() => null);
          return { status: 200, body: ctx.metrics.render(stats, serverGauges(ctx)), type: 'text/plain; version=0.0.4; charset=utf-8' };
        });
        return;
      case 'replica':
        handleAsync(ctx, res, head, async () => ({ status: 200, body: replicaBody(ctx.coordinator.nodeId, await ctx.coordinator.replica(decodeKey(r.rawKey))) }));
        return;
      case 'cluster_status':
        handleAsync(ctx, res, head, async () => ({ status: 200, body: JSON.stringify(await ctx.coordinator.clusterStatus()) }));
        return;
      case 'repair':
        // Answers when the pass is over: a full pass of a loaded node can take minutes, so callers set a long timeout.
        handleAsync(ctx, res, head, async () => {
          const s = await ctx.coordinator.repair();
          return { status: 200, body: JSON.stringify(repairJson(s)) };
        });
        return;
      case 'cleanup':
        // Answers when every shard's tables have been rewritten (minutes on a large node).
        handleAsync(ctx, res, head, async () => {
          const s = await ctx.coordinator.cleanup();
          return {
            status: 200,
            body: JSON.stringify({
              ring_version: s.ringVersion,
              ranges_kept: s.rangesKept,
              tables: s.tables,
              tables_rewritten: s.tablesRewritten,
              tables_removed: s.tablesRemoved,
              entries_dropped: s.entriesDropped,
              bytes_before: s.bytesBefore,
              bytes_after: s.bytesAfter,
              cut_short: s.cutShort,
              duration_ms: s.durationMs,
            }),
          };
        });
        return;
      case 'flush':
        handleAsync(ctx, res, head, async () => {
          const started = Date.now();
          await ctx.coordinator.flush();
          return { status: 200, body: JSON.stringify({ status: 'flushed', duration_ms: Date.now() - started }) };
        });
        return;
      case 'scrub':
        // Answers when every table has been read (and, on a cluster node that quarantined one, repaired).
        handleWithBody(ctx, res, parseScrubBody, async ({ salvage }) => {
          const s = await ctx.coordinator.scrub({ salvage });
          logScrub(ctx.log, s, 'requested');
          return {
            status: 200,
            body: JSON.stringify({
              tables: s.tables,
              entries: s.entries,
              bytes_read: s.bytesRead,
              quarantined: s.quarantined.map((q) => ({ shard: q.shard, file: q.file, level: q.level, entries: q.entries, salvaged_entries: q.salvagedEntries, blocks_lost: q.blocksLost, reason: q.reason })),
              corrupt: s.corrupt.map((q) => ({ shard: q.shard, file: q.file, level: q.level, entries: q.entries, reason: q.reason })),
              cut_short: s.cutShort,
              repair: s.repair === null ? null : repairJson(s.repair),
              duration_ms: s.durationMs,
            }),
          };
        });
        return;
      case 'add_node':
        handleWithBody(ctx, res, parseAddNodeBody, async (req) => {
          const r = await ctx.coordinator.addNode(req);
          return { status: 200, body: JSON.stringify({ node_id: r.nodeId, address: r.address, status: r.status, num_vnodes: r.vnodes, ring_version: r.ringVersion }) };
        });
        return;
      case 'snapshot':
        handleWithBody(ctx, res, parseSnapshotBody, async (name) => {
          const s = await ctx.coordinator.snapshot(name);
          return { status: 200, body: JSON.stringify({ name: s.name, path: s.path, tables: s.tables, bytes: s.bytes, duration_ms: s.durationMs }) };
        });
        return;
      case 'remove_node':
        handleAsync(ctx, res, head, async () => {
          const removed = await ctx.coordinator.removeNode(r.nodeId);
          return { status: 200, body: JSON.stringify({ node_id: removed.nodeId, status: 'left', previous_status: removed.previousStatus, ring_version: removed.ringVersion }) };
        });
        return;
      case 'decommission':
        handleAsync(ctx, res, head, async () => {
          const s = await ctx.coordinator.decommission();
          return {
            status: 200,
            body: JSON.stringify({ status: 'left', ranges: s.ranges, records: s.records, sent: s.sent, changed: s.changed, hints_handed_over: s.hintsHandedOver, hints_left: s.hintsLeft, peers_told: s.peersTold, duration_ms: s.durationMs }),
          };
        });
        return;
      case 'not_found':
        new Reply(ctx, res, head).send(404, JSON.stringify({ error: 'not_found', message: `no route for ${method.toUpperCase()} ${req.getUrl().slice(0, 200)}` }));
        return;
      case 'method_not_allowed':
        new Reply(ctx, res, head).send(405, JSON.stringify({ error: 'method_not_allowed', message: `${method.toUpperCase()} is not allowed here; use ${r.allow}` }), { Allow: r.allow });
        return;
    }
  });
}
