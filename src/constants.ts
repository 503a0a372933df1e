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
/** The addon's bound (native/src/bloom.rs BITS_PER_KEY_MAX): a filter of more bits per key is refused there, at the first flush. */
export const bloomBitsPerKeyMax = 32;
export const walBatchWindowMsDefault = 0;
export const walBatchWindowMsMax = 10;
export const walSegmentBytesMax = 256 * 1024 * 1024;
/**
 * How long a delete's tombstone outlives the delete before compaction may purge it (Cassandra's
 * gc_grace_seconds, the same default): every replica must have heard of the delete by then
 * (hints, read repair, anti-entropy), or a replica that missed it brings the value back.
 * `--tombstone-grace-seconds` sets it per node, up to tombstoneGraceMsMax; a cluster node with
 * N > 1 takes no less than tombstoneGraceMsClusterMin.
 */
export const tombstoneGraceMsDefault = 10 * 24 * 3600 * 1000;
export const tombstoneGraceMsMax = 365 * 24 * 3600 * 1000;
export const blockCacheBytesDefault = 64 * 1024 * 1024;
/** The most one shard's block cache may hold: its arena is addressed with 32-bit signed offsets (block-cache.ts). */
export const blockCacheBytesMax = 0x7fff_ffff;
export const openFilesMax = 256;
export const level0CompactionTrigger = 4;
/**
 * Writes wait while level 0 holds this many tables. 20 rather than LevelDB's 12: LevelDB's level-0
 * tables are 4 MiB, ours are a 64 MiB memtable each, so one L0 compaction (all of L0 plus L1) is
 * about a GiB. Measured at 1M keys x 1 KiB on 2 shared cores, a stop at 12 spent 6-8 s of a 12 s
 * load in stalls (one write waited 3.5 s) while that merge ran; at 20 there were none (longest
 * wait 0.28 s). RocksDB, with the same 64 MiB write buffer, slows writes at 20 and stops at 36.
 * The cost is reads probing up to 20 L0 bloom filters while compaction catches up.
 */
export const level0StopWritesTrigger = 20;

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
/**
 * Payload bytes (keys, values, contexts) of the requests one shard holds, from being queued until
 * answered; past it a request is answered busy (shard_client.ts). Sixteen full batches: the op
 * count binds first for values under 2 KiB.
 */
export const shardQueueBytesMax = 128 * 1024 * 1024;
export const shardBatchOpsMax = 512;
/**
 * Batches one shard may have in flight at once. Two lets the worker apply batch k+1 while batch
 * k waits for its WAL sync and while the main thread handles k's answer; more only splits the
 * queue into smaller batches, and each one costs a thread hop (~60-100 us here) on both sides.
 */
export const shardBatchesInFlightMax = 2;
/**
 * Stats requests one shard may have unanswered (shard_client.ts stats): /health, /metrics and
 * gossip's storage poll ask a few a second; a worker that stops answering must not collect them.
 */
export const shardStatsAskedMax = 64;
/** How long a stats request waits for its shard's answer (a wedged worker answers nothing). */
export const shardStatsTimeoutMs = 5_000;
export const requestTimeoutMsDefault = 5_000;

/**
 * V8 flags a serving node runs with (`npm start`, the bin's shebang, `ringkv cluster`, the
 * benchmarks). A node holds every request in flight in the young generation (values of up to
 * 1 MiB), so V8's default semi-space of 16 MiB is scavenged very often under load: with 64 MiB,
 * single-node GET throughput over the WebSocket went from about 46k to 62k ops/s on this
 * project's 2-core machines, and the open-loop rate it could carry from about 27k to 38k
 * ops/s (the node's main thread spent a quarter of its time in GC before). On the code of
 * 2026-12-05 the gap is 2-3% of the closed-loop peak and no size wins the open-loop p99
 * (BENCHMARKS.md "V8 young generation's size", `npm run bench:semi-space`): kept.
 *
 * The old generation's floor goes with it: V8 starts marking the whole heap as soon as the room
 * left under the old generation's limit is smaller than the young generation (it keeps room to
 * promote all of it), and a node's heap is small (~10 MB), so its limit sat less than 64 MiB
 * above it and the threads (main, shards, storage background) ran full mark-compacts all the
 * time under load: main and shard together 0.6-3.7 a second in the benchmark's open-loop rows,
 * each about every 0.5 s at 24k PUT/s (--trace-gc). `--initial-old-space-size=128` makes 128 MiB
 * the lowest limit, so marking waits until the old generation holds ~64 MiB: 0-0.3 a second,
 * the open-loop p99 0.6-0.7x of the node without it at the same rates and the GET peak ~1.3x
 * (BENCHMARKS.md "V8 old generation's floor"; 256 did no better). The price is memory: each
 * thread's heap may hold up to ~64 MiB of garbage before it is marked.
 *
 * Keep package.json's start script and bin/ringkv.js's first line in step with this list. No
 * GC-thread flag (--single-threaded-gc, --no-parallel-scavenge, nor Node's --v8-pool-size=1): in
 * four same-run comparisons on those machines before the old-space floor and one after it, none
 * helped at 80% of the peak, where the latency bar is measured (BENCHMARKS.md "V8 GC threads",
 * `npm run bench:gc-threads`). Nor --no-memory-reducer: V8's memory reducer pauses every thread
 * of a node gone quiet for a few seconds with three full mark-compacts (2-13 ms each), but in two
 * bench:ycsb-revision runs at 250-1000 ops/s one row had a full GC with it and one without, so
 * it bought nothing measured for a heap never given back (BENCHMARKS.md "Code change side by side,
 * YCSB at fixed rates: no-memory-reducer").
 */
export const nodeRuntimeFlags: readonly string[] = ['--max-semi-space-size=64', '--initial-old-space-size=128'];
/**
 * How often each thread samples its event loop's delay (event_loop_delay.ts): 50 wake-ups a
 * second per thread, each a few microseconds; a stall shorter than this may fall between samples.
 */
export const eventLoopSampleIntervalMs = 20;

// Cluster.
export const replicationFactorDefault = 3;
export const vnodesPerNodeDefault = 128;
export const gossipIntervalMsDefault = 1_000;
export const suspectAfterMsDefault = 30_000;
export const deadAfterMsDefault = 60_000;
/**
 * A peer whose wall clock is further than this from a node's is warned of in its log
 * (membership/clock_offsets.ts): CockroachDB's default --max-offset, a bound NTP keeps clocks far
 * inside; LWW order, TTLs and tombstone grace go wrong by about this much beyond it.
 */
export const clockOffsetWarnMsDefault = 500;
/** Round trips kept per peer for its clock estimate, the tightest of which is used (NTP's clock filter keeps 8). */
export const clockSamplesMax = 8;
/** A clock sample older than this is not used: a clock estimate says what a peer's clock reads now, not then. */
export const clockSampleAgeMaxMs = 10 * 60_000;
export const hintsPerNodeMax = 100_000;
/** Bytes of hints (keys, version vectors, values) kept per target node; the oldest go first past it. */
export const hintBytesPerNodeMax = 64 * 1024 * 1024;
/** Bytes of hints for all targets together (they are held in memory as well as on disk). */
export const hintBytesTotalMax = 256 * 1024 * 1024;
/**
 * A hint older than this is dropped: a replica away longer is brought back by anti-entropy, and
 * a hint must never outlive the tombstone grace period (it could revive a purged delete).
 */
export const hintAgeMsMax = 3 * 3600 * 1000;
/**
 * The shortest tombstone grace of a node whose keys have other replicas: twice the age at which
 * hints expire, so a hint (which may carry a delete) is delivered or dropped long before any
 * replica may purge the tombstone it would have to meet. A node down longer than the grace is
 * refused at start (coordinator/last_run.ts); shorter graces leave less time to bring it back.
 */
export const tombstoneGraceMsClusterMin = 2 * hintAgeMsMax;
/** A hint file is closed and a new one started past this size (hint_log.ts). */
export const hintSegmentBytesMax = 4 * 1024 * 1024;
/** How often written hints are fdatasynced while there are unsynced ones. */
export const hintSyncIntervalMs = 1_000;

// Anti-entropy (src/antientropy).
/** Deepest Merkle tree: 4096 leaves, 32 KiB of leaf hashes per exchange. */
export const merkleDepthMax = 12;
/** How often a node syncs one of its token ranges with another replica of it (0 = never). */
export const antiEntropyIntervalMsDefault = 10_000;
/**
 * How many gossip rounds a new node waits for the ring to settle before it streams its ranges
 * anyway (bootstrap): 60 s at the default interval. In rounds, as the ring settles by them.
 */
export const bootstrapSettleRoundsMax = 60;
/**
 * A rebuilding node (cluster_coordinator.ts `rebuilding`) runs a full pass this long after its
 * bootstrap left ranges out, or after a start with --bootstrap off, and again until one syncs
 * every range (an operator's `ringkv repair` may come sooner).
 */
export const rebuildRetryMs = 30_000;
/** How many more passes a bootstrap runs at once over ranges that a ring change during its pass made (cluster_coordinator.ts bootstrap). */
export const bootstrapRingChangePassesMax = 3;
/** Differing leaves repaired in one range sync; the rest wait for a later round. */
export const antiEntropyLeavesPerSyncMax = 256;
/** Entries in one range-scan page between nodes (or fewer: see rangeScanPageBytesMax). */
export const rangeScanPageEntriesMax = 1_000;
/** A range-scan page stops once it holds this many bytes of records. */
export const rangeScanPageBytesMax = 8 * 1024 * 1024;

assert(keyBytesMax < 65_536, 'key length must fit the uint16 key_length field');
assert(valueBytesMax <= httpBodyBytesMax, 'an HTTP body must be able to carry the largest value');
assert(wsFrameBytesMax > valueBytesMax + keyBytesMax, 'a WebSocket frame must be able to carry the largest entry');
assert(memtableBytesDefault >= memtableBytesMin, 'default memtable must not be below the minimum');
assert(walBatchWindowMsDefault <= walBatchWindowMsMax, 'group-commit window default over its max');
assert(level0CompactionTrigger < level0StopWritesTrigger, 'L0 stop trigger must exceed the compaction trigger');
assert(suspectAfterMsDefault < deadAfterMsDefault, 'SUSPECT must come before DEAD');
assert(shardBatchOpsMax <= shardQueueOpsMax, 'a shard batch cannot exceed the shard queue');
assert(shardBatchesInFlightMax >= 1 && shardBatchesInFlightMax <= 8, 'shard batches in flight must be 1..8');

// Storage engine, continued (src/storage).
/**
 * Target size of one SSTable written by compaction. 8 MiB rather than LevelDB's 2 MiB: every
 * compaction ends in a manifest rewrite (two fsyncs), and with 2 MiB tables a 500k-key load spent
 * a fifth of its background time between jobs; 1 GiB is then about 130 files, under openFilesMax.
 */
export const sstableFileBytesTarget = 8 * 1024 * 1024;
/**
 * Size budget of level 1; level n holds levelBaseBytes * levelSizeMultiplier^(n-1). It matches
 * what one level-0 compaction brings down (level0CompactionTrigger memtables, RocksDB's rule for
 * max_bytes_for_level_base): with a 64 MiB memtable and a 10 MiB L1, every L0 compaction left L1
 * far over budget and the following L1 → L2 work rewrote most of it again.
 */
export const levelBaseBytesDefault = 256 * 1024 * 1024;
export const levelSizeMultiplier = 10;
/** Levels 0..levelsMax-1. */
export const levelsMax = 7;
/**
 * Background compaction write budget; 0 = unthrottled (the default). Compaction runs on the
 * engine's own background thread, so a throttle no longer protects reads and writes on the shard
 * thread; it only made compaction fall behind until L0 filled and writes stalled (and with two
 * memtables of backlog per L0 compaction, it always did).
 */
export const compactionBytesPerSecDefault = 0;
/** Entries in one write() batch (one WAL record). */
export const storageBatchEntriesMax = 4096;
/** Largest WAL record payload: one batch of the largest entries is refused before this. */
export const walRecordBytesMax = 64 * 1024 * 1024;
/** Writes waiting on back-pressure at once; more is a Busy error (bounded memory). */
export const storageStalledWritesMax = 1024;
/**
 * While background work is out, every this many storage calls that would resolve at once (a
 * write with syncMode 'none', a get) resolve after one turn of the event loop instead, so the
 * background thread's replies and the manifest writes they start are not starved by a caller
 * awaiting such calls in a tight loop.
 */
export const storageImmediateCallsPerYield = 16;
/**
 * After a write or a flush failed for lack of space, the engine refuses writes and looks at its
 * file system's free space every spaceCheckMs (statfs); it takes writes again once at least
 * spaceResumeBytesMin are free, or the oldest unflushed memtable's size if that is more (the
 * flush it must retry writes about that much). An episode that starts within
 * spaceEpisodeStreakMs of the previous one's end doubles the check interval, up to
 * spaceCheckMsMax, so a disk that fills again at once is not hammered by retried flushes.
 */
export const spaceCheckMs = 1000;
export const spaceCheckMsMax = 30_000;
export const spaceResumeBytesMin = 1024 * 1024;
export const spaceEpisodeStreakMs = 60_000;
/** Jobs an engine has out on its background thread at once (one flush and one compaction, with room). */
export const backgroundJobsInFlightMax = 4;
/**
 * An engine's background thread (flushes, compactions) runs this much nicer than the threads
 * that serve requests: when threads contend for cores, a flush or a compaction waits, not a
 * request. Its work still gets every idle cycle, and a backlog it leaves throttles writes
 * through the usual level-0 stall, so it cannot fall behind for good. RocksDB offers the same
 * (Env::LowerThreadPoolCPUPriority). Measured: BENCHMARKS.md, "Code change side by side:
 * background-nice".
 */
export const backgroundThreadNiceIncrement = 10;
/**
 * A table being built is written out to the disk (sync_file_range, then waited for) every this
 * many bytes, not only by its final fsync: the disk then never holds more than this much of a
 * table's queued writes for a WAL fdatasync to wait behind (bench/table-io.bench.ts measures it).
 * 256 KiB rather than RocksDB's usual 1 MiB bytes_per_sync: on this project's VMs it halved the
 * WAL sync p99 while a table was written (9.3 to 4.6 ms, p99.9 13.2 to 6.7 ms) for 12% more build
 * time; 64 KiB did no better (5.0 ms) and took twice as long to build a table (BENCHMARKS.md,
 * "Table writes and deletes"; an earlier run agreed). 0 turns it off.
 */
export const tableWritebackBytes: number = 256 * 1024;
/**
 * Obsolete tables and WAL segments are deleted by truncating them this many bytes at a time,
 * fileDeletePauseMs apart, then unlinking the rest (src/storage/delete-scheduler.ts says why):
 * at most 200 MiB/s, so a 64 MiB table takes about a third of a second. 0 = unlink at once.
 */
export const fileDeleteStepBytes: number = 4 * 1024 * 1024;
export const fileDeletePauseMs = 20;
/** Bytes a compaction reads from an input table per system call (its readahead window). */
export const compactionReadaheadBytes = 1024 * 1024;
/** Bytes read per system call when a flushed table's blocks are put into the block cache. */
export const blockCacheWarmReadaheadBytes = 1024 * 1024;
/** A flushed table is put into the block cache only when it is at most this share of the cache. */
export const blockCacheWarmShareMax = 0.25;
/** Compaction outputs whose fsync may still run while the next output is being built. */
export const compactionFsyncsInFlightMax = 4;
/** Input tables a compaction job keeps open at once (one per L0 input plus the level being read). */
export const compactionOpenTablesMax = 32;
/** Largest chunk of a memtable's WAL-record arena (a memtable uses chunks of about 1/16 of its size). */
export const arenaChunkBytesMax = 4 * 1024 * 1024;
assert(sstableFileBytesTarget >= sstableBlockBytesTarget * 4, 'an SSTable must hold several blocks');
assert(levelBaseBytesDefault >= level0CompactionTrigger * memtableBytesDefault, 'L1 must hold what one L0 compaction brings down');
assert(compactionOpenTablesMax > level0StopWritesTrigger + 1, 'a compaction must keep every L0 input and one table below open');
assert(compactionReadaheadBytes >= 4 * sstableBlockBytesTarget, 'a readahead window must span several blocks');
assert(arenaChunkBytesMax >= 4 * sstableBlockBytesTarget, 'an arena chunk must hold several records');
assert(sstableFileBytesTarget * openFilesMax >= 2 * levelBaseBytesDefault, 'the open-file cache must cover L1 and then some');
assert(walRecordBytesMax >= valueBytesMax + keyBytesMax + versionVectorBytesMax + 64, 'a WAL record must carry the largest entry');

// Cluster, continued (src/ring, src/membership, inter-node transport, cluster coordinator).
/** A node's peer (inter-node) port defaults to its HTTP port plus this. */
export const peerPortOffset = 1000;
/** Nodes one ring / membership table holds. */
export const clusterNodesMax = 1024;
/**
 * The highest incarnation gossip takes in (a start time in ms: about the year 144,000). A node goes
 * past an earlier process of its own by one (table.ts), so an incarnation a peer sends near 2^53
 * would take ours past the safe integers and fail every gossip message we encode after it.
 */
export const incarnationMax = 2 ** 52;
/**
 * Nodes a membership table remembers having forgotten (LEFT longer than the tombstone grace), so
 * that gossip from a peer that forgets them later cannot bring them back; the oldest go first.
 */
export const forgottenNodesMax = 4 * clusterNodesMax;
/**
 * Nodes one node names in its gossip as those it holds hints for (most hints first), which every
 * coordinator then asks last on reads; past this many, the others are asked as usual. Bounds a
 * gossip member's size when much of a large cluster is down at once.
 */
export const gossipHintTargetsMax = 16;
/** Vnodes one node may own. */
export const vnodesPerNodeMax = 4096;
/** Largest inter-node frame: a sibling set of several largest values must fit. */
export const internodeFrameBytesMax = 32 * 1024 * 1024;
/** Requests in flight on one peer connection; more is RKV_ERR_BUSY. */
export const internodeInflightPerPeerMax = 16_384;
/**
 * Connections the peer port holds at once; more are closed as they come. Each node opens a few
 * to each peer (internode_pool.ts), so this is room for hundreds of nodes, and a bound on the
 * descriptors and buffers anything that can reach the port can take.
 */
export const internodeConnectionsMax = 2048;
/** A peer connection that has not sent its Hello this long after it opened is closed. */
export const internodeHelloTimeoutMs = 10_000;
/** The largest frame before a connection's Hello (a Hello is a few hundred bytes). */
export const internodeHelloFrameBytesMax = 64 * 1024;
/**
 * Replies a peer connection may have waiting to be written (the peer not reading them) before
 * the node stops reading that connection's requests until they drain: TCP back-pressure, so a
 * peer that sends and never reads cannot grow this node's memory.
 */
export const internodeUnsentReplyBytesMax = 64 * 1024 * 1024;
/**
 * Replies a peer connection may hold unsent before a reply is sent as RKV_ERR_BUSY instead: the
 * requests read before reading paused still finish, up to internodeInflightPerPeerMax of them
 * with replies of up to a frame each (internode_server.ts).
 */
export const internodeHeldReplyBytesMax = 128 * 1024 * 1024;
/** The same over all of the peer port's connections together (connectionsMax of them each at its own bound would be 256 GiB). */
export const internodeHeldReplyBytesNodeMax = 256 * 1024 * 1024;
/**
 * Request bytes one peer connection may hold unsent (queued, or in its socket's buffer) before
 * further requests to that peer fail at once as RKV_ERR_BUSY: a request that timed out leaves its
 * frame behind, so a peer that stopped reading would otherwise collect every frame sent to it.
 */
export const internodeUnsentRequestBytesPerPeerMax = 64 * 1024 * 1024;
/** The same, over all of a node's peer connections together (a pool's unsent-bytes account). */
export const internodeUnsentRequestBytesNodeMax = 256 * 1024 * 1024;
/** Frames queued in one tick are written together up to this many bytes per write. */
export const internodeBatchBytesMax = 256 * 1024;
export const internodeConnectTimeoutMs = 1_000;
/**
 * A connect pending this long when gossip hears from the peer is started again (a SYN lost in a
 * partition is otherwise resent only after the kernel's 1 s timeout); a connect younger than this
 * is a link that is just opening, left alone.
 */
export const internodeConnectRestartAfterMs = 200;
export const internodeReconnectBackoffMsMin = 50;
export const internodeReconnectBackoffMsMax = 5_000;
/**
 * Keys in one inter-node replica batch (a ReplicaWriteBatch or ReplicaReadBatch message): at
 * least a WebSocket frame's ops, so the replica writes of one frame go to a peer as one message.
 */
export const replicaBatchItemsMax = 1_024;
/** A replica batch is closed once its records and values reach this many bytes (one larger record still goes alone). */
export const replicaBatchBytesMax = 1024 * 1024;
/**
 * The records a replica puts in its reply to one read batch: the items past it are answered
 * RKV_ERR_REPLY_FULL and asked again in a batch of their own (replica_batcher.ts). A read batch
 * is bounded by its keys, not by what they hold: 1,024 keys of 1 MiB would be a 1 GiB reply, over
 * internodeFrameBytesMax, which the replica could not send.
 */
export const replicaReplyBytesMax = 16 * 1024 * 1024;
/**
 * How long a replica batch's request outwaits its latest item's deadline. Each item's quorum
 * state machine has its own timer for that deadline, and it must be the one that decides: it
 * answers Timeout (504), naming how many replicas answered. A peer timer that fired first, as it
 * could when a millisecond passed between queueing an item and sending its batch, failed the
 * replica instead, and an ALL request then answered Unavailable (503) at its deadline.
 */
export const replicaBatchDeadlineSlackMs = 5;
/** Background read repairs in flight per node; more are dropped (anti-entropy catches them). */
export const readRepairsInflightMax = 1_024;
/**
 * Replica writes this node may have in flight as a coordinator. A write acknowledged at W < N
 * leaves the rest running; past this bound a new write also waits for its other replicas
 * (within its deadline), so a client at ONE cannot outrun replication without limit.
 */
export const replicaWritesInflightMax = 4_096;
/**
 * The same bound by bytes: the records of the replica writes in flight, counted once per replica
 * (each peer's frame is a copy). By count alone, 4,096 of up to 1 MiB were 4 GiB held.
 */
export const replicaWriteBytesInflightMax = 256 * 1024 * 1024;
/** How often queued hints are offered to recovered nodes. */
export const hintReplayIntervalMsDefault = 1_000;
/** Hint bytes replayed per second by one node, all targets together (Cassandra: 1 MiB/s per thread). */
export const hintReplayBytesPerSecondDefault = 4 * 1024 * 1024;
/** The least replay rate a node may be given (a floor, so that a slip of a digit cannot stall replay). */
export const hintReplayBytesPerSecondMin = 64 * 1024;
/**
 * Record bytes one node streams per second, all together: pages it pulls, batches it pushes and
 * pages it serves to another's pull (for anti-entropy, bootstrap, repair, rebuilding and
 * decommission; Cassandra's stream_throughput_outbound is 24 MiB/s); 0 = unthrottled. A served
 * page waits at most half its request's timeout, then goes as debt. A 100 GB hand-over takes
 * about 50 minutes at this rate.
 */
export const streamBytesPerSecondDefault = 32 * 1024 * 1024;
/** The least nonzero stream rate a node may be given (the same floor as hint replay's). */
export const streamBytesPerSecondMin = 64 * 1024;
/**
 * How often a node scrubs its tables (design.md §12 Q6, background scrubbing): weekly, as a
 * RAID or ZFS scrub is scheduled, timed from the last one (kept in the data dir, so restarts do
 * not put it off). 0 turns it off; POST /api/v1/admin/scrub runs one at any time.
 */
export const scrubIntervalSecondsDefault = 7 * 24 * 3600;
/** What a scheduled scrub reads per second, all shards together: 1 TiB in about a day and a half. */
export const scrubBytesPerSecondDefault = 8 * 1024 * 1024;
assert(internodeFrameBytesMax >= 4 * (valueBytesMax + keyBytesMax + versionVectorBytesMax), 'an inter-node frame must carry a few siblings of the largest value');
assert(internodeReconnectBackoffMsMin <= internodeReconnectBackoffMsMax, 'reconnect back-off min over max');
assert(internodeUnsentReplyBytesMax >= 2 * internodeFrameBytesMax, 'a peer connection may have a couple of the largest replies unsent');
assert(internodeHeldReplyBytesMax >= internodeUnsentReplyBytesMax + internodeFrameBytesMax, 'a reply of the largest size is sent whole once reading has paused');
assert(internodeUnsentRequestBytesPerPeerMax >= 2 * internodeFrameBytesMax, 'a peer connection may hold a couple of the largest requests unsent');
assert(internodeHeldReplyBytesNodeMax >= internodeHeldReplyBytesMax, 'all connections together may hold what one may');
assert(internodeUnsentRequestBytesNodeMax >= internodeUnsentRequestBytesPerPeerMax, 'all peers together may hold what one may');
assert(vnodesPerNodeDefault <= vnodesPerNodeMax, 'default vnodes over the max');

// Shards, versioning and the single-node coordinator (src/shards, src/versioning, src/coordinator/local_*).
/** Shards per node at most (each is one worker thread and one LSM engine). */
export const shardCountMax = 256;
/** Request payload bytes (keys + values) in one shard batch; one more op starts the next batch. */
export const shardBatchBytesMax = 8 * 1024 * 1024;
/**
 * Bytes of stored records the GETs of one shard batch answer with: the GETs past it are answered
 * RKV_ERR_REPLY_FULL without being read, and the shard client sends them again in a later batch
 * (shard_client.ts). A batch is bounded by its request bytes, not by what its keys hold: 512 GETs
 * of keys with eight 1 MiB siblings would be a 4 GiB answer, built whole in the worker.
 */
export const shardBatchReadBytesMax = 16 * 1024 * 1024;
/** Bytes of entries the shard worker hands to one storage write() (one WAL record). */
export const shardStorageWriteBytesMax = 16 * 1024 * 1024;
/** A node id is 1..nodeIdBytesMax characters of [A-Za-z0-9._:-]. */
export const nodeIdBytesMax = 64;
/** A zone name (ring.ts) is 0..zoneBytesMax characters of [A-Za-z0-9._-]. */
export const zoneBytesMax = 64;
/** Concurrent versions kept per key; past this the oldest are dropped (counted in stats). */
export const siblingsMax = 8;
/** If-Match version strings longer than this are refused as invalid. */
export const versionStringBytesMax = 128;
/** Idempotency keys longer than this are refused as invalid. */
export const idempotencyKeyBytesMax = 128;
/** Recent idempotency keys remembered per shard (in memory, per node; lost on restart). */
export const idempotencyKeysPerShardMax = 16_384;
/** How long an applied idempotency key is remembered. */
export const idempotencyTtlMsDefault = 10 * 60 * 1000;
assert(shardBatchBytesMax >= valueBytesMax + keyBytesMax + versionVectorBytesMax, 'a shard batch must carry the largest op');
assert(shardStorageWriteBytesMax >= siblingsMax * valueBytesMax + versionVectorBytesMax, 'one storage write must carry the largest sibling set');
assert(shardQueueBytesMax >= 4 * shardBatchBytesMax, 'a shard holds a few full batches');
assert(shardBatchReadBytesMax >= valueBytesMax + versionVectorBytesMax, 'a shard batch answers a few GETs of the largest value');
assert(shardStorageWriteBytesMax < walRecordBytesMax, 'a shard storage write must fit one WAL record');
assert(rangeScanPageBytesMax + shardStorageWriteBytesMax < internodeFrameBytesMax, 'a range-scan page (bound plus the one entry that crosses it) must fit one inter-node frame');

// Front end (src/server, src/protocol).
/** A response larger than this is split across several WebSocket frames (results matched by id). */
export const wsResponseFrameBytesTarget = 4 * 1024 * 1024;
/**
 * Unsent response bytes a WebSocket connection may queue past wsBufferedBytesMax, not counting
 * the read answers' bytes (bounded by wsAnswerBytesPerConnectionMax), before the node closes it
 * (1008): a client that keeps sending but never reads would otherwise grow it forever.
 */
export const wsSendQueueBytesMax = 32 * 1024 * 1024;
/**
 * Bytes of read answers (values and contexts) a WebSocket connection's frames may hold, running
 * or waiting to be handed to the socket, and all connections' running frames together: a read
 * whose value would go past either is answered busy (retryable), its value dropped (ws_api.ts).
 * A frame is bounded by its operations, not by what their keys hold: 4,096 GETs in flight of
 * 1 MiB values were 4 GiB held on one connection. One answer of the largest size always fits
 * where nothing is held.
 */
export const wsAnswerBytesPerConnectionMax = 64 * 1024 * 1024;
export const wsAnswerBytesMax = 1024 * 1024 * 1024;
/**
 * What all WebSocket connections together hold for their clients: read answers running or
 * waiting to be sent, the rest of their send queues and what uWS buffers for each. The bounds
 * per connection alone let each of up to wsConnectionsMax connections hold about 100 MiB. A
 * connection that holds nothing always gets one answer (byte_bound.ts), so a client that keeps
 * up is served while others that stopped reading hold this; past it, a read of a connection that
 * holds something is answered busy, and one whose send queue keeps growing (it sends, never
 * reads) is closed once that queue is over wsResponseFrameBytesTarget.
 */
export const wsHeldBytesMax = 1024 * 1024 * 1024;
/** HTTP requests being served at once; more get 503 busy. */
export const httpInflightRequestsMax = 8192;
/**
 * HTTP answer bytes the sockets have not taken yet, all connections together, past which reads
 * are answered 503 busy; and how long one answer may take to go out before its connection is
 * closed (a client that keeps reading a trickle, which uWS's idle timeout does not catch).
 */
export const httpUnsentBytesMax = 256 * 1024 * 1024;
export const httpAnswerSendMsMax = 60_000;
/**
 * Bytes of requests a node holds while they run, HTTP and WebSocket together: a PUT's body from
 * its first byte until it is answered (room for httpBodyBytesMax when it comes without a
 * Content-Length), a WebSocket frame until its answer is made. A request that would take them
 * past this is answered busy before its body is read (one always fits where none is held). The
 * counts alone allowed 8,192 HTTP bodies and 4,096 operations per WebSocket connection of up to
 * 1 MiB each.
 */
export const requestBytesHeldMax = 256 * 1024 * 1024;
/** Longest If-Match / X-Context header value accepted. */
export const httpHeaderBytesMax = 8192;
/** On SIGTERM, in-flight requests get this long to finish before connections are cut. */
export const shutdownGraceMsDefault = 10_000;
/**
 * After the grace, this long for the rest of a shutdown (shards drained and closed, hints and
 * WALs synced): past it the process says so and exits 1 rather than hang (a disk
 * whose fdatasync never returns). A crash is what that amounts to, which every write survives.
 */
export const shutdownCloseMsMax = 60_000;
/**
 * How long past a node's shutdown grace `ringkv cluster` waits for it to close its shards, hint
 * logs and LAST_RUN before it is killed (a kill there leaves a WAL to replay at the next start).
 */
export const launcherCloseMarginMs = 20_000;
assert(httpUnsentBytesMax >= 64 * 2 * Math.ceil((valueBytesMax * 4) / 3), 'unsent HTTP answers hold many of the largest (sibling values and the newest again, base64)');
assert(requestBytesHeldMax >= 16 * Math.max(httpBodyBytesMax, wsFrameBytesMax), 'requests held take many of the largest bodies and frames at once');
assert(wsSendQueueBytesMax >= wsResponseFrameBytesTarget * 2, 'the send queue must hold a couple of full response frames');
assert(wsResponseFrameBytesTarget <= wsBufferedBytesMax, 'one response frame must fit the buffered-bytes bound');
assert(wsHeldBytesMax >= 4 * (wsAnswerBytesPerConnectionMax + wsSendQueueBytesMax + wsBufferedBytesMax), 'all connections together hold a few connections\' worth');
assert(wsAnswerBytesPerConnectionMax >= 4 * siblingsMax * (valueBytesMax + versionVectorBytesMax) && wsAnswerBytesMax >= 4 * wsAnswerBytesPerConnectionMax, 'a connection holds a few of the largest answers, and the node a few connections\' worth');
/**
 * A WebSocket or inter-node connection's baseline trip (the least gap between a frame's
 * sent_at_ms and its arrival) is the least over the last one to two windows of this
 * (src/protocol/frame_lateness.ts):
 * long enough that frames from before a stall of a few seconds still set it, short enough that
 * two clocks ticking 100 ppm apart drift by 6 ms at most before it is renewed.
 */
export const frameLatenessWindowMs = 30_000;
/** A connection quiet for longer than this starts a new baseline: the old one may have drifted. */
export const frameLatenessQuietMsMax = 600_000;

/** setTimeout's longest delay: Node fires a longer one after 1 ms instead (with a warning). */
export const timerDelayMsMax = 2 ** 31 - 1;

// Client library (src/client).
/** A client gives up on one attempt of an operation after this; above the node's own timeout so the node answers first. */
export const clientAttemptTimeoutMsDefault = requestTimeoutMsDefault + 1_000;
/** Further attempts after the first, each to the next replica in the preference list. */
export const clientRetriesMaxDefault = 2;
/** Pause before retry k is clientRetryBackoffMs * 2^(k-1). */
export const clientRetryBackoffMs = 20;
/** Operations a client holds per connection (in flight plus waiting to be sent); more is RKV_ERR_BUSY. */
export const clientQueuedOpsPerConnectionMax = 65_536;
export const clientConnectTimeoutMsDefault = 2_000;
/** After a connection to a node fails, requests avoid that node for this long. */
export const clientNodeDownMsDefault = 2_000;
/** How often the client re-reads cluster status to follow ring changes. */
export const clientRingRefreshMsDefault = 5_000;
/** Soft cap on the bytes of one request frame the client builds (a lone large op still goes alone). */
export const clientFrameBytesTarget = 4 * 1024 * 1024;
/**
 * Bytes of request frames a client connection holds written but not yet taken by the kernel: past
 * them it sends no more until some are (operations wait, and time out, unsent). A node that stops
 * reading (paused, or a network that drops packets on a connection that stays up) would otherwise
 * collect a frame per timed-out operation's retry. Overdrawn by at most one frame.
 */
export const clientUnsentBytesPerConnectionMax = 4 * clientFrameBytesTarget;
assert(clientAttemptTimeoutMsDefault > requestTimeoutMsDefault, 'the client must outwait the node timeout');
assert(clientQueuedOpsPerConnectionMax >= wsInflightOpsPerConnectionMax, 'the client queue must hold what the node accepts in flight');
assert(clientFrameBytesTarget < wsFrameBytesMax, 'client frames must stay under the node frame limit');
assert(replicaBatchItemsMax >= wsOpsPerFrameMax, 'the replica writes of one WebSocket frame fit one replica batch per peer');
/** Share of cluster reads that ask every live replica (and so read-repair all of them). */
export const readRepairChanceDefault = 0.1;
/**
 * Speculative retry of reads (Cassandra's rapid read protection, speculative_retry = 99p): a read
 * still short of answers after the p99 of recent replica round trips asks one spare replica. The
 * p99 comes from the last replicaRoundTripSamples remote reads (recomputed every
 * replicaRoundTripRecomputeEvery), clamped to speculativeRetryMsMin..(timeout / 2); before there
 * are samples, speculativeRetryMsInitial.
 */
export const replicaRoundTripSamples = 1024;
export const replicaRoundTripRecomputeEvery = 128;
export const speculativeRetryMsMin = 2;
export const speculativeRetryMsInitial = 20;
/**
 * Speculative asks are paid from a budget that every remote replica read adds
 * speculativeRetryBudgetShare of an ask to, up to speculativeRetryBurst: under overload every
 * read is slower than the last p99, and unbounded speculation added a third more reads (ad hoc,
 * QUORUM GETs past a 3-node cluster's capacity here) when the cluster could least afford them
 * ("The Tail at Scale" keeps hedged requests to a few percent the same way).
 */
export const speculativeRetryBudgetShare = 0.05;
export const speculativeRetryBurst = 32;
/**
 * A replica that let a read time out is asked last by reads for this long: a silent replica then
 * costs a speculative ask now and then, not one per read (a small dynamic snitch, fed by timeouts
 * only, so that coordinators do not all turn from a merely busy node at once).
 */
export const slowReplicaAvoidMs = 2000;
assert(hintAgeMsMax < tombstoneGraceMsClusterMin && tombstoneGraceMsClusterMin <= tombstoneGraceMsDefault && tombstoneGraceMsDefault <= tombstoneGraceMsMax, 'hints expire before deletes may be purged');
assert(hintBytesPerNodeMax >= 2 * (siblingsMax * valueBytesMax + versionVectorBytesMax + keyBytesMax), 'a target\'s hint queue holds a few of the largest records');
assert(hintBytesTotalMax >= hintBytesPerNodeMax, 'all targets together may hold at least one full queue');
assert(replicaReplyBytesMax >= 2 * (valueBytesMax + versionVectorBytesMax + keyBytesMax) && 2 * replicaReplyBytesMax <= internodeFrameBytesMax, 'a replica reply holds two records of the largest size, and fits a frame with room to spare');
assert(2 + vectorClockEntriesMax * (1 + nodeIdBytesMax + 2 * 8) <= versionVectorBytesMax, 'a clock within the entries bound is within the bytes bound (sibling.ts contextOf)');
assert(
  siblingsMax < vectorClockEntriesMax && siblingsMax * (2 + nodeIdBytesMax + 2 * 8) <= versionVectorBytesMax / 2,
  "a new version's pruned past keeps the dot of every version of its set (reconcile.ts coordinateWrite)",
);
