// What writing and deleting tables does to the WAL's fdatasync, with and without the table
// builder's write-back steps (tableWritebackBytes, native syncFileRange) and gradual deletion
// (delete-scheduler.ts). The main thread appends 32 KiB WAL records through a real LogWriter in
// 'batch' mode, due every 2.5 ms (400 a second, open loop: latency from each record's due time to
// its durable ack), for --seconds per row. Meanwhile a worker thread builds 64 MiB tables (a
// memtable's worth, as flushes write them) one after another, deletes each (as a compaction
// deletes its inputs) and pauses 1 s: fsync'ed only at the end and unlinked at once, as first;
// written back every 1 MiB and unlinked at once; written back every 1 MiB, 256 KiB or 64 KiB and
// deleted gradually (tableWritebackBytes says which the engine uses). One more row builds no tables. Rows interleave per round; the table gives medians over the rounds.
//   flock /tmp/ringkv-heavy.lock npm run bench:table-io -- [--write] [--rounds 3] [--seconds 8]   (--warmup does not apply)
// --write replaces the section between <!-- table-io-bench:start --> and
// <!-- table-io-bench:end --> in BENCHMARKS.md.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileDeletePauseMs, fileDeleteStepBytes, memtableBytesDefault, tableWritebackBytes } from '../src/constants';
import { assert } from '../src/errors';
import { removeGradually } from '../src/storage/delete-scheduler';
import { LogWriter } from '../src/storage/log-writer';
import { emitSection, median, parseBenchArgs, runMain, sectionHead } from './comparison';
import { BenchRun, markdownTable, sleep } from './harness';
import { newHistogram, summarize, toMicros, type LatencySummary } from './latency/recorder';
import type { BuildRequest } from './table_io_worker';

const recordBytes = 32 * 1024;
const recordEveryMs = 2.5;
const pauseBetweenTablesMs = 1000;

interface Row {
  name: string;
  /** null: no tables built during the row. */
  writebackBytes: number | null;
  gradualDelete: boolean;
}

interface Measured {
  wal: LatencySummary;
  tables: number[];
}

/** "ext4 on /dev/vda mounted at /, rw,relatime,discard": the file system the bench's files are on. */
function mountOf(dir: string): string {
  let best: string[] | null = null;
  for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    const at = f[1]!;
    if ((dir === at || dir.startsWith(at.endsWith('/') ? at : `${at}/`)) && (best === null || at.length > best[1]!.length)) best = f;
  }
  return best === null ? 'file system unknown' : `${best[2]} on ${best[0]} mounted at ${best[1]}, ${best[3]}`;
}

/** Appends records on schedule for `ms`; the records' due-to-durable latencies. */
async function walLatencies(wal: LogWriter, ms: number): Promise<LatencySummary> {
  const record = randomBytes(recordBytes);
  const hist = newHistogram();
  const pending: Promise<void>[] = [];
  const start = performance.now();
  const count = Math.floor(ms / recordEveryMs);
  for (let i = 0; i < count; i++) {
    const due = start + i * recordEveryMs;
    // Timers run on the loop's cached clock and may fire a little early: wait until really due.
    for (let wait = due - performance.now(); wait > 0; wait = due - performance.now()) await sleep(Math.ceil(wait));
    pending.push(wal.append(record).then(() => void hist.recordValue(toMicros(performance.now() - due))));
  }
  await Promise.all(pending);
  return summarize(hist);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { rounds, seconds, write } = parseBenchArgs(argv, false);
  const run = new BenchRun('ringkv-table-io-bench-');
  const worker = new Worker(path.join(__dirname, 'table_io_worker.js'));
  let workerError: unknown = null;
  worker.on('error', (err) => void (workerError = err));
  let tableNumber = 1;
  const build = (writebackBytes: number, gradualDelete: boolean): Promise<number> =>
    new Promise((resolve, reject) => {
      if (workerError !== null) return reject(workerError);
      worker.once('message', resolve);
      const req: BuildRequest = { dir: run.dir, number: tableNumber++, tableBytes: memtableBytesDefault, writebackBytes, gradualDelete };
      worker.postMessage(req);
    });
  const size = (bytes: number): string => (bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`);
  const gradually = `deleted ${fileDeleteStepBytes / 1024 / 1024} MiB per ${fileDeletePauseMs} ms`;
  const rows: Row[] = [
    { name: 'no tables being written', writebackBytes: null, gradualDelete: false },
    { name: '64 MiB tables, fsync at the end only, unlinked at once', writebackBytes: 0, gradualDelete: false },
    { name: '64 MiB tables, written back every 1 MiB, unlinked at once', writebackBytes: 1024 * 1024, gradualDelete: false },
    ...[1024 * 1024, 256 * 1024, 64 * 1024].map((bytes) => ({
      name: `64 MiB tables, written back every ${size(bytes)}, ${gradually}${bytes === tableWritebackBytes ? ' (now)' : ''}`,
      writebackBytes: bytes,
      gradualDelete: true,
    })),
  ];
  assert(rows.some((r) => r.name.endsWith('(now)')), 'one row is what the engine does now');
  const results = new Map<string, Measured[]>();
  let walNumber = 1;
  try {
    for (let round = 1; round <= rounds; round++) {
      process.stderr.write(`round ${round} of ${rounds}\n`);
      for (const row of rows) {
        const walN = walNumber++;
        const walFile = path.join(run.dir, `${String(walN).padStart(6, '0')}.wal`);
        const wal = new LogWriter(walFile, walN, 'batch', 0);
        const tables: number[] = [];
        let measuring = true;
        const builder = (async () => {
          if (row.writebackBytes === null) return;
          while (measuring) {
            tables.push(await build(row.writebackBytes, row.gradualDelete));
            if (measuring) await sleep(pauseBetweenTablesMs);
          }
        })();
        const latency = await walLatencies(wal, seconds * 1000);
        measuring = false;
        await builder;
        await wal.close();
        await removeGradually(walFile); // this row's ~100 MB of WAL, out of the next row's way
        results.set(row.name, [...(results.get(row.name) ?? []), { wal: latency, tables }]);
        process.stderr.write(`  ${row.name}: WAL p99 ${latency.p99Ms.toFixed(2)} ms, p99.9 ${latency.p999Ms.toFixed(2)} ms, max ${latency.maxMs.toFixed(2)} ms; ${tables.length} tables\n`);
      }
    }
  } finally {
    await worker.terminate();
    await run.close();
  }
  const f = (x: number): string => x.toFixed(2);
  const table = rows.map((row) => {
    const ms = results.get(row.name)!;
    const at = (field: 'p50Ms' | 'p99Ms' | 'p999Ms' | 'maxMs'): number[] => ms.map((m) => m.wal[field]);
    const builds = ms.flatMap((m) => m.tables);
    return [
      row.name,
      f(median(at('p50Ms'))),
      f(median(at('p99Ms'))),
      f(median(at('p999Ms'))),
      f(median(at('maxMs'))),
      at('p999Ms').map(f).join(' / '),
      builds.length === 0 ? '-' : `${builds.length}, ${Math.round(median(builds))} ms`,
    ];
  });
  const section = [
    ...sectionHead('Table writes and deletes vs the WAL fdatasync (bench/table-io.bench.ts)', 'bench:table-io', 'dist/bench/table-io.bench.js', argv, run),
    '',
    `A real LogWriter ('batch' mode) appends ${recordBytes / 1024} KiB records due every ${recordEveryMs} ms for ${seconds} s per row (open loop, latency from due time to durable ack), while a worker thread builds ${memtableBytesDefault / 1024 / 1024} MiB tables with TableBuilder, deletes each and pauses ${pauseBetweenTablesMs} ms, in the same temp dir (${mountOf(run.dir)}). ${rounds} rounds, rows interleaved, medians over the rounds (ms).`,
    '',
    markdownTable(['table writes', 'WAL p50', 'WAL p99', 'WAL p99.9', 'WAL max', 'p99.9 per round', 'tables built, median build ms'], table, [false, true, true, true, true, false, true]),
    '',
    '- A table written whole and fsync\'ed at the end hands the disk its whole size at once; a WAL fdatasync issued meanwhile waits behind it. Written back every N bytes while it is built (sync_file_range WRITE | WAIT_AFTER, native/src/writeback.rs), at most about N of it is ever queued ahead of the WAL: the smaller N, the shorter a WAL sync\'s wait, for a little more build time.',
    '- Unlinking a 64 MiB file frees (and with `discard` trims) all its blocks in one journal commit, which the next WAL fdatasync waits for; truncated a few MiB at a time (src/storage/delete-scheduler.ts) the work is spread over many small commits.',
  ].join('\n');
  emitSection(section, 'table-io-bench', write);
}

if (require.main === module) runMain('table-io bench', main);
