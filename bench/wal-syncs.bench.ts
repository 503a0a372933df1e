// Overlapping WAL syncs and a node's write latency: the same single node run with one fdatasync
// at a time per shard (`--wal-syncs-in-flight 1`) and with two (`2`: a write that arrives while
// a sync runs starts its own at once instead of waiting for it; src/storage/log-writer.ts),
// side by side in one run. Every node: `ringkv start --sync-mode batch`, default shards and V8
// flags, 10,000 keys of 1 KiB written first. Per round, each node's closed-loop WS 32 ops/frame
// PUT and GET peak; then, open loop, WS 32 ops/frame PUT and GET at 20%, 40%, 60% and 80% of the
// one-sync node's median peak, the same target rates on both, rounds interleaved. GET rows are
// the control: the change only touches how writes wait for their sync. Every open-loop row also
// records its node's WAL sync p99 from /metrics.
//   flock /tmp/ringkv-heavy.lock npm run bench:wal-syncs -- [--write] [--rounds 3] [--seconds 3] [--warmup 3] [--damon-off]
// --write replaces the section between <!-- wal-syncs-bench:start --> and
// <!-- wal-syncs-bench:end --> (with --damon-off: wal-syncs-bench-damon-off) in BENCHMARKS.md.
import { walSyncsInFlightDefault } from '../src/constants';
import { damonOffNote, emitSection, fmtShare, median, openLoopTable, p99BarMs, parseBenchArgs, rowsTable, runMain, sectionHead, sectionTail, type OpenRow } from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, fmtMs, startNodeProcess, stopDamonFor } from './harness';
import { compareP99, measureSideBySide, openRowOf, sideBySideShape, sideBySideShares, ws32Command, type Server } from './side_by_side';
import { preload } from './ws.bench';

const configs: ReadonlyArray<{ name: string; syncs: number }> = [1, 2].map((syncs) => ({ name: `${syncs} sync${syncs === 1 ? '' : 's'} at once${syncs === walSyncsInFlightDefault ? ' (default)' : ''}`, syncs }));

/** "- PUT 32/frame at 40% (25,621 ops/s), median p50: A 1.85 ms; B 1.10 ms (0.59x)." */
function compareP50(open: OpenRow[]): string[] {
  const p50 = (name: string, share: number): number => median(openRowOf(open, name, 'PUT', share).runs.map((m) => m.p50Ms));
  const [base, other] = [configs[0]!.name, configs[1]!.name];
  return sideBySideShares.map(
    (share) =>
      `- PUT 32/frame at ${fmtShare(share)} (${fmtInt(openRowOf(open, base, 'PUT', share).rate)} ops/s), median p50: ${base} ${fmtMs(p50(base, share))} ms; ${other} ${fmtMs(p50(other, share))} ms (${(p50(other, share) / p50(base, share)).toFixed(2)}x).`,
  );
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const a = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-wal-syncs-bench-');
  if (a.damonOff) stopDamonFor(run);
  const servers: Server[] = [];
  let measured: Awaited<ReturnType<typeof measureSideBySide>>;
  try {
    for (const c of configs) {
      const node = await startNodeProcess(run, `syncs-${c.syncs}`, ['--sync-mode', 'batch', '--wal-syncs-in-flight', String(c.syncs)]);
      await preload(node.ws, benchKeySpace, benchValueBytes, 'QUORUM');
      servers.push({ name: c.name, ws: node.ws, pid: node.child.pid, durability: 'WAL, fdatasync before ack', metricsUrl: node.http });
    }
    measured = await measureSideBySide(servers, configs[0]!.name, a, log);
  } finally {
    await run.close();
  }
  const { rows, open } = measured;
  const section = [
    ...sectionHead(`Overlapping WAL syncs, single node${a.damonOff ? ', DAMON stopped' : ''} (bench/wal-syncs.bench.ts)`, 'bench:wal-syncs', 'dist/bench/wal-syncs.bench.js', argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `Two \`ringkv start --sync-mode batch\` nodes with the default shard count and V8 flags: one with \`--wal-syncs-in-flight 1\` (a write that arrives while its shard's WAL fdatasync runs waits for it, then shares the next one), one with \`2\` (it starts its own at once; a third waits). ` +
      `${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written first; WS 32 ops/frame over ${sideBySideShape.connections} sockets, consistency QUORUM (= the one replica). ${a.rounds} rounds, interleaved; each row starts once its node is quiet, then ${a.warmupSeconds} s of warm-up and ${a.seconds} s measured.`,
    '',
    rowsTable(rows.all(), [], 'ringkv CPU (main + other threads)'),
    '',
    `Open loop at shares of the ${configs[0]!.name} node's median closed-loop peak, the same target rates on both nodes; latency from each frame's scheduled send time (no coordinated omission); "WAL sync p99" is the p99 of the node's fdatasyncs during the row, warm-up included, from its /metrics histogram (linear within a bucket; "-" where the row made none):`,
    '',
    openLoopTable(['WAL syncs', 'op', 'ops/frame'], open),
    '',
    `Median p99 at the same target rates (bar: ${p99BarMs} ms; a ratio to ${configs[0]!.name} under 1 is better):`,
    ...compareP99(
      open,
      configs.map((c) => c.name),
    ),
    ...compareP50(open),
    `- Closed-loop peaks (medians): ${configs.map((c) => `${c.name} PUT ${fmtInt(rows.medianOps(`${c.name}-PUT`))} / GET ${fmtInt(rows.medianOps(`${c.name}-GET`))} ops/s`).join('; ')}.`,
    ...sectionTail(rows.all(), [ws32Command(a)]),
  ].join('\n');
  emitSection(section, a.damonOff ? 'wal-syncs-bench-damon-off' : 'wal-syncs-bench', a.write);
}

if (require.main === module) runMain('wal-syncs bench', main);
