// Requests while a node crashes and comes back: a local 3-node cluster (N = 3, the cluster bench's
// settings, every node started on its own with `ringkv start` as on separate machines, since
// `ringkv cluster` stops every node when one exits) under a steady open load, QUORUM PUTs and
// GETs of 1 KiB values at the same time over the sockets of two nodes (clients that are not
// connected to the one that fails). Each round the third node is SIGKILLed (a crash: nothing
// flushed, its WAL replayed at the restart), stays down for downWindows windows while the others
// take hints for it, and is started again on the same data dir and port; windows run until it
// listens, every node sees it healthy and the others have delivered every hint they held for it.
// What a client sees in each phase: latency from each frame's scheduled send time (no
// coordinated omission), errors, and GETs that found no value (every key is written at ALL
// before the first round and never deleted, so a "not found" is a read that missed an
// acknowledged write). And how long the restart and the catch-up took.
//   flock /tmp/ringkv-heavy.lock npm run bench:node-restart -- [--write] [--rounds 3] [--seconds 3] [--damon-off]
// The failure detector runs with its defaults (SUSPECT after 30 s), longer than the node is
// down: gossip has it ALIVE throughout, and what a client sees depends on the coordinators
// noticing a refused connection (writes hint it, reads ask the next replica), as after any crash
// that a process supervisor restarts within seconds.
// --write replaces the section between <!-- node-restart-bench:start --> and
// <!-- node-restart-bench:end --> in BENCHMARKS.md (--damon-off: node-restart-bench-damon-off).
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { nodeSeesConverged } from '../src/cli/cluster';
import { nodeRuntimeFlags, peerPortOffset } from '../src/constants';
import { newClusterName } from '../src/coordinator/cluster_name';
import { assert } from '../src/errors';
import { batch, depth, nodesN, shardsPerNode, socketsPerNode } from './cluster.bench';
import { damonOffNote, emitSection, median, ops, parseBenchArgs, RowSet, runMain, sectionHead, sectionTail, type BenchArgs, type Op } from './comparison';
import { BenchRun, benchValueBytes, fmtInt, fmtMs, freeBasePort, markdownTable, metricValue, ringkvBin, sleep, startChild, stopDamonFor, waitQuiet, type StartedChild } from './harness';
import { measurePeaks, mixedWindow, phaseCells, phaseColumns, windowLine, windowsUntil, windowWarmupSeconds } from './mixed_load';
import { preload, type LoadResult } from './ws.bench';

/** 100 MiB of values, as in bench:ring-change: tables on disk and a memtable to replay, not a toy store. */
const keySpace = 100_000;
/** Each op's open-loop rate, as a share of its closed-loop peak (PUT and GET run together). */
const loadShare = 0.2;
/** Windows the node stays down (12 s at the default 3 s windows, each after 1 s of warm-up). */
const downWindows = 3;
/** The node that crashes; the load goes to the others. */
const victim = nodesN - 1;
const survivors = Array.from({ length: nodesN }, (_, i) => i).filter((i) => i !== victim);
const convergeTimeoutMs = 60_000;
const nodeStartTimeoutMs = 120_000;

const phases = ['3 nodes, steady', 'a node down', 'it restarts and catches up', '3 nodes again'] as const;
type Phase = (typeof phases)[number];
const windowKey = (phase: Phase, op: Op): string => `${phase}|${op}`;

/** Three `ringkv start` processes on basePort + i; children[i] is node-i's current process. */
interface Nodes {
  basePort: number;
  clusterName: string;
  children: StartedChild[];
  http: string[];
  /** The load's WebSocket URLs: the survivors'. */
  clientUrls: string[];
}

interface Restart {
  round: number;
  downMs: number;
  hintsAtRestart: number;
  /** From spawning the process to its "listening on" line (the WAL replayed, the shards open). */
  restartMs: number;
  /** From spawning it to every node seeing it healthy and no hint left for it. */
  caughtUpMs: number;
  hintsDelivered: number;
  /** Read repairs the survivors sent from the spawn until it had caught up: reads that met its stale copy. */
  readRepairs: number;
}

async function startNode(run: BenchRun, nodes: Nodes, i: number): Promise<StartedChild> {
  return run.own(
    await startChild({
      name: `node-${i}`,
      command: process.execPath,
      args: [
        ...nodeRuntimeFlags,
        ringkvBin, 'start',
        '--port', String(nodes.basePort + i),
        '--data-dir', path.join(run.dir, `node-${i}`),
        '--node-id', `node-${i}`,
        '--shards', String(shardsPerNode),
        '--sync-mode', 'batch',
        '--seeds', `127.0.0.1:${nodes.basePort}`,
        '--cluster-name', nodes.clusterName,
        // They start together, empty (as `ringkv cluster` starts them); a restart has its data.
        '--bootstrap', 'off',
      ],
      ready: /listening on/,
      readyTimeoutMs: nodeStartTimeoutMs,
    }),
  );
}

async function allSeeHealthy(nodes: Nodes): Promise<boolean> {
  const seen = await Promise.all(nodes.children.map((_, i) => nodeSeesConverged(nodes.basePort + i, nodesN)));
  return seen.every(Boolean);
}

async function startNodes(run: BenchRun): Promise<Nodes> {
  const basePort = await freeBasePort(Array.from({ length: nodesN }, (_, i) => [i, i + peerPortOffset]).flat());
  const nodes: Nodes = {
    basePort,
    clusterName: newClusterName(),
    children: [],
    http: Array.from({ length: nodesN }, (_, i) => `http://127.0.0.1:${basePort + i}`),
    clientUrls: survivors.map((i) => `ws://127.0.0.1:${basePort + i}/api/v1/ws`),
  };
  nodes.children = await Promise.all(Array.from({ length: nodesN }, (_, i) => startNode(run, nodes, i)));
  const deadline = Date.now() + convergeTimeoutMs;
  while (!(await allSeeHealthy(nodes))) {
    assert(Date.now() < deadline, `gossip did not converge within ${convergeTimeoutMs} ms`);
    await sleep(100);
  }
  return nodes;
}

const pidsOf = (nodes: Nodes): number[] => nodes.children.map((c) => c.pid);

/** A gauge or counter summed over the survivors. */
async function survivorsTotal(nodes: Nodes, name: string): Promise<number> {
  const values = await Promise.all(survivors.map((i) => metricValue(nodes.http[i]!, name)));
  assert(values.every((v) => Number.isFinite(v)), `every node exports ${name}`);
  return values.reduce((a, b) => a + b, 0);
}

async function oneRound(run: BenchRun, nodes: Nodes, round: number, rates: Record<Op, number>, windows: Map<string, LoadResult[]>, a: BenchArgs, log: (s: string) => void): Promise<Restart> {
  const window = (): Promise<Record<Op, LoadResult>> => mixedWindow(nodes.clientUrls, rates, keySpace, a);
  const record = (phase: Phase) => (w: Record<Op, LoadResult>): void => {
    for (const op of ops) {
      windows.get(windowKey(phase, op))!.push(w[op]);
      log(`  round ${round}, ${phase}, ${op}: ${windowLine(w[op])}`);
    }
  };
  await waitQuiet(pidsOf(nodes));
  record('3 nodes, steady')(await window());

  const crashed = nodes.children[victim]!.process;
  const exited = new Promise((r) => crashed.once('exit', r));
  crashed.kill('SIGKILL');
  await exited;
  const downAtMs = performance.now();
  for (let i = 0; i < downWindows; i++) record('a node down')(await window());
  const hintsAtRestart = await survivorsTotal(nodes, 'ringkv_hints_queued');
  const deliveredBefore = await survivorsTotal(nodes, 'ringkv_hints_delivered_total');
  const repairsBefore = await survivorsTotal(nodes, 'ringkv_read_repairs_total');

  const spawnedAtMs = performance.now();
  let restartMs = NaN;
  const caughtUp = (async (): Promise<number> => {
    nodes.children[victim] = await startNode(run, nodes, victim);
    restartMs = performance.now() - spawnedAtMs;
    while (!(await allSeeHealthy(nodes)) || (await survivorsTotal(nodes, 'ringkv_hints_queued')) > 0) await sleep(100);
    return performance.now() - spawnedAtMs;
  })();
  await windowsUntil(caughtUp, window, record('it restarts and catches up'), `node-${victim}'s restart`);
  const restart: Restart = {
    round,
    downMs: spawnedAtMs - downAtMs,
    hintsAtRestart,
    restartMs,
    caughtUpMs: await caughtUp,
    hintsDelivered: (await survivorsTotal(nodes, 'ringkv_hints_delivered_total')) - deliveredBefore,
    readRepairs: (await survivorsTotal(nodes, 'ringkv_read_repairs_total')) - repairsBefore,
  };
  log(`  round ${round}: node-${victim} down ${fmtInt(restart.downMs)} ms, ${fmtInt(hintsAtRestart)} hints held for it; listening ${fmtInt(restartMs)} ms after the spawn, caught up after ${fmtInt(restart.caughtUpMs)} ms (${fmtInt(restart.hintsDelivered)} hints delivered, ${fmtInt(restart.readRepairs)} read repairs)`);

  await waitQuiet(pidsOf(nodes));
  record('3 nodes again')(await window());
  return restart;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const a = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-node-restart-bench-');
  if (a.damonOff) stopDamonFor(run);
  const windows = new Map(phases.flatMap((p) => ops.map((op): [string, LoadResult[]] => [windowKey(p, op), []])));
  const restarts: Restart[] = [];
  let peaks = new RowSet();
  let rates: Record<Op, number> = { PUT: 0, GET: 0 };
  try {
    const nodes = await startNodes(run);
    await preload(nodes.clientUrls[0]!, keySpace, benchValueBytes, 'ALL');
    ({ peaks, rates } = await measurePeaks(`ringkv, ${nodesN} nodes (N=3), load on ${survivors.length}`, nodes.clientUrls, pidsOf(nodes), keySpace, loadShare, a, log));
    for (let round = 1; round <= a.rounds; round++) restarts.push(await oneRound(run, nodes, round, rates, windows, a, log));
  } finally {
    await run.close();
  }

  const phaseWindows = (phase: Phase, op: Op): LoadResult[] => windows.get(windowKey(phase, op))!;
  const phaseP99 = (phase: Phase, op: Op): number => median(phaseWindows(phase, op).map((w) => w.p99Ms));
  const rows = ops.flatMap((op) => phases.map((phase) => [op, phase, ...phaseCells(phaseWindows(phase, op), rates[op])]));
  const steady = (op: Op): number => phaseP99('3 nodes, steady', op);
  const against = (phase: Phase): string => ops.map((op) => `${op} ${fmtMs(phaseP99(phase, op))} ms (${(phaseP99(phase, op) / steady(op)).toFixed(2)}x)`).join(', ');
  const all = [...windows.values()].flat();
  const section = [
    ...sectionHead(`Requests while a node crashes and restarts, ${nodesN}-node cluster${a.damonOff ? ', DAMON stopped' : ''} (bench/node-restart.bench.ts)`, 'bench:node-restart', 'dist/bench/node-restart.bench.js', argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `${nodesN} \`ringkv start --shards ${shardsPerNode} --sync-mode batch\` processes started one by one (N = 3, defaults otherwise: SUSPECT after 30 s, read-repair chance 0.1), everything on 127.0.0.1 sharing the machine's cores with the load generators. ${fmtInt(keySpace)} keys of ${benchValueBytes} B written at ALL first (${fmtInt((keySpace * benchValueBytes) / (1024 * 1024))} MiB of values on every node).`,
    `Load: bench/ws.bench.ts, QUORUM, ${batch} ops per frame, ${socketsPerNode * nodesN} sockets to node-${survivors.join(' and node-')} (none to node-${victim}, the one that crashes); PUT and GET at the same time, each open loop at ${Math.round(loadShare * 100)}% of its own closed-loop peak measured first in this run over the same sockets (PUT ${fmtInt(peaks.medianOps('PUT'))}, GET ${fmtInt(peaks.medianOps('GET'))} ops/s, ${a.rounds} rounds), latency from each frame's scheduled send time (no coordinated omission).`,
    `Each of ${a.rounds} rounds: one window on the steady ring (once every node is quiet, bench/harness.ts waitQuiet); node-${victim} SIGKILLed and ${downWindows} windows without it (gossip still has it ALIVE: its peers learn it is gone from refused connections); then \`ringkv start\` again on its data dir and port, windows until it listens, every node reports it healthy and no hint is left for it; one window once every node is quiet again. A window is ${windowWarmupSeconds} s of warm-up and ${a.seconds} s measured; the catch-up's last window may end after it. p50 is the median of the windows', p99 the median and the highest of the windows' p99, max the highest latency of any window.`,
    '',
    markdownTable(
      ['op', 'phase', ...phaseColumns],
      rows,
      [false, false, ...phaseColumns.map(() => true)],
    ),
    '',
    `Each crash (down: from its exit to the new process's spawn; hints: what node-${survivors.join(' and node-')} held for it at the spawn, and delivered from then until it had caught up; read repairs: what they sent over the same time, each a read that met a copy behind the others, mostly the restarted node's):`,
    '',
    markdownTable(
      ['round', 'down ms', 'hints held at restart', 'spawn to listening ms', 'spawn to caught up ms', 'hints delivered', 'read repairs'],
      restarts.map((r) => [String(r.round), fmtInt(r.downMs), fmtInt(r.hintsAtRestart), fmtInt(r.restartMs), fmtInt(r.caughtUpMs), fmtInt(r.hintsDelivered), fmtInt(r.readRepairs)]),
      [true, true, true, true, true, true, true],
    ),
    '',
    `- Median p99 against the steady ring (${ops.map((op) => `${op} ${fmtMs(steady(op))} ms`).join(', ')}): with a node down ${against('a node down')}; while it restarts and catches up ${against('it restarts and catches up')}; once every node is quiet again ${against('3 nodes again')}.`,
    `- Restart, medians: listening ${fmtInt(median(restarts.map((r) => r.restartMs)))} ms after the spawn, caught up after ${fmtInt(median(restarts.map((r) => r.caughtUpMs)))} ms, with ${fmtInt(median(restarts.map((r) => r.hintsAtRestart)))} hints held for it and ${fmtInt(median(restarts.map((r) => r.readRepairs)))} read repairs sent meanwhile.`,
    `- Errors over all windows: ${all.reduce((n, w) => n + w.errors, 0)}; GETs that found no value: ${all.reduce((n, w) => n + w.notFound, 0)} (each one a read that missed an acknowledged write).`,
    ...sectionTail(peaks.all(), [
      `node dist/bench/ws.bench.js --url ${survivors.map((i) => `ws://127.0.0.1:P${i}/api/v1/ws`).join(',')} --op put|get --consistency QUORUM --batch ${batch} --connections ${socketsPerNode * nodesN} --depth ${depth} --seconds ${a.seconds} [--rate FRAMES_PER_S]`,
    ]),
  ].join('\n');
  emitSection(section, a.damonOff ? 'node-restart-bench-damon-off' : 'node-restart-bench', a.write);
}

if (require.main === module) runMain('node restart bench', main);
