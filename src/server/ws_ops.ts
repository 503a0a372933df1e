// Runs the operations of one decoded WebSocket request frame against the coordinator and turns
// each outcome into a wire result. No socket here: ws_api.ts owns flow control and sending.
import { performance } from 'node:perf_hooks';
import type { AnswerRoom, BatchOp, BatchOutcome, Coordinator } from '../coordinator/types';
import { ErrorCode, isRingkvError, RingkvError } from '../errors';
import type { ClientRequest, DecodedOp } from '../protocol/client_request';
import type { ClientResult } from '../protocol/client_response';
import { type ErrorReply, errorReply } from './error_map';
import type { Metrics } from './metrics';

function errorResult(id: number, reply: ErrorReply): ClientResult {
  const r: ClientResult = { id, status: 'error', error: reply.wire, message: reply.message };
  if (reply.currentVersion !== undefined) r.currentVersion = reply.currentVersion;
  return r;
}

/**
 * The coordinator's request for one decoded operation (QUORUM when it names no level), answered
 * before its client's `leftMs` runs out (Infinity: the client did not say) and, a write, not
 * applied once it has (past `notAfterMs`, Date.now() time).
 */
function toBatchOp(q: ClientRequest, leftMs: number, notAfterMs: number): BatchOp {
  const consistency = q.consistency ?? 'QUORUM';
  const timeoutMs = leftMs === Infinity ? undefined : leftMs;
  switch (q.op) {
    case 'put':
      return {
        op: 'put',
        req: {
          key: q.key,
          value: q.value ?? new Uint8Array(0),
          consistency,
          ...(timeoutMs !== undefined && { timeoutMs }),
          ...(q.ttlSeconds !== undefined && { ttlSeconds: q.ttlSeconds }),
          ...(q.expectedVersion !== undefined && { ifMatch: q.expectedVersion }),
          ...(q.context !== undefined && { context: q.context }),
          ...(q.idempotencyKey !== undefined && { idempotencyKey: q.idempotencyKey }),
          ...(notAfterMs !== 0 && { notAfterMs }),
        },
      };
    case 'get':
      return { op: 'get', req: timeoutMs === undefined ? { key: q.key, consistency } : { key: q.key, consistency, timeoutMs } };
    case 'delete':
      return {
        op: 'delete',
        req: {
          key: q.key,
          consistency,
          ...(timeoutMs !== undefined && { timeoutMs }),
          ...(q.expectedVersion !== undefined && { ifMatch: q.expectedVersion }),
          ...(q.context !== undefined && { context: q.context }),
          ...(q.idempotencyKey !== undefined && { idempotencyKey: q.idempotencyKey }),
          ...(notAfterMs !== 0 && { notAfterMs }),
        },
      };
  }
}

function toResult(id: number, o: BatchOutcome & { ok: true }): ClientResult {
  switch (o.op) {
    case 'put':
      return { id, status: 'ok', version: o.result.version, timestampMs: o.result.timestampMs };
    case 'get': {
      const r = o.result;
      if (!r.found) return { id, status: 'not_found' };
      const out: ClientResult = { id, status: 'ok', version: r.version, timestampMs: r.timestampMs, value: r.value, context: r.context };
      if (r.siblings.length > 1) out.siblings = r.siblings;
      return out;
    }
    case 'delete':
      return { id, status: 'ok', version: o.result.version, timestampMs: o.result.timestampMs, tombstoneExpiryMs: o.result.tombstoneExpiryMs };
  }
}

/**
 * A frame's operations in the groups that are run and answered each on its own: those whose
 * timeouts are within about 10% of each other. A frame's answer left once all its operations
 * were done, so one with 100 ms left waited for one with 5 s left, and was answered long after
 * its client had given up on it. Ops that did not decode go with the group of the shortest
 * timeout (answered at once); ops that state no timeout make a group of their own. A frame the
 * client library builds holds ops of about the same time left: one group. Groups come in the
 * order of their first op, and each keeps its ops in frame order.
 */
export function deadlineGroups(ops: readonly DecodedOp[]): DecodedOp[][] {
  const timeoutOf = (d: DecodedOp): number => (d.ok ? (d.request.timeoutMs ?? Infinity) : -1);
  if (ops.length === 0) return [];
  // One pass first, for the frame every client builds: all within one group, no sort.
  let lowMs = Infinity;
  let highMs = -1;
  for (const d of ops) {
    const t = timeoutOf(d);
    if (t === -1) continue;
    if (t < lowMs) lowMs = t;
    if (t > highMs) highMs = t;
  }
  if (highMs === -1 || (highMs === Infinity ? lowMs === Infinity : highMs <= lowMs * 1.1 + 5)) return [[...ops]];
  const order = ops.map((_, i) => i).sort((a, b) => {
    const [x, y] = [timeoutOf(ops[a]!), timeoutOf(ops[b]!)];
    return x < y ? -1 : x > y ? 1 : a - b;
  });
  const groupOf = new Array<number>(ops.length);
  let groups = 0;
  // The shortest timeout in the group being filled; -1 while it holds only ops that did not decode.
  let groupLowMs = -1;
  for (const i of order) {
    const t = timeoutOf(ops[i]!);
    if (groups === 0) groups = 1;
    if (groupLowMs === -1) groupLowMs = t;
    else if (t === Infinity ? groupLowMs !== Infinity : t > groupLowMs * 1.1 + 5) {
      groups++;
      groupLowMs = t;
    }
    groupOf[i] = groups - 1;
  }
  const byGroup = new Map<number, DecodedOp[]>();
  ops.forEach((d, i) => {
    const g = groupOf[i]!;
    const list = byGroup.get(g);
    if (list === undefined) byGroup.set(g, [d]);
    else list.push(d);
  });
  return [...byGroup.values()];
}

/**
 * Runs every operation of a frame (or of one of its deadlineGroups) as one coordinator batch and resolves with one result per
 * operation, in frame order. Never rejects. Each operation's latency in the metrics is the
 * frame's: its answer leaves in the frame's response, once every operation is done. The frame
 * reached this node `latenessMs` later than its connection's frames usually do
 * (protocol/frame_lateness.ts): an operation whose timeout ran out on the way does not run, and
 * a write is not applied after its client's timeout. A read whose value does not fit `room` is
 * answered busy (Coordinator.batch).
 */
export async function runFrame(
  c: Coordinator,
  ops: readonly DecodedOp[],
  latenessMs: number,
  metrics: Metrics,
  log: (line: string) => void,
  room?: AnswerRoom,
): Promise<ClientResult[]> {
  const started = performance.now();
  const nowMs = Date.now();
  const results = new Array<ClientResult>(ops.length);
  const batch: BatchOp[] = [];
  const requests: ClientRequest[] = [];
  const at: number[] = [];
  for (let i = 0; i < ops.length; i++) {
    const d = ops[i]!;
    if (!d.ok) {
      const reply = errorReply(d.error);
      metrics.observeError('ws', d.op ?? 'invalid', 'invalid', reply.error, 0);
      results[i] = errorResult(d.id, reply);
      continue;
    }
    const timeoutMs = d.request.timeoutMs;
    const leftMs = timeoutMs === undefined ? Infinity : timeoutMs - latenessMs;
    if (leftMs <= 0) {
      metrics.count('ws_ops_expired');
      const why = `not run: it reached this node ${Math.round(latenessMs)} ms later than this connection's frames usually do, past its ${timeoutMs} ms timeout, so its client has given up on it`;
      const reply = errorReply(new RingkvError(ErrorCode.Timeout, why));
      metrics.observeError('ws', d.request.op, d.request.consistency ?? 'QUORUM', reply.error, 0);
      results[i] = errorResult(d.request.id, reply);
      continue;
    }
    batch.push(toBatchOp(d.request, leftMs, leftMs === Infinity ? 0 : nowMs + leftMs));
    requests.push(d.request);
    at.push(i);
  }
  const outcomes = await c.batch(batch, room);
  const seconds = (performance.now() - started) / 1000;
  for (let j = 0; j < outcomes.length; j++) {
    const o = outcomes[j]!;
    const q = requests[j]!;
    const consistency = q.consistency ?? 'QUORUM';
    let result: ClientResult;
    if (o.ok) {
      result = toResult(q.id, o);
      metrics.observe('ws', q.op, consistency, result.status === 'ok' ? 'ok' : 'not_found', seconds);
    } else if (isRingkvError(o.error, ErrorCode.NotFound)) {
      result = { id: q.id, status: 'not_found' };
      metrics.observe('ws', q.op, consistency, 'not_found', seconds);
    } else {
      if (!isRingkvError(o.error)) log(`ws ${q.op}: unexpected error: ${o.error instanceof Error ? (o.error.stack ?? o.error.message) : String(o.error)}`);
      const reply = errorReply(o.error);
      result = errorResult(q.id, reply);
      metrics.observeError('ws', q.op, consistency, reply.error, seconds);
    }
    results[at[j]!] = result;
  }
  return results;
}
