// Turns measured runs into what people read: a Markdown table (appended to BENCHMARKS.md), the
// raw HdrHistogram logs and the SVG percentile plots under the run's results folder, and a JSON
// summary. Every ringkv figure gets a ratio to Redis measured in the same run.
import fs from 'node:fs';
import path from 'node:path';
import type { OpenLoopResult } from './open_loop';
import type { LatencySummary } from './recorder';
import { renderPercentileSvg, type PlotSeries } from './svg_plot';
import { opKinds } from './workloads';

export interface RunRow {
  workload: string;
  target: string;
  system: 'ringkv' | 'redis';
  rate: number;
  result: OpenLoopResult;
  /** Files written for this run, relative to the results folder. */
  files: string[];
}

export function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** Writes the run's HdrHistogram log and its SVG plot; returns the file names. */
export function writeRunFiles(dir: string, row: Omit<RunRow, 'files'>): string[] {
  const base = safeName(`${row.target}-${row.workload}-${row.rate}`);
  const hlog = `${base}.hlog`;
  const svg = `${base}.svg`;
  fs.writeFileSync(path.join(dir, hlog), row.result.recorder.finish(row.result.recorder.t0Ms + row.result.elapsedMs));
  const series: PlotSeries[] = [];
  for (const kind of opKinds) {
    const h = row.result.recorder.histogram('latency', kind);
    if (h !== undefined) series.push({ label: `${kind} (from intended start)`, histogram: h });
  }
  const svc = row.result.recorder.histogram('service', 'all');
  if (svc !== undefined) series.push({ label: 'all (from send: hides stalls)', histogram: svc, dashed: true });
  if (series.length > 0) {
    fs.writeFileSync(
      path.join(dir, svg),
      renderPercentileSvg(series, { title: `${row.target}, YCSB ${row.workload}, ${row.rate} ops/s target`, targetMs: 10 }),
    );
  }
  return series.length > 0 ? [hlog, svg] : [hlog];
}

/** One SVG per workload with every target's whole-run latency at the comparison rate. */
export function writeComparisonSvg(dir: string, workload: string, rows: RunRow[]): string | null {
  const series: PlotSeries[] = [];
  for (const r of rows.slice(0, 8)) {
    const h = r.result.recorder.histogram('latency', 'all');
    if (h !== undefined) series.push({ label: `${r.target} @${r.rate}/s`, histogram: h });
  }
  if (series.length === 0) return null;
  const name = safeName(`compare-${workload}.svg`);
  fs.writeFileSync(path.join(dir, name), renderPercentileSvg(series, { title: `YCSB ${workload}: latency by percentile, all ops`, targetMs: 10 }));
  return name;
}

function ms(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function ratio(a: number, b: number | undefined): string {
  if (b === undefined || b <= 0) return '–';
  return `${(a / b).toFixed(2)}x`;
}

export function latencyTable(rows: RunRow[]): string {
  const lines = [
    '| workload | target | rate (target) | achieved ops/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | dropped | errors | p99 vs redis | p50 vs redis |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const s: LatencySummary = r.result.recorder.summary('latency', 'all');
    const redis = rows.find((x) => x.workload === r.workload && x.system === 'redis' && x.rate === r.rate);
    const rs = redis?.result.recorder.summary('latency', 'all');
    lines.push(
      `| ${r.workload} | ${r.target} | ${r.rate} | ${r.result.achievedOpsPerSec.toFixed(0)} | ${ms(s.p50Ms)} | ${ms(s.p90Ms)} | ${ms(s.p99Ms)} | ${ms(s.p999Ms)} | ${ms(s.maxMs)} | ${r.result.dropped} | ${r.result.errors} | ${r.system === 'redis' ? '1.00x' : ratio(s.p99Ms, rs?.p99Ms)} | ${r.system === 'redis' ? '1.00x' : ratio(s.p50Ms, rs?.p50Ms)} |`,
    );
  }
  return lines.join('\n');
}

export interface SweepRow {
  workload: string;
  target: string;
  system: 'ringkv' | 'redis';
  bestRate: number | null;
  p99AtBestMs: number | null;
  steps: number;
  lastFailure: string;
}

export function sweepTable(rows: SweepRow[], p99TargetMs: number): string {
  const lines = [
    `| workload | target | highest rate with p99 < ${p99TargetMs} ms | p99 there (ms) | vs redis | steps | first failing step |`,
    '|---|---|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const redis = rows.find((x) => x.workload === r.workload && x.system === 'redis');
    const vs = r.system === 'redis' ? '1.00x' : r.bestRate !== null && redis?.bestRate ? `${(r.bestRate / redis.bestRate).toFixed(2)}x` : '–';
    lines.push(
      `| ${r.workload} | ${r.target} | ${r.bestRate ?? 'none'} | ${r.p99AtBestMs === null ? '–' : ms(r.p99AtBestMs)} | ${vs} | ${r.steps} | ${r.lastFailure} |`,
    );
  }
  return lines.join('\n');
}

/** Appends `block` to the file, adding the section header when the file has none yet. */
export function appendMarkdown(file: string, header: string, block: string): void {
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const parts: string[] = [];
  if (!existing.includes(header.split('\n')[0]!)) parts.push(`${existing.length > 0 && !existing.endsWith('\n\n') ? '\n' : ''}${header}\n`);
  parts.push(`${block}\n`);
  fs.appendFileSync(file, parts.join('\n'));
}
