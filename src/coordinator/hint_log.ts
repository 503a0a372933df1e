// The files that keep a node's hints across a restart (docs/hints-format.md): numbered segments
// `hints-NNNNNN.log` in `<dataDir>/hints/`, each a plain run of hint records (hint_record.ts),
// one written at a time. The in-memory store (hinted_handoff.ts) decides which hints are live;
// this file only knows, per segment, how many of the records it holds are still somebody's
// current hint, and deletes a segment as soon as none are.
//
// Records are gathered during one turn of the event loop and written with one writev(2) (into the
// page cache: a crash of the process loses nothing of them); a timer fdatasyncs every
// hintSyncIntervalMs while there are unsynced bytes, as Cassandra flushes hints periodically
// rather than per write. Hints never counted toward a write's level, so the window a power loss
// can take is what anti-entropy is for. That sync runs in the libuv pool, one at a time: done on
// the calling thread (a coordinator's main thread) it stalled every request for as long as the
// disk took to write the second's hints (bench/hints.bench.ts). A segment closed by a roll keeps
// its fd until the next sync has synced it. Only opening (recovery) and closing sync in place.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assert } from '../errors';
import type { WireRecord } from '../shards/messages';
import { mkdirDurably } from '../storage/durable-file';
import { readWalSegment } from '../storage/log-reader';
import { isNoSpaceErrno } from '../storage/space-watch';
import { assertHintRecord, type DecodedHint, decodeHintPayload, hintRecordBytes, writeHintRecord } from './hint_record';

/** Where a hint's newest record is on disk; `segment` 0: nowhere (not written, or released). */
export interface HintLocation {
  segment: number;
  diskBytes: number;
}

export interface HintLogOptions {
  dir: string;
  segmentBytesMax: number;
  syncIntervalMs: number;
  log: (line: string) => void;
}

export interface HintLogRecovery {
  /** Every readable record, in file and write order (the same key may appear many times). */
  records: DecodedHint[];
  files: number;
  tornTails: number;
  /** Records skipped as damaged (CRC or layout). */
  skipped: number;
}

interface Segment {
  seq: number;
  file: string;
  /** Bytes in the file (written), not counting pending ones. */
  bytes: number;
  /** Records here that are some hint's newest, and their bytes. */
  live: number;
  liveBytes: number;
}

/** The hints' directory inside a node's data dir. */
export const hintsDirName = 'hints';

/** Records of one turn are written into chunks this big (a larger record gets a buffer of its own). */
const chunkBytes = 64 * 1024;
/** Written chunks kept for reuse: enough for a busy turn, so steady hinting allocates nothing. */
const freeChunksMax = 4;

/**
 * The records waiting for the end of the turn, encoded in place into reused chunks: one
 * allocation per record (and the garbage it makes) was most of what a hint cost besides the copy
 * of its value (bench/hints.bench.ts).
 */
class PendingRecords {
  /** Filled parts of chunks (and whole large records), in order; the last may be `open`'s. */
  private readonly parts: Buffer[] = [];
  private open: Buffer | null = null;
  private used = 0;
  private readonly free: Buffer[] = [];
  bytes = 0;

  /** Room for a record of `size` bytes: the buffer and where in it to write. */
  reserve(size: number): { buf: Buffer; at: number } {
    this.bytes += size;
    if (size > chunkBytes) {
      this.seal();
      const own = Buffer.allocUnsafeSlow(size);
      this.parts.push(own);
      return { buf: own, at: 0 };
    }
    if (this.open === null || this.used + size > this.open.length) {
      this.seal();
      this.open = this.free.pop() ?? Buffer.allocUnsafeSlow(chunkBytes);
      this.used = 0;
    }
    const at = this.used;
    this.used += size;
    return { buf: this.open, at };
  }

  /** What to write, in order; valid until `clear`. */
  views(): Buffer[] {
    this.seal();
    return this.parts;
  }

  /** Forgets the records (written, or dropped) and keeps their chunks for reuse. */
  clear(): void {
    this.seal();
    for (const p of this.parts) if (p.buffer.byteLength === chunkBytes && this.free.length < freeChunksMax) this.free.push(Buffer.from(p.buffer, 0, chunkBytes));
    this.parts.length = 0;
    this.bytes = 0;
  }

  private seal(): void {
    if (this.open === null) return;
    if (this.used > 0) this.parts.push(this.open.subarray(0, this.used));
    else this.free.push(this.open);
    this.open = null;
    this.used = 0;
  }
}

const segmentName = /^hints-(\d{6,})\.log$/;

function segmentFile(dir: string, seq: number): string {
  return path.join(dir, `hints-${String(seq).padStart(6, '0')}.log`);
}

export class HintLog {
  private readonly segments = new Map<number, Segment>();
  private current: Segment;
  private fd: number;
  private readonly pending = new PendingRecords();
  private pendingFor: HintLocation[] = [];
  private flushScheduled = false;
  private unsynced = false;
  private dirSyncDue = true;
  /** The background sync running, if any (never two at once). */
  private syncInFlight: Promise<void> | null = null;
  /** Fds of segments closed by a roll, synced and closed by the next sync. */
  private closedFds: number[] = [];
  private readonly timer: NodeJS.Timeout;
  /**
   * Segments with no live record left, deleted after the next sync: a record that replaced one of
   * theirs (a merge, a rewrite) may still be pending, and the old file is the hint's only copy
   * until the new one is durable. Recovery's old files start here.
   */
  private doomed: string[] = [];
  /** Some hints' writes failed (flush), so they are in memory only: the next roll writes them again. */
  private memoryOnly = false;
  private closed = false;
  /** Called after a roll with the segments that are mostly dead, for the store to rewrite their live hints. */
  onSparse: ((segments: ReadonlySet<number>) => void) | null = null;
  readonly counters = { hintWriteFailures: 0, hintSegmentsDeleted: 0 };

  private constructor(private readonly o: HintLogOptions, firstSeq: number) {
    assert(o.segmentBytesMax >= 4096, 'hint segments of at least 4 KiB');
    this.current = this.newSegment(firstSeq);
    this.fd = fs.openSync(this.current.file, 'a');
    this.timer = setInterval(() => this.syncInBackground(), o.syncIntervalMs);
    this.timer.unref();
  }

  /**
   * Opens the directory (creating it), reads every segment an earlier run left and starts a new
   * one after them. The caller takes the records, appends those still live, and calls
   * `finishRecovery`, which makes the new segment durable and only then deletes the old files: a
   * crash in between leaves both, and the next open reads both (a hint read twice merges with
   * itself).
   */
  static open(o: HintLogOptions): { log: HintLog; recovery: HintLogRecovery } {
    mkdirDurably(o.dir);
    const seqs: number[] = [];
    for (const name of fs.readdirSync(o.dir)) {
      const m = segmentName.exec(name);
      if (m !== null) seqs.push(Number(m[1]));
    }
    seqs.sort((a, b) => a - b);
    const recovery: HintLogRecovery = { records: [], files: seqs.length, tornTails: 0, skipped: 0 };
    for (const seq of seqs) {
      const read = readWalSegment(segmentFile(o.dir, seq), true);
      if (read.tornTail !== null) recovery.tornTails++;
      recovery.skipped += read.skipped.length;
      for (const { payload } of read.payloads) {
        const hint = decodeHintPayload(payload);
        if (typeof hint === 'string') recovery.skipped++;
        else recovery.records.push(hint);
      }
    }
    const log = new HintLog(o, (seqs.at(-1) ?? 0) + 1);
    log.doomed = seqs.map((seq) => segmentFile(o.dir, seq));
    return { log, recovery };
  }

  /** Makes what recovery rewrote durable, then deletes the files it came from. */
  finishRecovery(): void {
    const kept = this.flushRewrite(0);
    if (kept !== null) this.o.log(`WARN hints: could not rewrite the recovered hints; keeping ${kept.length} old files in ${this.o.dir}`);
    this.syncNow();
  }

  /**
   * Writes what a rewrite queued (the live hints of the files doomed from `doomedFrom` on). When
   * the write fails (a full disk), those files stay, untracked, for the next start to read, rather
   * than leave their hints in memory only; returns them then, else null.
   */
  private flushRewrite(doomedFrom: number): string[] | null {
    const failures = this.counters.hintWriteFailures;
    this.flush();
    return this.counters.hintWriteFailures > failures ? this.doomed.splice(doomedFrom) : null;
  }

  /** Queues `record` as `loc`'s newest record; written at the end of this turn. */
  append(loc: HintLocation, target: string, key: Uint8Array, record: WireRecord, createdMs: number): void {
    assert(!this.closed, 'hint log open');
    assert(loc.segment === 0, 'a hint is released before it is written again');
    assertHintRecord(target, key, createdMs);
    const size = hintRecordBytes(target, key, record);
    const room = this.pending.reserve(size);
    writeHintRecord(room.buf, room.at, target, key, record, createdMs);
    loc.segment = this.current.seq;
    loc.diskBytes = size;
    this.current.live++;
    this.current.liveBytes += size;
    this.pendingFor.push(loc);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** `loc` no longer needs its record (delivered, replaced, dropped or expired). */
  release(loc: HintLocation): void {
    if (loc.segment === 0) return;
    const seg = this.segments.get(loc.segment);
    assert(seg !== undefined && seg.live > 0, 'a live hint is in a known segment');
    seg.live--;
    seg.liveBytes -= loc.diskBytes;
    loc.segment = 0;
    loc.diskBytes = 0;
    if (seg.live > 0) return;
    if (seg !== this.current) {
      this.segments.delete(seg.seq);
      this.doomed.push(seg.file);
    } else if (this.segments.size === 1) {
      // Nothing live anywhere: start the file over instead of keeping dead records.
      this.pending.clear();
      this.pendingFor = [];
      if (seg.bytes > 0) this.truncate(0);
    }
  }

  diskBytes(): number {
    let n = this.pending.bytes;
    for (const s of this.segments.values()) n += s.bytes;
    return n;
  }

  /**
   * Before a clean stop: when the files hold records no hint needs (delivered, replaced, expired),
   * writes the live hints into a fresh segment so that the next start reads only those. A crash
   * skips this, and the next start may deliver some delivered hints again (harmless: a merge).
   */
  compact(): void {
    let live = 0;
    for (const s of this.segments.values()) live += s.liveBytes;
    if (this.diskBytes() > live || this.memoryOnly) this.roll(true);
  }

  /** Writes what is pending and syncs every segment (after the background sync running, if any). */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    await this.syncInFlight;
    this.flush();
    this.syncNow();
    this.closed = true;
    fs.closeSync(this.fd);
    if (this.current.bytes === 0 && this.segments.size === 1) this.unlink(this.current.file);
  }

  private newSegment(seq: number): Segment {
    const seg: Segment = { seq, file: segmentFile(this.o.dir, seq), bytes: 0, live: 0, liveBytes: 0 };
    this.segments.set(seq, seg);
    return seg;
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.pending.bytes === 0) return;
    const bufs = this.pending.views();
    const locs = this.pendingFor;
    const bytes = this.pending.bytes;
    this.pendingFor = [];
    const seg = this.current;
    try {
      let written = 0;
      while (written < bytes) {
        // A short write continues after what got out (writev may stop early on a full disk).
        const n = fs.writevSync(this.fd, written === 0 ? bufs : [Buffer.concat(bufs).subarray(written)]);
        if (n === 0) throw Object.assign(new Error('writev wrote nothing'), { code: 'EIO' });
        written += n;
      }
      seg.bytes += bytes;
      this.unsynced = true;
      this.pending.clear();
    } catch (err) {
      // Cut any partial record off again, and keep those hints in memory only: hints are an aid,
      // and the write that made them has been answered already.
      this.pending.clear();
      this.counters.hintWriteFailures++;
      this.truncate(seg.bytes);
      for (const loc of locs) if (loc.segment === seg.seq) this.release(loc);
      this.memoryOnly = true;
      const code = (err as NodeJS.ErrnoException).code ?? '';
      this.o.log(`WARN hints: could not write ${locs.length} hints to ${seg.file} (${isNoSpaceErrno(code) ? 'disk full' : String(err)}); they are kept in memory only`);
      return;
    }
    if (seg.bytes >= this.o.segmentBytesMax) this.roll(false);
  }

  /**
   * Starts a new segment; `all`: every older live hint is written again (compact), else only
   * sparse segments' ones. Hints held in memory only (their write failed) are written again too.
   * A new segment that cannot be opened (EMFILE, a full or read-only disk) is logged, and the
   * current one goes on past its size: a throw here ended the process (flush runs in timers).
   */
  private roll(all: boolean): void {
    this.flush();
    const old = this.current;
    let fd: number;
    try {
      fd = fs.openSync(segmentFile(this.o.dir, old.seq + 1), 'a');
    } catch (err) {
      this.counters.hintWriteFailures++;
      this.o.log(`WARN hints: could not start a new hint file after ${old.file} (${String(err)}); going on in that one`);
      return;
    }
    this.closedFds.push(this.fd);
    this.current = this.newSegment(old.seq + 1);
    this.fd = fd;
    this.dirSyncDue = true;
    this.unsynced = true;
    if (old.live === 0) {
      this.segments.delete(old.seq);
      this.doomed.push(old.file);
    }
    // Segments whose records are mostly replaced or delivered: their live hints are written again
    // (by the store, which knows them), and the segments go once none are left. Disk then stays
    // within about twice the live hints plus one segment.
    const sparse = new Set<number>();
    for (const s of this.segments.values()) if (s !== this.current && (all || s.liveBytes * 2 < s.bytes)) sparse.add(s.seq);
    // Segment 0: no file (HintLocation.segment). A failed write of theirs sets the flag again.
    if (this.memoryOnly) sparse.add(0);
    this.memoryOnly = false;
    // At a clean stop (compact()) a rewrite whose write failed would otherwise lose every hint.
    const doomedFrom = this.doomed.length;
    if (sparse.size > 0) this.onSparse?.(sparse);
    const kept = this.flushRewrite(doomedFrom);
    if (kept !== null && kept.length > 0) this.o.log(`WARN hints: could not rewrite the hints of ${kept.length} files; keeping them in ${this.o.dir} for the next start`);
  }

  /** What one sync covers, taken from the log's state when it starts. */
  private takeSyncJob(): { fds: number[]; toClose: number[]; doomed: string[]; dir: boolean } {
    const job = { fds: [...this.closedFds, this.fd], toClose: this.closedFds, doomed: this.doomed, dir: this.dirSyncDue };
    this.closedFds = [];
    this.doomed = [];
    this.dirSyncDue = false;
    this.unsynced = false;
    return job;
  }

  private get syncDue(): boolean {
    return this.unsynced || this.doomed.length > 0 || this.closedFds.length > 0;
  }

  private syncFailed(err: unknown, job: { doomed: string[]; dir: boolean }): void {
    this.counters.hintWriteFailures++;
    // The files that were to go stay until a sync succeeds.
    this.doomed.push(...job.doomed);
    this.dirSyncDue ||= job.dir;
    this.o.log(`WARN hints: sync of ${this.o.dir} failed (${String(err)}); the hints stay queued in memory, but a restart may not find the ones written since the last sync`);
  }

  /**
   * The timer's sync, in the libuv pool. Pending records are written first: a file doomed by a
   * record that replaced one of its own is deleted only once that record is synced.
   */
  private syncInBackground(): void {
    if (this.closed || this.syncInFlight !== null) return;
    this.flush();
    if (!this.syncDue) return;
    const job = this.takeSyncJob();
    const dir = this.o.dir;
    this.syncInFlight = (async () => {
      try {
        for (const fd of job.fds) await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err === null ? resolve() : reject(err))));
        if (job.dir) {
          const d = await fs.promises.open(dir, 'r');
          try {
            await d.sync();
          } finally {
            await d.close();
          }
        }
        for (const file of job.doomed) this.unlink(file);
      } catch (err) {
        this.syncFailed(err, job);
      } finally {
        for (const fd of job.toClose) fs.close(fd, () => undefined);
        this.syncInFlight = null;
      }
    })();
  }

  /** The same sync in place, for opening and closing (nothing else runs then). */
  private syncNow(): void {
    if (!this.syncDue) return;
    const job = this.takeSyncJob();
    try {
      for (const fd of job.fds) fs.fdatasyncSync(fd);
      if (job.dir) {
        const d = fs.openSync(this.o.dir, 'r');
        try {
          fs.fsyncSync(d);
        } finally {
          fs.closeSync(d);
        }
      }
      for (const file of job.doomed) this.unlink(file);
    } catch (err) {
      this.syncFailed(err, job);
    } finally {
      for (const fd of job.toClose) fs.closeSync(fd);
    }
  }

  private truncate(bytes: number): void {
    try {
      fs.ftruncateSync(this.fd, bytes);
      this.current.bytes = bytes;
    } catch (err) {
      this.o.log(`WARN hints: could not truncate ${this.current.file} (${String(err)})`);
    }
  }

  private unlink(file: string): void {
    try {
      fs.unlinkSync(file);
      this.counters.hintSegmentsDeleted++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.o.log(`WARN hints: could not delete ${file} (${String(err)})`);
    }
  }
}
