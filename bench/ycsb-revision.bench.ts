// A code change side by side on YCSB workloads at fixed low rates, through the TypeScript client:
// one node built from this work tree and one from a base git revision (base_revision.ts), both
// `ringkv start --sync-mode batch` with the default shards and their own revision's V8 flags,
// each loaded with the same 10,000 records of 1 KiB. bench:revision measures frames of 32
// operations at shares of the peak, where requests share thread hops and WAL syncs; this bench
// measures the rates at which requests come one at a time (where the latency suite's sweep finds
// the write-heavy workloads A and F missing the p99 target), so that a change to what a lone
// request costs shows. Open loop (bench/latency/open_loop.ts: latency from each operation's
// intended start), the same operation stream for both nodes, rows interleaved with the nodes
// taking turns to go first; each row starts once both nodes are quiet. The load generator (this
// process, this tree's client) is shared, so the two nodes differ only in their own code.
// --nodes N (N > 1): a cluster of N nodes per build instead (each build's own `ringkv cluster`, so
// each with its own launcher's V8 flags), consistency QUORUM, the client connected to all of them;
// both clusters run throughout, the idle one beside the measured one.
//   flock /tmp/ringkv-heavy.lock npm run bench:ycsb-revision -- --base REV --label NAME [--write] [--rounds 4] [--seconds 15] [--workloads A,F,B] [--rates 500,1000] [--nodes 1] [--damon-off]
// --write replaces the section between <!-- ycsb-revision-NAME:start --> and
// <!-- ycsb-revision-NAME:end --> (with --nodes N: ycsb-revision-NAME-N-nodes; with --damon-off,
// -damon-off after either) in BENCHMARKS.md.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { peerPortOffset } from '../src/constants';
import { ErrorCode, RingkvError } from '../src/errors';
import { quantileSeconds, snapshotDelta } from '../src/histogram';
import { distRootsOf, runtimeFlagsOf, sideBySide, type Build } from './base_revision';
import { damonOffNote, emitSection, intOption, median, p99BarMs, runMain, sectionHead } from './comparison';
import { BenchRun, fmtInt, fmtMs, freeBasePort, markdownTable, nodeHistograms, startClusterProcess, startNodeProcess, stopDamonFor, waitQuiet } from './harness';
import { RingkvTarget } from './latency/ringkv_target';
import { loadRecords, runWorkload } from './latency/run_workload';
import { workloadNames, workloadSkipReason, ycsbWorkloads, type WorkloadName } from './latency/workloads';

const recordCount = 10_000;
const clientTimeoutMs = 2_000;
/** The latency suite's in-flight cap: an op due beyond it is dropped and counted. */
const outstandingMax = 2_048;
const ratePerSecMax = 20_000;
const clusterNodesMax = 5;

interface Args {
  base: string;
  label: string;
  rounds: number;
  seconds: number;
  workloads: WorkloadName[];
  rates: number[];
  nodes: number;
  write: boolean;
  damonOff: boolean;
  argv: string[];
}

function parse(argv: string[]): Args {
  const { values } = parseArgs({
    args: argv,
    options: {
      base: { type: 'string' },
      label: { type: 'string' },
      // Even, so that each node goes first in as many rounds as the other: with an odd count one
      // of them runs second once more, and the medians would carry whatever that is worth.
      rounds: { type: 'string', default: '4' },
      seconds: { type: 'string', default: '15' },
      workloads: { type: 'string', default: 'A,F,B' },
      rates: { type: 'string', default: '500,1000' },
      nodes: { type: 'string', default: '1' },
      write: { type: 'boolean', default: false },
      'damon-off': { type: 'boolean', default: false },
    },
  });
  const bad = (message: string): RingkvError => new RingkvError(ErrorCode.InvalidArgument, message);
  if (values.base === undefined) throw bad('--base REV (a git revision) is required');
  if (values.label === undefined || !/^[a-z0-9-]{1,40}$/.test(values.label)) throw bad('--label NAME (1-40 of a-z, 0-9, -) is required: it names the section');
  const workloads = values.workloads.split(',').map((w) => {
    const name = w.trim().toUpperCase() as WorkloadName;
    if (!workloadNames.includes(name)) throw bad(`--workloads: unknown workload "${w}" (${workloadNames.join(', ')})`);
    const skip = workloadSkipReason(ycsbWorkloads[name]);
    if (skip !== null) throw bad(`--workloads: ${name}: ${skip}`);
    return name;
  });
  return {
    base: values.base,
    label: values.label,
    rounds: intOption('rounds', values.rounds, 1, 9),
    seconds: intOption('seconds', values.seconds, 1, 60),
    workloads,
    rates: values.rates.split(',').map((r) => intOption('rates', r.trim(), 1, ratePerSecMax)),
    nodes: intOption('nodes', values.nodes, 1, clusterNodesMax),
    write: values.write,
    damonOff: values['damon-off'],
    argv,
  };
}

interface Row {
  workload: WorkloadName;
  ratePerSec: number;
}

interface Measured {
  achievedOpsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** The node's WAL syncs during the run: how many, and their p99 within its histogram bucket. */
  walSyncs: number;
  walSyncP99Ms: number;
  /** V8 mark-compacts on the node's main and shard threads during the run. */
  fullGcs: number;
  errors: number;
  dropped: number;
}

interface NodeUnderTest {
  target: RingkvTarget;
  /** Its nodes' HTTP addresses (their /metrics). */
  http: string[];
}

/** One build's servers: a node, or (nodes > 1) its own launcher's cluster of that many. */
async function startServers(run: BenchRun, root: string, i: number, nodes: number): Promise<{ addresses: string[]; http: string[]; pids: number[] }> {
  const bin = path.join(root, 'bin', 'ringkv.js');
  if (nodes === 1) {
    const node = await startNodeProcess(run, `node-${i}`, ['--sync-mode', 'batch'], { bin, runtimeFlags: runtimeFlagsOf(root) });
    return { addresses: [`127.0.0.1:${node.port}`], http: [node.http], pids: [node.child.pid] };
  }
  const base = await freeBasePort(Array.from({ length: nodes }, (_, k) => [k, k + peerPortOffset]).flat());
  const { pids } = await startClusterProcess(run, { nodes, basePort: base, dataDir: path.join(run.dir, `cluster-${i}`), args: ['--sync-mode', 'batch'], bin, name: `ringkv cluster ${i}` });
  const ports = Array.from({ length: nodes }, (_, k) => base + k);
  return { addresses: ports.map((p) => `127.0.0.1:${p}`), http: ports.map((p) => `http://127.0.0.1:${p}`), pids };
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-ycsb-revision-bench-');
  if (a.damonOff) stopDamonFor(run);
  const rows: Row[] = a.workloads.flatMap((workload) => a.rates.map((ratePerSec) => ({ workload, ratePerSec })));
  let builds: Array<Build<NodeUnderTest>>;
  let results: Measured[][][];
  try {
    const roots = distRootsOf(a.base, run.dir, log);
    const pids: number[] = [];
    builds = [];
    for (const [i, b] of roots.entries()) {
      const servers = await startServers(run, path.dirname(b.impl), i, a.nodes);
      const target = await RingkvTarget.open(b.name, servers.addresses, 'QUORUM', clientTimeoutMs);
      run.own({ stop: () => target.close() });
      log(`loading ${recordCount} records into ${b.name}`);
      await loadRecords(target, ycsbWorkloads.A, recordCount, 1);
      pids.push(...servers.pids);
      builds.push({ ...b, impl: { target, http: servers.http } });
    }
    results = await sideBySide(builds, rows, a.rounds, async (node, row, r): Promise<Measured> => {
      await waitQuiet(pids);
      const before = await nodeHistograms(node.http);
      const res = await runWorkload(node.target, ycsbWorkloads[row.workload], {
        ratePerSec: row.ratePerSec,
        durationMs: a.seconds * 1000,
        opsMax: Math.ceil(row.ratePerSec * a.seconds),
        outstandingMax,
        recordCount,
        seed: r + 1,
      });
      const after = await nodeHistograms(node.http);
      const wal = snapshotDelta(after.walSync, before.walSync);
      const s = res.recorder.summary('latency', 'all');
      const m: Measured = {
        achievedOpsPerSec: res.achievedOpsPerSec,
        p50Ms: s.p50Ms,
        p99Ms: s.p99Ms,
        p999Ms: s.p999Ms,
        maxMs: s.maxMs,
        walSyncs: wal.count,
        walSyncP99Ms: quantileSeconds(wal, 0.99) * 1000,
        fullGcs: after.fullGcs - before.fullGcs,
        errors: res.errors,
        dropped: res.dropped,
      };
      log(`  ${node.target.name} ${row.workload} at ${row.ratePerSec}/s: p50 ${fmtMs(m.p50Ms)} ms, p99 ${fmtMs(m.p99Ms)} ms, errors ${m.errors}, dropped ${m.dropped}`);
      return m;
    });
  } finally {
    await run.close();
  }

  const med = (b: number, r: number, f: (m: Measured) => number): number => median(results[b]![r]!.map(f));
  const table = rows.flatMap((row, r) =>
    builds.map((b, i) => [
      b.name,
      row.workload,
      fmtInt(row.ratePerSec),
      fmtInt(med(i, r, (m) => m.achievedOpsPerSec)),
      fmtMs(med(i, r, (m) => m.p50Ms)),
      fmtMs(med(i, r, (m) => m.p99Ms)),
      results[i]![r]!.map((m) => fmtMs(m.p99Ms)).join(' / '),
      fmtMs(med(i, r, (m) => m.p999Ms)),
      fmtMs(med(i, r, (m) => m.maxMs)),
      fmtInt(med(i, r, (m) => m.walSyncs)),
      Number.isNaN(med(i, r, (m) => m.walSyncP99Ms)) ? '-' : fmtMs(med(i, r, (m) => m.walSyncP99Ms)),
      results[i]![r]!.map((m) => String(m.fullGcs)).join(' / '),
      String(results[i]![r]!.reduce((n, m) => n + m.errors, 0)),
      String(results[i]![r]!.reduce((n, m) => n + m.dropped, 0)),
    ]),
  );
  const [base, head] = [builds[0]!, builds[builds.length - 1]!];
  const ratio = (r: number, f: (m: Measured) => number): number => med(builds.length - 1, r, f) / med(0, r, f);
  const p99Ratios = rows.map((_, r) => ratio(r, (m) => m.p99Ms));
  const p50Ratios = rows.map((_, r) => ratio(r, (m) => m.p50Ms));
  const section = [
    ...sectionHead(`Code change side by side, YCSB at fixed rates${a.nodes === 1 ? '' : `, ${a.nodes}-node clusters`}: ${a.label}${a.damonOff ? ', DAMON stopped' : ''} (bench/ycsb-revision.bench.ts)`, 'bench:ycsb-revision', 'dist/bench/ycsb-revision.bench.js', a.argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `${
      a.nodes === 1
        ? "Two `ringkv start --sync-mode batch` nodes with the default shard count, each with its own revision's V8 flags"
        : `Two ${a.nodes}-node clusters, each its own revision's \`ringkv cluster --nodes ${a.nodes} --sync-mode batch\` (its launcher's V8 flags), both running throughout`
    }: ${base.note} and ${head.note}. ` +
      `${fmtInt(recordCount)} records of 1 KiB loaded into each first; then YCSB workloads through the TypeScript client (one connection per node, consistency QUORUM${a.nodes === 1 ? ' = the one replica' : ''}, client timeout ${fmtInt(clientTimeoutMs)} ms), ` +
      `open loop at fixed rates for ${a.seconds} s per row, latency from each operation's intended start (no coordinated omission), the same operation stream on both nodes. ` +
      `${a.rounds} rounds, rows interleaved, the nodes taking turns to go first (${a.rounds % 2 === 0 ? 'each first in half of them' : 'the base first in one more round than this tree'}); each row starts once both nodes are quiet. One load generator process (this bench) drives both nodes in turn. ` +
      `"WAL syncs" and "WAL sync p99" are the node's own (every node's together in a cluster) (ringkv_wal_sync_duration_seconds over the row: start of a sync to its completion as the shard sees it; p99 linear within its bucket); "full GCs" are V8's mark-compacts on its main and shard threads over the row (ringkv_gc_duration_seconds, kind major), each a pause of those threads.`,
    '',
    markdownTable(
      ['build', 'workload', 'target ops/s', 'achieved ops/s (median)', 'p50 ms (median)', 'p99 ms (median)', 'p99 ms per round', 'p99.9 ms (median)', 'max ms (median)', 'WAL syncs (median)', 'WAL sync p99 ms (median)', 'full GCs per round', 'errors', 'dropped'],
      table,
      [false, false, true, true, true, true, true, true, true, true, true, true, true, true],
    ),
    '',
    `Median p99 and p50 at each rate (bar: p99 < ${p99BarMs} ms; a ratio to the base under 1 is better):`,
    ...rows.map(
      (row, r) =>
        `- ${row.workload} at ${fmtInt(row.ratePerSec)} ops/s: p99 ${head.name} ${fmtMs(med(builds.length - 1, r, (m) => m.p99Ms))} ms against ${base.name} ${fmtMs(med(0, r, (m) => m.p99Ms))} ms (${p99Ratios[r]!.toFixed(2)}x); ` +
        `p50 ${fmtMs(med(builds.length - 1, r, (m) => m.p50Ms))} against ${fmtMs(med(0, r, (m) => m.p50Ms))} ms (${p50Ratios[r]!.toFixed(2)}x).`,
    ),
    `- Median over the rows: p99 ${median(p99Ratios).toFixed(2)}x, p50 ${median(p50Ratios).toFixed(2)}x.`,
  ].join('\n');
  const marker = `ycsb-revision-${a.label}${a.nodes === 1 ? '' : `-${a.nodes}-nodes`}`;
  emitSection(section, a.damonOff ? `${marker}-damon-off` : marker, a.write);
}

if (require.main === module) runMain('ycsb revision bench', main);
