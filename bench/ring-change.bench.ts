// Requests while the ring changes: a local 3-node cluster (N = 3, `ringkv cluster`, the cluster
// bench's settings) under a steady open load, QUORUM PUTs and GETs of 1 KiB values at the same
// time, while a fourth node joins (it bootstraps: streams the ranges it takes over from their
// replicas) and then leaves again (decommission: it hands its ranges to the nodes that take them
// back), once with the joining node at the default stream rate and once throttled to
// throttledStreamBytesPerSecond (its own --stream-bytes-per-second paces both its pulls and its
// hand-over). What a client sees during each change, beside the same load on the steady rings
// before and after it: latency from each frame's scheduled send time (no coordinated omission),
// errors, and GETs that found no value (every key is written at ALL before the first round, so a
// "not found" is a read that missed an acknowledged write). And how long each change took.
//   flock /tmp/ringkv-heavy.lock npm run bench:ring-change -- [--write] [--rounds 3] [--seconds 3] [--damon-off]
// The load is open loop at loadShare of the cluster's own QUORUM closed-loop peaks (PUT and GET
// each, measured first in the same run), over the three original nodes' sockets only (clients
// that have not heard of the new node). A phase is one or more windows of --seconds (after 1 s
// of warm-up each, not recorded); a change's windows run until it is over, so the last window
// may end on the steady ring. Every join is of a node of its own (new id, new data dir, new port),
// and every node that joined leaves again, so each join starts from the same three-node ring.
// --write replaces the section between <!-- ring-change-bench:start --> and
// <!-- ring-change-bench:end --> in BENCHMARKS.md (--damon-off: ring-change-bench-damon-off).
import fs from 'node:fs';
import path from 'node:path';
import { nodeRuntimeFlags, streamBytesPerSecondDefault } from '../src/constants';
import { clusterNameFileName } from '../src/coordinator/identity_files';
import { ErrorCode, RingkvError } from '../src/errors';
import { batch, depth, nodesN, shardsPerNode, socketsPerNode, startCluster, type StartedCluster } from './cluster.bench';
import { damonOffNote, emitSection, median, ops, parseBenchArgs, RowSet, runMain, sectionHead, sectionTail, type BenchArgs, type Op } from './comparison';
import { BenchRun, benchValueBytes, fmtInt, fmtMs, markdownTable, metricValue, ringkvBin, sleep, startChild, stopDamonFor, waitQuiet, type StartedChild } from './harness';
import { measurePeaks, mixedWindow, phaseCells, phaseColumns, windowLine, windowsUntil, windowWarmupSeconds } from './mixed_load';
import { preload, type LoadResult } from './ws.bench';

/** 100 MiB of values: a joining node takes about 3/4 of them over, long enough to watch the join. */
const keySpace = 100_000;
/** Each op's open-loop rate, as a share of its closed-loop peak (PUT and GET run together). */
const loadShare = 0.2;
const decommissionTimeoutMs = 600_000;
/** The joining node's stream rate in the throttled join: below what this machine streams at under the load. */
const throttledStreamBytesPerSecond = 2 * 1024 * 1024;
/** The joining node's --stream-bytes-per-second, one join and leave each per round. */
const joinerRates: readonly number[] = [streamBytesPerSecondDefault, throttledStreamBytesPerSecond];
const joinsPerRound = joinerRates.length;
const mib = (bytes: number): string => `${bytes / (1024 * 1024)} MiB/s`;

const phases = ['3 nodes, steady', 'a 4th node joining', '4 nodes, steady', 'the 4th node leaving'] as const;
type Phase = (typeof phases)[number];

/** Every window's result for one phase, joiner stream rate (0 on the ring of 3) and op, over all rounds. */
type Windows = Map<string, LoadResult[]>;
const windowKey = (phase: Phase, rate: number, op: Op): string => `${phase}|${rate}|${op}`;
const rateOf = (phase: Phase, rate: number): number => (phase === '3 nodes, steady' ? 0 : rate);
/** The stream rates a phase's windows are kept under: 0 alone for the ring of 3, else each joining rate. */
const phaseRates = (phase: Phase): number[] => [...new Set(joinerRates.map((r) => rateOf(phase, r)))];

interface Change {
  round: number;
  rate: number;
  joinMs: number;
  joinLine: string;
  leaveMs: number;
  leaveRecords: number;
  leaveHints: number;
}

/**
 * Starts the round's 4th node (`ringkv start --bootstrap on`, seeded by node 0) on a spare port of
 * its own: a new node at the address of one that left would be taken for its replacement.
 */
async function startJoiner(run: BenchRun, c: StartedCluster, join: number, rate: number): Promise<{ child: StartedChild; http: string }> {
  const port = c.basePort + nodesN + join;
  const id = `joiner-${join + 1}`;
  const clusterName = fs.readFileSync(path.join(c.dataDir, 'node-0', clusterNameFileName), 'utf8').trim();
  const child = run.own(
    await startChild({
      name: id,
      command: process.execPath,
      args: [
        ...nodeRuntimeFlags,
        ringkvBin, 'start',
        '--port', String(port),
        '--data-dir', path.join(run.dir, id),
        '--node-id', id,
        '--shards', String(shardsPerNode),
        '--sync-mode', 'batch',
        '--seeds', `127.0.0.1:${c.basePort}`,
        '--cluster-name', clusterName,
        '--bootstrap', 'on',
        '--stream-bytes-per-second', String(rate),
      ],
      ready: /listening on/,
      readyTimeoutMs: 30_000,
    }),
  );
  return { child, http: `http://127.0.0.1:${port}` };
}

/** One join of a node streaming at `rate`, the ring of 4, and its leave; `join` numbers the joins of the run. */
async function oneChange(run: BenchRun, c: StartedCluster, round: number, join: number, rate: number, record: (phase: Phase) => (w: Record<Op, LoadResult>) => void, rates: Record<Op, number>, a: BenchArgs, log: (s: string) => void): Promise<Change> {
  const startedMs = performance.now();
  const joiner = await startJoiner(run, c, join, rate);
  const bootstrapped = (async (): Promise<number> => {
    for (;;) {
      if ((await metricValue(joiner.http, 'ringkv_bootstrap_state')) === 2) return performance.now() - startedMs;
      await sleep(100);
    }
  })();
  await windowsUntil(bootstrapped, () => mixedWindow(c.urls, rates, keySpace, a), record('a 4th node joining'), `${joiner.child.name}'s bootstrap`);
  const joinMs = await bootstrapped;
  const joinLine = /bootstrap: done in [^\n]*/.exec(joiner.child.output())?.[0] ?? 'bootstrap: (no summary line)';
  log(`  round ${round}: ${joiner.child.name} (${mib(rate)}) joined in ${fmtInt(joinMs)} ms; ${joinLine}`);

  await waitQuiet([...c.pids, joiner.child.pid]);
  record('4 nodes, steady')(await mixedWindow(c.urls, rates, keySpace, a));

  const left = fetch(`${joiner.http}/api/v1/admin/decommission`, { method: 'POST', signal: AbortSignal.timeout(decommissionTimeoutMs) }).then(async (res) => {
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new RingkvError(ErrorCode.Internal, `decommission of ${joiner.child.name}: ${res.status} ${JSON.stringify(body)}`);
    return body;
  });
  await windowsUntil(left, () => mixedWindow(c.urls, rates, keySpace, a), record('the 4th node leaving'), `${joiner.child.name}'s decommission`);
  const body = await left;
  log(`  round ${round}: ${joiner.child.name} left: ${JSON.stringify(body)}`);
  await joiner.child.stop();
  return { round, rate, joinMs, joinLine, leaveMs: Number(body['duration_ms']), leaveRecords: Number(body['records']), leaveHints: Number(body['hints_handed_over']) };
}

async function oneRound(run: BenchRun, c: StartedCluster, round: number, rates: Record<Op, number>, windows: Windows, a: BenchArgs, log: (s: string) => void): Promise<Change[]> {
  const recordAt = (rate: number) => (phase: Phase) => (w: Record<Op, LoadResult>): void => {
    for (const op of ops) {
      windows.get(windowKey(phase, rateOf(phase, rate), op))!.push(w[op]);
      log(`  round ${round}, ${phase}${phase === '3 nodes, steady' ? '' : ` (${mib(rate)})`}, ${op}: ${windowLine(w[op])}`);
    }
  };
  await waitQuiet(c.pids);
  recordAt(0)('3 nodes, steady')(await mixedWindow(c.urls, rates, keySpace, a));
  const changes: Change[] = [];
  for (const [i, rate] of joinerRates.entries()) {
    await waitQuiet(c.pids);
    changes.push(await oneChange(run, c, round, (round - 1) * joinsPerRound + i, rate, recordAt(rate), rates, a, log));
  }
  return changes;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const a = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-ring-change-bench-');
  if (a.damonOff) stopDamonFor(run);
  const windows: Windows = new Map(phases.flatMap((p) => phaseRates(p).flatMap((r) => ops.map((op): [string, LoadResult[]] => [windowKey(p, r, op), []]))));
  const changes: Change[] = [];
  let peaks = new RowSet();
  let rates: Record<Op, number> = { PUT: 0, GET: 0 };
  try {
    const c = await startCluster(run, a.rounds * joinsPerRound);
    await preload(c.urls[0]!, keySpace, benchValueBytes, 'ALL');
    ({ peaks, rates } = await measurePeaks(`ringkv, ${nodesN} nodes (N=3)`, c.urls, c.pids, keySpace, loadShare, a, log));
    for (let round = 1; round <= a.rounds; round++) changes.push(...(await oneRound(run, c, round, rates, windows, a, log)));
  } finally {
    await run.close();
  }

  const phaseWindows = (phase: Phase, rate: number, op: Op): LoadResult[] => windows.get(windowKey(phase, rateOf(phase, rate), op))!;
  const phaseP99 = (phase: Phase, rate: number, op: Op): number => median(phaseWindows(phase, rate, op).map((w) => w.p99Ms));
  const rows = ops.flatMap((op) =>
    phases.flatMap((phase) => phaseRates(phase).map((rate) => [op, phase, rate === 0 ? '-' : mib(rate), ...phaseCells(phaseWindows(phase, rate, op), rates[op])])),
  );
  const steady = (op: Op): number => phaseP99('3 nodes, steady', 0, op);
  const against = (phase: Phase, rate: number): string => ops.map((op) => `${op} ${fmtMs(phaseP99(phase, rate, op))} ms (${(phaseP99(phase, rate, op) / steady(op)).toFixed(2)}x)`).join(', ');
  const changesAt = (rate: number): Change[] => changes.filter((ch) => ch.rate === rate);
  const all = [...windows.values()].flat();
  const section = [
    ...sectionHead(`Requests while a node joins and leaves, ${nodesN}-node cluster${a.damonOff ? ', DAMON stopped' : ''} (bench/ring-change.bench.ts)`, 'bench:ring-change', 'dist/bench/ring-change.bench.js', argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `\`ringkv cluster --nodes ${nodesN} --shards ${shardsPerNode} --sync-mode batch\` (N = 3, defaults otherwise: stream rate 32 MiB/s per node, read-repair chance 0.1), everything on 127.0.0.1 sharing the machine's cores with the load generators. ${fmtInt(keySpace)} keys of ${benchValueBytes} B written at ALL first (${fmtInt((keySpace * benchValueBytes) / (1024 * 1024))} MiB of values on every node).`,
    `Load: bench/ws.bench.ts, QUORUM, ${batch} ops per frame, ${socketsPerNode * nodesN} sockets to the three original nodes; PUT and GET at the same time, each open loop at ${Math.round(loadShare * 100)}% of its own closed-loop peak measured first in this run (PUT ${fmtInt(peaks.medianOps('PUT'))}, GET ${fmtInt(peaks.medianOps('GET'))} ops/s, ${a.rounds} rounds), latency from each frame's scheduled send time (no coordinated omission).`,
    `Each of ${a.rounds} rounds: the steady ring of 3; then, once with the joining node's \`--stream-bytes-per-second\` at the default (${mib(streamBytesPerSecondDefault)}) and once at ${mib(throttledStreamBytesPerSecond)} (it paces both its bootstrap's pulls and its decommission's hand-over): a 4th node started with \`ringkv start --bootstrap on\` (a new id, data dir and port each time), load windows until its bootstrap is over (ringkv_bootstrap_state 2: the ring settled and it streamed its ranges from their replicas); the steady ring of 4 (once every node is quiet, bench/harness.ts waitQuiet); \`POST /api/v1/admin/decommission\` to the 4th node, windows until it has handed its ranges over and left; then it is stopped. A window is ${windowWarmupSeconds} s of warm-up and ${a.seconds} s measured; a change's last window may end after the change. p50 is the median of the windows', p99 the median and the highest of the windows' p99, max the highest latency of any window.`,
    '',
    markdownTable(
      ['op', 'phase', 'joining node\'s stream rate', ...phaseColumns],
      rows,
      [false, false, false, ...phaseColumns.map(() => true)],
    ),
    '',
    'Each change (join: from the start of `ringkv start` to ringkv_bootstrap_state 2; leave: the decommission\'s own duration_ms):',
    '',
    markdownTable(
      ['round', 'stream rate', 'join ms', 'the joining node\'s bootstrap summary', 'leave ms', 'records handed over', 'hints handed over'],
      changes.map((ch) => [String(ch.round), mib(ch.rate), fmtInt(ch.joinMs), ch.joinLine, fmtInt(ch.leaveMs), fmtInt(ch.leaveRecords), fmtInt(ch.leaveHints)]),
      [true, false, true, false, true, true, true],
    ),
    '',
    `- Median p99 against the steady 3-node ring (${ops.map((op) => `${op} ${fmtMs(steady(op))} ms`).join(', ')}): ${joinerRates
      .map((rate) => `at ${mib(rate)}, while a node joins ${against('a 4th node joining', rate)}, on the ring of 4 ${against('4 nodes, steady', rate)}, while it leaves ${against('the 4th node leaving', rate)}`)
      .join('; ')}.`,
    `- Join and leave times, medians: ${joinerRates.map((rate) => `at ${mib(rate)} join ${fmtInt(median(changesAt(rate).map((ch) => ch.joinMs)))} ms, leave ${fmtInt(median(changesAt(rate).map((ch) => ch.leaveMs)))} ms`).join('; ')}.`,
    `- Errors over all windows: ${all.reduce((n, w) => n + w.errors, 0)}; GETs that found no value: ${all.reduce((n, w) => n + w.notFound, 0)} (each one a read that missed an acknowledged write).`,
    ...sectionTail(peaks.all(), [
      `node dist/bench/ws.bench.js --url ws://127.0.0.1:P0/api/v1/ws,ws://127.0.0.1:P1/api/v1/ws,ws://127.0.0.1:P2/api/v1/ws --op put|get --consistency QUORUM --batch ${batch} --connections ${socketsPerNode * nodesN} --depth ${depth} --seconds ${a.seconds} [--rate FRAMES_PER_S]`,
    ]),
  ].join('\n');
  emitSection(section, a.damonOff ? 'ring-change-bench-damon-off' : 'ring-change-bench', a.write);
}

if (require.main === module) runMain('ring change bench', main);
