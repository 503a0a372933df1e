// The public surface of `ringkv/client`.
//
//   import { RingkvClient } from 'ringkv/client';
//   const c = await RingkvClient.connect({ nodes: ['127.0.0.1:7000'] });
//   const { version } = await c.put('user:1', 'alice', { consistency: 'QUORUM', ttlSeconds: 3600 });
//   const r = await c.get('user:1');            // { found, value, version, siblings, context, node }
//   if (r.found) await c.put('user:1', 'bob', { context: r.context });   // supersedes what was read
//   await c.put('user:1', 'carol', { expectedVersion: version });        // RKV_ERR_CONFLICT if stale
//   const entries = await c.batch([{ op: 'get', key: 'a' }, { op: 'delete', key: 'b' }]);
//   const hot = await RingkvClient.connect({ nodes, readCache: { ttlMs: 100 } });  // a key read at most every 100 ms
//   c.close();
//
// Errors are RingkvErrors with stable codes (RKV_ERR_CONFLICT, RKV_ERR_UNAVAILABLE, ...). Writes
// carry an idempotency key, so a retry that reaches the node that took the first attempt does not
// apply the write again; the keys are per node, so a retry on the next replica (after a timeout
// or a dead node) may apply a write whose first attempt did apply a second time (a new version of
// the same value). A batch is not atomic: each entry succeeds or fails alone.
// The client follows one cluster: `connect({ nodes, clusterName })` refuses the cluster status of a
// node of any other (without clusterName, the first status that names a cluster fixes it).
export { RingkvClient, type ClientOptions } from './client';
export type { ReadCacheOptions } from './read_cache';
export type {
  BatchEntry,
  BatchOp,
  BatchOpResult,
  ClientStats,
  ConsistencyLevel,
  DeleteOptions,
  DeleteResult,
  GetResult,
  KeyInput,
  OpOptions,
  PutOptions,
  PutResult,
  Sibling,
  ValueInput,
} from './types';
export { RingkvError, ErrorCode, isRingkvError } from '../errors';
