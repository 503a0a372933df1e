// The JSON bodies of the HTTP API (docs/http-api.md), built from coordinator results. Field names
// follow design.md §5 (snake_case); values are base64; keys are text when they are UTF-8.
import { isUtf8 } from 'node:buffer';
import type { DeleteResult, GetResult, PutResult, ReplicaView } from '../coordinator/types';
import type { ErrorReply } from './error_map';

/**
 * The key as JSON fields: `{key: "<text>"}` when the bytes are valid UTF-8, otherwise
 * `{key: "<base64>", key_encoding: "base64"}` so a binary key survives the trip exactly.
 */
export function keyFields(key: Uint8Array): { key: string; key_encoding?: 'base64' } {
  const buf = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  if (isUtf8(buf)) return { key: buf.toString('utf8') };
  return { key: buf.toString('base64'), key_encoding: 'base64' };
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function putBody(r: PutResult): string {
  return JSON.stringify({ ...keyFields(r.key), version: r.version, timestamp: r.timestampMs, status: 'ok' });
}

export function getBody(r: Extract<GetResult, { found: true }>): string {
  const body: Record<string, unknown> = {
    ...keyFields(r.key),
    value: b64(r.value),
    version: r.version,
    timestamp: r.timestampMs,
    context: b64(r.context),
  };
  if (r.siblings.length > 1) {
    body['siblings'] = r.siblings.map((s) => ({ value: b64(s.value), version: s.version, timestamp: s.timestampMs }));
  }
  return JSON.stringify(body);
}

/** GET /api/v1/admin/replica/{key}: what node `nodeId`'s own copy holds (Coordinator.replica). */
export function replicaBody(nodeId: string, r: ReplicaView): string {
  return JSON.stringify({
    ...keyFields(r.key),
    node_id: nodeId,
    replicas: r.replicas,
    versions: r.versions.map((v) => ({ value: b64(v.value), version: v.version, timestamp: v.timestampMs, tombstone: v.tombstone, ...(v.expiresAtMs > 0 && { expires_at: v.expiresAtMs }) })),
  });
}

export function notFoundBody(key: Uint8Array): string {
  return JSON.stringify({ error: 'not_found', ...keyFields(key), message: 'key not found' });
}

export function deleteBody(r: DeleteResult): string {
  return JSON.stringify({
    ...keyFields(r.key),
    status: 'deleted',
    version: r.version,
    timestamp: r.timestampMs,
    tombstone_expiry: r.tombstoneExpiryMs,
  });
}

export function errorBody(reply: ErrorReply): string {
  if (reply.error === 'conflict') {
    return JSON.stringify({
      error: 'conflict',
      current_version: reply.currentVersion ?? null,
      message: reply.message || 'Value has been modified since last read',
    });
  }
  return JSON.stringify({ error: reply.error, message: reply.message, ...(reply.details !== undefined && { details: reply.details }) });
}
