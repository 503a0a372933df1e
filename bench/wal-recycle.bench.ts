// WAL segment recycling and a node's write latency: the same single node run with a new file per
// WAL segment (`--wal-recycle-segments 0`) and with obsolete segments' files written over by the
// next ones (the default, src/storage/log-writer.ts says why), side by side in one run. Every
// node: `ringkv start --sync-mode batch`, default shards and V8 flags, 10,000 keys of 1 KiB
// written first. Per round, each node's closed-loop WS 32 ops/frame PUT and GET peak; then, open
// loop, WS 32 ops/frame PUT and GET at 20%, 40%, 60% and 80% of the default node's median peak,
// the same target rates on both, rounds interleaved. GET rows are the control: recycling changes
// only what a WAL sync costs. Each node's /metrics says how many segments it recycled.
//   flock /tmp/ringkv-heavy.lock npm run bench:wal-recycle -- [--write] [--rounds 3] [--seconds 3] [--warmup 3] [--damon-off]
// --write replaces the section between <!-- wal-recycle-bench:start --> and
// <!-- wal-recycle-bench:end --> (with --damon-off: wal-recycle-bench-damon-off) in BENCHMARKS.md.
import { walRecycleSegmentsDefault } from '../src/constants';
import { assert } from '../src/errors';
import { damonOffNote, emitSection, fmtShare, median, openLoopTable, p99BarMs, parseBenchArgs, rowsTable, runMain, sectionHead, sectionTail, type OpenRow } from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, fmtMs, startNodeProcess, stopDamonFor } from './harness';
import { compareP99, measureSideBySide, openRowOf, sideBySideShape, sideBySideShares, ws32Command, type Server } from './side_by_side';
import { preload } from './ws.bench';

const configs: ReadonlyArray<{ name: string; segments: number }> = [
  { name: 'new file per segment', segments: 0 },
  { name: `recycling (${walRecycleSegmentsDefault} spares)`, segments: walRecycleSegmentsDefault },
];

/** A counter from the node's /metrics. */
async function metric(http: string, name: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  assert(m !== null, () => `${name} missing from ${http}/metrics`);
  return Number(m[1]);
}

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
  const run = new BenchRun('ringkv-wal-recycle-bench-');
  if (a.damonOff) stopDamonFor(run);
  const servers: Server[] = [];
  const recycled = new Map<string, number>();
  let measured: Awaited<ReturnType<typeof measureSideBySide>>;
  try {
    const https = new Map<string, string>();
    for (const c of configs) {
      const node = await startNodeProcess(run, `recycle-${c.segments}`, ['--sync-mode', 'batch', '--wal-recycle-segments', String(c.segments)]);
      await preload(node.ws, benchKeySpace, benchValueBytes, 'QUORUM');
      servers.push({ name: c.name, ws: node.ws, pid: node.child.pid, durability: 'WAL, fdatasync before ack' });
      https.set(c.name, node.http);
    }
    measured = await measureSideBySide(servers, configs[1]!.name, a, log);
    for (const c of configs) recycled.set(c.name, await metric(https.get(c.name)!, 'ringkv_wal_segments_recycled'));
  } finally {
    await run.close();
  }
  // Without recycled segments on the one node and none on the other, the rows compare nothing.
  assert(recycled.get(configs[0]!.name) === 0 && recycled.get(configs[1]!.name)! > 0, () => `segments recycled: ${[...recycled].join(', ')}`);
  const { rows, open } = measured;
  const section = [
    ...sectionHead(`WAL segment recycling, single node${a.damonOff ? ', DAMON stopped' : ''} (bench/wal-recycle.bench.ts)`, 'bench:wal-recycle', 'dist/bench/wal-recycle.bench.js', argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `Two \`ringkv start --sync-mode batch\` nodes with the default shard count and V8 flags: one with \`--wal-recycle-segments 0\` (every WAL segment a new file, appended to: on ext4 each fdatasync then commits the journal), one with the default ${walRecycleSegmentsDefault} (each shard keeps up to ${walRecycleSegmentsDefault} obsolete segments' files and writes its next segments over them: an fdatasync writes the data alone). ` +
      `Segments recycled by the end of the run (/metrics ringkv_wal_segments_recycled): ${configs.map((c) => `${c.name} ${recycled.get(c.name)}`).join(', ')}. ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written first; WS 32 ops/frame over ${sideBySideShape.connections} sockets, consistency QUORUM (= the one replica). ${a.rounds} rounds, interleaved; each row starts once its node is quiet, then ${a.warmupSeconds} s of warm-up and ${a.seconds} s measured.`,
    '',
    rowsTable(rows.all(), [], 'ringkv CPU (main + other threads)'),
    '',
    `Open loop at shares of the recycling node's median closed-loop peak, the same target rates on both nodes; latency from each frame's scheduled send time (no coordinated omission):`,
    '',
    openLoopTable(['WAL files', 'op', 'ops/frame'], open),
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
  emitSection(section, a.damonOff ? 'wal-recycle-bench-damon-off' : 'wal-recycle-bench', a.write);
}

if (require.main === module) runMain('wal-recycle bench', main);
