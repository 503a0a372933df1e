// What a coordinator's main thread pays for hints while a replica is down (HintStore,
// src/coordinator/hinted_handoff.ts): with its files (hint_log.ts: one writev per event-loop
// turn, an fdatasync a second, segments rolled at 4 MiB) against in memory only; B hints per turn
// (B = 1: a lone write; 32: a WebSocket frame's worth), the turn's end included (where the files
// are written); hot keys (each add merges into the key's queued hint); and past the target's
// bound (each add drops the oldest). Then, for the delivery side, every queued hint taken off as
// delivered. Each row on a fresh store in the run's temp dir; rounds interleave the rows.
// --base REV adds the same rows for that revision's HintStore (base_revision.ts), in the same
// process, each scenario's two builds side by side.
//   flock /tmp/ringkv-heavy.lock npm run bench:hints -- [--write] [--rounds 3] [--base REV]   (--seconds and --warmup do not apply)
// --write replaces the section between <!-- hints-bench:start --> and <!-- hints-bench:end --> in
// BENCHMARKS.md.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HintStore } from '../src/coordinator/hinted_handoff';
import { mergeRecords, recordOf } from '../src/coordinator/read_repair';
import { assert } from '../src/errors';
import { coordinateWrite } from '../src/versioning';
import { buildsOf, sideBySide, sideBySideBody, versusLines } from './base_revision';
import { emitSection, median, parseBenchArgs, runMain, sectionHead, takeOption } from './comparison';
import { BenchRun, benchValueBytes } from './harness';

const hintsPerRow = 20_000;
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** What a row does to a fresh store: its hints' keys, how many per turn, and how many stay queued. */
interface Scenario {
  name: string;
  files: boolean;
  perTurn: number;
  hints: number;
  /** The hints' keys cycle through this many. */
  keys: number;
}

const hotKeys = 10;
/** Past the target's byte bound (hintBytesPerNodeMax, 64 MiB: ~63,000 hints of 1 KiB with their keys and versions): the last third of the adds each drop the oldest. */
const pastBoundHints = 100_000;

const scenarios: readonly Scenario[] = [
  { name: 'in memory only', files: false, perTurn: 1, hints: hintsPerRow, keys: hintsPerRow },
  { name: 'with files', files: true, perTurn: 1, hints: hintsPerRow, keys: hintsPerRow },
  { name: 'in memory only', files: false, perTurn: 32, hints: hintsPerRow, keys: hintsPerRow },
  { name: 'with files', files: true, perTurn: 32, hints: hintsPerRow, keys: hintsPerRow },
  { name: `in memory only, ${hotKeys} hot keys`, files: false, perTurn: 32, hints: hintsPerRow, keys: hotKeys },
  { name: 'in memory only, past the bound', files: false, perTurn: 32, hints: pastBoundHints, keys: pastBoundHints },
];

/** The HintStore class of one build (this tree's, or a base revision's dist). */
type HintStoreClass = typeof HintStore;

interface Measured {
  addUs: number;
  /** The longest turn of the add phase: what a request queued behind it would wait. */
  turnMaxMs: number;
  deliverUs: number;
  /** Hints queued once the adds were done (the rest coalesced, or dropped at the bound). */
  queued: number;
  diskBytesMax: number;
}

async function measure(Store: HintStoreClass, dir: string | null, sc: Scenario): Promise<Measured> {
  const merge = (a: Parameters<typeof mergeRecords>[0], b: Parameters<typeof mergeRecords>[1]) => mergeRecords(a, b, 'vclock', Date.now());
  const store = dir === null ? new Store({ merge }) : Store.open({ merge }, { dir, log: () => undefined });
  const record = recordOf(coordinateWrite([], { nodeId: 'bench', nowMs: Date.now(), mode: 'vclock', value: Buffer.alloc(benchValueBytes, 7), tombstone: false, ttlMs: 0, context: null }).siblings);
  const keys = Array.from({ length: sc.keys }, (_, j) => Buffer.from(`bench:${j}`));
  let diskBytesMax = 0;
  let turnMaxNs = 0n;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < sc.hints; i += sc.perTurn) {
    const ts = process.hrtime.bigint();
    for (let j = i; j < Math.min(sc.hints, i + sc.perTurn); j++) store.add('target', keys[j % sc.keys]!, record);
    await turn();
    const dt = process.hrtime.bigint() - ts;
    if (dt > turnMaxNs) turnMaxNs = dt;
    if ((i / sc.perTurn) % 64 === 0) diskBytesMax = Math.max(diskBytesMax, store.stats().hintsDiskBytes);
  }
  const t1 = process.hrtime.bigint();
  const queued = store.size();
  assert(queued === Math.min(sc.hints, sc.keys) || (sc.keys > hintsPerRow && queued < sc.hints), 'every hint queued, coalesced or (past the bound) dropped');
  for (;;) {
    const batch = store.peek('target', 256);
    if (batch.length === 0) break;
    for (const h of batch) store.delivered('target', h);
    await turn();
  }
  const t2 = process.hrtime.bigint();
  await store.close();
  if (dir !== null) fs.rmSync(dir, { recursive: true, force: true });
  return { addUs: Number(t1 - t0) / 1e3 / sc.hints, turnMaxMs: Number(turnMaxNs) / 1e6, deliverUs: Number(t2 - t1) / 1e3 / queued, queued, diskBytesMax };
}

async function main(): Promise<void> {
  const { value: baseArg, rest: argv } = takeOption(process.argv.slice(2), '--base');
  const { rounds, write } = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-hints-bench-');
  try {
    const builds = buildsOf<HintStoreClass>(baseArg, run.dir, 'src/coordinator/hinted_handoff.js', 'HintStore', HintStore, log);
    let n = 0;
    const results = await sideBySide(builds, scenarios, rounds, (impl, sc) => measure(impl, sc.files ? path.join(run.dir, `hints-${n++}`) : null, sc));
    const f = (x: number): string => x.toFixed(2);
    const med = (build: number, scenario: number, pick: (m: Measured) => number): number => median(results[build]![scenario]!.map(pick));
    const last = builds.length - 1;
    const ratio = (files: number, memory: number): string => (med(last, files, (m) => m.addUs) / med(last, memory, (m) => m.addUs)).toFixed(1);
    const section = [
      ...sectionHead('Hints on disk (bench/hints.bench.ts)', 'bench:hints', 'dist/bench/hints.bench.js', process.argv.slice(2), run),
      '',
      ...sideBySideBody(
        builds,
        `Hints of ${benchValueBytes} B values for one target, on a fresh store per row and round (files in the run's temp dir, on the same disk as the benchmarks' data), with the default bounds (${hintsPerRow.toLocaleString('en-US')} hints stay under them; ${pastBoundHints.toLocaleString('en-US')} of 1 KiB go past the target's 64 MiB, so each add after the first ~63,000 drops the oldest hint); "keys": the adds cycle through that many keys (fewer keys than hints: each add merges into the key's queued hint and moves it to the back, as writes to hot keys do while their replica is down). ${rounds} rounds interleaved, medians. "Add" is wall time per hint from the first add to the end of the turn of the last (the files are written at the end of each turn, and synced once a second); "deliver" takes every queued hint off the queue, 256 per turn, as replay does once the target answered. "Longest turn" is the longest event-loop turn of the add phase (its adds and whatever else ran in it: a request arriving then waits that long).`,
        ['store', 'hints per turn', 'hints added', 'keys', 'add µs per hint (median)', 'add µs per hint, per round', 'longest turn ms (median)', 'queued after the adds', 'deliver µs per queued hint (median)', 'files at most (MiB)'],
        [false, true, true, true, true, false, true, true, true, true],
        scenarios,
        (sc, i, b) => [
          sc.name,
          String(sc.perTurn),
          sc.hints.toLocaleString('en-US'),
          sc.keys.toLocaleString('en-US'),
          f(med(b, i, (m) => m.addUs)),
          results[b]![i]!.map((m) => f(m.addUs)).join(' / '),
          f(med(b, i, (m) => m.turnMaxMs)),
          med(b, i, (m) => m.queued).toLocaleString('en-US'),
          f(med(b, i, (m) => m.deliverUs)),
          sc.files ? `${(med(b, i, (m) => m.diskBytesMax) / 1048576).toFixed(1)}` : '-',
        ],
      ),
      '',
      `- ${builds[last]!.name}: with files, a hint costs ${ratio(1, 0)}x its in-memory cost when each turn adds one, ${ratio(3, 2)}x when each adds 32.`,
      ...versusLines(builds, scenarios, (sc, i, against) => {
        const x = (pick: (m: Measured) => number): string => (med(1, i, pick) / med(0, i, pick)).toFixed(2);
        return `- ${sc.name}, ${sc.perTurn} per turn, ${sc.keys.toLocaleString('en-US')} keys: ${against}: add ${x((m) => m.addUs)}x, longest turn ${x((m) => m.turnMaxMs)}x, deliver ${x((m) => m.deliverUs)}x (medians; under 1 is better).`;
      }),
    ].join('\n');
    emitSection(section, 'hints-bench', write);
  } finally {
    await run.close();
  }
}

if (require.main === module) runMain('hints bench', main);
