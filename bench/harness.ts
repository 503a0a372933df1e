// The pieces every load benchmark under bench/ shares (node.bench, cluster.bench, ws.bench,
// http.bench, redis, native.bench): free ports, a child process that is ready when it prints a
// line and that is always stopped (and a run that owns its children and temp dir), the CPU time
// of a server's threads and of a load tool, latency percentiles from HdrHistograms, number
// formats, the machine line, Markdown tables and the replacement of one marked section of
// BENCHMARKS.md. The histogram shape is bench/latency's (recorder.ts) and free ports are the
// tests' (test/helpers/ports.ts: below the ephemeral range, where no outgoing connection can take
// one between its check and its use), so there is one way of doing each. The comparison tables
// built from these are bench/comparison.ts.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type * as hdr from 'hdr-histogram-js';
import { nodeRuntimeFlags } from '../src/constants';
import { ErrorCode, RingkvError } from '../src/errors';
import { gcKinds } from '../src/gc_pauses';
import { addSnapshot, emptySnapshot, latencyBucketsSeconds, type HistogramSnapshot } from '../src/histogram';
import { freeBasePort, freePort } from '../test/helpers/ports';
import { newHistogram, summarize, toMicros } from './latency/recorder';

export { freeBasePort, freePort, newHistogram, toMicros };

/** The repository root (dist/bench/harness.js is two levels below it). */
export const repoRoot = path.resolve(__dirname, '..', '..');
export const ringkvBin = path.join(repoRoot, 'bin', 'ringkv.js');
export const benchmarksFile = path.join(repoRoot, 'BENCHMARKS.md');

const stopTimeoutMs = 15_000;
const outputTailBytes = 64 * 1024;

/** Every comparison benchmark uses 1 KiB values over this many keys, all written before the first GET. */
export const benchValueBytes = 1024;
export const benchKeySpace = 10_000;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface StartedChild {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** The last 64 KiB of its stdout and stderr, interleaved. */
  output(): string;
  /** SIGTERM (to its whole process group when started with `group`), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

export interface StartChildOptions {
  name: string;
  command: string;
  args: string[];
  /** A line on stdout or stderr that says the child is ready. */
  ready: RegExp;
  readyTimeoutMs: number;
  /**
   * Start it in its own process group and signal the group on stop: for launchers whose own
   * children must die with them even if the launcher is killed hard.
   */
  group?: boolean;
}

function exited(c: ChildProcess): boolean {
  return c.exitCode !== null || c.signalCode !== null;
}

function signal(c: ChildProcess, group: boolean, sig: NodeJS.Signals): void {
  try {
    if (group && c.pid !== undefined) process.kill(-c.pid, sig);
    else c.kill(sig);
  } catch {
    // Already gone.
  }
}

async function stopProcess(c: ChildProcess, group: boolean): Promise<void> {
  if (exited(c)) {
    // The leader is gone, but a group may still hold its children.
    if (group) signal(c, true, 'SIGKILL');
    return;
  }
  const done = new Promise<void>((r) => c.once('exit', () => r()));
  signal(c, group, 'SIGTERM');
  const timer = setTimeout(() => signal(c, group, 'SIGKILL'), stopTimeoutMs);
  await done;
  clearTimeout(timer);
  if (group) signal(c, true, 'SIGKILL');
}

/** Starts a child and resolves once it prints `ready`; a child that exits or times out first is stopped and rejects. */
export async function startChild(o: StartChildOptions): Promise<StartedChild> {
  const child = spawn(o.command, o.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: o.group === true });
  let tail = '';
  const group = o.group === true;
  const stop = () => stopProcess(child, group);
  try {
    await new Promise<void>((resolve, reject) => {
      // The unfinished last line: a line can arrive split over chunks.
      let partial = '';
      const timer = setTimeout(() => reject(new RingkvError(ErrorCode.Timeout, `${o.name}: no ${o.ready} within ${o.readyTimeoutMs} ms`)), o.readyTimeoutMs);
      const onData = (d: Buffer): void => {
        const text = d.toString();
        tail = (tail + text).slice(-outputTailBytes);
        const seen = partial + text;
        if (o.ready.test(seen)) {
          clearTimeout(timer);
          resolve();
        }
        partial = seen.slice(seen.lastIndexOf('\n') + 1);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new RingkvError(ErrorCode.Unavailable, `${o.name}: cannot start ${o.command}: ${err.message}`, { cause: err }));
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new RingkvError(ErrorCode.Unavailable, `${o.name} exited during start (${sig ?? code})`));
      });
    });
  } catch (err) {
    await stop();
    throw new RingkvError(ErrorCode.Unavailable, `${(err as Error).message}; its output:\n${tail.slice(-2000)}`, { cause: err });
  }
  return { name: o.name, pid: child.pid!, process: child, output: () => tail, stop };
}

/** Stops every child, newest first, and never throws: for `finally` blocks. */
export async function stopAll(children: StartedChild[]): Promise<void> {
  for (const c of children.splice(0).reverse()) await c.stop().catch(() => undefined);
}

/** Anything a run starts and must stop: a StartedChild, a bench/latency ServerProcess, a Redis Cluster. */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * One benchmark run's date, machine line, temp dir and the servers it started. close() stops
 * them (newest first) and removes the temp dir; call it in `finally`. SIGINT and SIGTERM (Ctrl-C
 * during a run, where `finally` blocks do not run) close it too, then exit.
 */
export class BenchRun {
  readonly date = execFileSync('date', { encoding: 'utf8' }).trim();
  readonly machineBefore = machineLine();
  readonly dir: string;
  private readonly owned: Stoppable[] = [];
  private readonly removeDir: () => void;
  private closing: Promise<void> | null = null;
  private readonly onSignal = (sig: NodeJS.Signals): void => {
    void this.close().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };

  constructor(prefix: string) {
    const t = tempDir(prefix);
    this.dir = t.dir;
    this.removeDir = t.remove;
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  own<T extends Stoppable>(x: T): T {
    this.owned.push(x);
    return x;
  }

  /** Idempotent: a signal and the `finally` it interrupts share one close. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const x of this.owned.splice(0).reverse()) await x.stop().catch(() => undefined);
      this.removeDir();
      process.removeListener('SIGINT', this.onSignal);
      process.removeListener('SIGTERM', this.onSignal);
    })();
    return this.closing;
  }
}

export interface NodeProcess {
  child: StartedChild;
  port: number;
  ws: string;
  http: string;
  /** Shard threads, from the node's "listening on" line. */
  shards: string;
}

/** How a bench launches a node, beyond `ringkv start`'s own arguments. */
export interface NodeLaunch {
  /** Arguments to node itself (e.g. --cpu-prof), after runtimeFlags. */
  nodeArgs?: string[];
  /** The V8 flags a node is launched with (default nodeRuntimeFlags), unless a bench compares them. */
  runtimeFlags?: readonly string[];
  /** The ringkv entry point (default this tree's bin/ringkv.js; another build's, to compare builds). */
  bin?: string;
  /** The HTTP port (default a free one): for a cluster whose nodes seed from a port chosen first. */
  port?: number;
  /** How long it may take to listen (default 30 s). */
  readyTimeoutMs?: number;
}

/**
 * `ringkv start` on a free port with `args` (e.g. --sync-mode), owned by `run`, data in
 * run.dir/<name>. Resolves once it listens.
 */
export async function startNodeProcess(run: BenchRun, name: string, args: string[], launch: NodeLaunch = {}): Promise<NodeProcess> {
  const port = launch.port ?? (await freePort());
  const child = run.own(
    await startChild({
      name,
      command: process.execPath,
      args: [...(launch.runtimeFlags ?? nodeRuntimeFlags), ...(launch.nodeArgs ?? []), launch.bin ?? ringkvBin, 'start', '--port', String(port), '--data-dir', path.join(run.dir, name), ...args],
      ready: /listening on/,
      readyTimeoutMs: launch.readyTimeoutMs ?? 30_000,
    }),
  );
  const shards = /shards=(\d+)/.exec(child.output())?.[1] ?? '?';
  return { child, port, ws: `ws://127.0.0.1:${port}/api/v1/ws`, http: `http://127.0.0.1:${port}`, shards };
}

/** How a bench launches `ringkv cluster`: `nodes` nodes on basePort + i, data in dataDir/node-i. */
export interface ClusterLaunch {
  nodes: number;
  basePort: number;
  dataDir: string;
  /** More of the launcher's arguments (--sync-mode, --shards). */
  args: string[];
  /** The ringkv entry point (default this tree's; another build's, to compare builds). */
  bin?: string;
  name?: string;
}

/**
 * `ringkv cluster`, owned by `run`, in its own process group (so that stopping it stops its
 * nodes); resolves once gossip converged, with the nodes' pids.
 */
export async function startClusterProcess(run: BenchRun, o: ClusterLaunch): Promise<{ child: StartedChild; pids: number[] }> {
  const child = run.own(
    await startChild({
      name: o.name ?? 'ringkv cluster',
      command: process.execPath,
      args: [o.bin ?? ringkvBin, 'cluster', '--nodes', String(o.nodes), '--base-port', String(o.basePort), '--data-dir', o.dataDir, ...o.args],
      ready: /nodes up, gossip converged/,
      readyTimeoutMs: 60_000,
      group: true,
    }),
  );
  // The launcher prints one line per node, with its pid, right after the ready line.
  for (let i = 0; i < 50 && (child.output().match(/ pid \d+/g) ?? []).length < o.nodes; i++) await sleep(100);
  const pids = [...child.output().matchAll(/ pid (\d+)/g)].map((m) => Number(m[1]));
  if (pids.length !== o.nodes) throw new RingkvError(ErrorCode.Internal, `ringkv cluster printed ${pids.length} node pids, not ${o.nodes}:\n${child.output()}`);
  return { child, pids };
}

/**
 * CPU seconds (user + system) of processes, their main threads apart from all their other threads
 * (Linux /proc), and the seconds those threads were runnable but waiting for a core (the run
 * queue: /proc/PID/task/TID/schedstat, second field, in ns). On this project's 2-core machines the
 * load generator, every node's main, shard, background and libuv threads and V8's GC helpers take
 * turns on two cores, and a request waits whenever the thread that must move it waits: the wait
 * figures say how much of a row's tail can be that. NaN where schedstat cannot be read (a kernel
 * without CONFIG_SCHED_INFO).
 */
export interface ThreadCpu {
  mainS: number;
  otherS: number;
  mainWaitS: number;
  otherWaitS: number;
}

/** Summed over `pids`; null when any of them cannot be read (gone, or not Linux). */
export function threadCpu(pids: readonly number[]): ThreadCpu | null {
  const tick = 100; // USER_HZ: 100 on every Linux this runs on.
  const total: ThreadCpu = { mainS: 0, otherS: 0, mainWaitS: 0, otherWaitS: 0 };
  try {
    for (const pid of pids) {
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        // Fields after the command name (which may hold spaces) start at its closing parenthesis.
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const s = (Number(f[11]) + Number(f[12])) / tick;
        const waitS = runQueueWaitS(`/proc/${pid}/task/${tid}/schedstat`);
        if (Number(tid) === pid) {
          total.mainS += s;
          total.mainWaitS += waitS;
        } else {
          total.otherS += s;
          total.otherWaitS += waitS;
        }
      }
    }
  } catch {
    return null;
  }
  return total;
}

/** A thread's run-queue wait so far, from its schedstat ("run_ns wait_ns timeslices"); NaN if unreadable. */
export function runQueueWaitS(schedstatPath: string): number {
  let text: string;
  try {
    text = fs.readFileSync(schedstatPath, 'utf8');
  } catch (err) {
    // The thread is gone (its stat was just read, so it exited in between): no wait to add.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return 0;
    return Number.NaN;
  }
  const fields = text.trim().split(' ');
  return fields.length === 3 ? Number(fields[1]) / 1e9 : Number.NaN;
}

/** A server process counts as quiet below this share of one core (gossip and timers keep it above 0). */
const quietCoreShare = 0.1;
const quietWindowMs = 250;
const quietWaitMsMax = 20_000;

/**
 * Waits until the server processes `pids` together used under quietCoreShare of a core each over
 * quietWindowMs (at most quietWaitMsMax, then says so on stderr and goes on). A row that starts
 * right after a write-heavy one otherwise measures that row's leftovers as well: memtable flushes
 * and compactions, and in a cluster the third replica's writes still queued when a QUORUM write
 * was answered, which kept every node's main thread busy for about a second.
 */
export async function waitQuiet(pids: readonly number[]): Promise<void> {
  const started = performance.now();
  for (;;) {
    const before = threadCpu(pids);
    await sleep(quietWindowMs);
    const after = threadCpu(pids);
    if (before === null || after === null) return;
    const cores = (after.mainS + after.otherS - before.mainS - before.otherS) / (quietWindowMs / 1000);
    if (cores < quietCoreShare * pids.length) return;
    if (performance.now() - started >= quietWaitMsMax) {
      process.stderr.write(`bench: servers still busy (${cores.toFixed(2)} cores) after ${quietWaitMsMax} ms; measuring anyway\n`);
      return;
    }
  }
}

/** Histograms a bench reads from the nodes' /metrics around a row, summed over the nodes. */
export interface NodeHistograms {
  /** ringkv_wal_sync_duration_seconds. */
  walSync: HistogramSnapshot;
  /** ringkv_gc_duration_seconds of the main threads and of the shard threads, every kind together. */
  gcMain: HistogramSnapshot;
  gcShard: HistogramSnapshot;
  /** Full GCs (V8 mark-compacts: kind "major"), main and shard threads together. */
  fullGcs: number;
}

/** One unlabelled series' value out of a node's GET /metrics (NaN when it has none). */
export async function metricValue(httpUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.slice(name.length + 1));
}

/** One histogram series out of Prometheus text; throws when the node does not export it. */
export function parseHistogram(text: string, url: string, name: string, labels: string): HistogramSnapshot {
  const s = emptySnapshot();
  const sep = labels === '' ? '' : ',';
  let below = 0;
  [...latencyBucketsSeconds.map(String), '+Inf'].forEach((le, i) => {
    const line = `${name}_bucket{${labels}${sep}le="${le}"} `;
    const at = text.indexOf(`\n${line}`);
    if (at < 0) throw new RingkvError(ErrorCode.Internal, `${url}/metrics has no ${line.trim()}`);
    const cumulative = Number(text.slice(at + 1 + line.length, text.indexOf('\n', at + 1)));
    s.counts[i] = cumulative - below;
    below = cumulative;
  });
  s.count = below;
  const sumLine = `\n${name}_sum${labels === '' ? '' : `{${labels}}`} `;
  const at = text.indexOf(sumLine);
  s.sumSeconds = at < 0 ? NaN : Number(text.slice(at + sumLine.length, text.indexOf('\n', at + 1)));
  return s;
}

export function emptyNodeHistograms(): NodeHistograms {
  return { walSync: emptySnapshot(), gcMain: emptySnapshot(), gcShard: emptySnapshot(), fullGcs: 0 };
}

/** Adds one node's WAL sync and GC pause histograms, out of its /metrics `text`, into `total`. */
export function addNodeHistograms(total: NodeHistograms, text: string, url: string): void {
  addSnapshot(total.walSync, parseHistogram(text, url, 'ringkv_wal_sync_duration_seconds', ''));
  for (const kind of gcKinds) {
    const main = parseHistogram(text, url, 'ringkv_gc_duration_seconds', `thread="main",kind="${kind}"`);
    const shard = parseHistogram(text, url, 'ringkv_gc_duration_seconds', `thread="shard",kind="${kind}"`);
    addSnapshot(total.gcMain, main);
    addSnapshot(total.gcShard, shard);
    if (kind === 'major') total.fullGcs += main.count + shard.count;
  }
}

/** The nodes' WAL sync and GC pause histograms (GET /metrics), summed over `httpUrls`. */
export async function nodeHistograms(httpUrls: readonly string[]): Promise<NodeHistograms> {
  const total = emptyNodeHistograms();
  for (const url of httpUrls) addNodeHistograms(total, await (await fetch(`${url}/metrics`)).text(), url);
  return total;
}

/**
 * Waits for the servers `pids` to be quiet (waitQuiet), runs `measure` and says what share of
 * one core they used meanwhile, as "main 97% + others 85%" (main threads; all other threads),
 * then how long those threads waited for a core in the run queue, as a share of the run's wall
 * time: "waiting for a core: main 9% + others 14%" (left out where schedstat cannot be read).
 */
export async function withServerCpu<T>(pids: readonly number[], measure: () => Promise<T> | T): Promise<{ value: T; cpu: string }> {
  await waitQuiet(pids);
  const before = threadCpu(pids);
  const started = performance.now();
  const value = await measure();
  const after = threadCpu(pids);
  const seconds = (performance.now() - started) / 1000;
  if (before === null || after === null || seconds <= 0) return { value, cpu: 'n/a' };
  const pct = (s: number): string => `${Math.round((100 * s) / seconds)}%`;
  const used = `main ${pct(after.mainS - before.mainS)} + others ${pct(after.otherS - before.otherS)}`;
  const mainWaitS = after.mainWaitS - before.mainWaitS;
  const otherWaitS = after.otherWaitS - before.otherWaitS;
  if (!Number.isFinite(mainWaitS) || !Number.isFinite(otherWaitS)) return { value, cpu: used };
  return { value, cpu: `${used}, waiting for a core: main ${pct(mainWaitS)} + others ${pct(otherWaitS)}` };
}

/** One measured row of any load generator. */
export interface Measured {
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ops: number;
  errors: number;
  /** The load generator's CPU over the run, in % of one core (per process where there are several). */
  clientCpu: string;
}

/**
 * Runs a load tool to completion (bounded by `timeoutMs`) and returns its stdout and the CPU
 * seconds it used (the shell's `times` reports its children's), so every row can say whether
 * the generator itself was the limit.
 */
export async function runTool(command: string, args: string[], timeoutMs: number): Promise<{ stdout: string; cpuS: number; wallS: number }> {
  // Not spawnSync: a blocked event loop stops reading the pipes of this process's other children,
  // and a server that logs while the tool runs (redis-server, at each AOF rewrite) then blocks
  // on its full stdout pipe and the tool hangs with it.
  const started = performance.now();
  const child = spawn('sh', ['-c', '"$@"; s=$?; times; exit $s', 'sh', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => stdout.push(d));
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const status = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  }).finally(() => clearTimeout(timer));
  const wallS = (performance.now() - started) / 1000;
  const out = Buffer.concat(stdout).toString('utf8');
  if (timedOut || status !== 0) {
    const why = timedOut ? `timed out after ${timeoutMs} ms` : `exit ${status}`;
    throw new RingkvError(ErrorCode.Internal, `${command} ${args.join(' ')} failed (${why}): ${Buffer.concat(stderr).toString('utf8').slice(-2000)}`);
  }
  // `times` prints two lines, the shell's and then its children's user and system time.
  const lines = out.trimEnd().split('\n');
  const secs = (t: string): number => {
    const m = /^(\d+)m([0-9.]+)s$/.exec(t);
    return m === null ? NaN : Number(m[1]) * 60 + Number(m[2]);
  };
  const [user, sys] = lines[lines.length - 1]!.trim().split(/\s+/);
  return { stdout: lines.slice(0, -2).join('\n'), cpuS: secs(user!) + secs(sys!), wallS };
}

export function cpuPercent(cpuS: number, seconds: number): string {
  return `${Math.round((100 * cpuS) / seconds)}%`;
}

export interface Percentiles {
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export function percentiles(h: hdr.Histogram): Percentiles {
  const s = summarize(h);
  return { p50Ms: s.p50Ms, p99Ms: s.p99Ms, p999Ms: s.p999Ms, maxMs: s.maxMs };
}

/** A latency in ms with 2 decimals under 10 ms, 1 under 100, none above. */
export function fmtMs(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function fmtInt(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}

/** A Markdown table; `right` marks the columns to right-align (numbers). */
export function markdownTable(header: string[], rows: string[][], right: boolean[] = []): string {
  const align = header.map((_, i) => (right[i] ? '---:' : '---'));
  return [header, align, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** CPU model, cores, memory, Node version and the load average now (on a shared box it explains most noise). */
export function machineLine(): string {
  const cpus = os.cpus();
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' / ');
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}; ${damonStatus()}; load average (1/5/15 min) ${load}`;
}

const damonRoot = '/sys/kernel/mm/damon/admin/kdamonds';

function damonIds(): string[] {
  try {
    return fs.readdirSync(damonRoot).filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
}

function readTrimmed(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The kernel's DAMON monitors (kdamonds), e.g. "DAMON kdamond 0 on (pageout, samples every
 * 500 ms)". Said in every machine line because on this project's VMs a running kdamond stalls
 * every thread of a busy process at each sample (see stopDamonFor).
 */
export function damonStatus(): string {
  const ids = damonIds();
  if (ids.length === 0) return 'no DAMON';
  return `DAMON ${ids
    .map((id) => {
      const ctx = `${damonRoot}/${id}/contexts/0`;
      const sampleUs = Number(readTrimmed(`${ctx}/monitoring_attrs/intervals/sample_us`));
      const action = readTrimmed(`${ctx}/schemes/0/action`);
      const what = [action, Number.isFinite(sampleUs) && sampleUs > 0 ? `samples every ${sampleUs / 1000} ms` : null].filter((x) => x !== null).join(', ');
      return `kdamond ${id} ${readTrimmed(`${damonRoot}/${id}/state`) ?? '?'}${what === '' ? '' : ` (${what})`}`;
    })
    .join(', ')}`;
}

/**
 * Stops every running kdamond and returns what starts them again: the --damon-off option of
 * node.bench, cluster.bench and the latency suite. Why: the VMs this project benchmarks on run
 * a DAMON `pageout` scheme over physical memory that samples every 500 ms, and each sample stalled
 * every thread of a busy node at once for tens of milliseconds (all threads' event loops paused
 * together every ~550 ms; in an ad-hoc test, a node serving 15k GET/s after a minute of mixed
 * load had p99 38 ms with it and 6 ms without), which is the machine, not the store. Needs root;
 * throws when a monitor cannot be stopped (having started again those it stopped), so a run never
 * claims a state it did not have.
 */
export function stopDamon(): () => void {
  const stopped: string[] = [];
  const restart = (): void => {
    for (const state of stopped.splice(0)) fs.writeFileSync(state, 'on');
  };
  for (const id of damonIds()) {
    const state = `${damonRoot}/${id}/state`;
    if (readTrimmed(state) !== 'on') continue;
    try {
      fs.writeFileSync(state, 'off');
    } catch (err) {
      restart();
      throw new RingkvError(ErrorCode.InvalidArgument, `--damon-off: cannot stop kdamond ${id} (${(err as Error).message}); run as root or without the option`);
    }
    stopped.push(state);
  }
  return restart;
}

/** stopDamon until `run` closes (also on Ctrl-C). */
export function stopDamonFor(run: BenchRun): void {
  const restart = stopDamon();
  run.own({ stop: async () => restart() });
}

const benchmarksPreamble =
  '# ringkv benchmarks\n\nEach section says how it was measured (command, date, machine). The machine is shared and noisy: compare medians and ratios, not single runs.\n';

/**
 * Puts `body` between `<!-- name:start -->` and `<!-- name:end -->` in `file`, replacing what was
 * there, or appends the marked section when there is none. The rest of the file is left alone
 * (other sections belong to other people), so it is read just before it is written.
 */
export function replaceSection(file: string, name: string, body: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const section = `${start}\n${body.trim()}\n${end}`;
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : benchmarksPreamble;
  const i = current.indexOf(start);
  const j = current.indexOf(end);
  const next = i !== -1 && j > i ? current.slice(0, i) + section + current.slice(j + end.length) : `${current.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(file, next);
}

/** A temp directory removed by the returned function (for `finally`). */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
