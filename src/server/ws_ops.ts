// Runs the operations of one decoded WebSocket request frame against the coordinator and turns
// each outcome into a wire result. No socket here: ws_api.ts owns flow control and sending.
import { performance } from 'node:perf_hooks';
import type { Coordinator } from '../coordinator/types';
import { ErrorCode, isRingkvError } from '../errors';
import type { DecodedOp } from '../protocol/client_request';
import type { ClientRequest } from '../protocol/client_request';
import type { ClientResult } from '../protocol/client_response';
import { errorReply } from './error_map';
import type { Metrics, Outcome } from './metrics';

export function errorResult(id: number, err: unknown): ClientResult {
  const reply = errorReply(err);
  const r: ClientResult = { id, status: 'error', error: reply.wire, message: reply.message };
  if (reply.currentVersion !== undefined) r.currentVersion = reply.currentVersion;
  return r;
}

async function runOne(c: Coordinator, q: ClientRequest): Promise<ClientResult> {
  const consistency = q.consistency ?? 'QUORUM';
  switch (q.op) {
    case 'put': {
      const r = await c.put({
        key: q.key,
        value: q.value ?? new Uint8Array(0),
        consistency,
        ...(q.ttlSeconds !== undefined && { ttlSeconds: q.ttlSeconds }),
        ...(q.expectedVersion !== undefined && { ifMatch: q.expectedVersion }),
        ...(q.context !== undefined && { context: q.context }),
        ...(q.idempotencyKey !== undefined && { idempotencyKey: q.idempotencyKey }),
      });
      return { id: q.id, status: 'ok', version: r.version, timestampMs: r.timestampMs };
    }
    case 'get': {
      const r = await c.get({ key: q.key, consistency });
      if (!r.found) return { id: q.id, status: 'not_found' };
      const out: ClientResult = { id: q.id, status: 'ok', version: r.version, timestampMs: r.timestampMs, value: r.value, context: r.context };
      if (r.siblings.length > 1) out.siblings = r.siblings;
      return out;
    }
    case 'delete': {
      const r = await c.delete({
        key: q.key,
        consistency,
        ...(q.expectedVersion !== undefined && { ifMatch: q.expectedVersion }),
        ...(q.context !== undefined && { context: q.context }),
        ...(q.idempotencyKey !== undefined && { idempotencyKey: q.idempotencyKey }),
      });
      return { id: q.id, status: 'ok', version: r.version, timestampMs: r.timestampMs, tombstoneExpiryMs: r.tombstoneExpiryMs };
    }
  }
}

/**
 * Runs every operation of a frame concurrently (the coordinator batches them per shard) and
 * resolves with one result per operation, in frame order. Never rejects.
 */
export async function runFrame(
  c: Coordinator,
  ops: readonly DecodedOp[],
  metrics: Metrics,
  log: (line: string) => void,
): Promise<ClientResult[]> {
  const started = performance.now();
  return Promise.all(
    ops.map(async (d): Promise<ClientResult> => {
      if (!d.ok) {
        metrics.observe('ws', 'invalid', 'invalid', 'error', 0);
        return errorResult(d.id, d.error);
      }
      let result: ClientResult;
      let outcome: Outcome;
      try {
        result = await runOne(c, d.request);
        outcome = result.status === 'ok' ? 'ok' : 'not_found';
      } catch (err) {
        if (isRingkvError(err, ErrorCode.NotFound)) {
          result = { id: d.request.id, status: 'not_found' };
          outcome = 'not_found';
        } else {
          if (!isRingkvError(err)) log(`ws ${d.request.op}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
          result = errorResult(d.request.id, err);
          outcome = 'error';
        }
      }
      metrics.observe('ws', d.request.op, d.request.consistency ?? 'QUORUM', outcome, (performance.now() - started) / 1000);
      return result;
    }),
  );
}
