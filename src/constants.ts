// Every limit and default in one place, units last in the name. Modules import what they need
// from here rather than declaring their own numbers, and the relations between limits are
// asserted when this module loads (TigerBeetle's habit) so a bad edit fails at once.
import { assert } from './errors';

/** Largest key, in bytes (design.md §6). */
export const keyBytesMax = 256;
/** Largest value, in bytes (design.md §6). */
export const valueBytesMax = 1024 * 1024;
/** Largest encoded version vector stored with an entry. */
export const versionVectorBytesMax = 4096;
/** Vector clocks are pruned to at most this many entries (oldest first). */
export const vectorClockEntriesMax = 32;
/** Largest TTL a client may ask for: 10 years. */
export const ttlSecondsMax = 10 * 365 * 24 * 3600;

// Storage engine.
export const memtableBytesDefault = 64 * 1024 * 1024;
export const memtableBytesMin = 64 * 1024;
export const immutableMemtablesMax = 2;
export const sstableBlockBytesTarget = 4096;
export const sstableBlockRestartInterval = 16;
export const bloomBitsPerKeyDefault = 10;
export const walBatchWindowMsDefault = 2;
export const walBatchWindowMsMax = 10;
export const walSegmentBytesMax = 256 * 1024 * 1024;
export const tombstoneGraceMsDefault = 10 * 24 * 3600 * 1000;
export const blockCacheBytesDefault = 64 * 1024 * 1024;
export const openFilesMax = 256;
export const level0CompactionTrigger = 4;
export const level0StopWritesTrigger = 12;

// Node and protocol.
export const httpPortDefault = 7000;
export const wsFrameBytesMax = 16 * 1024 * 1024;
export const wsOpsPerFrameMax = 1024;
export const wsInflightOpsPerConnectionMax = 4096;
export const wsBufferedBytesMax = 8 * 1024 * 1024;
export const httpBodyBytesMax = valueBytesMax;
export const connectionsMax = 10_000;
export const idleTimeoutSeconds = 30;
export const shardQueueOpsMax = 65_536;
export const shardBatchOpsMax = 512;
export const requestTimeoutMsDefault = 5_000;

// Cluster.
export const replicationFactorDefault = 3;
export const vnodesPerNodeDefault = 128;
export const gossipIntervalMsDefault = 1_000;
export const suspectAfterMsDefault = 30_000;
export const deadAfterMsDefault = 60_000;
export const hintsPerNodeMax = 100_000;

assert(keyBytesMax < 65_536, 'key length must fit the uint16 key_length field');
assert(valueBytesMax <= httpBodyBytesMax, 'an HTTP body must be able to carry the largest value');
assert(wsFrameBytesMax > valueBytesMax + keyBytesMax, 'a WebSocket frame must be able to carry the largest entry');
assert(memtableBytesDefault >= memtableBytesMin, 'default memtable must not be below the minimum');
assert(walBatchWindowMsDefault <= walBatchWindowMsMax, 'group-commit window default over its max');
assert(level0CompactionTrigger < level0StopWritesTrigger, 'L0 stop trigger must exceed the compaction trigger');
assert(suspectAfterMsDefault < deadAfterMsDefault, 'SUSPECT must come before DEAD');
assert(shardBatchOpsMax <= shardQueueOpsMax, 'a shard batch cannot exceed the shard queue');
