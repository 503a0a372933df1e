// How much of ringkv's open-loop p99 is the machine and the load generator: the same load against
// one ringkv node (`ringkv start --sync-mode batch`, default shards and V8 flags, 10,000 keys of
// 1 KiB written first) and against bench/floor_server.ts (uWebSockets.js and ringkv's frame codec
// answering at once, no store), side by side in one run. Per round, closed-loop WS 32 ops/frame
// PUT and GET on both; then, open loop, WS 32 ops/frame PUT and GET at 20%, 40%, 60% and 80% of
// ringkv's median peak, the same target rates on both, rounds interleaved. On a 2-core machine
// the floor includes the generator and the server sharing the cores, which ringkv's rows share too.
//   flock /tmp/ringkv-heavy.lock npm run bench:floor -- [--write] [--rounds 3] [--seconds 3] [--warmup 3] [--damon-off]
// --write replaces the section between <!-- floor-bench:start --> and <!-- floor-bench:end -->
// (with --damon-off: floor-bench-damon-off) in BENCHMARKS.md.
import path from 'node:path';
import { damonOffNote, emitSection, fmtShare, median, openLoopTable, openP99Ms, ops, p99BarMs, parseBenchArgs, rowsTable, runMain, sectionHead, sectionTail, type OpenRow } from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, fmtMs, freePort, startChild, startNodeProcess, stopDamonFor } from './harness';
import { measureSideBySide, openRowOf, sideBySideShape, sideBySideShares, ws32Command, type Server } from './side_by_side';
import { preload } from './ws.bench';

const ringkvName = 'ringkv node';
const floorName = 'floor server';

/** "- GET 32/frame at 40% (39,787 ops/s), median p99: ringkv node 15.2 ms, floor server 3.10 ms (ringkv − floor 12.1 ms); floor p99.9 4.26 ms." */
function compare(open: OpenRow[]): string[] {
  const out: string[] = [];
  for (const op of ops) {
    for (const share of sideBySideShares) {
      const r = openRowOf(open, ringkvName, op, share);
      const f = openRowOf(open, floorName, op, share);
      out.push(
        `- ${op} 32/frame at ${fmtShare(share)} (${fmtInt(r.rate)} ops/s), median p99: ${ringkvName} ${fmtMs(openP99Ms(r))} ms, ${floorName} ${fmtMs(openP99Ms(f))} ms (ringkv − floor ${fmtMs(openP99Ms(r) - openP99Ms(f))} ms); floor p99.9 ${fmtMs(median(f.runs.map((m) => m.p999Ms)))} ms.`,
      );
    }
  }
  return out;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const a = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-floor-bench-');
  if (a.damonOff) stopDamonFor(run);
  let measured: Awaited<ReturnType<typeof measureSideBySide>>;
  try {
    const node = await startNodeProcess(run, 'ringkv', ['--sync-mode', 'batch']);
    await preload(node.ws, benchKeySpace, benchValueBytes, 'QUORUM');
    const port = await freePort();
    const floor = run.own(
      await startChild({ name: floorName, command: process.execPath, args: [path.join(__dirname, 'floor_server.js'), String(port)], ready: /floor server listening/, readyTimeoutMs: 30_000 }),
    );
    const servers: Server[] = [
      { name: ringkvName, ws: node.ws, pid: node.child.pid, durability: 'WAL, fdatasync before ack' },
      { name: floorName, ws: `ws://127.0.0.1:${port}/api/v1/ws`, pid: floor.pid, durability: 'none (no store)' },
    ];
    measured = await measureSideBySide(servers, ringkvName, a, log);
  } finally {
    await run.close();
  }
  const { rows, open } = measured;
  const section = [
    ...sectionHead(`Latency floor: ringkv vs a server with no store${a.damonOff ? ', DAMON stopped' : ''} (bench/floor.bench.ts)`, 'bench:floor', 'dist/bench/floor.bench.js', argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `The same WebSocket load against one \`ringkv start --sync-mode batch\` node (default shards and V8 flags; ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written first) and against bench/floor_server.ts: uWebSockets.js with ringkv's own frame codec that answers every operation at once on one thread (a GET gets a ${benchValueBytes} B value), no store. ` +
      `What the floor server shows is the load generator, uWS, the codec and the machine (2 cores shared by the server and the generator), which every ringkv row pays too. WS 32 ops/frame over ${sideBySideShape.connections} sockets; ${a.rounds} rounds, interleaved, the servers taking turns to go first; each row starts once every server is quiet, then ${a.warmupSeconds} s of warm-up and ${a.seconds} s measured.`,
    '',
    rowsTable(rows.all(), [], 'server CPU (main + other threads)'),
    '',
    `Open loop at shares of the ringkv node's median closed-loop peak, the same target rates on both servers; latency from each frame's scheduled send time (no coordinated omission):`,
    '',
    openLoopTable(['server', 'op', 'ops/frame'], open),
    '',
    `Median p99 at the same target rates (bar: ${p99BarMs} ms):`,
    ...compare(open),
    ...sectionTail(rows.all(), [ws32Command(a)]),
  ].join('\n');
  emitSection(section, a.damonOff ? 'floor-bench-damon-off' : 'floor-bench', a.write);
}

if (require.main === module) runMain('floor bench', main);
