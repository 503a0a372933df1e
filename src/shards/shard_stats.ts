// A shard's figures across the replacement of its worker thread. A worker counts from the moment
// it opened its engine (WAL syncs, entries written, quarantines, GC pauses, ...), so a replacement
// would start those counters again at 0: /metrics would show counters that go down (Prometheus
// reads the node-wide sum's drop as a reset and counts every shard's total again) and the cluster
// coordinator's quarantine watch would miss the next quarantines. The shard client adds to what a
// live worker reports the last figures each dead one reported (shard_client.ts stats).
// Every field is one or the other, checked when this compiles: a new one must be put in a list.
import type { GcSnapshots } from '../gc_pauses';
import { addSnapshot, type HistogramSnapshot } from '../histogram';
import type { StorageStats } from '../storage/types';
import type { ShardStats } from './messages';

/** StorageStats fields that count since the engine opened. */
const storageCounters = [
  'walSyncs', 'entriesWritten', 'blockCacheHits', 'blockCacheMisses', 'blockCacheBlocksWarmed',
  'writeStalls', 'walRecoveryDroppedRecords', 'flushes', 'compactions', 'compactionBytesWritten',
  'tablesQuarantined',
] as const satisfies readonly (keyof StorageStats)[];
/** StorageStats fields that say how things are now. */
const storageGauges = [
  'memtableBytes', 'immutableMemtables', 'sstablesPerLevel', 'compactionBacklog', 'walBytes',
  'diskBytes', 'keysEstimate', 'blockCacheHeldBytes', 'arenaFreeBytes', 'tableIndexFilterBytes',
  'writesRefused', 'outOfSpace', 'compactionsHeldForSpace', 'backgroundMemory',
] as const satisfies readonly (keyof StorageStats)[];
/** The one histogram among them: counts since open. */
type StorageHistograms = 'walSyncSeconds';

const shardCounters = ['opsApplied', 'batches', 'idempotentReplays', 'siblingsDropped', 'unreadableRecordsReplaced'] as const satisfies readonly (keyof ShardStats)[];
type ShardHistograms = 'gcSeconds' | 'loopDelaySeconds';
type ShardGauges = 'shardIndex' | 'storage' | 'idempotencyKeys' | 'memory';

// Compile-time: every field is classified. A field left out makes its check `never`.
type Unclassified<T, Known> = Exclude<keyof T, Known>;
const storageFieldsClassified: [Unclassified<StorageStats, (typeof storageCounters)[number] | (typeof storageGauges)[number] | StorageHistograms>] extends [never] ? true : never = true;
const shardFieldsClassified: [Unclassified<ShardStats, (typeof shardCounters)[number] | ShardHistograms | ShardGauges>] extends [never] ? true : never = true;
void storageFieldsClassified;
void shardFieldsClassified;

function sum(a: HistogramSnapshot, b: HistogramSnapshot): HistogramSnapshot {
  const into: HistogramSnapshot = { counts: [...a.counts], sumSeconds: a.sumSeconds, count: a.count };
  addSnapshot(into, b);
  return into;
}

function sumGc(a: GcSnapshots, b: GcSnapshots): GcSnapshots {
  return { minor: sum(a.minor, b.minor), major: sum(a.major, b.major), incremental: sum(a.incremental, b.incremental), weakcb: sum(a.weakcb, b.weakcb) };
}

/** `live`'s figures with `carried`'s counters and histograms added; its gauges are `live`'s own. */
export function withCarried(live: ShardStats, carried: ShardStats | null): ShardStats {
  if (carried === null) return live;
  const storage: StorageStats = { ...live.storage, walSyncSeconds: sum(live.storage.walSyncSeconds, carried.storage.walSyncSeconds) };
  for (const k of storageCounters) storage[k] = live.storage[k] + carried.storage[k];
  const out: ShardStats = { ...live, storage, gcSeconds: sumGc(live.gcSeconds, carried.gcSeconds), loopDelaySeconds: sum(live.loopDelaySeconds, carried.loopDelaySeconds) };
  for (const k of shardCounters) out[k] = live[k] + carried[k];
  return out;
}
