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
// can take is what anti-entropy is for. Syncs and rolls are synchronous on the calling thread on
// purpose: one per second at most while hints are written, and never two on one fd at once.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assert } from '../errors';
import type { WireRecord } from '../shards/messages';
import { readWalSegment } from '../storage/log-reader';
import { isNoSpaceErrno } from '../storage/space-watch';
import { type DecodedHint, decodeHintPayload, encodeHintRecord } from './hint_record';

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

const segmentName = /^hints-(\d{6,})\.log$/;

function segmentFile(dir: string, seq: number): string {
  return path.join(dir, `hints-${String(seq).padStart(6, '0')}.log`);
}

export class HintLog {
  private readonly segments = new Map<number, Segment>();
  private current: Segment;
  private fd: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingFor: HintLocation[] = [];
  private flushScheduled = false;
  private unsynced = false;
  private dirSyncDue = true;
  private readonly timer: NodeJS.Timeout;
  /**
   * Segments with no live record left, deleted after the next sync: a record that replaced one of
   * theirs (a merge, a rewrite) may still be pending, and the old file is the hint's only copy
   * until the new one is durable. Recovery's old files start here.
   */
  private doomed: string[] = [];
  private closed = false;
  /** Called after a roll with the segments that are mostly dead, for the store to rewrite their live hints. */
  onSparse: ((segments: ReadonlySet<number>) => void) | null = null;
  readonly counters = { hintWriteFailures: 0, hintSegmentsDeleted: 0 };

  private constructor(private readonly o: HintLogOptions, firstSeq: number) {
    assert(o.segmentBytesMax >= 4096, 'hint segments of at least 4 KiB');
    this.current = this.newSegment(firstSeq);
    this.fd = fs.openSync(this.current.file, 'a');
    this.timer = setInterval(() => this.sync(), o.syncIntervalMs);
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
    fs.mkdirSync(o.dir, { recursive: true });
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
    const failures = this.counters.hintWriteFailures;
    this.flush();
    if (this.counters.hintWriteFailures > failures) {
      // The rewrite did not fit (a full disk): the old files stay, to be read again at the next
      // start, rather than leave the hints in memory only.
      this.o.log(`WARN hints: could not rewrite the recovered hints; keeping ${this.doomed.length} old files in ${this.o.dir}`);
      this.doomed = [];
    }
    this.sync();
  }

  /** Queues `record` as `loc`'s newest record; written at the end of this turn. */
  append(loc: HintLocation, target: string, key: Uint8Array, record: WireRecord, createdMs: number): void {
    assert(!this.closed, 'hint log open');
    assert(loc.segment === 0, 'a hint is released before it is written again');
    const buf = encodeHintRecord(target, key, record, createdMs);
    loc.segment = this.current.seq;
    loc.diskBytes = buf.length;
    this.current.live++;
    this.current.liveBytes += buf.length;
    this.pending.push(buf);
    this.pendingBytes += buf.length;
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
      this.pending = [];
      this.pendingBytes = 0;
      this.pendingFor = [];
      if (seg.bytes > 0) this.truncate(0);
    }
  }

  diskBytes(): number {
    let n = this.pendingBytes;
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
    if (this.diskBytes() > live) this.roll(true);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.sync();
    this.closed = true;
    clearInterval(this.timer);
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
    if (this.closed || this.pending.length === 0) return;
    const bufs = this.pending;
    const locs = this.pendingFor;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingFor = [];
    this.pendingBytes = 0;
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
    } catch (err) {
      // Cut any partial record off again, and keep those hints in memory only: hints are an aid,
      // and the write that made them has been answered already.
      this.counters.hintWriteFailures++;
      this.truncate(seg.bytes);
      for (const loc of locs) if (loc.segment === seg.seq) this.release(loc);
      const code = (err as NodeJS.ErrnoException).code ?? '';
      this.o.log(`WARN hints: could not write ${locs.length} hints to ${seg.file} (${isNoSpaceErrno(code) ? 'disk full' : String(err)}); they are kept in memory only`);
      return;
    }
    if (seg.bytes >= this.o.segmentBytesMax) this.roll(false);
  }

  /** Starts a new segment; `all`: every older live hint is written again (compact), else only sparse segments' ones. */
  private roll(all: boolean): void {
    this.flush();
    const old = this.current;
    this.sync();
    fs.closeSync(this.fd);
    this.current = this.newSegment(old.seq + 1);
    this.fd = fs.openSync(this.current.file, 'a');
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
    if (sparse.size > 0) this.onSparse?.(sparse);
    this.flush();
    this.sync();
  }

  private sync(): void {
    if (this.closed || (!this.unsynced && this.doomed.length === 0)) return;
    this.unsynced = false;
    try {
      fs.fdatasyncSync(this.fd);
      if (this.dirSyncDue) {
        this.dirSyncDue = false;
        const dirFd = fs.openSync(this.o.dir, 'r');
        try {
          fs.fsyncSync(dirFd);
        } finally {
          fs.closeSync(dirFd);
        }
      }
      for (const file of this.doomed.splice(0)) this.unlink(file);
    } catch (err) {
      this.counters.hintWriteFailures++;
      this.o.log(`WARN hints: sync of ${this.current.file} failed (${String(err)}); the hints stay queued in memory, but a restart may not find the ones written since the last sync`);
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
