// V8 flags and a node's latency: the same single node run with different V8 flags, side by side
// in one run; constants.ts nodeRuntimeFlags says which flags a node runs with and why. A set
// names the flags it varies; every node runs with the other nodeRuntimeFlags, one node with
// none of the varied flags (the base), one node per varied flag.
//   gc-threads: where V8's GC work runs: by default (parallel scavenges, concurrent and parallel
//     marking on Node's pool of 4 helper threads), with the scavenges on the heap's own thread
//     (--no-parallel-scavenge), with every GC step there (--single-threaded-gc), with one helper
//     thread (Node's --v8-pool-size=1).
//   old-space: the old generation's floor (--initial-old-space-size=N MiB). V8 starts marking the
//     whole heap once the old generation's room under its limit is smaller than the young
//     generation (it keeps room to promote all of it), so with a 64 MiB semi-space and a heap of
//     ~10 MB it marked every ~0.5 s on every thread; a floor above the semi-space leaves room.
//   semi-space: the young generation's size (--max-semi-space-size=N MiB). A larger one is
//     scavenged less often but each scavenge copies what survives of it, requests in flight
//     and their values included; the question is which size gives the lowest p99 under load.
// Every node: `ringkv start --sync-mode batch`, default shards, 10,000 keys of 1 KiB written
// first. Per round, each node's closed-loop WS 32 ops/frame PUT and GET peak; then, open loop,
// WS 32 ops/frame PUT and GET at 20%, 40%, 60% and 80% of the median peak of the node with the
// shipped flags, the same target rates on every node, rounds interleaved (every row on every
// node in each round). Latency is per frame from its scheduled send time; each open-loop row
// also reads the node's GC pauses and full GCs from its /metrics.
//   flock /tmp/ringkv-heavy.lock npm run bench:gc-threads|bench:old-space|bench:semi-space -- [--write] [--rounds 3] [--seconds 3] [--warmup 3] [--damon-off]
// --write replaces the section between <!-- SET-bench:start --> and <!-- SET-bench:end --> (with
// --damon-off: SET-bench-damon-off) in BENCHMARKS.md.
import fs from 'node:fs';
import { nodeRuntimeFlags } from '../src/constants';
import { ErrorCode, RingkvError, assert } from '../src/errors';
import { damonOffNote, emitSection, openLoopTable, p99BarMs, parseBenchArgs, rowsTable, runMain, sectionHead, sectionTail, takeOption } from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, startNodeProcess, stopDamonFor } from './harness';
import { compareP99, measureSideBySide, sideBySideShape, ws32Command, type Server } from './side_by_side';
import { preload } from './ws.bench';

interface FlagSet {
  /** Section title. */
  title: string;
  /** The base node's label (none of `flags`). */
  base: string;
  /** The flags compared, one node each; any of them in nodeRuntimeFlags is left off the others. */
  flags: readonly string[];
  /** What the nodes are, after "N `ringkv start --sync-mode batch` nodes with the default shard count, all with COMMON: ". */
  nodes: string;
}

const sets: Record<string, FlagSet> = {
  'gc-threads': {
    title: 'V8 GC threads',
    base: "V8's default GC",
    flags: ['--no-parallel-scavenge', '--single-threaded-gc', '--v8-pool-size=1'],
    nodes:
      "one with V8's default GC (parallel scavenges, concurrent and parallel marking, on V8's helper threads, Node's default of 4), one with `--no-parallel-scavenge` (scavenges on the heap's own thread, marking as by default), one with `--single-threaded-gc` (every GC step on the heap's own thread), one with `--v8-pool-size=1` (V8's defaults on one helper thread)",
  },
  'old-space': {
    title: "V8 old generation's floor",
    base: 'no old-space floor',
    flags: ['--initial-old-space-size=128', '--initial-old-space-size=256'],
    nodes:
      "one with V8's own old-generation limit (it starts marking the whole heap as soon as the room under that limit is smaller than the young generation), one with `--initial-old-space-size=128` and one with `--initial-old-space-size=256` (no full GC is started before the old generation nears that many MiB less the young generation's size)",
  },
  'semi-space': {
    title: "V8 young generation's size",
    base: "V8's default semi-space",
    flags: ['--max-semi-space-size=8', '--max-semi-space-size=32', '--max-semi-space-size=64'],
    nodes:
      "one with V8's default semi-space (it starts small and grows with the allocation rate, up to 16 MiB on 64-bit Node 20: its new space read 32 MiB, two semi-spaces, after a burst of allocation, ad hoc), and one each with `--max-semi-space-size=8`, `=32` and `=64` (the most each semi-space may grow to; a scavenge copies what survives of one, so a larger one is scavenged less often and each scavenge may take longer)",
  },
};

function threadCount(pid: number): string {
  try {
    return /^Threads:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/** `--set NAME` out of the arguments; the rest are parseBenchArgs'. */
function takeSet(argv: string[]): { name: string; set: FlagSet; rest: string[] } {
  const { value: name, rest } = takeOption(argv, '--set');
  const set = name === undefined ? undefined : sets[name];
  if (name === undefined || set === undefined) throw new RingkvError(ErrorCode.InvalidArgument, `--set must be one of ${Object.keys(sets).join(', ')}`);
  return { name, set, rest };
}

async function main(): Promise<void> {
  const { name, set, rest: argv } = takeSet(process.argv.slice(2));
  const a = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun(`ringkv-${name}-bench-`);
  if (a.damonOff) stopDamonFor(run);
  const common = nodeRuntimeFlags.filter((f) => !set.flags.includes(f));
  const configs: Array<[string, readonly string[]]> = [[set.base, common], ...set.flags.map((f): [string, readonly string[]] => [f, [...common, f]])];
  const shipped = configs.find(([, flags]) => flags.length === nodeRuntimeFlags.length && flags.every((f) => nodeRuntimeFlags.includes(f)));
  assert(shipped !== undefined, 'one of the compared nodes runs with exactly nodeRuntimeFlags');
  const servers: Server[] = [];
  const threads = new Map<string, string>();
  let measured: Awaited<ReturnType<typeof measureSideBySide>>;
  try {
    for (const [label, flags] of configs) {
      const node = await startNodeProcess(run, label === set.base ? 'base' : label.replace(/^--/, ''), ['--sync-mode', 'batch'], { runtimeFlags: flags });
      await preload(node.ws, benchKeySpace, benchValueBytes, 'QUORUM');
      servers.push({ name: label, ws: node.ws, http: node.http, pid: node.child.pid, durability: 'WAL, fdatasync before ack' });
    }
    measured = await measureSideBySide(servers, shipped[0], a, log);
    for (const s of servers) threads.set(s.name, threadCount(s.pid));
  } finally {
    await run.close();
  }
  const { rows, open } = measured;
  const section = [
    ...sectionHead(`${set.title}, single node${a.damonOff ? ', DAMON stopped' : ''} (bench/v8-flags.bench.ts --set ${name})`, `bench:${name}`, `dist/bench/v8-flags.bench.js --set ${name}`, argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `${configs.length} \`ringkv start --sync-mode batch\` nodes with the default shard count, all with ${common.length === 0 ? 'no other V8 flag' : common.map((f) => `\`${f}\``).join(' ')}: ${set.nodes}. A node runs with ${shipped[0]} (constants.ts nodeRuntimeFlags). ` +
      `Threads per node process after the open-loop rows: ${servers.map((s) => `${s.name} ${threads.get(s.name) ?? '?'}`).join(', ')}. ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written first; WS 32 ops/frame over ${sideBySideShape.connections} sockets, consistency QUORUM (= the one replica). ${a.rounds} rounds, interleaved, the nodes taking turns to go first; each row starts once every node is quiet, then ${a.warmupSeconds} s of warm-up and ${a.seconds} s measured.`,
    '',
    rowsTable(rows.all(), [], 'ringkv CPU (main + other threads)'),
    '',
    `Open loop at shares of the ${shipped[0]} node's median closed-loop peak, the same target rates on every node; latency from each frame's scheduled send time (no coordinated omission); GC pauses and full GCs (V8 mark-compacts, all threads) from the node's /metrics over the row:`,
    '',
    openLoopTable(['V8 flags', 'op', 'ops/frame'], open),
    '',
    `Median p99 at the same target rates (bar: ${p99BarMs} ms; a ratio to ${set.base} under 1 is better):`,
    ...compareP99(open, servers.map((s) => s.name)),
    `- Closed-loop peaks (medians): ${servers.map((s) => `${s.name} PUT ${fmtInt(rows.medianOps(`${s.name}-PUT`))} / GET ${fmtInt(rows.medianOps(`${s.name}-GET`))} ops/s`).join('; ')}.`,
    ...sectionTail(rows.all(), [ws32Command(a)]),
  ].join('\n');
  emitSection(section, a.damonOff ? `${name}-bench-damon-off` : `${name}-bench`, a.write);
}

if (require.main === module) runMain('v8-flags bench', main);
