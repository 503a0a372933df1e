// A code change, side by side: one node built from this work tree against one built from a base
// git revision, under the same load in one run, so a change's effect on latency is measured
// against its own reference rather than against figures from another hour of this noisy machine.
// The base is `git archive REV` unpacked in the run's temp dir, sharing this tree's node_modules
// (so its package-lock.json must be this tree's) and built by its own scripts/build.js; each node
// runs with its own revision's nodeRuntimeFlags.
// Both: `ringkv start --sync-mode batch`, default shards, 10,000 keys of 1 KiB written first.
// Per round, each node's closed-loop WS 32 ops/frame PUT and GET peak; then, open loop, WS 32
// ops/frame PUT and GET at 20%, 40%, 60% and 80% of the base's median peak, the same target rates
// on both, rounds interleaved. The load generator is this tree's.
// --idempotency-keys: every PUT carries an idempotency key of its own, as the TypeScript client's
// writes do (the benches' load sends none otherwise).
//   flock /tmp/ringkv-heavy.lock npm run bench:revision -- --base REV --label NAME [--write] [--rounds 3] [--seconds 3] [--warmup 3] [--damon-off] [--idempotency-keys]
// --write replaces the section between <!-- revision-NAME:start --> and <!-- revision-NAME:end -->
// (with --damon-off: revision-NAME-damon-off) in BENCHMARKS.md: one section per change measured.
import path from 'node:path';
import { ErrorCode, RingkvError } from '../src/errors';
import { damonOffNote, emitSection, openLoopTable, p99BarMs, parseBenchArgs, rowsTable, runMain, sectionHead, sectionTail, takeOption } from './comparison';
import { buildBaseRevision, runtimeFlagsOf, thisTree, type BaseRevision } from './base_revision';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, nodeHistograms, startNodeProcess, stopDamonFor } from './harness';
import { compareP99, measureSideBySide, sideBySideShape, ws32Command, type Server } from './side_by_side';
import { preload } from './ws.bench';

/** `--base REV` and `--label NAME` out of the arguments; the rest are parseBenchArgs'. */
function takeOptions(argv: string[]): { base: string; label: string; rest: string[] } {
  const base = takeOption(argv, '--base');
  const label = takeOption(base.rest, '--label');
  if (base.value === undefined) throw new RingkvError(ErrorCode.InvalidArgument, '--base REV (a git revision) is required');
  if (label.value === undefined || !/^[a-z0-9-]{1,40}$/.test(label.value)) throw new RingkvError(ErrorCode.InvalidArgument, '--label NAME (1-40 of a-z, 0-9, -) is required: it names the section');
  return { base: base.value, label: label.value, rest: label.rest };
}

async function main(): Promise<void> {
  const { base, label, rest: all } = takeOptions(process.argv.slice(2));
  const idempotencyKeys = all.includes('--idempotency-keys');
  const argv = all.filter((x) => x !== '--idempotency-keys');
  const a = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const { name: headName, dirty } = thisTree();
  const run = new BenchRun(`ringkv-revision-bench-`);
  if (a.damonOff) stopDamonFor(run);
  const servers: Server[] = [];
  let baseRev: BaseRevision;
  let withHistograms = true;
  let measured: Awaited<ReturnType<typeof measureSideBySide>>;
  try {
    baseRev = buildBaseRevision(base, path.join(run.dir, 'base-build'), log);
    const builds = [
      { name: baseRev.name, dataDir: 'base', bin: path.join(baseRev.dir, 'bin', 'ringkv.js'), runtimeFlags: runtimeFlagsOf(baseRev.dir) },
      { name: headName, dataDir: 'head', bin: undefined, runtimeFlags: undefined },
    ];
    for (const b of builds) {
      const node = await startNodeProcess(run, b.dataDir, ['--sync-mode', 'batch'], {
        ...(b.bin !== undefined && { bin: b.bin }),
        ...(b.runtimeFlags !== undefined && { runtimeFlags: b.runtimeFlags }),
      });
      await preload(node.ws, benchKeySpace, benchValueBytes, 'QUORUM');
      servers.push({ name: b.name, ws: node.ws, http: node.http, pid: node.child.pid, durability: 'WAL, fdatasync before ack' });
    }
    // An older base may not export the WAL sync and GC histograms the open-loop rows read: then
    // neither node's rows have those columns, so the two stay comparable.
    withHistograms = await nodeHistograms(servers.map((s) => s.http!)).then(
      () => true,
      () => false,
    );
    if (!withHistograms) for (const s of servers) delete s.http;
    measured = await measureSideBySide(servers, baseRev.name, a, log, { idempotencyKeys });
  } finally {
    await run.close();
  }
  const { rows, open } = measured;
  const section = [
    ...sectionHead(`Code change side by side: ${label}${a.damonOff ? ', DAMON stopped' : ''} (bench/revision.bench.ts)`, 'bench:revision', 'dist/bench/revision.bench.js', [`--base ${base}`, `--label ${label}`, ...argv, ...(idempotencyKeys ? ['--idempotency-keys'] : [])], run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `Two \`ringkv start --sync-mode batch\` nodes with the default shard count, each with its own revision's V8 flags: ${baseRev.name} ("${baseRev.subject}") and ${headName} (HEAD${dirty ? ' with uncommitted changes' : ''}). ` +
      `${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written first; WS 32 ops/frame over ${sideBySideShape.connections} sockets, consistency QUORUM (= the one replica)${idempotencyKeys ? ', every PUT with an idempotency key of its own (as the TypeScript client sends)' : ''}. ${a.rounds} rounds, interleaved, the nodes taking turns to go first; each row starts once both nodes are quiet, then ${a.warmupSeconds} s of warm-up and ${a.seconds} s measured.`,
    '',
    rowsTable(rows.all(), [], 'ringkv CPU (main + other threads)'),
    '',
    `Open loop at shares of the base's median closed-loop peak, the same target rates on both nodes; latency from each frame's scheduled send time (no coordinated omission)${withHistograms ? "; WAL syncs, GC pauses and full GCs (V8 mark-compacts, all threads) from the node's /metrics over the row" : " (the base's /metrics has no WAL sync or GC histograms, so neither node's rows show them)"}:`,
    '',
    openLoopTable(['build', 'op', 'ops/frame'], open),
    '',
    `Median p99 at the same target rates (bar: ${p99BarMs} ms; a ratio to the base under 1 is better):`,
    ...compareP99(open, servers.map((s) => s.name)),
    `- Closed-loop peaks (medians): ${servers.map((s) => `${s.name} PUT ${fmtInt(rows.medianOps(`${s.name}-PUT`))} / GET ${fmtInt(rows.medianOps(`${s.name}-GET`))} ops/s`).join('; ')}.`,
    ...sectionTail(rows.all(), [`${ws32Command(a)}${idempotencyKeys ? ' (PUTs with idempotency keys)' : ''}`]),
  ].join('\n');
  emitSection(section, a.damonOff ? `revision-${label}-damon-off` : `revision-${label}`, a.write);
}

if (require.main === module) runMain('revision bench', main);
