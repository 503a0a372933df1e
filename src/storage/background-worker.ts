// Entry point of an engine's background thread (a worker_threads Worker started by
// background.ts): writes flushed memtables as level-0 tables and runs compactions, so neither
// holds up the shard's thread, where reads and writes run. It owns no engine state: it reads the
// immutable input tables it is told about, writes new tables with numbers from the shared
// counter, fsyncs them and replies with their metadata. The engine thread alone decides what is
// live (the manifest) and when files are deleted.
//
// Jobs run one at a time, flushes first: a compaction calls pace() every few hundred KiB, which
// yields to the event loop (so newly posted jobs arrive), throttles to the job's write budget
// and runs any flush that is waiting, as LevelDB's background thread does between compaction
// steps. A full memtable therefore waits for one flush, never for a whole compaction.
import { parentPort, workerData } from 'node:worker_threads';
import { backgroundThreadNiceIncrement, compactionOpenTablesMax } from '../constants';
import { assert } from '../errors';
import { threadMemory } from '../thread_memory';
import { BackgroundControl } from './background-control';
import { JobAborted, toWireError, type BackgroundInit, type BackgroundJob, type BackgroundReply, type CompactJob, type FlushJob, type JobDone, type JobStats, tableInfoOf } from './background-messages';
import { runCompaction } from './compactor';
import { writeRun } from './flush';
import { TableCache } from './table-cache';
import { lowerThreadPriority } from './thread-priority';

const init = workerData as BackgroundInit;
// Requests first when threads contend for cores (constants.ts says why and what it measured).
const niceRefused = lowerThreadPriority(backgroundThreadNiceIncrement);
if (niceRefused !== null) process.stderr.write(`ringkv: storage engine ${init.dir}: background thread keeps its priority: ${niceRefused}\n`);
const control = new BackgroundControl(init.control);
const port = parentPort!;
const flushes: FlushJob[] = [];
const compactions: CompactJob[] = [];
let running = false;

const checkAbort = (): void => {
  if (control.aborted) throw new JobAborted();
};

async function flush(job: FlushJob): Promise<Omit<JobDone, 'memory'>> {
  const started = Date.now();
  const t = await writeRun(init.dir, control.takeFileNumber(), init.bloomBitsPerKey, job.run, () => control.aborted, () => new JobAborted());
  const stats: JobStats = { entriesIn: job.run.count, entriesOut: t.meta.entryCount, dropped: 0, expired: 0, bytesRead: 0, bytesWritten: t.fileBytes, ms: Date.now() - started };
  // The keys' buffer goes back for the next flush to pack into (this thread's copy or the one moved here).
  return { kind: 'done', id: job.id, tables: [tableInfoOf(t)], stats, returned: [job.run.keys.buffer as ArrayBuffer] };
}

async function compact(job: CompactJob): Promise<Omit<JobDone, 'memory'>> {
  const tables = new TableCache(init.dir, compactionOpenTablesMax);
  const started = Date.now();
  try {
    const out = await runCompaction(job, {
      dir: init.dir,
      bloomBitsPerKey: init.bloomBitsPerKey,
      table: (n) => tables.get(n),
      takeFileNumber: () => control.takeFileNumber(),
      checkAbort,
      pace: async (written) => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        while (flushes.length > 0) await runJob(flushes.shift()!);
        checkAbort();
        if (job.bytesPerSec > 0) {
          const dueMs = (written / job.bytesPerSec) * 1000 - (Date.now() - started);
          if (dueMs >= 1) await new Promise((resolve) => setTimeout(resolve, Math.min(dueMs, 1000)));
        }
      },
    });
    return { kind: 'done', id: job.id, tables: out.tables.map(tableInfoOf), stats: out.stats, returned: [] };
  } finally {
    // Input tables are closed before the reply, so the engine may delete them as soon as it has it.
    tables.closeAll();
  }
}

async function runJob(job: BackgroundJob): Promise<void> {
  let reply: BackgroundReply;
  try {
    reply = { ...(job.kind === 'flush' ? await flush(job) : await compact(job)), memory: threadMemory() };
  } catch (err) {
    reply = { kind: 'failed', id: job.id, error: toWireError(err), memory: threadMemory() };
  }
  port.postMessage(reply, reply.kind === 'done' ? reply.returned : []);
}

async function drain(): Promise<void> {
  if (running) return;
  running = true;
  try {
    for (let job = flushes.shift() ?? compactions.shift(); job !== undefined; job = flushes.shift() ?? compactions.shift()) await runJob(job);
  } finally {
    running = false;
  }
}

port.on('message', (job: BackgroundJob) => {
  assert(job.kind === 'flush' || job.kind === 'compact', () => `unknown background job ${(job as { kind?: unknown }).kind}`);
  if (job.kind === 'flush') flushes.push(job);
  else compactions.push(job);
  void drain();
});
