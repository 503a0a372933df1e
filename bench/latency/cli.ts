// `ringkv bench` / `npm run bench:latency`: the latency suite. Starts the servers it measures
// (a ringkv node and redis-server, on 127.0.0.1) unless told to use running ones, loads the
// records, sweeps each YCSB workload's target rate to find the highest with p99 < 10 ms, then
// measures every target at a common rate for a side-by-side table with Redis ratios. Writes the
// HdrHistogram logs, SVG plots and a summary under the results folder and appends the tables to
// BENCHMARKS.md. Everything is bounded: per-step seconds and op counts, a rate ceiling, and a
// fixed number of sweep steps.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { consistencyLevels, type ConsistencyLevel } from '../../src/coordinator/types';
import { ErrorCode, RingkvError } from '../../src/errors';
import { machineLine, stopDamon, waitQuiet } from '../harness';
import type { OpenLoopResult } from './open_loop';
import { redisServerPath, startRedis, startRingkvCluster, startRingkvNode, type RedisFsync, type ServerProcess } from './processes';
import { RedisTarget } from './redis_target';
import { appendMarkdown, latencyTable, sweepTable, writeComparisonSvg, writeRunFiles, type RunRow, type SweepRow } from './report';
import { RingkvTarget } from './ringkv_target';
import { loadRecords, runWorkload } from './run_workload';
import { p99TargetMsDefault, stepDurationMs, stepMsMax, stepOpsMinDefault, sweepRates } from './sweep';
import type { LatencyTarget } from './target';
import { workloadNames, workloadSkipReason, ycsbWorkloads, type WorkloadName } from './workloads';

export const benchHelp = `usage: ringkv bench [options]     (also: npm run bench:latency -- [options])

Open-loop YCSB latency suite: ringkv against Redis on this machine, p50..max from HdrHistogram,
latency measured from each request's intended start (coordinated omission accounted for).

options:
  --targets LIST         ringkv,redis            which systems (redis is skipped if not installed)
  --workloads LIST       A,B,C,D,E,F             YCSB core workloads (E: scans, reported as skipped)
  --consistency LIST     QUORUM (1 node);        ringkv consistency levels to measure
                         ONE,QUORUM,ALL (cluster)
  --node HOST:PORT                               use this running ringkv node instead of starting one
  --cluster LIST                                 use this running cluster (host:port,...) as well
  --cluster-nodes N      0                       start a local cluster of N nodes and measure it too
  --records N            10000                   records loaded before the runs (1 KiB values)
  --rate N                                       measure at this rate only (no sweep)
  --sweep-start N        500                     first rate of the sweep (ops/s)
  --sweep-max N          50000                   rate ceiling of the sweep
  --bisect N             2                       bisection steps after the doubling phase
  --step-seconds S       3                       length of one sweep step
  --step-ops-min N       1000                    a step runs long enough for N ops (at most 30 s)
  --compare-seconds S    5                       length of the common-rate comparison runs
  --ops-max N            1000000                 op cap of any one run
  --outstanding N        2048                    in-flight cap (ops due beyond it are counted as dropped)
  --timeout-ms N         2000                    client timeout per op (an error in the results)
  --p99-target-ms N      ${p99TargetMsDefault}                      the sweep's p99 target
  --ringkv-sync-mode M   batch                   WAL mode of the started node: always | batch | none
  --ringkv-shards N      (node default)          shard threads of the started node
  --redis-fsync M        always                  Redis AOF fsync: always | everysec | no
  --seed N               1                       seed of the operation stream
  --out DIR              bench/results/latency-<time>
  --md FILE              BENCHMARKS.md           where the tables are appended ("" = nowhere)
  --damon-off                                    stop the kernel's DAMON monitors for the run (root;
                                                 they stall every thread at each sample: harness.ts)
  -h, --help
`;

const mdHeader = `## Latency suite (bench/latency)

Open-loop YCSB workloads (\`bench/latency/\`): operation i is due at t0 + i/rate and its latency is
measured from that intended start, so a stall charges every request that should have been sent
during it (no coordinated omission). Latencies are recorded in HdrHistogram (3 significant digits);
p50/p90/p99/p99.9/max are over all operations of a run. Workload E (range scans) is skipped: range
queries are out of scope for a hash-partitioned store (design.md §2). Values are 1 KiB; zipfian
(theta 0.99, scrambled), latest and uniform key choice follow YCSB's generators. Redis runs on the
same machine in the same run, through ioredis with auto-pipelining (ringkv's client batches per tick
likewise), with AOF fsync as stated, so ratios compare like with like. The load generator shares the
machine's CPUs with the servers: absolute numbers are pessimistic, ratios are the point. Raw
histogram logs (HdrHistogram log format) and SVG percentile plots are in the results folder named
in each run.`;

interface Args {
  targets: string[];
  workloads: WorkloadName[];
  consistency: ConsistencyLevel[] | null;
  node: string | null;
  cluster: string[] | null;
  clusterNodes: number;
  records: number;
  rate: number | null;
  sweepStart: number;
  sweepMax: number;
  bisect: number;
  stepMs: number;
  stepOpsMin: number;
  compareMs: number;
  opsMax: number;
  outstanding: number;
  timeoutMs: number;
  p99TargetMs: number;
  ringkvSyncMode: 'always' | 'batch' | 'none';
  ringkvShards: number | null;
  redisFsync: RedisFsync;
  seed: number;
  out: string;
  md: string;
  damonOff: boolean;
}

function bad(message: string): RingkvError {
  return new RingkvError(ErrorCode.InvalidArgument, message);
}

function num(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw bad(`--${name} must be a number in ${min}..${max}, not "${v}"`);
  return n;
}

function list(v: string | undefined): string[] | null {
  return v === undefined ? null : v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

export function parseBenchArgs(argv: string[]): Args | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      targets: { type: 'string' },
      workloads: { type: 'string' },
      consistency: { type: 'string' },
      node: { type: 'string' },
      cluster: { type: 'string' },
      'cluster-nodes': { type: 'string' },
      records: { type: 'string' },
      rate: { type: 'string' },
      'sweep-start': { type: 'string' },
      'sweep-max': { type: 'string' },
      bisect: { type: 'string' },
      'step-seconds': { type: 'string' },
      'step-ops-min': { type: 'string' },
      'compare-seconds': { type: 'string' },
      'ops-max': { type: 'string' },
      outstanding: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'p99-target-ms': { type: 'string' },
      'ringkv-sync-mode': { type: 'string' },
      'ringkv-shards': { type: 'string' },
      'redis-fsync': { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      md: { type: 'string' },
      'damon-off': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help === true) return null;
  const targets = list(values.targets) ?? ['ringkv', 'redis'];
  for (const t of targets) if (t !== 'ringkv' && t !== 'redis') throw bad(`--targets: unknown target "${t}" (ringkv, redis)`);
  const workloads = (list(values.workloads) ?? [...workloadNames]).map((w) => w.toUpperCase());
  for (const w of workloads) if (!workloadNames.includes(w as WorkloadName)) throw bad(`--workloads: unknown workload "${w}" (A..F)`);
  const cl = list(values.consistency)?.map((c) => c.toUpperCase()) ?? null;
  for (const c of cl ?? []) if (!consistencyLevels.includes(c as ConsistencyLevel)) throw bad(`--consistency: unknown level "${c}"`);
  const sync = values['ringkv-sync-mode'] ?? 'batch';
  if (!['always', 'batch', 'none'].includes(sync)) throw bad('--ringkv-sync-mode must be always, batch or none');
  const fsync = values['redis-fsync'] ?? 'always';
  if (!['always', 'everysec', 'no'].includes(fsync)) throw bad('--redis-fsync must be always, everysec or no');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  return {
    targets,
    workloads: workloads as WorkloadName[],
    consistency: cl as ConsistencyLevel[] | null,
    node: values.node ?? null,
    cluster: list(values.cluster),
    clusterNodes: num('cluster-nodes', values['cluster-nodes'], 0, 0, 16),
    records: num('records', values.records, 10_000, 1, 10_000_000),
    rate: values.rate === undefined ? null : num('rate', values.rate, 0, 1, 10_000_000),
    sweepStart: num('sweep-start', values['sweep-start'], 500, 1, 10_000_000),
    sweepMax: num('sweep-max', values['sweep-max'], 50_000, 1, 10_000_000),
    bisect: num('bisect', values.bisect, 2, 0, 10),
    stepMs: num('step-seconds', values['step-seconds'], 3, 0.1, 600) * 1000,
    stepOpsMin: num('step-ops-min', values['step-ops-min'], stepOpsMinDefault, 0, 1_000_000),
    compareMs: num('compare-seconds', values['compare-seconds'], 5, 0.1, 600) * 1000,
    opsMax: num('ops-max', values['ops-max'], 1_000_000, 1, 100_000_000),
    outstanding: num('outstanding', values.outstanding, 2048, 1, 1_000_000),
    timeoutMs: num('timeout-ms', values['timeout-ms'], 2000, 1, 600_000),
    p99TargetMs: num('p99-target-ms', values['p99-target-ms'], p99TargetMsDefault, 0.001, 60_000),
    ringkvSyncMode: sync as Args['ringkvSyncMode'],
    ringkvShards: values['ringkv-shards'] === undefined ? null : num('ringkv-shards', values['ringkv-shards'], 0, 1, 256),
    redisFsync: fsync as RedisFsync,
    seed: num('seed', values.seed, 1, 0, 0xffffffff),
    out: values.out ?? path.join('bench', 'results', `latency-${stamp}`),
    md: values.md ?? 'BENCHMARKS.md',
    damonOff: values['damon-off'] === true,
  };
}

interface TargetPlan {
  name: string;
  system: 'ringkv' | 'redis';
  /** Targets sharing a server share its load phase. */
  server: string;
  open: () => Promise<LatencyTarget>;
}

/** The command as a shell takes it, each argument quoted where it needs to be (`--md ''`): the line a run of record shows runs as shown. */
export function commandLine(argv: readonly string[]): string {
  const word = (x: string): string => (/^[\w@%+=:,./-]+$/.test(x) ? x : `'${x.replace(/'/g, `'\\''`)}'`);
  return ['ringkv bench', ...argv.map(word)].join(' ');
}

const isTty = (): boolean => process.stderr.isTTY === true;

function progress(label: string, rate: number, expected: number) {
  return (due: number, elapsedMs: number): void => {
    const line = `  ${label} @ ${rate}/s: ${due}/${expected} ops, ${(elapsedMs / 1000).toFixed(1)} s`;
    // A live line on a terminal; in a log, one line per second would be noise.
    if (isTty()) process.stderr.write(`\r${line}\x1b[K`);
  };
}

export async function runLatencyCli(argv: string[]): Promise<number> {
  const a = parseBenchArgs(argv);
  if (a === null) {
    process.stdout.write(benchHelp);
    return 0;
  }
  const log = (s: string): void => void process.stderr.write(`${isTty() ? '\r\x1b[K' : ''}${s}\n`);
  fs.mkdirSync(a.out, { recursive: true });
  const started: ServerProcess[] = [];
  const plans: TargetPlan[] = [];
  const notes: string[] = [];
  const date = execSync('date', { encoding: 'utf8' }).trim();
  // Before the monitors are stopped, so the line says what the machine runs as provisioned.
  const machineBefore = machineLine();
  const restartDamon = a.damonOff ? stopDamon() : null;
  // Ctrl-C or a TERM skips the finally below: stop the servers this run started (a TERM to this
  // process alone would leave them running: they are its children, not killed with it) and start
  // the monitors again, then go as the signal says.
  const onSignal = (sig: NodeJS.Signals): void => {
    void Promise.all(started.map((s) => s.stop().catch(() => undefined))).finally(() => {
      restartDamon?.();
      process.kill(process.pid, sig);
    });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, onSignal);
  try {
    if (a.targets.includes('ringkv')) {
      let address = a.node;
      if (address === null) {
        log(`starting a ringkv node (sync mode ${a.ringkvSyncMode})...`);
        const n = await startRingkvNode({ syncMode: a.ringkvSyncMode, ...(a.ringkvShards !== null && { shards: a.ringkvShards }) });
        started.push(n);
        address = n.address;
      }
      // On one node every level means the one replica: measure QUORUM unless asked otherwise.
      for (const level of a.consistency ?? ['QUORUM']) {
        const addr = address;
        plans.push({ name: `ringkv-1node-${level}`, system: 'ringkv', server: addr, open: () => RingkvTarget.open(`ringkv-1node-${level}`, [addr], level, a.timeoutMs) });
      }
      let clusterNodes = a.cluster;
      if (clusterNodes === null && a.clusterNodes > 0) {
        log(`starting a ${a.clusterNodes}-node cluster (sync mode ${a.ringkvSyncMode})...`);
        const cl = await startRingkvCluster(a.clusterNodes, { syncMode: a.ringkvSyncMode, ...(a.ringkvShards !== null && { shards: a.ringkvShards }) });
        started.push(...cl);
        clusterNodes = cl.map((x) => x.address);
      }
      if (clusterNodes !== null) {
        const nodes = clusterNodes;
        for (const level of a.consistency ?? consistencyLevels) {
          const name = `ringkv-${nodes.length}node-${level}`;
          plans.push({ name, system: 'ringkv', server: nodes.join(','), open: () => RingkvTarget.open(name, nodes, level, a.timeoutMs) });
        }
      } else {
        notes.push('Cluster: not measured in this run (no --cluster or --cluster-nodes given).');
      }
    }
    if (a.targets.includes('redis')) {
      if (redisServerPath() === null) {
        notes.push('Redis: skipped, redis-server is not installed (apt-get install redis-server).');
        log('redis-server not found: Redis skipped');
      } else {
        const r = await startRedis(a.redisFsync);
        started.push(r);
        plans.push({ name: `redis-aof-${a.redisFsync}`, system: 'redis', server: r.address, open: () => RedisTarget.open(`redis-aof-${a.redisFsync}`, r.port, a.timeoutMs) });
      }
    }
    if (plans.length === 0) throw bad('nothing to measure');

    const runnable = a.workloads.filter((w) => workloadSkipReason(ycsbWorkloads[w]) === null);
    for (const w of a.workloads) {
      const why = workloadSkipReason(ycsbWorkloads[w]);
      if (why !== null) {
        notes.push(`Workload ${w}: ${why}.`);
        log(`workload ${w}: ${why}`);
      }
    }
    // YCSB's recommended order: D last, since it inserts.
    runnable.sort((x, y) => (x === 'D' ? 1 : 0) - (y === 'D' ? 1 : 0) || x.localeCompare(y));

    const targets = new Map<string, LatencyTarget>();
    const loaded = new Set<string>();
    for (const p of plans) {
      const t = await p.open();
      targets.set(p.name, t);
      if (!loaded.has(p.server)) {
        log(`loading ${a.records} records of 1 KiB into ${p.name}...`);
        await loadRecords(t, ycsbWorkloads['A'], a.records, a.seed);
        loaded.add(p.server);
      }
    }

    const sweepRows: SweepRow[] = [];
    const runRows: RunRow[] = [];
    const stepOps = (rate: number, durationMs: number): number => Math.min(a.opsMax, Math.ceil((rate * durationMs) / 1000));
    // Every step and run starts once the servers this suite started are quiet (harness.ts
    // waitQuiet), as bench:node's rows do: otherwise a step measures what the one before it left
    // running too (the load phase's or an overloaded step's flushes, compactions and replica
    // writes; a cluster's third replica still applying QUORUM writes), and a sweep's verdict at a
    // low rate is about the step before it. Servers given with --node or --cluster are not watched.
    const serverPids = started.map((s) => s.pid);
    const measure = async (p: TargetPlan, w: WorkloadName, rate: number, durationMs: number): Promise<OpenLoopResult> => {
      if (serverPids.length > 0) await waitQuiet(serverPids);
      return runWorkload(targets.get(p.name)!, ycsbWorkloads[w], {
        ratePerSec: rate,
        durationMs,
        opsMax: stepOps(rate, durationMs),
        outstandingMax: a.outstanding,
        recordCount: a.records,
        seed: a.seed,
        onProgress: progress(`${p.name} ${w}`, rate, stepOps(rate, durationMs)),
      });
    };

    const commonRate = new Map<WorkloadName, number>();
    /** Per workload, the targets that sustained no rate of the sweep (the common rate is then one they failed at). */
    const sustainedNone = new Map<WorkloadName, string[]>();
    if (a.rate === null) {
      for (const w of runnable) {
        for (const p of plans) {
          log(`sweep: workload ${w}, ${p.name}`);
          const s = await sweepRates({
            startRate: a.sweepStart,
            rateMax: a.sweepMax,
            bisectSteps: a.bisect,
            p99TargetMs: a.p99TargetMs,
            step: (rate) => measure(p, w, rate, stepDurationMs(rate, a.stepMs, a.stepOpsMin)),
            onStep: (rate, r, v) =>
              log(`  ${w} ${p.name} @ ${rate}/s: achieved ${r.achievedOpsPerSec.toFixed(0)}/s, p99 ${r.recorder.summary('latency', 'all').p99Ms.toFixed(2)} ms: ${v.pass ? 'pass' : `FAIL (${v.reason})`}`),
          });
          const firstFail = s.steps.find((x) => !x.verdict.pass);
          sweepRows.push({
            workload: w,
            target: p.name,
            system: p.system,
            bestRate: s.bestRate,
            p99AtBestMs: s.best === null ? null : (s.best as OpenLoopResult).recorder.summary('latency', 'all').p99Ms,
            steps: s.steps.length,
            lastFailure: firstFail === undefined ? `none up to ${a.sweepMax}/s` : `${firstFail.rate}/s: ${firstFail.verdict.reason}`,
          });
          log(`  => ${w} ${p.name}: highest rate with p99 < ${a.p99TargetMs} ms: ${s.bestRate ?? 'none'}${s.bestRate === null ? '' : ' ops/s'}`);
        }
        // Compare everyone at the rate all of them sustained (the slowest target's best); a
        // target that sustained none is compared at half the sweep's start, which it failed too.
        const rowsOfW = sweepRows.filter((r) => r.workload === w);
        const bests = rowsOfW.map((r) => r.bestRate ?? Math.max(1, Math.floor(a.sweepStart / 2)));
        commonRate.set(w, Math.min(...bests));
        const none = rowsOfW.filter((r) => r.bestRate === null).map((r) => r.target);
        if (none.length > 0) sustainedNone.set(w, none);
      }
    } else {
      for (const w of runnable) commonRate.set(w, a.rate);
    }

    for (const w of runnable) {
      const rate = commonRate.get(w)!;
      const rows: RunRow[] = [];
      for (const p of plans) {
        log(`measure: workload ${w}, ${p.name} @ ${rate}/s for ${a.compareMs / 1000} s`);
        const result = await measure(p, w, rate, a.compareMs);
        const row = { workload: w, target: p.name, system: p.system, rate, result };
        const files = writeRunFiles(a.out, row);
        const s = result.recorder.summary('latency', 'all');
        log(`  p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms, max ${s.maxMs.toFixed(1)} ms, achieved ${result.achievedOpsPerSec.toFixed(0)}/s, dropped ${result.dropped}, errors ${result.errors}${result.errorSamples.length > 0 ? ` (${result.errorSamples[0]})` : ''}`);
        rows.push({ ...row, files });
      }
      writeComparisonSvg(a.out, w, rows);
      runRows.push(...rows);
    }

    const command = commandLine(argv);
    const block = [
      `### Run of ${date}`,
      '',
      `Command: \`${command}\`  `,
      // The load average says how much else was running: on a shared box it explains most of the noise.
      `Machine: ${machineBefore} (before the run)${a.damonOff ? '; DAMON stopped for this run (--damon-off)' : ''}; load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}  `,
      `Records: ${a.records} x 1 KiB; ringkv node sync mode: ${a.node === null ? a.ringkvSyncMode : 'as started'}; Redis AOF fsync: ${a.redisFsync}; client timeout ${a.timeoutMs} ms, in-flight cap ${a.outstanding}.  `,
      `Results folder: \`${a.out}\` (HdrHistogram logs \`*.hlog\`, plots \`*.svg\`, \`compare-<workload>.svg\`).`,
      '',
      ...(sweepRows.length > 0
        ? [
            `Rate sweep (${a.stepMs / 1000} s steps, stretched to hold ${a.stepOpsMin} ops up to ${stepMsMax / 1000} s, from ${a.sweepStart}/s, doubling, then ${a.bisect} bisection steps; ${serverPids.length > 0 ? 'each step, and each run below, starts once the servers the suite started are quiet' : 'the servers were given, so steps start back to back'}):`,
            '',
            sweepTable(sweepRows, a.p99TargetMs),
            '',
          ]
        : []),
      `Latency at a common rate per workload (${a.compareMs / 1000} s; the rate every target sustained in the sweep, or --rate), measured from intended start` +
        (sustainedNone.size === 0 ? ':' : `; where a target sustained no rate of the sweep, half the sweep's start, which it did not sustain either (${[...sustainedNone].map(([w, t]) => `${w}: ${t.join(', ')}`).join('; ')}):`),
      '',
      latencyTable(runRows),
      '',
      ...notes.map((n) => `- ${n}`),
      '',
    ].join('\n');
    fs.writeFileSync(path.join(a.out, 'summary.md'), `${block}\n`);
    fs.writeFileSync(
      path.join(a.out, 'summary.json'),
      JSON.stringify(
        {
          date,
          command,
          sweeps: sweepRows,
          runs: runRows.map((r) => ({
            workload: r.workload,
            target: r.target,
            rate: r.rate,
            achieved: r.result.achievedOpsPerSec,
            dropped: r.result.dropped,
            errors: r.result.errors,
            late: r.result.late,
            latency: r.result.recorder.summary('latency', 'all'),
            service: r.result.recorder.summary('service', 'all'),
            files: r.files,
          })),
          notes,
        },
        null,
        2,
      ),
    );
    if (a.md.length > 0) appendMarkdown(a.md, mdHeader, block);
    process.stdout.write(`${block}\n`);
    for (const t of targets.values()) await t.close();
    return 0;
  } finally {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.off(sig, onSignal);
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    restartDamon?.();
  }
}

