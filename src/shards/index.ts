// Shards: the node's data in worker threads, one Piscina pool of one thread per shard, requests
// batched per shard and values moved across threads in packed ArrayBuffers. See router.ts for
// how a coordinator uses it.
export { defaultShardCount, ShardRouter } from './router';
export type { ShardRouterOptions } from './router';
export { fromWireError } from './shard_client';
export { addLaneStageSeconds, emptyLaneStageSeconds } from './lane_timing';
export type { AnswerCallback, AppliedCallback, ShardLimits, ShardClientCounters, ShardClientHooks } from './shard_client';
export type { ScannedEntry } from './batch_codec';
export type { OpResult, ShardOp, WireRecord, WriteOp, WriteDone, ShardStats, ShardStorageOptions } from './messages';
export { keyToken, shardOfKey, shardOfToken, shardTokenRange } from './shard_map';
export { shardDir, layoutFileName } from './shard_layout';
export { sameRecord } from './wire_record';
