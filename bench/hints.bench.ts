// What keeping hints on disk costs the thread that takes them (a coordinator's main thread, while
// a replica is down): HintStore.add with its files (src/coordinator/hint_log.ts: one writev per
// event-loop turn, an fdatasync a second, segments rolled at 4 MiB) against the same store in
// memory only, side by side in one run. Rows: hints of 1 KiB values for one target, added B per
// turn (B = 1: a lone write; 32: a WebSocket frame's worth) until hintsPerRow, the turn's end
// included (where the files are written); then, for the delivery side, every hint taken off the
// queue as delivered. Each row on a fresh store in the run's temp dir. Rounds interleave the rows.
//   flock /tmp/ringkv-heavy.lock npm run bench:hints -- [--write] [--rounds 3]   (--seconds and --warmup do not apply)
// --write replaces the section between <!-- hints-bench:start --> and <!-- hints-bench:end --> in
// BENCHMARKS.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HintStore } from '../src/coordinator/hinted_handoff';
import { mergeRecords, recordOf } from '../src/coordinator/read_repair';
import { assert } from '../src/errors';
import { coordinateWrite } from '../src/versioning';
import { emitSection, median, parseBenchArgs, runMain, sectionHead } from './comparison';
import { BenchRun, benchValueBytes, markdownTable } from './harness';

const hintsPerRow = 20_000;
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Measured {
  addUs: number;
  /** The longest turn of the add phase: what a request queued behind it would wait. */
  turnMaxMs: number;
  deliverUs: number;
  diskBytesMax: number;
}

async function measure(dir: string | null, perTurn: number): Promise<Measured> {
  const merge = (a: Parameters<typeof mergeRecords>[0], b: Parameters<typeof mergeRecords>[1]) => mergeRecords(a, b, 'vclock', Date.now());
  const store = dir === null ? new HintStore({ merge }) : HintStore.open({ merge }, { dir, log: () => undefined });
  const record = recordOf(coordinateWrite([], { nodeId: 'bench', nowMs: Date.now(), mode: 'vclock', value: Buffer.alloc(benchValueBytes, 7), tombstone: false, ttlMs: 0, context: null }).siblings);
  let diskBytesMax = 0;
  let turnMaxNs = 0n;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < hintsPerRow; i += perTurn) {
    const ts = process.hrtime.bigint();
    for (let j = i; j < Math.min(hintsPerRow, i + perTurn); j++) store.add('target', Buffer.from(`bench:${j}`), record);
    await turn();
    const dt = process.hrtime.bigint() - ts;
    if (dt > turnMaxNs) turnMaxNs = dt;
    if ((i / perTurn) % 64 === 0) diskBytesMax = Math.max(diskBytesMax, store.stats().hintsDiskBytes);
  }
  const t1 = process.hrtime.bigint();
  assert(store.size() === hintsPerRow, 'every hint queued');
  for (;;) {
    const batch = store.peek('target', 256);
    if (batch.length === 0) break;
    for (const h of batch) store.delivered('target', h);
    await turn();
  }
  const t2 = process.hrtime.bigint();
  await store.close();
  if (dir !== null) fs.rmSync(dir, { recursive: true, force: true });
  return { addUs: Number(t1 - t0) / 1e3 / hintsPerRow, turnMaxMs: Number(turnMaxNs) / 1e6, deliverUs: Number(t2 - t1) / 1e3 / hintsPerRow, diskBytesMax };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { rounds, write } = parseBenchArgs(argv, false);
  const run = new BenchRun('ringkv-hints-bench-');
  try {
    const rows: Array<{ name: string; files: boolean; perTurn: number }> = [
      { name: 'in memory only', files: false, perTurn: 1 },
      { name: 'with files', files: true, perTurn: 1 },
      { name: 'in memory only', files: false, perTurn: 32 },
      { name: 'with files', files: true, perTurn: 32 },
    ];
    const results = new Map<number, Measured[]>();
    let n = 0;
    for (let round = 1; round <= rounds; round++) {
      process.stderr.write(`round ${round} of ${rounds}\n`);
      for (const [k, r] of rows.entries()) {
        const dir = r.files ? path.join(run.dir, `hints-${n++}`) : null;
        results.set(k, [...(results.get(k) ?? []), await measure(dir, r.perTurn)]);
      }
    }
    const f = (x: number): string => x.toFixed(2);
    const med = (k: number, pick: (m: Measured) => number): number => median(results.get(k)!.map(pick));
    const table = rows.map((r, k) => [
      r.name,
      String(r.perTurn),
      f(med(k, (m) => m.addUs)),
      results.get(k)!.map((m) => f(m.addUs)).join(' / '),
      f(med(k, (m) => m.turnMaxMs)),
      f(med(k, (m) => m.deliverUs)),
      r.files ? `${(med(k, (m) => m.diskBytesMax) / 1048576).toFixed(1)}` : '-',
    ]);
    const ratio = (files: number, memory: number): string => (med(files, (m) => m.addUs) / med(memory, (m) => m.addUs)).toFixed(1);
    const section = [
      ...sectionHead('Hints on disk (bench/hints.bench.ts)', 'bench:hints', 'dist/bench/hints.bench.js', argv, run),
      '',
      `${hintsPerRow.toLocaleString('en-US')} hints of ${benchValueBytes} B values for one target per row and round, on a fresh store each (files in the run's temp dir, on the same disk as the benchmarks' data), ${rounds} rounds interleaved, medians. "Add" is wall time per hint from the first add to the end of the turn of the last (the files are written at the end of each turn, and synced once a second); "deliver" takes every hint off the queue, 256 per turn, as replay does once the target answered. "Longest turn" is the longest event-loop turn of the add phase (its adds and whatever else ran in it: a request arriving then waits that long).`,
      '',
      markdownTable(['store', 'hints per turn', 'add µs per hint (median)', 'add µs per hint, per round', 'longest turn ms (median)', 'deliver µs per hint (median)', 'files at most (MiB)'], table, [false, true, true, false, true, true, true]),
      '',
      `- With files, a hint costs ${ratio(1, 0)}x its in-memory cost when each turn adds one, ${ratio(3, 2)}x when each adds 32.`,
    ].join('\n');
    emitSection(section, 'hints-bench', write);
  } finally {
    await run.close();
  }
}

if (require.main === module) runMain('hints bench', main);
