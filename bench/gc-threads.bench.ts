// V8's GC threads and a node's latency: the same single node run with V8's default garbage
// collector (parallel scavenges, concurrent and parallel marking on helper threads, as many as
// the machine has cores), with the scavenges kept on the heap's own thread (--no-parallel-scavenge)
// and with every GC step there (--single-threaded-gc), side by side in one run; constants.ts
// nodeRuntimeFlags says which one a node runs with and why. Every node: `ringkv start --sync-mode
// batch`, default shards, the semi-space flag, 10,000 keys of 1 KiB written first. Per round,
// each node's closed-loop WS 32 ops/frame PUT and GET peak; then, open loop, WS 32 ops/frame PUT
// and GET at 20%, 40%, 60% and 80% of the median peak of the node with the shipped flags, the
// same target rates on every node, rounds interleaved (every row on every node in each round).
// Latency is per frame from its scheduled send time.
//   flock /tmp/ringkv-heavy.lock npm run bench:gc-threads -- [--write] [--rounds 3] [--seconds 3] [--warmup 3] [--damon-off]
// --write replaces the section between <!-- gc-threads-bench:start --> and
// <!-- gc-threads-bench:end --> (with --damon-off: gc-threads-bench-damon-off) in BENCHMARKS.md.
import fs from 'node:fs';
import { nodeRuntimeFlags } from '../src/constants';
import { assert } from '../src/errors';
import { damonOffNote, emitSection, openLoopTable, p99BarMs, parseBenchArgs, rowsTable, runMain, sectionHead, sectionTail } from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, startNodeProcess, stopDamonFor } from './harness';
import { compareP99, measureSideBySide, sideBySideShape, ws32Command, type Server } from './side_by_side';
import { preload } from './ws.bench';

/** The GC flags compared; the other nodeRuntimeFlags (the semi-space) are on every node. */
const gcFlags: readonly string[] = ['--no-parallel-scavenge', '--single-threaded-gc'];
const defaultGc = "V8's default GC";

function threadCount(pid: number): string {
  try {
    return /^Threads:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const a = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-gc-threads-bench-');
  if (a.damonOff) stopDamonFor(run);
  const common = nodeRuntimeFlags.filter((f) => !gcFlags.includes(f));
  const configs: Array<[string, readonly string[]]> = [[defaultGc, common], ...gcFlags.map((f): [string, readonly string[]] => [f, [...common, f]])];
  const shipped = configs.find(([, flags]) => flags.length === nodeRuntimeFlags.length && flags.every((f) => nodeRuntimeFlags.includes(f)));
  assert(shipped !== undefined, 'one of the compared nodes runs with exactly nodeRuntimeFlags');
  const servers: Server[] = [];
  const threads = new Map<string, string>();
  let measured: Awaited<ReturnType<typeof measureSideBySide>>;
  try {
    for (const [gc, flags] of configs) {
      const node = await startNodeProcess(run, gc === defaultGc ? 'default-gc' : gc.replace(/^--/, ''), ['--sync-mode', 'batch'], [], flags);
      await preload(node.ws, benchKeySpace, benchValueBytes, 'QUORUM');
      servers.push({ name: gc, ws: node.ws, pid: node.child.pid, durability: 'WAL, fdatasync before ack' });
    }
    measured = await measureSideBySide(servers, shipped[0], a, log);
    for (const s of servers) threads.set(s.name, threadCount(s.pid));
  } finally {
    await run.close();
  }
  const { rows, open } = measured;
  const section = [
    ...sectionHead(`V8 GC threads, single node${a.damonOff ? ', DAMON stopped' : ''} (bench/gc-threads.bench.ts)`, 'bench:gc-threads', 'dist/bench/gc-threads.bench.js', argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `${configs.length} \`ringkv start --sync-mode batch\` nodes with the default shard count, all with ${common.map((f) => `\`${f}\``).join(' ')}: one with ${defaultGc} (parallel scavenges, concurrent and parallel marking, on V8's helper threads), one with \`--no-parallel-scavenge\` (scavenges on the heap's own thread, marking as by default), one with \`--single-threaded-gc\` (every GC step on the heap's own thread). A node runs with ${shipped[0]} (constants.ts nodeRuntimeFlags). ` +
      `Threads per node process after the open-loop rows: ${servers.map((s) => `${s.name} ${threads.get(s.name) ?? '?'}`).join(', ')}. ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written first; WS 32 ops/frame over ${sideBySideShape.connections} sockets, consistency QUORUM (= the one replica). ${a.rounds} rounds, interleaved; each row starts once its node is quiet, then ${a.warmupSeconds} s of warm-up and ${a.seconds} s measured.`,
    '',
    rowsTable(rows.all(), [], 'ringkv CPU (main + other threads)'),
    '',
    `Open loop at shares of the ${shipped[0]} node's median closed-loop peak, the same target rates on every node; latency from each frame's scheduled send time (no coordinated omission):`,
    '',
    openLoopTable(['V8 GC', 'op', 'ops/frame'], open),
    '',
    `Median p99 at the same target rates (bar: ${p99BarMs} ms; a ratio to ${defaultGc} under 1 is better):`,
    ...compareP99(open, servers.map((s) => s.name)),
    `- Closed-loop peaks (medians): ${servers.map((s) => `${s.name} PUT ${fmtInt(rows.medianOps(`${s.name}-PUT`))} / GET ${fmtInt(rows.medianOps(`${s.name}-GET`))} ops/s`).join('; ')}.`,
    ...sectionTail(rows.all(), [ws32Command(a)]),
  ].join('\n');
  emitSection(section, a.damonOff ? 'gc-threads-bench-damon-off' : 'gc-threads-bench', a.write);
}

if (require.main === module) runMain('gc-threads bench', main);
