// Reads the .cpuprofile files `node --cpu-prof` writes (one per thread: the main thread and each
// worker) and says where each thread's time went: the share of samples that were idle, and the
// functions with the most self time, grouped by source file. Used by `node.bench --profile DIR`;
// standalone:
//   node dist/bench/cpuprofile.js DIR [--top 15]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fmtMs, markdownTable } from './harness';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ThreadProfile {
  file: string;
  /** "main" for the thread whose file name has thread id 0, else "worker N". */
  thread: string;
  totalMs: number;
  idleMs: number;
  gcMs: number;
  top: Array<{ fn: string; where: string; selfMs: number }>;
  byFile: Array<{ where: string; selfMs: number }>;
}

/** The repository-relative path of a frame's script, or the bare module name under node_modules. */
function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm !== -1) return url.slice(nm + 'node_modules/'.length).split('/').slice(0, 2).join('/');
  const i = url.indexOf('/dist/');
  return i === -1 ? url.replace(/^file:\/\//, '') : url.slice(i + '/dist/'.length);
}

export function summarizeProfile(file: string, topN: number): ThreadProfile {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  const fns = new Map<string, { fn: string; where: string; selfMs: number }>();
  const files = new Map<string, number>();
  let idleMs = 0;
  let gcMs = 0;
  let totalMs = 0;
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    const ms = us / 1000;
    totalMs += ms;
    if (f.functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    if (f.functionName === '(garbage collector)') gcMs += ms;
    const where = shortUrl(f.url);
    const key = `${f.functionName}@${where}:${f.lineNumber}`;
    const e = fns.get(key) ?? { fn: f.functionName || '(anonymous)', where: `${where}:${f.lineNumber + 1}`, selfMs: 0 };
    e.selfMs += ms;
    fns.set(key, e);
    files.set(where, (files.get(where) ?? 0) + ms);
  }
  // CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile
  const threadId = Number(path.basename(file).split('.')[4]);
  return {
    file: path.basename(file),
    thread: threadId === 0 ? 'main' : `worker ${threadId}`,
    totalMs,
    idleMs,
    gcMs,
    top: [...fns.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, topN),
    byFile: [...files.entries()].map(([where, selfMs]) => ({ where, selfMs })).sort((a, b) => b.selfMs - a.selfMs).slice(0, topN),
  };
}

/** A Markdown report of every profile in `dir`: per thread, busy share, then top functions and files. */
export function profileReport(dir: string, topN: number): string {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  const out: string[] = [];
  const pct = (a: number, b: number): string => `${b > 0 ? Math.round((100 * a) / b) : 0}%`;
  for (const f of files) {
    const t = summarizeProfile(path.join(dir, f), topN);
    const busy = t.totalMs - t.idleMs;
    out.push(`### ${t.thread} (${t.file}): busy ${fmtMs(busy)} ms of ${fmtMs(t.totalMs)} ms (${pct(busy, t.totalMs)}), GC ${pct(t.gcMs, busy)} of busy`, '');
    out.push(markdownTable(['self ms', '% of busy', 'function', 'where'], t.top.map((x) => [fmtMs(x.selfMs), pct(x.selfMs, busy), x.fn, x.where]), [true, true]), '');
    out.push(markdownTable(['self ms', '% of busy', 'file or package'], t.byFile.map((x) => [fmtMs(x.selfMs), pct(x.selfMs, busy), x.where]), [true, true]), '');
  }
  return out.join('\n');
}

if (require.main === module) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '15' } } });
  process.stdout.write(`${profileReport(positionals[0] ?? '.', Number(values.top))}\n`);
}
