// The engine thread's handle on its background thread (background-worker.ts): starts the
// worker on the first job, posts typed jobs, and turns each reply into the settling of that
// job's promise. The worker is referenced (keeps the process alive) only while a job is out, so
// an idle engine does not hold a process open. If the worker dies, every job out fails with
// RKV_ERR_INTERNAL and so does every later one: the engine turns that into its background error.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { backgroundJobsInFlightMax } from '../constants';
import { ErrorCode, RingkvError, assert } from '../errors';
import { emptyThreadMemory, type ThreadMemory } from '../thread_memory';
import { fromWireError, type BackgroundInit, type BackgroundJob, type BackgroundReply, type JobDone } from './background-messages';

interface Waiter {
  resolve: (r: JobDone) => void;
  reject: (err: Error) => void;
  what: string;
}

export class BackgroundThread {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 1;
  private dead: RingkvError | null = null;
  private closing = false;
  /** The thread's memory as its last job ended; nothing before its first (no thread yet). */
  private lastMemory: ThreadMemory = emptyThreadMemory();

  constructor(private readonly init: BackgroundInit) {}

  private start(): Worker {
    const w = new Worker(path.join(__dirname, 'background-worker.js'), { workerData: this.init });
    w.unref();
    w.on('message', (r: BackgroundReply) => this.onReply(r));
    w.on('error', (err: unknown) => {
      const why = err instanceof Error ? err.message : String(err);
      this.fail(new RingkvError(ErrorCode.Internal, `storage engine ${this.init.dir}: background thread failed: ${why}`, { cause: err }));
    });
    w.on('exit', (code) => {
      if (!this.closing) this.fail(new RingkvError(ErrorCode.Internal, `storage engine ${this.init.dir}: background thread exited (code ${code})`));
    });
    return w;
  }

  /** Posts a job (transferring `transfer`); resolves with its reply, rejects with its error as a RingkvError. */
  run(job: BackgroundJob, transfer: ArrayBuffer[], what: string): Promise<JobDone> {
    if (this.dead !== null) return Promise.reject(this.dead);
    assert(!this.closing, 'background job after close');
    assert(this.waiting.size < backgroundJobsInFlightMax, () => `more than ${backgroundJobsInFlightMax} background jobs out`);
    const w = (this.worker ??= this.start());
    const id = this.nextId++;
    job.id = id;
    return new Promise<JobDone>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, what });
      if (this.waiting.size === 1) w.ref();
      w.postMessage(job, transfer);
    });
  }

  private settle(id: number): Waiter | undefined {
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker?.unref();
    return waiter;
  }

  get memory(): ThreadMemory {
    return this.lastMemory;
  }

  private onReply(r: BackgroundReply): void {
    this.lastMemory = r.memory;
    const waiter = this.settle(r.id);
    assert(waiter !== undefined, () => `background reply for unknown job ${r.id}`);
    if (r.kind === 'done') waiter.resolve(r);
    else waiter.reject(fromWireError(r.error, `storage engine ${this.init.dir}: ${waiter.what}`));
  }

  private fail(err: RingkvError): void {
    this.dead ??= err;
    for (const id of [...this.waiting.keys()]) this.settle(id)!.reject(err);
  }

  /** Stops the thread. REQUIRES: no job out (the engine aborts and awaits them first). */
  async close(): Promise<void> {
    assert(this.waiting.size === 0, 'background thread closed with jobs out');
    this.closing = true;
    const w = this.worker;
    this.worker = null;
    if (w !== null) await w.terminate();
  }
}
