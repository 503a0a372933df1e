// The LSM engine of one shard (LevelDB's db/db_impl): ties the WAL, memtables, SSTables,
// manifest and compaction together.
//
// Threads: reads and writes run on the shard's own thread (this class). Building tables does not:
// flushes and compactions run on the engine's background thread (background.ts, a worker_threads
// Worker), which reads the immutable input tables and writes and fsyncs the output tables, then
// replies with their metadata. This thread stays the only owner of engine state: it picks the
// work, installs each result as a new manifest (one manifest write at a time, in order), and
// deletes files. Two lanes of background work may be out at once, one flush (oldest immutable
// memtable first) and one compaction; the background thread runs a waiting flush in between the
// steps of a compaction, so a full memtable never waits for a whole compaction.
//
// Write: validate → back-pressure gate → one WAL record (one write(2)) → memtable insert (so all
// entries of a batch become visible at once) → resolve when the WAL sync covering it is done.
// A read can therefore see a write whose sync is still in flight (as in LevelDB with sync=false);
// the write is acknowledged only after its sync.
// Read: active memtable → immutable memtables newest first → L0 files newest first → one file per
// level below. Reads are synchronous (pread) on the shard's own thread: see types.ts getSync.
// Crash safety: a table is written and fsync'ed (on the background thread) before its reply
// arrives and so before the manifest names it; WAL segments and input tables are deleted only
// after a manifest that no longer needs them is in place, and input tables only once no scan and
// no compaction uses them (refs); on open, files the manifest does not name are removed (the
// outputs of a compaction cut short by a crash) and WAL segments from logNumber on are replayed.
// Failures: a WAL write or background step that fails for lack of space leaves nothing behind and
// makes the engine refuse writes until space is back (space-watch.ts), then it carries on; any
// other failed write or sync is sticky until the engine is reopened (LevelDB's bg_error_).
// Corruption: with quarantineCorruptTables (a cluster node), a table that a compaction, a scrub
// (scrub()) or a read finds corrupt is quarantined rather than failing the engine: its readable
// blocks salvaged into a new table in its place (table-rewrite.ts), a manifest naming that one
// instead, the file moved to quarantine/ once unused. Its keys then read as whatever older versions
// lower levels hold, until a repair from other replicas brings the newest back (Cassandra's
// scrub, then repair). Without it (a single node, whose only copy that is) a scrub reports the
// table and leaves it unless asked to salvage it, and a compaction that meets it fails as any
// other background failure. cleanup() rewrites tables the same way, keeping only the token
// ranges the node still replicates, and of the others the tombstones and TTL entries that still
// hide an older value (until a later pass has dropped it: a cleanup may be cut short anywhere),
// oldest table first so that one pass drops a key's versions however many tables they span.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  blockCacheBytesDefault,
  blockCacheBytesMax,
  blockCacheWarmReadaheadBytes,
  blockCacheWarmShareMax,
  bloomBitsPerKeyDefault,
  bloomBitsPerKeyMax,
  compactionBytesPerSecDefault,
  immutableMemtablesMax,
  keyBytesMax,
  level0StopWritesTrigger,
  levelBaseBytesDefault,
  levelsMax,
  memtableBytesDefault,
  memtableBytesMin,
  openFilesMax,
  spaceResumeBytesMin,
  sstableFileBytesTarget,
  storageBatchEntriesMax,
  storageImmediateCallsPerYield,
  storageStalledWritesMax,
  tombstoneGraceMsDefault,
  walBatchWindowMsDefault,
  walBatchWindowMsMax,
  walSegmentBytesMax,
} from '../constants';
import { ErrorCode, RingkvError, assert, isRingkvError } from '../errors';
import { Histogram } from '../histogram';
import { Arena, ArenaPool, arenaChunkBytesFor } from './arena';
import { BackgroundThread } from './background';
import { BackgroundControl } from './background-control';
import { checkTables, type CompactJob, type TableInfo, tableInfoOf } from './background-messages';
import { BlockCache } from './block-cache';
import { backlogBytes, bestScore, pickCompaction, type Compaction } from './compaction';
import { decodePayload, payloadExpiresAtMs, payloadIsTombstone, validateEntry, viewPayload } from './entry';
import { manifestTempName, parseFileName, quarantineDirName, tablePath, walPath } from './filenames';
import { nextTurn, packMemtable, packSliceMs } from './flush';
import { SpaceWatch, isNoSpaceError } from './space-watch';
import { LevelIterator, MemtableIterator, MergingIterator, TableIterator, type InternalIterator } from './iterators';
import { readWalSegment, corruptionAt } from './log-reader';
import { LogWriter } from './log-writer';
import { fsyncDirSync, mkdirDurably } from './durable-file';
import { manifestMayBeInstalled, readManifest, writeManifest } from './manifest';
import { Memtable } from './memtable';
import { compareToken, sortKeyOf, sortKeysOf, tokenBound, tokenBytes, tokenMax } from './sort-key';
import { Readahead } from './table';
import { removeGradually } from './delete-scheduler';
import { TableCache } from './table-cache';
import { KeySketch } from './key-sketch';
import { scrubPaceMs, scrubTable } from './table-scrub';
import { type RewriteOptions, type RewriteResult, rewriteTable } from './table-rewrite';
import { tokenRangeFilter } from './token-ranges';
import type { CleanupReport, PeekOptions, QuarantinedTable, RecoveryReport, ScanOptions, ScrubOptions, ScrubReport, StorageEngine, StorageEntry, StorageOptions, StorageStats, SyncMode, TokenRange } from './types';
import { decodeBatchPayload, encodeBatchRecord, type BatchItem } from './wal-record';
import { l0RankOf, Version, type FileMeta } from './version';

function optionError(name: string, why: string): RingkvError {
  return new RingkvError(ErrorCode.InvalidArgument, `storage option ${name}: ${why}`, { details: { option: name } });
}

function intOption(o: StorageOptions, name: keyof StorageOptions, def: number, min: number, max: number): number {
  const v = o[name];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw optionError(name, `must be an integer in [${min}, ${max}], got ${String(v)}`);
  return v;
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Passes a cleanup makes over the live tables at most: each takes the tables made since the one
 * before (compactions merging tables not yet cleaned, a table salvaged), so this bounds it on a
 * busy shard. A quiet shard needs one: tables go oldest first, so the older value under a
 * tombstone is gone before the tombstone is looked at, however many tables a key's versions span.
 */
const cleanupPassesMax = 4;

export class LsmEngine implements StorageEngine {
  private readonly dir: string;
  private readonly syncMode: SyncMode;
  private readonly windowMs: number;
  private readonly memLimit: number;
  private readonly bloomBits: number;
  private readonly graceMs: number;
  private readonly skipCorrupt: boolean;
  private readonly quarantineCorrupt: boolean;
  private readonly now: () => number;
  private readonly tableFileBytes: number;
  private readonly levelBase: number;
  private readonly compactRate: number;
  private readonly autoCompaction: boolean;
  private readonly blockCache: BlockCache;
  private readonly tableCache: TableCache;
  /** Key sketches of live tables by file number (null: the table has none), see keysEstimate(). */
  private readonly tableSketches = new Map<number, KeySketch | null>();
  /** Their union for one version (see keysEstimate). */
  private tablesKeys: { version: Version; union: KeySketch; unsketched: number } | null = null;
  /** Arena chunks of flushed memtables, for the next ones (one memtable's worth kept). */
  private readonly arenaPool: ArenaPool;
  /** Deletions of obsolete files still running (removeFile). */
  private readonly removing = new Set<Promise<void>>();
  /** The packed-run buffers of the last flush, moved back by the background thread for reuse. */
  private spareRun: ArrayBuffer[] = [];
  /** The window warmBlockCache() reads flushed tables through (made on the first flush, reused). */
  private warmReadahead: Readahead | null = null;
  private blocksWarmed = 0;

  private mem!: Memtable;
  /** Immutable memtables, newest first. */
  private imms: Memtable[] = [];
  private wal!: LogWriter;
  /** Closes of segments a memtable switch left behind, each gone from here once it settles. */
  private readonly walClosing = new Set<Promise<void>>();
  private version = new Version();
  /** The file-number counter (shared with the background thread) and its abort flag. */
  private readonly control = new BackgroundControl();
  private readonly bg: BackgroundThread;
  private logNumber = 0;
  private readonly compactPointers: (Buffer | null)[] = new Array<Buffer | null>(levelsMax).fill(null);
  /** The flush lane and the compaction lane: each settles (never rejects) when its step is done. */
  private flushing: Promise<void> | null = null;
  private compacting: Promise<void> | null = null;
  /** File numbers the running compaction reads (a scrub does not quarantine them under it). */
  private readonly compactingInputs = new Set<number>();
  /** Table rewrites (quarantines, cleanups) in progress: no compaction is picked meanwhile (it could pick the table). */
  private rewriting = 0;
  private readonly quarantined: QuarantinedTable[] = [];
  /** Quarantines a read asked for (corruptionRead), by file number: one each, awaited by close(). */
  private readonly readQuarantines = new Map<number, Promise<void>>();
  /** Manifest writes run one at a time, in the order asked: the tail of that chain. */
  private manifestTail: Promise<void> = Promise.resolve();
  private bgError: Error | null = null;
  /**
   * Set while writes are refused for lack of space (a WAL write or a background step failed with
   * ENOSPC); unlike bgError it clears by itself once spaceWatch sees enough free space.
   */
  private noSpace: RingkvError | null = null;
  private readonly spaceWatch: SpaceWatch;
  /**
   * Set while compactions wait for space: one failed with ENOSPC. Writes go on (RocksDB takes a
   * compaction's NoSpace as a soft error): the WAL and flushes need far less room than a
   * compaction's output, and refusing writes until a compaction's room was back made them flap,
   * the same compaction filling the disk again each time they resumed. Writes are refused only
   * once level 0 reaches its stop trigger (refusal).
   */
  private compactionNoSpace: RingkvError | null = null;
  /** Free bytes compactions wait for: the failed compaction's inputs and a margin. */
  private compactionRoomBytes = 0;
  private readonly compactionSpaceWatch: SpaceWatch;
  private manualCompaction = 0;
  private closing = false;
  private closed = false;
  private readonly stallQueue: (() => void)[] = [];
  private stallHandoff = false;
  private entriesWritten = 0;
  private writeStalls = 0;
  private flushes = 0;
  private compactions = 0;
  /** Calls resolved at once since the event loop last had a turn (see settleSoon). */
  private immediateCalls = 0;
  private compactionBytesWritten = 0;
  /** Every WAL sync of this engine, all segments. */
  private readonly walSyncSeconds = new Histogram();
  private recovery: RecoveryReport = { segments: 0, records: 0, entries: 0, tornTails: [], skipped: [] };

  constructor(o: StorageOptions) {
    if (typeof o.dir !== 'string' || o.dir.length === 0) throw optionError('dir', 'must be a non-empty path');
    this.dir = o.dir;
    const mode = o.syncMode ?? 'batch';
    if (mode !== 'always' && mode !== 'batch' && mode !== 'none') throw optionError('syncMode', `must be always, batch or none, got ${String(mode)}`);
    this.syncMode = mode;
    this.windowMs = intOption(o, 'walBatchWindowMs', walBatchWindowMsDefault, 0, walBatchWindowMsMax);
    this.memLimit = intOption(o, 'memtableBytes', memtableBytesDefault, memtableBytesMin, 1024 * 1024 * 1024);
    this.bloomBits = intOption(o, 'bloomBitsPerKey', bloomBitsPerKeyDefault, 1, bloomBitsPerKeyMax);
    this.graceMs = intOption(o, 'tombstoneGraceMs', tombstoneGraceMsDefault, 0, Number.MAX_SAFE_INTEGER);
    this.tableFileBytes = intOption(o, 'sstableFileBytes', sstableFileBytesTarget, 16 * 1024, 1024 * 1024 * 1024);
    this.levelBase = intOption(o, 'levelBaseBytes', levelBaseBytesDefault, 64 * 1024, Number.MAX_SAFE_INTEGER);
    this.compactRate = intOption(o, 'compactionBytesPerSec', compactionBytesPerSecDefault, 0, Number.MAX_SAFE_INTEGER);
    this.skipCorrupt = o.skipCorruptWalRecords ?? false;
    this.quarantineCorrupt = o.quarantineCorruptTables ?? false;
    this.autoCompaction = o.autoCompaction ?? true;
    this.now = o.now ?? Date.now;
    this.blockCache = new BlockCache(intOption(o, 'blockCacheBytes', blockCacheBytesDefault, 0, blockCacheBytesMax));
    this.tableCache = new TableCache(this.dir, intOption(o, 'openFilesMax', openFilesMax, 1, 65_536));
    this.arenaPool = new ArenaPool(arenaChunkBytesFor(this.memLimit), this.memLimit, 'shared');
    this.bg = new BackgroundThread({ dir: this.dir, control: this.control.buffer, bloomBitsPerKey: this.bloomBits });
    this.spaceWatch = new SpaceWatch(this.dir, () => this.leaveNoSpace());
    this.compactionSpaceWatch = new SpaceWatch(this.dir, () => this.compactionSpaceBack());
  }

  // ---------------------------------------------------------------- open and recovery

  async open(): Promise<void> {
    try {
      await this.recover();
    } catch (err) {
      // Recovery may have started the background thread (to flush replayed memtables): stop it.
      this.control.abort();
      await this.bg.close();
      throw err;
    }
    this.scheduleBackground();
  }

  private async recover(): Promise<void> {
    // The WAL's first sync covers the names in this dir, not this dir's own name in its parent.
    mkdirDurably(this.dir);
    const m = readManifest(this.dir);
    this.control.raiseFileNumber(1);
    if (m !== null) {
      this.version = m.version;
      this.control.raiseFileNumber(m.nextFileNumber);
      this.logNumber = m.logNumber;
    }
    const live = new Set<number>();
    for (const f of this.version.allFiles()) {
      live.add(f.number);
      const file = tablePath(this.dir, f.number);
      let size: number;
      try {
        size = fs.statSync(file).size;
      } catch {
        throw new RingkvError(ErrorCode.Corruption, `SSTable ${file} named by the manifest is missing`, { details: { file, offset: 0 } });
      }
      if (size !== f.fileBytes) {
        throw new RingkvError(ErrorCode.Corruption, `SSTable ${file}: ${size} bytes on disk, manifest says ${f.fileBytes} (truncated?) at offset ${Math.min(size, f.fileBytes)}`, {
          details: { file, offset: Math.min(size, f.fileBytes) },
        });
      }
    }
    const wals: number[] = [];
    let maxSeen = 0;
    for (const name of fs.readdirSync(this.dir)) {
      const p = parseFileName(name);
      if (name === manifestTempName) {
        fs.rmSync(path.join(this.dir, name), { force: true });
        continue;
      }
      if (p === null) continue;
      maxSeen = Math.max(maxSeen, p.number);
      if (p.kind === 'wal' && p.number >= this.logNumber) wals.push(p.number);
      else if (p.kind === 'sst' && live.has(p.number)) continue;
      else fs.rmSync(path.join(this.dir, name), { force: true }); // Orphan of a crash: never named by the manifest, or no longer needed.
    }
    this.control.raiseFileNumber(maxSeen + 1);
    wals.sort((a, b) => a - b);

    const added: FileMeta[] = [];
    let mem = new Memtable(0);
    for (const n of wals) {
      const file = walPath(this.dir, n);
      const r = readWalSegment(file, this.skipCorrupt);
      this.recovery.segments++;
      if (r.tornTail) {
        this.recovery.tornTails.push({ file, ...r.tornTail });
        fs.truncateSync(file, r.validEnd);
      }
      for (const s of r.skipped) this.recovery.skipped.push({ file, ...s });
      for (const { offset, payload } of r.payloads) {
        const items = decodeBatchPayload(payload);
        if (typeof items === 'string') throw corruptionAt(file, offset, `record passes its checksum but is malformed: ${items}`);
        this.recovery.records++;
        this.recovery.entries += items.length;
        const sks = sortKeysOf(items.map((it) => it.key));
        for (let i = 0; i < items.length; i++) mem.put(sks[i]!, items[i]!.payload);
        if (mem.bytes >= this.memLimit) {
          const f = await this.writeLevel0(mem);
          if (f) added.push(f);
          mem = new Memtable(0);
        }
      }
    }
    if (mem.count > 0) {
      const f = await this.writeLevel0(mem);
      if (f) added.push(f);
    }
    const walNumber = this.control.takeFileNumber();
    this.wal = this.newSegment(walNumber);
    this.mem = new Memtable(walNumber, new Arena(this.arenaPool));
    const recovered = added.map((file) => ({ level: 0, file }));
    await this.installVersion((v) => v.apply([], recovered), walNumber);
    for (const n of wals) fs.rmSync(walPath(this.dir, n), { force: true });
  }

  /**
   * Writes a manifest holding edit(current version) and, when given, a new logNumber; the engine
   * uses the new version once the manifest is durable. Calls run one at a time in call order, and
   * each edit sees the version the previous one installed, so a flush and a compaction finishing
   * together cannot lose each other's changes.
   */
  private installVersion(edit: (v: Version) => Version, logNumber?: number): Promise<void> {
    const step = async (): Promise<void> => {
      const v = edit(this.version);
      const log = logNumber ?? this.logNumber;
      assert(log >= this.logNumber, 'the oldest needed WAL segment only moves forward');
      await writeManifest(this.dir, { nextFileNumber: this.control.peekFileNumber(), logNumber: log, version: v });
      this.version = v;
      this.logNumber = log;
    };
    const p = this.manifestTail.then(step);
    this.manifestTail = p.catch(() => undefined);
    return p;
  }

  private fileMetaOf(t: TableInfo): FileMeta {
    return {
      number: t.number,
      fileBytes: t.fileBytes,
      smallest: Buffer.from(t.smallest.buffer, t.smallest.byteOffset, t.smallest.length),
      largest: Buffer.from(t.largest.buffer, t.largest.byteOffset, t.largest.length),
      entryCount: t.entryCount,
      tombstoneCount: t.tombstoneCount,
      refs: 0,
      obsolete: false,
    };
  }

  /** Writes a memtable as one level-0 table on the background thread (null when empty). */
  private async writeLevel0(mem: Memtable): Promise<FileMeta | null> {
    if (mem.count === 0) return null;
    const { run, transfer } = await packMemtable(mem, this.spareRun);
    this.spareRun = [];
    const r = await this.bg.run({ kind: 'flush', id: 0, run }, transfer, `flush of WAL segment ${mem.walNumber}`);
    this.spareRun = r.returned;
    // Both sides of the thread boundary check the run: one table holding every entry, in range.
    assert(r.tables.length === 1 && r.stats.entriesOut === mem.count, () => `flush wrote ${r.stats.entriesOut} of ${mem.count} entries`);
    checkTables(r.tables, true);
    return this.fileMetaOf(r.tables[0]!);
  }

  // ---------------------------------------------------------------- writes

  write(batch: StorageEntry[]): Promise<void> {
    try {
      this.checkWritable();
      if (!Array.isArray(batch)) throw new RingkvError(ErrorCode.InvalidArgument, 'write batch must be an array');
      if (batch.length > storageBatchEntriesMax) {
        throw new RingkvError(ErrorCode.InvalidArgument, `write batch of ${batch.length} entries exceeds storageBatchEntriesMax=${storageBatchEntriesMax}`);
      }
      for (const e of batch) validateEntry(e);
      if (batch.length === 0) return Promise.resolve();
      if (this.stallQueue.length === 0 && !this.stallHandoff && !this.mustStall()) return this.applyWrite(batch);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.stalledWrite(batch);
  }

  private checkWritable(): void {
    if (this.closed || this.closing) throw new RingkvError(ErrorCode.Closed, `storage engine ${this.dir} is closed`);
    const refusal = this.refusal();
    if (refusal) throw refusal;
  }

  /** Why writes are refused now: a sticky background failure, or lack of space; null when they are not. */
  private refusal(): Error | null {
    return this.bgError ?? this.spaceRefusal();
  }

  /** Writes refused for lack of space: the WAL or a flush found none, or compactions wait for it with level 0 full. */
  private spaceRefusal(): RingkvError | null {
    return this.noSpace ?? (this.compactionNoSpace !== null && this.level0Full() ? this.compactionNoSpace : null);
  }

  /** A compaction failed for lack of space: compactions wait until its room is free (compactionNoSpace). */
  private holdCompactions(c: Compaction, err: Error): void {
    const inputBytes = [...c.inputs0, ...c.inputs1].reduce((n, f) => n + f.fileBytes, 0);
    this.compactionRoomBytes = inputBytes + spaceResumeBytesMin;
    const mib = (this.compactionRoomBytes / (1024 * 1024)).toFixed(1);
    this.compactionSpaceWatch.start(() => this.compactionRoomBytes);
    this.compactionNoSpace = new RingkvError(
      ErrorCode.NoSpace,
      `storage engine ${this.dir}: a compaction of level ${c.level} ran out of space (${err.message}); compactions wait until ${mib} MiB are free on its file system, ` +
        `checked every ${this.compactionSpaceWatch.intervalMs / 1000} s, and writes are refused (reads still work) while level 0 holds ${level0StopWritesTrigger} tables meanwhile`,
      { cause: err, details: { dir: this.dir, needed_bytes: this.compactionRoomBytes } },
    );
    this.wakeAllStalled(); // a write stalled on level 0 sees the refusal
  }

  private compactionSpaceBack(): void {
    if (this.closing) return;
    this.compactionNoSpace = null;
    this.scheduleBackground();
    this.wakeStalled();
  }

  /**
   * Starts refusing writes after `err` (out of space), and watching for space; the first such
   * failure of an episode words the error every refused write gets until it ends.
   */
  private enterNoSpace(err: Error): RingkvError {
    if (this.noSpace === null) {
      const neededBytes = this.resumeFreeBytes();
      this.spaceWatch.start(() => this.resumeFreeBytes());
      const prefix = `storage engine ${this.dir}: `;
      this.noSpace = new RingkvError(
        ErrorCode.NoSpace,
        `${err.message.startsWith(prefix) ? '' : prefix}${err.message}; it refuses writes (reads still work) until ` +
          `${(neededBytes / (1024 * 1024)).toFixed(1)} MiB are free on its file system, checked every ${this.spaceWatch.intervalMs / 1000} s; ` +
          `a refused write is not applied`,
        { cause: err, details: { dir: this.dir, needed_bytes: neededBytes } },
      );
      this.wakeAllStalled(); // they see the refusal
    }
    return this.noSpace;
  }

  /** Space is back: writes go on, and the background step that failed is tried again. */
  private leaveNoSpace(): void {
    if (this.closing) return;
    this.noSpace = null;
    this.scheduleBackground();
    this.wakeStalled();
  }

  /** Free bytes wanted before writes resume: the flush to retry writes about its memtable's size. */
  private resumeFreeBytes(): number {
    const oldest = this.imms[this.imms.length - 1];
    return Math.max(spaceResumeBytesMin, oldest?.heldBytes ?? 0);
  }

  private mustStall(): boolean {
    return this.imms.length >= immutableMemtablesMax || this.level0Full();
  }

  /** Level 0 at its stop trigger. Without background compaction nothing would ever drain it, so only the memtable gate applies then. */
  private level0Full(): boolean {
    return this.autoCompaction && this.version.levels[0]!.length >= level0StopWritesTrigger;
  }

  private applyWrite(batch: StorageEntry[]): Promise<void> {
    const items: BatchItem[] = [];
    const mem = this.mem;
    const record = encodeBatchRecord(batch, items, (bytes) => mem.arena!.alloc(bytes));
    let durable: Promise<void>;
    try {
      durable = this.wal.append(record);
    } catch (err) {
      // Nothing of the batch was applied: the WAL cut off its partial record, the memtable is untouched.
      throw isRingkvError(err, ErrorCode.NoSpace) ? this.enterNoSpace(err) : err;
    }
    const sks = sortKeysOf(items.map((it) => it.key));
    for (let i = 0; i < items.length; i++) this.mem.put(sks[i]!, items[i]!.payload);
    this.entriesWritten += items.length;
    // Overwrites do not grow the live entries but do grow the arena and the WAL: heldBytes counts
    // the arena; the WAL has its own cap for memtables without one.
    if (this.mem.heldBytes >= this.memLimit || this.wal.bytes >= walSegmentBytesMax) {
      try {
        this.switchMemtable();
      } catch (err) {
        // This write is in the WAL and the memtable: it stands, and is answered as its sync goes.
        // Out of space, the next write after space is back switches again; any other failure
        // (a new segment that cannot be opened) refuses writes until the engine is reopened, or
        // every later write would be applied, answered as failed, and grow the segment and the
        // memtable past their caps (a segment over 2 GiB cannot even be read back at open).
        if (isNoSpaceError(err)) this.enterNoSpace(err as Error);
        else {
          this.bgError ??= err instanceof Error ? err : new Error(String(err));
          this.wakeAllStalled();
        }
      }
    }
    return this.syncMode === 'none' ? durable.then(() => this.settleSoon(undefined)) : durable;
  }

  /**
   * `value`, at once, except that while background work is out every
   * storageImmediateCallsPerYield-th call waits one turn of the event loop. Without it a caller
   * awaiting writes (syncMode 'none') or gets in a loop never lets the loop run: the background
   * thread's replies would wait, unhandled, until a writer stalled for them.
   */
  private settleSoon<T>(value: T): T | Promise<T> {
    if (this.flushing === null && this.compacting === null) return value;
    if (++this.immediateCalls < storageImmediateCallsPerYield) return value;
    this.immediateCalls = 0;
    return new Promise<T>((resolve) => setImmediate(resolve, value));
  }

  private async stalledWrite(batch: StorageEntry[]): Promise<void> {
    if (this.stallQueue.length >= storageStalledWritesMax) {
      throw new RingkvError(ErrorCode.Busy, `storage engine ${this.dir}: ${this.stallQueue.length} writes already waiting for compaction`);
    }
    this.writeStalls++;
    await new Promise<void>((resolve) => this.stallQueue.push(resolve));
    this.stallHandoff = false;
    let p: Promise<void>;
    try {
      this.checkWritable();
      p = this.applyWrite(batch);
    } finally {
      this.wakeStalled();
    }
    return p;
  }

  /** Wakes every stalled writer at once: each then checks the engine and fails (refused, closed). */
  private wakeAllStalled(): void {
    while (this.stallQueue.length > 0) this.stallQueue.shift()!();
  }

  /** Lets the next stalled writer in (one at a time, so they keep their order). */
  private wakeStalled(): void {
    if (this.stallHandoff || this.stallQueue.length === 0) return;
    if (this.mustStall() && !this.closing && this.refusal() === null) return;
    this.stallHandoff = true;
    this.stallQueue.shift()!();
  }

  /** A WAL segment whose failure for good is the engine's (sticky until reopened, as LevelDB's bg_error_). */
  private newSegment(n: number): LogWriter {
    return new LogWriter(walPath(this.dir, n), n, this.syncMode, this.windowMs, this.walSyncSeconds, (err) => {
      this.bgError ??= err;
      this.wakeAllStalled();
    });
  }

  private switchMemtable(): void {
    const n = this.control.takeFileNumber();
    const old = this.wal;
    this.wal = this.newSegment(n);
    this.mem.walBytes = old.bytes;
    // A failure here is already the engine's (newSegment's onFailed: no writes until a restart,
    // whose recovery replays what reached the disk), so only the engine's close waits on it.
    const closing = old.close().catch(() => undefined);
    this.walClosing.add(closing);
    void closing.then(() => this.walClosing.delete(closing));
    this.imms.unshift(this.mem);
    this.mem = new Memtable(n, new Arena(this.arenaPool));
    this.scheduleBackground();
  }

  // ---------------------------------------------------------------- background work

  /** Starts whatever background work is due and not already running: a flush, a compaction. */
  private scheduleBackground(): void {
    if (this.closing || this.refusal() !== null) return;
    if (this.flushing === null && this.imms.length > 0) {
      this.flushing = this.lane(this.flushOldestImmutable()).finally(() => {
        this.flushing = null;
        this.afterBackgroundStep();
      });
    }
    if (this.compacting === null && this.rewriting === 0 && this.compactionNoSpace === null && (this.autoCompaction || this.manualCompaction > 0)) {
      const c = pickCompaction(this.version, this.levelBase, this.compactPointers, this.manualCompaction > 0);
      if (c !== null) {
        this.compacting = this.lane(this.doCompaction(c), c).finally(() => {
          this.compacting = null;
          this.afterBackgroundStep();
        });
      }
    }
  }

  private afterBackgroundStep(): void {
    this.wakeStalled();
    this.scheduleBackground();
  }

  /**
   * A lane's step settles without rejecting; its failure becomes the engine's background error.
   * `compaction`: the step is that compaction's.
   */
  private async lane(step: Promise<void>, compaction?: Compaction): Promise<void> {
    try {
      await step;
    } catch (err) {
      if (this.closing && isRingkvError(err, ErrorCode.Closed)) return; // Aborted by close().
      if (isNoSpaceError(err)) {
        // The step left nothing behind (its partial tables are removed, the manifest is
        // unchanged) and runs again once there is space.
        if (compaction !== undefined) this.holdCompactions(compaction, err as Error);
        else this.enterNoSpace(err as Error);
        return;
      }
      this.bgError ??=
        err instanceof RingkvError ? err : new RingkvError(ErrorCode.Io, `storage engine ${this.dir}: background work failed: ${(err as Error).message}`, { cause: err });
      this.wakeAllStalled(); // they see the error
    }
  }

  private async flushOldestImmutable(): Promise<void> {
    const imm = this.imms[this.imms.length - 1]!;
    const f = await this.writeLevel0(imm);
    if (f) await this.warmBlockCache(f);
    // The next-oldest memtable's segment is now the oldest one recovery needs.
    const nextLog = this.imms.length > 1 ? this.imms[this.imms.length - 2]!.walNumber : this.mem.walNumber;
    try {
      await this.installVersion((v) => v.apply([], f ? [{ level: 0, file: f }] : []), nextLog);
    } catch (err) {
      if (f) this.abandonOutput(f.number, err);
      throw err;
    }
    const popped = this.imms.pop();
    assert(popped === imm, 'immutable memtables flushed out of order');
    imm.retire();
    this.flushes++;
    if (imm.walNumber < nextLog) this.removeFile(walPath(this.dir, imm.walNumber));
  }

  /**
   * Reads a flushed table's data blocks into the block cache before the table takes over from
   * its memtable (RocksDB's prepopulate_block_cache = kFlushOnly). Without it the first read of
   * each key after a flush missed, and writes read too (a write needs the key's current clock):
   * a write-heavy shard paid thousands of one-block preads right after every flush, when it was
   * also catching up with the flush itself. Skipped for a table larger than
   * blockCacheWarmShareMax of the cache, which would only push out what is being read. Runs in
   * slices of packSliceMs; meanwhile reads are still answered from the memtable.
   */
  private async warmBlockCache(f: FileMeta): Promise<void> {
    if (f.fileBytes > this.blockCache.capacity * blockCacheWarmShareMax) return;
    const ra = (this.warmReadahead ??= new Readahead(blockCacheWarmReadaheadBytes));
    ra.reset();
    let i = 0;
    let blockCount = 1;
    while (i < blockCount && !this.closing) {
      // Taken again each slice, as every reader does (table-cache.ts): reads in the turns between
      // open other tables, and this one, not in any version yet, may be evicted and closed.
      const t = this.tableCache.get(f.number);
      blockCount = t.blockCount;
      const sliceEndMs = performance.now() + packSliceMs;
      const next = t.warmBlocks(this.blockCache, ra, i, () => performance.now() >= sliceEndMs);
      this.blocksWarmed += next - i;
      i = next;
      if (i < blockCount) await nextTurn();
    }
  }

  /**
   * Deletes an obsolete file off this thread, a few MiB at a time (delete-scheduler.ts): unlinking
   * a large WAL segment or table at once can take tens of milliseconds here and holds up every
   * WAL fdatasync on the file system. File numbers are never reused, so nothing can recreate the
   * name meanwhile, and open() removes whatever a crash leaves behind. flush(), compact() and
   * close() wait for the deletions they caused.
   */
  private removeFile(file: string): void {
    const done: Promise<void> = removeGradually(file)
      .catch(() => undefined)
      .finally(() => this.removing.delete(done));
    this.removing.add(done);
  }

  /** The job for compaction c: its inputs as merge children, newest first, and the ranges below. */
  private compactJob(c: Compaction, manual: boolean): CompactJob {
    const run = (files: FileMeta[]): { number: number; largest: Buffer }[] => files.map((f) => ({ number: f.number, largest: f.largest }));
    const runs = c.level === 0 ? c.inputs0.map((f) => run([f])) : [run(c.inputs0)];
    if (c.inputs1.length > 0) runs.push(run(c.inputs1));
    const levelsBelow = this.version.levels.slice(c.level + 2).map((l) => l.map((f) => ({ smallest: f.smallest, largest: f.largest })));
    return {
      kind: 'compact',
      id: 0,
      level: c.level,
      runs,
      levelsBelow,
      nowMs: this.now(),
      tombstoneGraceMs: this.graceMs,
      tableFileBytes: this.tableFileBytes,
      bytesPerSec: manual ? 0 : this.compactRate,
    };
  }

  private async doCompaction(c: Compaction): Promise<void> {
    const removed = [...c.inputs0.map((f) => ({ level: c.level, number: f.number })), ...c.inputs1.map((f) => ({ level: c.level + 1, number: f.number }))];
    const manual = this.manualCompaction > 0;
    if (c.inputs0.length === 1 && c.inputs1.length === 0 && !manual) {
      // Trivial move: nothing below overlaps, so the file can change level without a rewrite.
      // A manual compact() rewrites instead, so expiry and tombstone collection happen.
      await this.installVersion((v) => v.apply(removed, [{ level: c.level + 1, file: c.inputs0[0]! }]));
      return;
    }
    // Pinned while the background thread reads them, so a scan ending meanwhile cannot delete them.
    const inputs = [...c.inputs0, ...c.inputs1];
    for (const f of inputs) f.refs++;
    for (const f of inputs) this.compactingInputs.add(f.number);
    try {
      let r;
      try {
        r = await this.bg.run(this.compactJob(c, manual), [], `compaction of level ${c.level}`);
      } catch (err) {
        // A corrupt input would fail every compaction that picks it, and the engine with it:
        // take it out instead, and let the next compaction go on without it.
        const bad = this.quarantineCorrupt && isRingkvError(err, ErrorCode.Corruption) ? inputs.find((f) => tablePath(this.dir, f.number) === err.details['file']) : undefined;
        if (bad === undefined) throw err;
        await this.quarantineTable(bad, (err as Error).message);
        return;
      }
      checkTables(r.tables, true);
      const added = r.tables.map((t) => ({ level: c.level + 1, file: this.fileMetaOf(t) }));
      try {
        await this.installVersion((v) => v.apply(removed, added));
      } catch (err) {
        for (const t of r.tables) this.abandonOutput(t.number, err);
        throw err;
      }
      for (const f of inputs) f.obsolete = true;
      this.compactions++;
      this.compactionBytesWritten += r.stats.bytesWritten;
    } finally {
      this.compactingInputs.clear();
      for (const f of inputs) {
        f.refs--;
        if (f.obsolete && f.refs === 0) this.deleteTable(f);
      }
    }
  }

  private deleteTable(f: FileMeta): void {
    this.tableCache.evict(f.number);
    this.blockCache.evictFile(f.number);
    if (f.corrupt === undefined) {
      this.removeFile(tablePath(this.dir, f.number));
      return;
    }
    // Kept for a person to look at (and deleted by one): never read again, never named by a
    // manifest. Both directories are fsynced: a crash that undid the rename would leave a table no
    // manifest names, which open() removes, and the copy kept for a person would be gone. In line
    // (a quarantine is rare): scrub's report names where the table is once it returns.
    try {
      fs.mkdirSync(path.dirname(f.corrupt.file), { recursive: true });
      fs.renameSync(tablePath(this.dir, f.number), f.corrupt.file);
      fsyncDirSync(path.dirname(f.corrupt.file));
      fsyncDirSync(this.dir);
    } catch {
      // Left where it is (or the move may not survive a crash): open() removes a table no manifest names.
    }
  }

  /**
   * Rewrites table f (table-rewrite.ts) into a new table that takes its place: its level, and in
   * level 0 its rank, so tables flushed after f stay newer. One manifest names the new table (or
   * none, when nothing was kept) instead of f; unless `worthIt` says the result is not worth a
   * swap, which leaves f as it is. Null when f left the version meanwhile. f is not marked
   * obsolete here: the caller does, after saying why (f.corrupt), then deletes it once unused.
   * The caller holds off compactions meanwhile (rewriting).
   */
  private async rewriteInPlace(f: FileMeta, o: RewriteOptions, worthIt: (r: RewriteResult) => boolean = () => true): Promise<{ level: number; result: RewriteResult; replaced: boolean } | null> {
    const n = this.control.takeFileNumber();
    const result = await rewriteTable({ file: tablePath(this.dir, f.number), number: f.number }, { file: tablePath(this.dir, n), number: n, bloomBitsPerKey: this.bloomBits }, o);
    const built = result.table;
    const removeOutput = (err: unknown = null): void => {
      if (built !== null) this.abandonOutput(built.number, err);
    };
    if (!worthIt(result)) {
      removeOutput();
      const level = this.version.levels.findIndex((l) => l.includes(f));
      return level < 0 ? null : { level, result, replaced: false };
    }
    let level = -1;
    try {
      await this.installVersion((v) => {
        level = v.levels.findIndex((l) => l.includes(f));
        if (level < 0) return v;
        const added: { level: number; file: FileMeta }[] = [];
        if (built !== null) {
          const file = this.fileMetaOf(tableInfoOf(built));
          if (level === 0) file.l0Rank = l0RankOf(f);
          added.push({ level, file });
        }
        return v.apply([{ level, number: f.number }], added);
      });
    } catch (err) {
      removeOutput(err);
      throw err;
    }
    if (level < 0) {
      removeOutput();
      return null;
    }
    this.tableSketches.delete(f.number);
    return { level, result, replaced: true };
  }

  /**
   * Takes a table made for a manifest install that failed out of the caches, and deletes it
   * unless the new manifest, which names it, may be the one in place (manifestMayBeInstalled);
   * open() removes it then if the old one is. A deleted table held open would keep its space.
   */
  private abandonOutput(number: number, err: unknown): void {
    this.tableCache.evict(number);
    this.blockCache.evictFile(number);
    if (!manifestMayBeInstalled(err)) fs.rmSync(tablePath(this.dir, number), { force: true });
  }

  /** Marks f, which a rewrite replaced, obsolete; deletes it (or quarantines it) once unused. */
  private retire(f: FileMeta): void {
    f.obsolete = true;
    if (f.refs === 0) this.deleteTable(f);
  }

  /**
   * Takes table f out of the engine: the blocks that still read are salvaged into a new table
   * in its place (rewriteInPlace), and once nothing reads f the file is moved to quarantine/
   * (deleteTable). The caller makes sure no compaction reads f meanwhile (the compaction that
   * found it, or one waited for).
   */
  private async quarantineTable(f: FileMeta, reason: string): Promise<QuarantinedTable | null> {
    this.rewriting++;
    try {
      if (!this.version.levels.some((l) => l.includes(f))) return null; // compacted away meanwhile
      const r = await this.rewriteInPlace(f, { salvage: true });
      if (r === null) return null;
      const q: QuarantinedTable = {
        file: path.join(this.dir, quarantineDirName, path.basename(tablePath(this.dir, f.number))),
        level: r.level,
        entries: f.entryCount,
        salvagedEntries: r.result.entries,
        blocksLost: r.result.blocksLost,
        reason,
      };
      f.corrupt = q;
      this.quarantined.push(q);
      this.retire(f);
      return q;
    } finally {
      this.rewriting--;
    }
  }

  async cleanup(owned: readonly TokenRange[]): Promise<CleanupReport> {
    if (this.closed || this.closing) throw new RingkvError(ErrorCode.Closed, `storage engine ${this.dir} is closed`);
    const keep = tokenRangeFilter(owned);
    // Memtable entries of ranges given up go to tables first, where the rewrite drops them.
    await this.flush();
    const report: CleanupReport = { tables: 0, tablesRewritten: 0, tablesRemoved: 0, entriesDropped: 0, bytesBefore: 0, bytesAfter: 0, cutShort: false };
    const seen = new Set<number>();
    // Tables that kept entries over an older value (keepIn), to look at again: whether the report
    // already counts them rewritten. Their bytes and count are in the report once.
    const again = new Map<number, { rewritten: boolean }>();
    // A compaction between two rewrites may merge tables not yet cleaned into new ones: a later
    // pass takes those (and what flushes made meanwhile), until a pass finds no new table.
    for (let pass = 0; pass < cleanupPassesMax; pass++) {
      const todo = this.version.allFilesOldestFirst().filter((f) => !seen.has(f.number));
      if (todo.length === 0) return report;
      for (const f of todo) {
        seen.add(f.number);
        if (this.closing) {
          report.cutShort = true;
          return report;
        }
        while (this.compactingInputs.has(f.number)) await this.compacting;
        if (f.obsolete) continue; // compacted meanwhile: its outputs are the next pass's
        const earlier = again.get(f.number);
        again.delete(f.number);
        const counted = (bytesAfter: number): void => {
          if (earlier === undefined) {
            report.tables++;
            report.bytesBefore += f.fileBytes;
          } else report.bytesAfter -= f.fileBytes;
          report.bytesAfter += bytesAfter;
        };
        if (keep.holdsAll(f.smallest, f.largest)) {
          counted(f.fileBytes);
          continue;
        }
        this.rewriting++;
        try {
          let deferred = 0;
          const level = this.version.levels.findIndex((l) => l.includes(f));
          assert(level >= 0, 'a table being cleaned is in the version');
          const keepIn = (sk: Buffer, p: Buffer): boolean => {
            if (keep.holds(sk)) return true;
            // A tombstone or TTL entry over an older entry of its key that reads as a value stays
            // until that one is gone (a later pass): a cleanup cut short between the two would
            // otherwise bring the older value back here, for a key another replica may have
            // deleted and long since purged (it matters if the range comes back to this node).
            // Oldest first, the older entry is left only where its table was not cleaned in this
            // pass: compacted meanwhile into tables the next pass takes, or salvaged.
            if (!payloadIsTombstone(p) && payloadExpiresAtMs(p) === 0) return false;
            if (!this.olderShowsValue(f, level, sk)) return false;
            deferred++;
            return true;
          };
          const r = await this.rewriteInPlace(f, { salvage: false, keep: keepIn }, (x) => x.dropped > 0);
          if (r === null) continue; // compacted meanwhile
          if (!r.replaced) {
            counted(f.fileBytes);
            if (deferred > 0) {
              seen.delete(f.number);
              again.set(f.number, { rewritten: earlier?.rewritten ?? false });
            }
            continue;
          }
          const built = r.result.table;
          counted(built?.fileBytes ?? 0);
          if (earlier?.rewritten === true) report.tablesRewritten--;
          if (built === null) report.tablesRemoved++;
          else {
            report.tablesRewritten++;
            if (deferred === 0) seen.add(built.number);
            else again.set(built.number, { rewritten: true });
          }
          report.entriesDropped += r.result.dropped;
          this.retire(f);
        } catch (err) {
          if (!isRingkvError(err, ErrorCode.Corruption) || !this.quarantineCorrupt) throw err;
          // Salvaged now, as a scrub would; the next pass cleans the salvaged table.
          await this.quarantineTable(f, err.message);
        } finally {
          this.rewriting--;
          this.scheduleBackground();
        }
      }
    }
    report.cutShort = this.version.allFiles().some((f) => !seen.has(f.number));
    return report;
  }

  /**
   * Whether the newest entry of sk in the tables older than f, at `level`, is one that reads as a
   * value: a live one, or one with a TTL. True too when a table cannot be read (cleanup then
   * keeps what is over it).
   */
  private olderShowsValue(f: FileMeta, level: number, sk: Buffer): boolean {
    try {
      const p = this.searchTables(sk, sk.subarray(tokenBytes), { than: f, level });
      return p !== null && !payloadIsTombstone(p);
    } catch {
      return true;
    }
  }

  async snapshot(dir: string): Promise<{ tables: number; bytes: number }> {
    await this.flush();
    const v = this.version;
    const files = v.allFiles();
    // Pinned, so no compaction finishing meanwhile deletes one before it is linked.
    for (const f of files) f.refs++;
    try {
      fs.mkdirSync(dir); // not recursive: a snapshot never overwrites another
      let bytes = 0;
      for (const f of files) {
        fs.linkSync(tablePath(this.dir, f.number), tablePath(dir, f.number));
        bytes += f.fileBytes;
      }
      // Also fsyncs the directory, which makes the links durable with it.
      await writeManifest(dir, { nextFileNumber: this.control.peekFileNumber(), logNumber: this.logNumber, version: v });
      return { tables: files.length, bytes };
    } finally {
      for (const f of files) {
        f.refs--;
        if (f.obsolete && f.refs === 0 && !this.closed) this.deleteTable(f);
      }
    }
  }

  quarantinedTables(): readonly QuarantinedTable[] {
    return this.quarantined;
  }

  async scrub(options: ScrubOptions = {}): Promise<ScrubReport> {
    if (this.closed || this.closing) throw new RingkvError(ErrorCode.Closed, `storage engine ${this.dir} is closed`);
    const rate = options.bytesPerSecond ?? 0;
    assert(Number.isFinite(rate) && rate >= 0, 'a scrub rate is a non-negative number');
    const report: ScrubReport = { tables: 0, entries: 0, bytesRead: 0, quarantined: [], corrupt: [], cutShort: false };
    // The tables of this moment, pinned (a compaction may replace them meanwhile; read them anyway).
    const pinned = this.version.allFiles();
    for (const f of pinned) f.refs++;
    const ra = new Readahead(blockCacheWarmReadaheadBytes);
    const startedMs = performance.now();
    const between = async (): Promise<void> => {
      const waitMs = scrubPaceMs(ra.bytesRead, performance.now() - startedMs, rate);
      await (waitMs > 0 ? new Promise<void>((resolve) => setTimeout(resolve, waitMs)) : nextTurn());
    };
    try {
      for (const f of pinned) {
        if (this.closing) {
          report.cutShort = true;
          break;
        }
        const file = tablePath(this.dir, f.number);
        try {
          const r = await scrubTable({ file, number: f.number, entryCount: f.entryCount, smallest: f.smallest, largest: f.largest }, ra, () => this.closing, between);
          report.entries += r.entries;
          report.bytesRead += r.bytesRead;
          report.tables++;
        } catch (err) {
          if (!isRingkvError(err, ErrorCode.Corruption)) throw err;
          report.tables++;
          if (this.closing) {
            report.cutShort = true;
            break;
          }
          if (!this.quarantineCorrupt && options.salvage !== true) {
            if (!f.obsolete) report.corrupt.push({ file, level: this.version.levels.findIndex((l) => l.includes(f)), entries: f.entryCount, reason: err.message });
            continue;
          }
          while (this.compactingInputs.has(f.number)) await this.compacting;
          // The compaction that had it may have quarantined it already (it read the same damage).
          const q = f.corrupt ?? (f.obsolete ? null : await this.quarantineTable(f, err.message));
          if (q !== null) report.quarantined.push(q);
        }
      }
      if (this.closing) report.cutShort = true;
    } finally {
      for (const f of pinned) {
        f.refs--;
        if (f.obsolete && f.refs === 0 && !this.closed) this.deleteTable(f);
      }
      this.scheduleBackground();
    }
    return report;
  }

  /** Waits until neither lane has work out (new work may be started meanwhile; waits for it too). */
  private async waitIdle(): Promise<void> {
    while (this.flushing !== null || this.compacting !== null) await Promise.all([this.flushing, this.compacting]);
    await Promise.all(this.removing);
    const refusal = this.refusal();
    if (refusal) throw refusal;
  }

  async flush(): Promise<void> {
    this.checkWritable();
    if (this.mem.count > 0) this.switchMemtable();
    while (this.imms.length > 0 && !this.closing) {
      this.scheduleBackground();
      const refusal = this.refusal();
      if (refusal) throw refusal;
      assert(this.flushing !== null, 'a flush is running while immutable memtables wait');
      await this.flushing;
    }
    await Promise.all(this.removing);
    const refusal = this.refusal();
    if (refusal) throw refusal;
  }

  async compact(): Promise<void> {
    this.checkWritable();
    this.manualCompaction++;
    try {
      // A compaction already running without the manual flag may stop early: go round until none is needed.
      do {
        this.scheduleBackground();
        await this.waitIdle();
        // Held for space, the loop would go round without a compaction to wait for.
        if (this.compactionNoSpace !== null) throw this.compactionNoSpace;
      } while (!this.closing && pickCompactionNeeded(this.version, this.levelBase));
    } finally {
      this.manualCompaction--;
    }
  }

  // ---------------------------------------------------------------- reads

  getSync(key: Uint8Array): StorageEntry | null {
    const p = this.findLive(key);
    return p === null ? null : decodePayload(key, p);
  }

  peekSync(key: Uint8Array, opts: PeekOptions = {}): StorageEntry | null {
    const p = this.findLive(key, opts.includeExpired === true);
    return p === null ? null : viewPayload(key, p);
  }

  /** The newest payload of key (a view into engine memory), null when none, or expired-and-not-tombstone unless `includeExpired`. */
  private findLive(key: Uint8Array, includeExpired = false): Buffer | null {
    if (this.closed) throw new RingkvError(ErrorCode.Closed, `storage engine ${this.dir} is closed`);
    if (!(key instanceof Uint8Array) || key.length === 0 || key.length > keyBytesMax) {
      throw new RingkvError(key instanceof Uint8Array && key.length > keyBytesMax ? ErrorCode.KeyTooLarge : ErrorCode.InvalidArgument, `bad key for get (1..${keyBytesMax} bytes)`);
    }
    const sk = sortKeyOf(key);
    let p = this.mem.get(sk);
    for (let i = 0; p === null && i < this.imms.length; i++) p = this.imms[i]!.get(sk);
    if (p === null) p = this.getFromTables(sk, key);
    if (p === null) return null;
    if (!includeExpired && !payloadIsTombstone(p)) {
      const exp = payloadExpiresAtMs(p);
      if (exp !== 0 && exp <= this.now()) return null;
    }
    return p;
  }

  /** The newest payload of sk in the tables: a view valid until the next block read (Table.get). */
  private getFromTables(sk: Buffer, key: Uint8Array): Buffer | null {
    try {
      return this.searchTables(sk, key);
    } catch (err) {
      this.corruptionRead(err);
      throw err;
    }
  }

  /**
   * A get or a scan met `err`. If it is a live table's corruption and tables are quarantined
   * here, that table is taken out at once, as a scrub would, instead of failing every read of its
   * keys until the next scrub or a compaction gets to it. The read itself still fails (so its
   * coordinator takes the other replicas' answers, not an older version from below), and the
   * node's storage poll sees the quarantine and repairs (cluster_coordinator noticeQuarantines).
   */
  private corruptionRead(err: unknown): void {
    if (!this.quarantineCorrupt || this.closing || this.closed || !isRingkvError(err, ErrorCode.Corruption)) return;
    const file = err.details['file'];
    const f = this.version.allFiles().find((m) => tablePath(this.dir, m.number) === file);
    if (f === undefined || f.corrupt !== undefined || this.readQuarantines.has(f.number)) return;
    const reason = `read: ${err.message}`;
    const done = (async (): Promise<void> => {
      while (this.compactingInputs.has(f.number)) await this.compacting;
      // The compaction that had it may have quarantined it (or replaced it) meanwhile.
      if (!this.closing && f.corrupt === undefined && !f.obsolete) await this.quarantineTable(f, reason);
    })()
      // A manifest that cannot be written fails the next flush or compaction too, which report
      // it; here the table stays, and the next read that meets it tries again.
      .catch(() => undefined)
      .finally(() => {
        this.readQuarantines.delete(f.number);
        this.scheduleBackground();
      });
    this.readQuarantines.set(f.number, done);
  }

  /**
   * The newest payload of sk in the tables, or, with `older`, in the tables older than that one
   * (at its level): lower level-0 ranks, then deeper levels.
   */
  private searchTables(sk: Buffer, key: Uint8Array, older?: { than: FileMeta; level: number }): Buffer | null {
    const v = this.version;
    const fromLevel = older === undefined ? 1 : Math.max(1, older.level + 1);
    if (older === undefined || older.level === 0) {
      for (const f of v.levels[0]!) {
        if (older !== undefined && l0RankOf(f) >= l0RankOf(older.than)) continue;
        if (f.smallest.compare(sk) > 0 || f.largest.compare(sk) < 0) continue;
        const p = this.tableCache.get(f.number).get(sk, key, this.blockCache);
        if (p !== null) return p;
      }
    }
    for (let level = fromLevel; level < levelsMax; level++) {
      const f = v.fileFor(level, sk);
      // `than` itself, moved down a level (a trivial move) since the caller looked up its level:
      // what it holds is not older than itself (cleanup would take its own tombstone for the
      // older entry, and drop it over a value it still hides).
      if (f === null || f.number === older?.than.number) continue;
      const p = this.tableCache.get(f.number).get(sk, key, this.blockCache);
      if (p !== null) return p;
    }
    return null;
  }

  get(key: Uint8Array): Promise<StorageEntry | null> {
    try {
      return Promise.resolve(this.settleSoon(this.getSync(key)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  scanRange(fromToken: bigint, toToken: bigint, opts: ScanOptions = {}): AsyncIterable<StorageEntry> {
    if (typeof fromToken !== 'bigint' || typeof toToken !== 'bigint' || fromToken < 0n || toToken > tokenMax || fromToken > toToken) {
      throw new RingkvError(ErrorCode.InvalidArgument, `scanRange needs 0 <= fromToken <= toToken < 2^64, got ${String(fromToken)}..${String(toToken)}`);
    }
    const limit = opts.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 0)) throw new RingkvError(ErrorCode.InvalidArgument, 'scanRange limit must be >= 0');
    if (this.closed) throw new RingkvError(ErrorCode.Closed, `storage engine ${this.dir} is closed`);
    return this.scanGenerator(tokenBound(fromToken), tokenBound(toToken), limit, opts.includeExpired ?? false);
  }

  private async *scanGenerator(from: Buffer, to: Buffer, limit: number, includeExpired: boolean): AsyncGenerator<StorageEntry> {
    // Pin the files and memtables of this moment: compaction may replace the files, and a flush
    // may retire a memtable (recycling its memory), while the scan is suspended.
    const v = this.version;
    const pinned = v.allFiles();
    for (const f of pinned) f.refs++;
    const mems = [this.mem, ...this.imms];
    for (const m of mems) m.refs++;
    try {
      const children: InternalIterator[] = mems.map((m) => new MemtableIterator(m));
      const open = (f: FileMeta): TableIterator => new TableIterator(() => this.tableCache.get(f.number), this.blockCache);
      for (const f of v.levels[0]!) children.push(open(f));
      for (let level = 1; level < levelsMax; level++) if (v.levels[level]!.length > 0) children.push(new LevelIterator(v.levels[level]!, open));
      const it = new MergingIterator(children);
      it.seek(from);
      let n = 0;
      while (n < limit && it.valid()) {
        if (this.closed) throw new RingkvError(ErrorCode.Closed, `storage engine ${this.dir} closed during a scan`);
        const sk = it.key();
        if (compareToken(sk, to) > 0) break;
        const p = it.value();
        const live = payloadIsTombstone(p) || includeExpired || payloadExpiresAtMs(p) === 0 || payloadExpiresAtMs(p) > this.now();
        if (live) {
          const e = decodePayload(sk.subarray(tokenBytes), p);
          it.next();
          n++;
          yield e;
        } else {
          it.next();
        }
      }
    } catch (err) {
      this.corruptionRead(err);
      throw err;
    } finally {
      for (const m of mems) m.unref();
      for (const f of pinned) {
        f.refs--;
        if (f.obsolete && f.refs === 0 && !this.closed) this.deleteTable(f);
      }
    }
  }

  // ---------------------------------------------------------------- stats and close

  stats(): StorageStats {
    let memBytes = this.mem.heldBytes;
    for (const m of this.imms) memBytes += m.heldBytes;
    let tableBytes = 0;
    for (const f of this.version.allFiles()) tableBytes += f.fileBytes;
    let walBytes = this.wal.bytes;
    for (const m of this.imms) walBytes += m.walBytes;
    return {
      memtableBytes: memBytes,
      immutableMemtables: this.imms.length,
      sstablesPerLevel: this.version.levels.map((l) => l.length),
      compactionBacklog: backlogBytes(this.version, this.levelBase),
      walSyncs: this.walSyncSeconds.count,
      walSyncSeconds: this.walSyncSeconds.snapshot(),
      walBytes,
      diskBytes: tableBytes + walBytes,
      entriesWritten: this.entriesWritten,
      keysEstimate: this.keysEstimate(),
      blockCacheHits: this.blockCache.hits,
      blockCacheMisses: this.blockCache.misses,
      blockCacheBlocksWarmed: this.blocksWarmed,
      blockCacheHeldBytes: this.blockCache.heldBytes,
      arenaFreeBytes: this.arenaPool.pooledBytes,
      tableIndexFilterBytes: this.tableCache.heldBytes,
      writeStalls: this.writeStalls,
      walRecoveryDroppedRecords: this.recovery.tornTails.length + this.recovery.skipped.length,
      flushes: this.flushes,
      writesRefused: this.refusal() !== null || this.wal.hasFailed ? 1 : 0,
      // Only when lack of space is the one reason: a sticky failure as well still needs a restart.
      outOfSpace: this.spaceRefusal() !== null && this.bgError === null && !this.wal.hasFailed ? 1 : 0,
      compactionsHeldForSpace: this.compactionNoSpace !== null ? 1 : 0,
      compactions: this.compactions,
      compactionBytesWritten: this.compactionBytesWritten,
      tablesQuarantined: this.quarantined.length,
      backgroundMemory: this.bg.memory,
    };
  }

  /**
   * The union of the key sketches of every live table and memtable. A table's sketch is read from
   * its meta block once and kept while the table is live; a table written before sketches existed
   * (meta block version 1) adds its entry count instead, an upper bound for its keys.
   */
  private keysEstimate(): number {
    // The tables' union changes only with the version (a flush, a compaction); stats() runs on
    // every /health and /metrics poll, and redoing it over a few hundred tables took milliseconds
    // of the shard's thread each time (2.5-5 ms per /health on a loaded node).
    if (this.tablesKeys === null || this.tablesKeys.version !== this.version) this.tablesKeys = { version: this.version, ...this.tablesUnion() };
    const union = new KeySketch(this.tablesKeys.union.registers.slice());
    union.merge(this.mem.keys);
    for (const m of this.imms) union.merge(m.keys);
    return union.estimate() + this.tablesKeys.unsketched;
  }

  /** The union of the live tables' sketches, and the entries of the tables that have none. */
  private tablesUnion(): { union: KeySketch; unsketched: number } {
    const union = new KeySketch();
    let unsketched = 0;
    const live = new Set<number>();
    for (const f of this.version.allFiles()) {
      live.add(f.number);
      let sketch = this.tableSketches.get(f.number);
      if (sketch === undefined) {
        let registers: Uint8Array | null;
        try {
          registers = this.tableCache.get(f.number).meta.keySketch;
        } catch {
          // An unreadable table fails the reads that reach it, loudly; an estimate only falls back.
          unsketched += f.entryCount;
          continue;
        }
        sketch = registers === null ? null : new KeySketch(registers);
        this.tableSketches.set(f.number, sketch);
      }
      if (sketch === null) unsketched += f.entryCount;
      else union.merge(sketch);
    }
    for (const n of this.tableSketches.keys()) if (!live.has(n)) this.tableSketches.delete(n);
    return { union, unsketched };
  }

  recoveryReport(): RecoveryReport {
    return this.recovery;
  }

  async close(): Promise<void> {
    if (this.closed || this.closing) {
      while (!this.closed) await tick();
      return;
    }
    this.closing = true;
    this.spaceWatch.stop();
    this.compactionSpaceWatch.stop();
    // Running jobs stop at their next entry and remove their partial outputs; a job that finished
    // first is still installed. The WAL keeps whatever was not flushed.
    this.control.abort();
    while (this.flushing !== null || this.compacting !== null) await Promise.all([this.flushing, this.compacting]);
    await Promise.all(this.readQuarantines.values());
    await this.manifestTail;
    this.wakeAllStalled();
    // The last segment's final sync is what makes unsynced writes durable: its failure fails the
    // close, once everything else is closed.
    let walFailure: unknown = null;
    await this.wal.close().catch((err: unknown) => {
      walFailure = err;
    });
    await Promise.all(this.walClosing);
    await this.bg.close();
    await Promise.all(this.removing);
    this.tableCache.closeAll();
    this.closed = true;
    if (walFailure !== null) throw walFailure;
  }
}

function pickCompactionNeeded(v: Version, levelBase: number): boolean {
  return bestScore(v, levelBase).score >= 1;
}

export async function openStorage(options: StorageOptions): Promise<StorageEngine> {
  const engine = new LsmEngine(options);
  await engine.open();
  return engine;
}
