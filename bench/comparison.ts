// The comparison tables of node.bench and cluster.bench: their common options, rows measured
// once per round (rounds interleaved, so drift on a shared box hits every row alike) and reported
// as medians with every round's figure, the open-loop rows and their latency bar, and the head
// and tail of a BENCHMARKS.md section (exact command, date, machine, load tool command lines).
import { parseArgs } from 'node:util';
import { ErrorCode, RingkvError } from '../src/errors';
import { benchmarksFile, fmtInt, fmtMs, machineLine, markdownTable, replaceSection, type BenchRun, type Measured } from './harness';

/** The latency bar of the open-loop runs, and the share of a row's own peak they run at. */
/** The two operations every ringkv benchmark measures, as its tables name them. */
export type Op = 'PUT' | 'GET';
export const ops: readonly Op[] = ['PUT', 'GET'];
export const p99BarMs = 10;
export const openLoadShare = 0.8;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * An open-loop run: frames due while their connection was at its cap waited for it, timed from
 * when they were due; `droppedFrames` are those still unsent when the drain ended (recorded at
 * their wait so far).
 */
export interface OpenMeasured extends Measured {
  droppedFrames: number;
  /** The tail beyond p99: one stall of a few tens of ms shows here first. */
  p999Ms: number;
  maxMs: number;
}

/** The options of node.bench and cluster.bench. */
export interface BenchArgs {
  rounds: number;
  /** Measured seconds of each ringkv run. */
  seconds: number;
  warmupSeconds: number;
  write: boolean;
  /** node.bench only: profile into this directory instead of benchmarking. */
  profile: string | null;
  /** Stop the kernel's DAMON monitors for the run (harness.ts stopDamonFor); written to its own section. */
  damonOff: boolean;
}

/**
 * `--name VALUE` taken out of `argv` (a bench's own option, before parseBenchArgs reads the rest):
 * its value (undefined when absent or followed by another option) and the other arguments.
 */
export function takeOption(argv: readonly string[], name: string): { value: string | undefined; rest: string[] } {
  const at = argv.indexOf(name);
  if (at < 0) return { value: undefined, rest: [...argv] };
  const value = argv[at + 1];
  return { value: value === undefined || value.startsWith('--') ? undefined : value, rest: argv.filter((_, k) => k !== at && k !== at + 1) };
}

/** The integer value of option `--name`, within min..max, or RKV_ERR_INVALID_ARGUMENT saying why not. */
export function intOption(name: string, text: string, min: number, max: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min || v > max) throw new RingkvError(ErrorCode.InvalidArgument, `--${name} must be an integer ${min}..${max}, not "${text}"`);
  return v;
}

export function parseBenchArgs(argv: string[], allowProfile: boolean): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '3' },
      seconds: { type: 'string', default: '3' },
      // 3 s: a 3-node cluster switched from PUT to GET load spent its first 1.5-2.5 s in
      // 50-160 ms scavenges and fully busy main threads before settling (event-loop traces, ad
      // hoc); with 1 s of warm-up that transient was most of a GET row's p99.
      warmup: { type: 'string', default: '3' },
      write: { type: 'boolean', default: false },
      'damon-off': { type: 'boolean', default: false },
      ...(allowProfile && { profile: { type: 'string' as const } }),
    },
  });
  return {
    rounds: intOption('rounds', values.rounds as string, 1, 9),
    seconds: intOption('seconds', values.seconds as string, 1, 30),
    warmupSeconds: intOption('warmup', values.warmup as string, 0, 10),
    write: values.write as boolean,
    profile: (values.profile as string | undefined) ?? null,
    damonOff: values['damon-off'] as boolean,
  };
}

/** The columns that say what a row is, the same in every comparison table. */
export const rowHeader = ['system', 'durability', 'protocol', 'op', 'consistency', 'concurrency'];

/** One table row, measured once per round. */
export interface Row {
  /** One cell per rowHeader column. */
  cells: string[];
  runs: Measured[];
  /** The server's CPU per run (withServerCpu), or "n/a". */
  serverCpu: string[];
}

/** Rows by key, in the order they were first measured. */
export class RowSet {
  private readonly rows = new Map<string, Row>();

  add(key: string, cells: string[], m: Measured, serverCpu = 'n/a'): void {
    let r = this.rows.get(key);
    if (r === undefined) {
      r = { cells, runs: [], serverCpu: [] };
      this.rows.set(key, r);
    }
    r.runs.push(m);
    r.serverCpu.push(serverCpu);
  }

  get(key: string): Row {
    const r = this.rows.get(key);
    if (r === undefined) throw new RingkvError(ErrorCode.Internal, `no benchmark row "${key}"`);
    return r;
  }

  medianOps(key: string): number {
    return median(this.get(key).runs.map((m) => m.opsPerSecond));
  }

  all(): Row[] {
    return [...this.rows.values()];
  }

  errors(): number {
    return this.all().reduce((n, r) => n + r.runs.reduce((k, m) => k + m.errors, 0), 0);
  }
}

/** An extra column of a rows table. */
export interface Column {
  title: string;
  cell: (r: Row) => string;
  right?: boolean;
}

/** The comparison table: what each row is, medians over the rounds, every round's ops/s, CPU. */
export function rowsTable(rows: Row[], extra: Column[], serverCpuTitle: string): string {
  const cols: Column[] = [
    { title: 'ops/s (median)', cell: (r) => fmtInt(median(r.runs.map((m) => m.opsPerSecond))), right: true },
    { title: 'ops/s per round', cell: (r) => r.runs.map((m) => fmtInt(m.opsPerSecond)).join(' / '), right: true },
    { title: 'p50 ms', cell: (r) => fmtMs(median(r.runs.map((m) => m.p50Ms))), right: true },
    { title: 'p99 ms', cell: (r) => fmtMs(median(r.runs.map((m) => m.p99Ms))), right: true },
    ...extra,
    { title: 'errors', cell: (r) => String(r.runs.reduce((n, m) => n + m.errors, 0)), right: true },
    { title: 'load generator CPU', cell: (r) => r.runs.map((m) => m.clientCpu).join(' / ') },
    { title: serverCpuTitle, cell: (r) => r.serverCpu.join(' / ') },
  ];
  return markdownTable(
    [...rowHeader, ...cols.map((c) => c.title)],
    rows.map((r) => [...r.cells, ...cols.map((c) => c.cell(r))]),
    [...rowHeader.map(() => false), ...cols.map((c) => c.right === true)],
  );
}

/** An open-loop row: a rate derived from a closed-loop peak, measured once per round. */
export interface OpenRow {
  /** What it is, e.g. ["PUT", "32"]. */
  cells: string[];
  peak: number;
  /** The share of `peak` offered: rate = round(peak * share). */
  share: number;
  rate: number;
  runs: OpenMeasured[];
  /** The server's CPU per run (withServerCpu). */
  serverCpu: string[];
  /** The nodes' WAL sync p99 per run, from their /metrics histograms; empty when not asked. */
  walSyncP99Ms: number[];
  /** The p99 of the nodes' GC pauses per run, main threads and shard threads; empty when not asked. */
  gcMainP99Ms: number[];
  gcShardP99Ms: number[];
  /** Full GCs per second of the row (main and shard threads together) per run; empty when not asked. */
  fullGcsPerSecond: number[];
}

export function openRow(cells: string[], peak: number, share: number): OpenRow {
  return { cells, peak, share, rate: Math.round(peak * share), runs: [], serverCpu: [], walSyncP99Ms: [], gcMainP99Ms: [], gcShardP99Ms: [], fullGcsPerSecond: [] };
}

/** "40%" */
export function fmtShare(share: number): string {
  return `${Math.round(share * 100)}%`;
}

export function openP99Ms(o: OpenRow): number {
  return median(o.runs.map((m) => m.p99Ms));
}

export function openLoopTable(header: string[], rows: OpenRow[]): string {
  // The WAL sync and GC columns only where the rows measured them (nodes whose /metrics were read).
  const walSync = rows.some((o) => o.walSyncP99Ms.length > 0);
  return markdownTable(
    [
      ...header,
      'closed-loop peak (median)',
      'share of peak',
      'target ops/s',
      'achieved ops/s',
      'p50 ms',
      'p99 ms (median)',
      'p99 ms per round',
      'p99.9 ms (median)',
      'max ms (median)',
      'dropped frames',
      'errors',
      `p99 < ${p99BarMs} ms`,
      ...(walSync ? ['WAL sync p99 ms (median)', 'GC pause p99 ms, main / shard (median)', 'full GCs per s (median)'] : []),
      'load generator CPU',
      'ringkv CPU (main + other threads)',
    ],
    rows.map((o) => [
      ...o.cells,
      fmtInt(o.peak),
      fmtShare(o.share),
      fmtInt(o.rate),
      fmtInt(median(o.runs.map((m) => m.opsPerSecond))),
      fmtMs(median(o.runs.map((m) => m.p50Ms))),
      fmtMs(openP99Ms(o)),
      o.runs.map((m) => fmtMs(m.p99Ms)).join(' / '),
      fmtMs(median(o.runs.map((m) => m.p999Ms))),
      fmtMs(median(o.runs.map((m) => m.maxMs))),
      String(o.runs.reduce((n, m) => n + m.droppedFrames, 0)),
      String(o.runs.reduce((n, m) => n + m.errors, 0)),
      openP99Ms(o) < p99BarMs ? 'yes' : 'no',
      ...(walSync ? [medianCell(o.walSyncP99Ms), `${medianCell(o.gcMainP99Ms)} / ${medianCell(o.gcShardP99Ms)}`, o.fullGcsPerSecond.length === 0 ? '-' : median(o.fullGcsPerSecond).toFixed(1)] : []),
      o.runs.map((m) => m.clientCpu).join(' / '),
      o.serverCpu.join(' / '),
    ]),
    [...header.map(() => false), true, true, true, true, true, true, true, true, true, true, true, false, ...(walSync ? [true, true, true] : []), false, false],
  );
}

/** The median of the runs that had any (NaN for none: no WAL syncs in GET rows, say). */
export function medianMeasured(perRun: readonly number[]): number {
  const ms = perRun.filter((v) => !Number.isNaN(v));
  return ms.length === 0 ? NaN : median(ms);
}

function medianCell(perRun: readonly number[]): string {
  const ms = medianMeasured(perRun);
  return Number.isNaN(ms) ? '-' : fmtMs(ms);
}

/** Shares of a closed-loop peak a load sweep offers besides openLoadShare, which is measured anyway. */
export const sweepShares = [0.2, 0.4, 0.6] as const;

/**
 * "PUT: 40% (17,899 ops/s, p99 8.10 ms)": the largest share of the peak whose median p99 was under
 * the bar among one op's open-loop rows, or "PUT: none of 20%, 40%, 60%, 80%".
 */
export function largestShareUnderBar(label: string, rows: readonly OpenRow[]): string {
  const sorted = [...rows].sort((x, y) => x.share - y.share);
  const under = sorted.filter((o) => openP99Ms(o) < p99BarMs);
  const best = under[under.length - 1];
  return best === undefined ? `${label}: none of ${sorted.map((o) => fmtShare(o.share)).join(', ')}` : `${label}: ${fmtShare(best.share)} (${fmtInt(best.rate)} ops/s, p99 ${fmtMs(openP99Ms(best))} ms)`;
}

/** Rows whose load generator used 90% of a core or more in some round: their figure is a lower bound. */
export function generatorBound(rows: Row[]): Row[] {
  return rows.filter((r) => r.runs.some((m) => m.clientCpu.split(' + ').some((p) => parseInt(p, 10) >= 90)));
}

/** What a --damon-off section says about the machine it ran on. */
export const damonOffNote =
  "Run with --damon-off: the kernel's DAMON monitors (the machine line says which were running before the run) were stopped for the run and restarted after it (bench/harness.ts stopDamonFor says why). The section without --damon-off is the same benchmark on the machine as provisioned.";

/** The first lines of a BENCHMARKS.md section: title, exact command, date, machine before and after. */
export function sectionHead(title: string, npmScript: string, distFile: string, argv: string[], run: BenchRun): string[] {
  const after = machineLine().split('load average (1/5/15 min) ')[1];
  return [
    `## ${title}`,
    '',
    `Command: \`flock /tmp/ringkv-heavy.lock npm run ${npmScript} --${argv.length > 0 ? ` ${argv.join(' ')}` : ''}\` (\`npm run ${npmScript}\` is \`node scripts/build.js && node ${distFile}\`).`,
    `Date: ${run.date}. Machine: ${run.machineBefore} (before the run); load average at the end ${after}.`,
  ];
}

/** The last lines of a section: which rows were generator-bound, and the load generator command lines. */
export function sectionTail(rows: Row[], commands: Iterable<string>): string[] {
  const bound = generatorBound(rows);
  return [
    bound.length === 0
      ? "- No row's load generator reached 90% of a core."
      : `- Load generator at 90% of a core or more (that figure is a lower bound): ${bound.map((r) => `${r.cells[0]} ${r.cells[2]} ${r.cells[3]}`).join('; ')}.`,
    '',
    '<details><summary>Load generator commands</summary>',
    '',
    ...[...commands].map((c) => `- \`${c}\``),
    '',
    '</details>',
  ];
}

/** Prints the section and, with --write, puts it between its markers in BENCHMARKS.md. */
export function emitSection(section: string, marker: string, write: boolean): void {
  process.stdout.write(`${section}\n`);
  if (!write) return;
  replaceSection(benchmarksFile, marker, section);
  process.stderr.write(`wrote the ${marker} section of ${benchmarksFile}\n`);
}

/** Runs a benchmark's main; a failure prints its stack and exits 1 (its finally blocks have run). */
export function runMain(name: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}

