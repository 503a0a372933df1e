// Appends records to one WAL segment and makes them durable per the sync mode. Group commit: a
// record is written at once (one write(2) into the page cache, so readers of the file and a
// crash of this process both see it), and its promise waits for an fdatasync that covers it.
// In 'batch' mode with a window > 0 the first waiter arms a timer of walBatchWindowMs, so
// writers arriving inside the window share one fdatasync; in 'always' (and 'batch' with the
// default window of 0) a sync starts as soon as none is running (writers that arrive during a
// sync share the next one, so every write is still synced before its ack).
// The sync runs in the libuv pool (fs.fdatasync callback) so the shard keeps taking requests.
// The first sync of a segment also fsyncs the directory: the new file's name must be durable
// before any write in it is acknowledged, and an fdatasync of the file does not cover its
// directory entry on every file system.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ErrorCode, RingkvError, assert } from '../errors';
import type { Histogram } from '../histogram';
import { isNoSpaceErrno } from './space-watch';
import type { SyncMode } from './types';

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class LogWriter {
  readonly number: number;
  readonly path: string;
  private fd: number;
  private offset: number;
  private waiters: Waiter[] = [];
  private syncing = false;
  private timer: NodeJS.Timeout | null = null;
  private failed: Error | null = null;
  private closed = false;
  /** The file's directory entry is not known to be durable yet (see the header). */
  private dirSyncDue = true;

  constructor(
    file: string,
    number: number,
    private readonly mode: SyncMode,
    private readonly windowMs: number,
    /** Where each sync's duration is recorded (the engine's, shared by its segments). */
    private readonly syncSeconds: Histogram | null = null,
    /**
     * Told once when the segment fails for good (a write or a sync; not a lack of space): the
     * engine's writes stop with it, not only this segment's, which the next memtable switch
     * would leave behind while the writes it refused stayed in the memtable.
     */
    private readonly onFailed: (err: RingkvError) => void = () => undefined,
  ) {
    this.path = file;
    this.number = number;
    this.fd = fs.openSync(file, 'a');
    this.offset = fs.fstatSync(this.fd).size;
  }

  get bytes(): number {
    return this.offset;
  }

  /** Whether a write has failed for good: the segment then refuses every append (see append). */
  get hasFailed(): boolean {
    return this.failed !== null;
  }

  /**
   * Writes a complete record now; the promise resolves when it is durable per the sync mode.
   * A record that cannot be written throws here, before the caller applies it anywhere else.
   */
  append(record: Buffer): Promise<void> {
    assert(!this.closed, 'append on a closed WAL segment');
    if (this.failed) throw this.failed;
    try {
      let done = 0;
      while (done < record.length) done += fs.writeSync(this.fd, record, done, record.length - done, null);
    } catch (err) {
      throw this.writeFailed(err as NodeJS.ErrnoException);
    }
    this.offset += record.length;
    if (this.mode === 'none') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /**
   * The error for a write(2) that failed with part of the record perhaps in the file. Out of
   * space, the part is cut off again (ftruncate needs no space), so the segment ends at its last
   * whole record and takes the next append once space is back: a full disk costs writes, not a
   * restart. Any other failure (or a failed cut) leaves the segment in an unknown state, so it
   * refuses every later append and the engine fails loudly rather than acknowledge writes after
   * a hole; recovery on the next start drops whatever part of the record reached the file.
   */
  private writeFailed(e: NodeJS.ErrnoException): RingkvError {
    const details = { file: this.path, offset: this.offset, errno: e.code ?? null };
    if (isNoSpaceErrno(e.code)) {
      try {
        fs.ftruncateSync(this.fd, this.offset);
        return new RingkvError(ErrorCode.NoSpace, `WAL write failed on ${this.path} at offset ${this.offset}: ${e.message}`, { cause: e, details });
      } catch (cutErr) {
        e = new Error(`${e.message}, and cutting the partial record off failed: ${(cutErr as Error).message}`, { cause: e }) as NodeJS.ErrnoException;
      }
    }
    const failed = new RingkvError(
      ErrorCode.Io,
      `WAL write failed on ${this.path} at offset ${this.offset}: ${e.message}; this shard takes no more writes until the node restarts ` +
        `(writes acknowledged before this one are safe)`,
      { cause: e, details },
    );
    this.failed = failed;
    this.onFailed(failed);
    return failed;
  }

  private schedule(): void {
    if (this.syncing || this.timer !== null || this.waiters.length === 0) return;
    if (this.mode === 'always' || this.windowMs === 0) {
      this.startSync();
    } else {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.startSync();
      }, this.windowMs);
    }
  }

  private startSync(): void {
    if (this.syncing || this.waiters.length === 0) return;
    const batch = this.waiters;
    this.waiters = [];
    this.syncing = true;
    const dirSync = this.dirSyncDue;
    this.dirSyncDue = false;
    const startedMs = performance.now();
    const synced = (err: NodeJS.ErrnoException | null, what: string): void => {
      this.syncing = false;
      this.syncSeconds?.record((performance.now() - startedMs) / 1000);
      if (err) {
        const failed = new RingkvError(ErrorCode.Io, `WAL ${what} failed on ${this.path}; this shard takes no more writes until the node restarts`, { cause: err, details: { file: this.path } });
        this.failed = failed;
        this.onFailed(failed);
        for (const w of batch) w.reject(failed);
        for (const w of this.waiters.splice(0)) w.reject(failed);
        return;
      }
      for (const w of batch) w.resolve();
      // Writers that arrived during this sync have already waited about one sync: go at once.
      if (this.waiters.length > 0) this.startSync();
    };
    this.syncFile(dirSync, synced);
  }

  /** fdatasync of the segment, after an fsync of its directory when `dirSync`; `what` names the step that failed. */
  private syncFile(dirSync: boolean, done: (err: NodeJS.ErrnoException | null, what: string) => void): void {
    const fdatasync = (): void => fs.fdatasync(this.fd, (err) => done(err, 'fdatasync'));
    if (!dirSync) {
      fdatasync();
      return;
    }
    syncDirectory(path.dirname(this.path), (err) => {
      if (err) done(err, 'directory fsync');
      else fdatasync();
    });
  }

  /** Waits for outstanding syncs, syncs once more, closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.syncing || this.waiters.length > 0) {
      if (!this.syncing) this.startSync();
      await new Promise((r) => setImmediate(r));
    }
    this.closed = true;
    // The last sync is the one that makes a 'none' (or unsynced 'periodic') segment durable at a
    // clean shutdown, its name included; its failure fails the segment like any other sync, and
    // the close, so that the shutdown says so rather than ending as if the writes were safe.
    let failure: RingkvError | null = null;
    if (!this.failed) {
      const dirSync = this.dirSyncDue;
      this.dirSyncDue = false;
      const [err, what] = await new Promise<[NodeJS.ErrnoException | null, string]>((resolve) => this.syncFile(dirSync, (e, w) => resolve([e, w])));
      if (err) failure = new RingkvError(ErrorCode.Io, `WAL ${what} at close failed on ${this.path}; writes since its last sync may be lost`, { cause: err, details: { file: this.path } });
    }
    try {
      fs.closeSync(this.fd);
    } catch (err) {
      failure ??= new RingkvError(ErrorCode.Io, `closing WAL segment ${this.path} failed: ${(err as Error).message}`, { cause: err, details: { file: this.path } });
    }
    this.fd = -1;
    if (failure !== null) {
      if (this.failed === null) {
        this.failed = failure;
        this.onFailed(failure);
      }
      throw failure;
    }
  }
}

/** fsync(2) of a directory, in the libuv pool. */
function syncDirectory(dir: string, done: (err: NodeJS.ErrnoException | null) => void): void {
  fs.open(dir, 'r', (err, fd) => {
    if (err) return done(err);
    fs.fsync(fd, (syncErr) => fs.close(fd, (closeErr) => done(syncErr ?? closeErr)));
  });
}
