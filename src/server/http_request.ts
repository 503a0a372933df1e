// Parsing of what an HTTP request says: the route, the key in the path, and the headers of the
// key-value API. Pure functions over strings, so every rule is unit-tested without a socket.
// Each refusal is a RingkvError whose code picks the status in error_map.ts.
import { httpHeaderBytesMax, idempotencyKeyBytesMax, keyBytesMax, ttlSecondsMax, versionStringBytesMax } from '../constants';
import { type ConsistencyLevel, consistencyLevels } from '../coordinator/types';
import { ErrorCode, RingkvError } from '../errors';

export const keysPrefix = '/api/v1/keys/';
const nodesPrefix = '/api/v1/cluster/nodes/';
const replicaPrefix = '/api/v1/admin/replica/';

export type Route =
  | { kind: 'key'; op: 'put' | 'get' | 'delete'; rawKey: string }
  | { kind: 'replica'; rawKey: string }
  | { kind: 'health' }
  | { kind: 'metrics' }
  | { kind: 'cluster_status' }
  | { kind: 'repair' }
  | { kind: 'cleanup' }
  | { kind: 'scrub' }
  | { kind: 'flush' }
  | { kind: 'snapshot' }
  | { kind: 'decommission' }
  | { kind: 'add_node' }
  | { kind: 'remove_node'; nodeId: string }
  | { kind: 'not_found' }
  | { kind: 'method_not_allowed'; allow: string };

/**
 * Picks the route for a method (lower case, as uWS gives it) and path (without the query). Keys
 * may contain '/', so everything after the prefix is the key.
 */
export function route(method: string, path: string): Route {
  if (path.startsWith(keysPrefix)) {
    const rawKey = path.slice(keysPrefix.length);
    if (method === 'put') return { kind: 'key', op: 'put', rawKey };
    if (method === 'get') return { kind: 'key', op: 'get', rawKey };
    if (method === 'delete') return { kind: 'key', op: 'delete', rawKey };
    return { kind: 'method_not_allowed', allow: 'GET, HEAD, PUT, DELETE' };
  }
  if (path.startsWith(replicaPrefix)) {
    // The key as in /api/v1/keys/{key} (decodeKey).
    return method === 'get' ? { kind: 'replica', rawKey: path.slice(replicaPrefix.length) } : { kind: 'method_not_allowed', allow: 'GET, HEAD' };
  }
  const fixed: Record<string, Route> = {
    '/health': { kind: 'health' },
    '/metrics': { kind: 'metrics' },
    '/api/v1/cluster/status': { kind: 'cluster_status' },
  };
  if (path === '/api/v1/cluster/nodes') return method === 'post' ? { kind: 'add_node' } : { kind: 'method_not_allowed', allow: 'POST' };
  if (path.startsWith(nodesPrefix)) {
    // Node ids are A-Z a-z 0-9 _ . - (no percent-decoding needed); the coordinator checks the id.
    return method === 'delete' ? { kind: 'remove_node', nodeId: path.slice(nodesPrefix.length) } : { kind: 'method_not_allowed', allow: 'DELETE' };
  }
  if (path === '/api/v1/admin/repair') return method === 'post' ? { kind: 'repair' } : { kind: 'method_not_allowed', allow: 'POST' };
  if (path === '/api/v1/admin/cleanup') return method === 'post' ? { kind: 'cleanup' } : { kind: 'method_not_allowed', allow: 'POST' };
  if (path === '/api/v1/admin/scrub') return method === 'post' ? { kind: 'scrub' } : { kind: 'method_not_allowed', allow: 'POST' };
  if (path === '/api/v1/admin/flush') return method === 'post' ? { kind: 'flush' } : { kind: 'method_not_allowed', allow: 'POST' };
  if (path === '/api/v1/admin/snapshot') return method === 'post' ? { kind: 'snapshot' } : { kind: 'method_not_allowed', allow: 'POST' };
  if (path === '/api/v1/admin/decommission') return method === 'post' ? { kind: 'decommission' } : { kind: 'method_not_allowed', allow: 'POST' };
  const r = fixed[path];
  if (r === undefined) return { kind: 'not_found' };
  return method === 'get' ? r : { kind: 'method_not_allowed', allow: 'GET, HEAD' };
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * Percent-decodes the key part of a path once, to bytes. `%2F` becomes '/', `%25` becomes '%',
 * `%FF` the byte 0xFF (keys need not be UTF-8); other characters stand for their UTF-8 bytes.
 * '+' is a plus (this is a path, not a form). Refuses a broken escape, an empty key (400) and a key
 * over keyBytesMax bytes (414).
 */
export function decodeKey(rawKey: string): Uint8Array {
  const src = Buffer.from(rawKey, 'utf8');
  // A decoded key is never longer than its escaped form; refusing early bounds the work.
  if (src.byteLength > 3 * keyBytesMax) {
    throw new RingkvError(ErrorCode.KeyTooLarge, `key is over the ${keyBytesMax}-byte limit`);
  }
  const out = Buffer.allocUnsafe(src.byteLength);
  let n = 0;
  for (let i = 0; i < src.byteLength; i++) {
    const c = src[i]!;
    if (c !== 0x25) {
      out[n++] = c;
      continue;
    }
    const hi = i + 2 < src.byteLength ? hexValue(src[i + 1]!) : -1;
    const lo = hi >= 0 ? hexValue(src[i + 2]!) : -1;
    if (lo < 0) throw new RingkvError(ErrorCode.InvalidArgument, `key has a broken percent escape at byte ${i}`);
    out[n++] = hi * 16 + lo;
    i += 2;
  }
  if (n === 0) throw new RingkvError(ErrorCode.InvalidArgument, 'key is empty');
  if (n > keyBytesMax) throw new RingkvError(ErrorCode.KeyTooLarge, `key of ${n} bytes is over the ${keyBytesMax}-byte limit`);
  return new Uint8Array(out.subarray(0, n));
}

/** X-Consistency-Level: ONE | QUORUM | ALL | LOCAL_ONE | LOCAL_QUORUM | EACH_QUORUM (any case); absent or empty means QUORUM. */
export function parseConsistency(header: string): ConsistencyLevel {
  if (header === '') return 'QUORUM';
  const level = header.trim().toUpperCase();
  if ((consistencyLevels as readonly string[]).includes(level)) return level as ConsistencyLevel;
  throw new RingkvError(ErrorCode.InvalidArgument, `X-Consistency-Level must be one of ${consistencyLevels.join(', ')}, not "${header.slice(0, 32)}"`);
}

/** X-TTL: whole seconds, 1..ttlSecondsMax; absent or empty means no expiry. */
export function parseTtl(header: string): number | undefined {
  if (header === '') return undefined;
  const s = header.trim();
  if (!/^[0-9]+$/.test(s)) throw new RingkvError(ErrorCode.InvalidArgument, `X-TTL must be whole seconds, not "${header.slice(0, 32)}"`);
  // Digits past Number's precision compare as far over the bound all the same.
  const ttl = Number(s);
  if (ttl < 1 || ttl > ttlSecondsMax) {
    throw new RingkvError(ErrorCode.InvalidArgument, `X-TTL must be 1..${ttlSecondsMax} seconds, not ${s.slice(0, 32)}`);
  }
  return ttl;
}

/**
 * X-Timeout-Ms: how long the client waits for the answer, whole ms from when the node has read the
 * request's headers; absent or empty means the node's own request timeout. The node answers a
 * little before it (504 when the replicas have not answered by then) and never waits longer than
 * its own.
 */
export function parseTimeoutMs(header: string): number | undefined {
  if (header === '') return undefined;
  const s = header.trim();
  if (!/^[0-9]{1,10}$/.test(s) || Number(s) < 1) throw new RingkvError(ErrorCode.InvalidArgument, `X-Timeout-Ms must be a whole number of ms, at least 1, not "${header.slice(0, 32)}"`);
  return Number(s);
}

/** If-Match: a version string, optionally quoted as an entity tag; absent means unconditional. */
export function parseIfMatch(header: string): string | undefined {
  if (header === '') return undefined;
  let v = header.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  if (v === '' || Buffer.byteLength(v) > versionStringBytesMax) {
    throw new RingkvError(ErrorCode.InvalidArgument, `If-Match must be a version string of 1..${versionStringBytesMax} bytes`);
  }
  return v;
}

const base64Re = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** X-Context: the base64 `context` a GET returned; absent means none. */
export function parseContext(header: string): Uint8Array | undefined {
  if (header === '') return undefined;
  const v = header.trim();
  if (v.length > httpHeaderBytesMax || !base64Re.test(v) || v.length % 4 === 1) {
    throw new RingkvError(ErrorCode.InvalidArgument, 'X-Context must be the base64 context a GET returned');
  }
  return new Uint8Array(Buffer.from(v, 'base64'));
}

/** Idempotency-Key: 1..idempotencyKeyBytesMax bytes of text; absent means none. */
export function parseIdempotencyKey(header: string): string | undefined {
  if (header === '') return undefined;
  if (Buffer.byteLength(header) > idempotencyKeyBytesMax) {
    throw new RingkvError(ErrorCode.InvalidArgument, `Idempotency-Key is over ${idempotencyKeyBytesMax} bytes`);
  }
  return header;
}

/** Content-Length as a number; undefined when absent (chunked). */
export function parseContentLength(header: string): number | undefined {
  if (header === '') return undefined;
  if (!/^[0-9]{1,15}$/.test(header.trim())) throw new RingkvError(ErrorCode.InvalidArgument, 'Content-Length is not a number');
  return Number(header.trim());
}
