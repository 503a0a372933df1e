// Two datacenters on one machine, and what a slow link between them costs each consistency
// level (design.md §8: each datacenter has its own quorum, replication between them is
// asynchronous). Four `ringkv start` processes, node-0 and node-1 in datacenter east, node-2 and
// node-3 in west, N = 2 in each (every node holds every key). West's peer ports sit behind
// test/helpers/fault_proxy.ts proxies (their nodes advertise the proxy), so everything sent to a
// west node is delayed: the link between the datacenters, as a WAN's round trip (west's own
// traffic pays it too). Clients talk to east's nodes only. Each round, with the proxies' delay at
// 0 and then at delayMs each way, every level in turn, PUT then GET of 1 KiB values, open loop
// at a fixed low rate (far from the peak: what a level waits for, not queueing), latency from
// each frame's scheduled send time (no coordinated omission). The 0 ms column is the reference
// the delayed one is read against, measured in the same run.
//   flock /tmp/ringkv-heavy.lock npm run bench:datacenters -- [--write] [--rounds 3] [--seconds 3]
// --write replaces the section between <!-- datacenters-bench:start --> and
// <!-- datacenters-bench:end --> in BENCHMARKS.md.
import { nodeSeesConverged } from '../src/cli/cluster';
import { peerPortOffset } from '../src/constants';
import { newClusterName } from '../src/coordinator/cluster_name';
import type { ConsistencyLevel } from '../src/coordinator/types';
import { assert } from '../src/errors';
import { FaultProxy } from '../test/helpers/fault_proxy';
import { emitSection, median, ops, parseBenchArgs, runMain, sectionHead, type Op } from './comparison';
import { BenchRun, benchValueBytes, fmtInt, fmtMs, freeBasePort, markdownTable, sleep, startNodeProcess, waitQuiet } from './harness';
import { preload, runWsLoad, type LoadResult } from './ws.bench';

const datacenters = ['east', 'east', 'west', 'west'] as const;
const nodesN = datacenters.length;
const replicationPerDc = 2;
/** Each way: a 20 ms round trip between the datacenters (a cross-country link). */
const delayMs = 10;
const delays: readonly number[] = [0, delayMs];
const levels: ConsistencyLevel[] = ['LOCAL_ONE', 'LOCAL_QUORUM', 'QUORUM', 'EACH_QUORUM'];
const keySpace = 2_000;
/** One op per frame, this many frames per second over all sockets: a light, steady load. */
const opsPerSecond = 300;
const sockets = 4;
const warmupSeconds = 1;
const convergeTimeoutMs = 60_000;

const cellKey = (op: Op, level: ConsistencyLevel, delay: number): string => `${op}|${level}|${delay}`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const a = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-datacenters-bench-');
  const cells = new Map<string, LoadResult[]>();
  const proxies: FaultProxy[] = [];
  try {
    const basePort = await freeBasePort(Array.from({ length: nodesN }, (_, i) => [i, i + peerPortOffset]).flat());
    const clusterName = newClusterName();
    const children = [];
    for (let i = 0; i < nodesN; i++) {
      const port = basePort + i;
      const peerPort = port + peerPortOffset;
      let advertise: string[] = [];
      if (datacenters[i] === 'west') {
        const proxy = await FaultProxy.start(peerPort);
        proxies.push(proxy);
        advertise = ['--advertise', `127.0.0.1:${port}:${proxy.port}`];
      }
      const args = [
        '--peer-port', String(peerPort),
        ...advertise,
        '--node-id', `node-${i}`,
        '--shards', '1',
        '--sync-mode', 'batch',
        '--seeds', `127.0.0.1:${basePort}`,
        '--cluster-name', clusterName,
        '--datacenter', datacenters[i]!,
        '--replication', String(replicationPerDc),
        '--bootstrap', 'off',
      ];
      children.push((await startNodeProcess(run, `node-${i}`, args, { port, readyTimeoutMs: 60_000 })).child);
    }
    const deadline = Date.now() + convergeTimeoutMs;
    while (!(await Promise.all(children.map((_, i) => nodeSeesConverged(basePort + i, nodesN)))).every(Boolean)) {
      assert(Date.now() < deadline, `gossip did not converge within ${convergeTimeoutMs} ms`);
      await sleep(100);
    }
    const urls = [0, 1].map((i) => `ws://127.0.0.1:${basePort + i}/api/v1/ws`);
    await preload(urls[0]!, keySpace, benchValueBytes, 'ALL');
    const pids = children.map((c) => c.pid);
    const load = (op: Op, level: ConsistencyLevel): Promise<LoadResult> =>
      runWsLoad({ urls, op: op === 'PUT' ? 'put' : 'get', batch: 1, valueBytes: benchValueBytes, keySpace, consistency: level, connections: sockets, depth: 1, seconds: a.seconds, warmupSeconds, framesPerSecond: opsPerSecond }, 1);
    // Not recorded: the first cells of a run met a cold JIT (p99 2-3x the same cell later).
    for (const op of ops) await load(op, 'QUORUM');
    for (let round = 1; round <= a.rounds; round++) {
      for (const delay of delays) {
        for (const p of proxies) p.delayMs = delay;
        await waitQuiet(pids);
        for (const level of levels) {
          for (const op of ops) {
            const r = await load(op, level);
            const k = cellKey(op, level, delay);
            cells.set(k, [...(cells.get(k) ?? []), r]);
            log(`round ${round}, link +${delay} ms each way, ${op} ${level}: p50 ${fmtMs(r.p50Ms)} p99 ${fmtMs(r.p99Ms)} ms, ${fmtInt(r.opsPerSecond)} ops/s, errors ${r.errors}`);
          }
        }
      }
    }
  } finally {
    await Promise.all(proxies.map((p) => p.close()));
    await run.close();
  }

  const med = (op: Op, level: ConsistencyLevel, delay: number, f: (r: LoadResult) => number): number => median(cells.get(cellKey(op, level, delay))!.map(f));
  const rows = ops.flatMap((op) =>
    levels.map((level) => [
      op,
      level,
      ...delays.flatMap((d) => [fmtMs(med(op, level, d, (r) => r.p50Ms)), fmtMs(med(op, level, d, (r) => r.p99Ms))]),
      `${(med(op, level, delayMs, (r) => r.p99Ms) / med(op, level, 0, (r) => r.p99Ms)).toFixed(2)}x`,
      String(delays.reduce((n, d) => n + cells.get(cellKey(op, level, d))!.reduce((m, r) => m + r.errors, 0), 0)),
    ]),
  );
  const section = [
    ...sectionHead('Two datacenters and a slow link between them (bench/datacenters.bench.ts)', 'bench:datacenters', 'dist/bench/datacenters.bench.js', argv, run),
    '',
    `${nodesN} \`ringkv start --shards 1 --sync-mode batch\` processes, node-0 and node-1 with \`--datacenter east\`, node-2 and node-3 with \`--datacenter west\`, \`--replication ${replicationPerDc}\` (two replicas of every key in each datacenter: every node holds every key). West's peer ports sit behind TCP proxies (test/helpers/fault_proxy.ts) that delay everything sent to west by the figure at the column's head, each way; everything on 127.0.0.1. ${fmtInt(keySpace)} keys of ${benchValueBytes} B written at ALL first.`,
    `Load: bench/ws.bench.ts over ${sockets} sockets to node-0 and node-1 (east) only, one op per frame, open loop at ${opsPerSecond} ops/s (far below the peak: the figures are what each level waits for, not queueing), latency from each frame's scheduled send time (no coordinated omission); ${warmupSeconds} s of warm-up and ${a.seconds} s measured per cell, ${a.rounds} rounds, each with the link at 0 ms then +${delayMs} ms; medians over the rounds.`,
    '',
    markdownTable(
      ['op', 'level', ...delays.flatMap((d) => [`p50 ms, +${d} ms`, `p99 ms, +${d} ms`]), `p99 +${delayMs} / +0`, 'errors'],
      rows,
      [false, false, ...delays.flatMap(() => [true, true]), true, true],
    ),
    '',
    `- LOCAL_ONE and LOCAL_QUORUM are answered by east's replicas: their writes still go to west (in the background) and their reads do not ask it. QUORUM is 3 of the 4 replicas (one must be west's) and EACH_QUORUM 2 in each datacenter: both wait for west at least once per op.`,
    `- With the link at +${delayMs} ms each way, median p50: ${ops.map((op) => `${op} LOCAL_QUORUM ${fmtMs(med(op, 'LOCAL_QUORUM', delayMs, (r) => r.p50Ms))} ms (${fmtMs(med(op, 'LOCAL_QUORUM', 0, (r) => r.p50Ms))} ms at +0), QUORUM ${fmtMs(med(op, 'QUORUM', delayMs, (r) => r.p50Ms))} ms, EACH_QUORUM ${fmtMs(med(op, 'EACH_QUORUM', delayMs, (r) => r.p50Ms))} ms`).join('; ')}.`,
  ].join('\n');
  emitSection(section, 'datacenters-bench', a.write);
}

if (require.main === module) runMain('datacenters bench', main);
