// The contract between the LSM storage engine (src/storage) and its callers (the shard worker,
// anti-entropy). Other folders code against these names only; the engine's internals (WAL,
// memtable, SSTables, compaction) stay private to src/storage.
import type { HistogramSnapshot } from '../histogram';
import type { ThreadMemory } from '../thread_memory';

/**
 * When a write is acknowledged relative to the disk:
 * - 'always': the WAL is fdatasync'ed before write() resolves; a sync starts as soon as none is
 *   running, and writes arriving during a sync share the next one. No waiting window.
 * - 'batch' (default): group commit with a window: as 'always' when walBatchWindowMs is 0 (the
 *   default); with a window, writes arriving within it share one fdatasync. Each write()
 *   resolves only after the sync that covers it.
 * - 'none': write() resolves once the record is in the OS page cache (lost on power failure,
 *   kept on a process crash).
 */
export type SyncMode = 'always' | 'batch' | 'none';

export interface StorageEntry {
  /** 1..keyBytesMax bytes. */
  key: Uint8Array;
  /** 0..valueBytesMax bytes (empty for tombstones). */
  value: Uint8Array;
  /** Write time, ms since epoch. */
  timestampMs: number;
  /** Opaque to the engine (the versioning layer's bytes), at most versionVectorBytesMax. */
  versionVector: Uint8Array;
  tombstone: boolean;
  /** 0 = never; a TTL'd entry past this time reads as absent (and becomes a tombstone in compaction). */
  expiresAtMs: number;
}

export interface StorageOptions {
  /** Directory owned by this engine alone (created when missing). */
  dir: string;
  syncMode?: SyncMode;
  /** Group-commit window for syncMode 'batch', 0..walBatchWindowMsMax (default 0: see docs/wal-format.md). */
  walBatchWindowMs?: number;
  /** Memtable size that triggers a switch to a new memtable and a flush of the old one. */
  memtableBytes?: number;
  bloomBitsPerKey?: number;
  blockCacheBytes?: number;
  /** How long a tombstone must be kept before compaction may drop it (Cassandra's gc_grace). */
  tombstoneGraceMs?: number;
  /** Recovery skips WAL records whose CRC fails instead of stopping (operator's choice; data loss). */
  skipCorruptWalRecords?: boolean;
  /** Injectable clock for TTL and grace tests; Date.now by default. */
  now?: () => number;
  /** Target size of one SSTable written by compaction (default sstableFileBytesTarget). */
  sstableFileBytes?: number;
  /** Size budget of level 1; level n gets levelBaseBytes * 10^(n-1) (default levelBaseBytesDefault). */
  levelBaseBytes?: number;
  /** Compaction write budget in bytes per second; 0 = unthrottled (default compactionBytesPerSecDefault). */
  compactionBytesPerSec?: number;
  /** Open SSTable file descriptors kept (default openFilesMax). */
  openFilesMax?: number;
  /** When false, no background compaction runs (tests drive compact() themselves). Default true. */
  autoCompaction?: boolean;
  /**
   * Take a table found corrupt (by a scrub, a compaction or a read) out of the engine, into
   * quarantine/. Right where other replicas hold the same keys (a cluster node, which repairs
   * afterwards): the table's entries that could still be read are dropped with it. Off (the
   * default), a scrub only reports the table, a read of a damaged block fails, and a compaction
   * that cannot read it stops the engine's writes, as before.
   */
  quarantineCorruptTables?: boolean;
}

export interface StorageStats {
  /** Bytes held by the active memtable and the immutable ones waiting to flush. */
  memtableBytes: number;
  immutableMemtables: number;
  sstablesPerLevel: number[];
  /** Bytes waiting to be compacted (sum over levels of bytes above their budget, plus L0 over trigger). */
  compactionBacklog: number;
  walSyncs: number;
  /** How long each of those syncs took (time from starting it to its completion). */
  walSyncSeconds: HistogramSnapshot;
  walBytes: number;
  /** Bytes of live SSTables plus the WAL. */
  diskBytes: number;
  /** Entries written since open (overwrites and deletes included). */
  entriesWritten: number;
  /**
   * About how many distinct keys the tables and memtables hold (a HyperLogLog union, key-sketch.ts,
   * within a few percent): deleted and expired keys count until compaction drops them.
   */
  keysEstimate: number;
  /** Block cache hits and misses since open. */
  blockCacheHits: number;
  blockCacheMisses: number;
  /** Data blocks of flushed tables put into the block cache before their first read, since open. */
  blockCacheBlocksWarmed: number;
  /** Memory the block cache holds: its whole capacity once it cached a block, 0 before. */
  blockCacheHeldBytes: number;
  /**
   * Free memtable arena chunks kept for the next memtables (arena.ts). A new memtable grows into
   * the chunks the last flush freed, so this with memtableBytes stays near one memtable's limit,
   * more only while a flush runs.
   */
  arenaFreeBytes: number;
  /** Filter blocks and decoded indexes of the tables open on the engine's thread (its table cache). */
  tableIndexFilterBytes: number;
  /** Writes that waited for back-pressure since open. */
  writeStalls: number;
  /** Records dropped or truncated by WAL recovery at open (torn tail or skipped corrupt records). */
  walRecoveryDroppedRecords: number;
  /** Memtables written to level 0 since open (on the background thread). */
  flushes: number;
  /**
   * 1 while the engine refuses writes, else 0: after a failed WAL write or background write
   * (sticky until it is reopened: nothing after a possible partial record may be acknowledged), or
   * while it is out of space (outOfSpace, which clears by itself).
   */
  writesRefused: number;
  /** 1 while writes are refused for lack of space; clears by itself once space is freed. */
  outOfSpace: number;
  /**
   * 1 while compactions wait for space (one failed with ENOSPC), else 0; writes go on meanwhile
   * until level 0 reaches its stop trigger. Clears by itself once space is freed.
   */
  compactionsHeldForSpace: number;
  /** Compactions that rewrote tables since open (on the background thread; trivial moves not counted). */
  compactions: number;
  /** Bytes of tables those compactions wrote. */
  compactionBytesWritten: number;
  /** Tables found corrupt (by a scrub, a compaction or a read) and taken out of the engine since open. */
  tablesQuarantined: number;
  /** The engine's background thread's memory as its last flush or compaction ended (zeros before the first). */
  backgroundMemory: ThreadMemory;
}

/** One table found corrupt. */
export interface CorruptTable {
  /** Where it is (`<dir>/quarantine/NNNNNN.sst` once quarantined). */
  file: string;
  level: number;
  entries: number;
  reason: string;
}

/** One table a scrub, a compaction or a read found corrupt and quarantined. */
export interface QuarantinedTable extends CorruptTable {
  /** Of its entries, those whose blocks still read: rewritten into the table that took its place. */
  salvagedEntries: number;
  /**
   * Data blocks dropped as unreadable; null when the index was unreadable too and the scan for
   * the blocks stopped before it could tell it had reached their end (how many were left is unknown).
   */
  blocksLost: number | null;
}

/** Tokens `from` through `to`, both included. */
export interface TokenRange {
  from: bigint;
  to: bigint;
}

/** What StorageEngine.cleanup did. */
export interface CleanupReport {
  /** Live tables looked at. */
  tables: number;
  /** Rewritten without the entries of ranges given up. */
  tablesRewritten: number;
  /** Held nothing but such entries: gone. */
  tablesRemoved: number;
  entriesDropped: number;
  /** The looked-at tables' bytes, and what is left of them. */
  bytesBefore: number;
  bytesAfter: number;
  /** The engine began to close, or compactions kept making tables, before every table was looked at. */
  cutShort: boolean;
}

export interface ScrubOptions {
  /** Bytes read per second at most (0 or absent: as fast as the slices allow). */
  bytesPerSecond?: number;
  /**
   * Take a corrupt table out, salvaging its readable blocks, even without
   * quarantineCorruptTables: an operator's choice on a single node (Cassandra's nodetool scrub),
   * where the damaged blocks' entries have no other copy but the rest of the table is then read,
   * compacted and written again instead of stopping the shard. Default false.
   */
  salvage?: boolean;
}

/** What StorageEngine.scrub found. */
export interface ScrubReport {
  tables: number;
  entries: number;
  bytesRead: number;
  /** Tables found corrupt, now out of the engine (their keys need a repair from other replicas). */
  quarantined: QuarantinedTable[];
  /** Tables found corrupt and left in place (quarantineCorruptTables and salvage off); `file` is where they are. */
  corrupt: CorruptTable[];
  /** The engine closed before every table was read. */
  cutShort: boolean;
}

/** What WAL recovery found when the engine opened (torn tails are expected after a crash). */
export interface RecoveryReport {
  segments: number;
  records: number;
  entries: number;
  /** A cut-short last record, truncated away: file, offset where it began, bytes dropped. */
  tornTails: { file: string; offset: number; bytes: number; reason: string }[];
  /** Damaged records passed over because skipCorruptWalRecords was set. */
  skipped: { file: string; offset: number; reason: string }[];
}

export interface ScanOptions {
  /** Stop after this many entries. */
  limit?: number;
  /** Include entries whose TTL has passed (default false: they are skipped, tombstones are not). */
  includeExpired?: boolean;
}

export interface PeekOptions {
  /**
   * Return an entry whose TTL has passed too (default false: it reads as absent). A versioned
   * store needs it: an expired version still supersedes the older versions its past covers, so a
   * replica must see it to refuse those when another replica sends them (reconcile.ts).
   */
  includeExpired?: boolean;
}

export interface StorageEngine {
  /** Applies the writes atomically in order (one WAL record for the batch); resolves once durable per syncMode. */
  write(batch: StorageEntry[]): Promise<void>;
  /** Newest entry for key, including tombstones (the caller decides what a tombstone means); null when none or expired-and-not-tombstone. */
  get(key: Uint8Array): Promise<StorageEntry | null>;
  /**
   * The same as get, synchronously. Reads use synchronous pread on the shard's own worker thread:
   * a 4 KiB pread from the page cache costs a few microseconds, less than one trip through the
   * libuv thread pool, and the worker has nothing else to do while it waits.
   */
  getSync(key: Uint8Array): StorageEntry | null;
  /**
   * getSync without its copy: the entry's fields are views into engine memory (memtable arenas,
   * the block cache) that stay valid only until the next call into the engine. For a
   * read-modify-write that keeps nothing it read but metadata (a shard's PUT), where the copy was
   * about a tenth of the op.
   */
  peekSync(key: Uint8Array, opts?: PeekOptions): StorageEntry | null;
  /** Entries with fromToken <= token(key) <= toToken in (token, key) order, newest version of each key only, tombstones included. */
  scanRange(fromToken: bigint, toToken: bigint, opts?: ScanOptions): AsyncIterable<StorageEntry>;
  /** Memtable → SSTable now (tests, shutdown). */
  flush(): Promise<void>;
  /** Runs compaction until no level needs it (tests). */
  compact(): Promise<void>;
  /**
   * Reads every live table end to end and checks it (table-scrub.ts); a corrupt one is taken out
   * of the engine and moved to `quarantine/` (its keys then read as their older versions, if any,
   * until a repair brings them back from other replicas).
   */
  scrub(options?: ScrubOptions): Promise<ScrubReport>;
  /**
   * Flushes, then makes `dir` (which must not exist) a copy of this engine's tables as of that
   * flush: hard links to every live table and a manifest naming them, so it opens as an engine of
   * its own. Costs no copying; the links keep the tables' blocks after compaction deletes them
   * here. Writes after the flush are not in it.
   */
  snapshot(dir: string): Promise<{ tables: number; bytes: number }>;
  /**
   * Drops every entry whose token is in none of `owned` (ascending, disjoint): flushes, then
   * rewrites each table holding such entries without them, in its place (table-rewrite.ts).
   * After a node gave ranges up to another (a join), so that its disk holds only what it
   * replicates (Cassandra's nodetool cleanup), and stale copies cannot come back if the range
   * does. A corrupt table met on the way is quarantined on a cluster node, else it fails.
   */
  cleanup(owned: readonly TokenRange[]): Promise<CleanupReport>;
  /** Every table quarantined since open: by a scrub, a compaction or a read that could not read it. */
  quarantinedTables(): readonly QuarantinedTable[];
  stats(): StorageStats;
  /** What recovery did at open. */
  recoveryReport(): RecoveryReport;
  /** Stops background work, syncs the WAL, releases files. */
  close(): Promise<void>;
}
