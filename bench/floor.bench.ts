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
import {
  damonOffNote,
  emitSection,
  fmtShare,
  median,
  openLoadShare,
  openLoopTable,
  openP99Ms,
  openRow,
  p99BarMs,
  parseBenchArgs,
  rowsTable,
  runMain,
  RowSet,
  sectionHead,
  sectionTail,
  sweepShares,
  type BenchArgs,
  type OpenRow,
} from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, fmtMs, freePort, startChild, startNodeProcess, stopDamonFor } from './harness';
import { measureWs, openLoopRounds, preload, type WsLoadOptions } from './ws.bench';

const shares = [...sweepShares, openLoadShare];
const shape = { connections: 4, depth: 4 };
const ringkvName = 'ringkv node';
const floorName = 'floor server';

type Op = 'PUT' | 'GET';

interface Target {
  name: string;
  ws: string;
  pid: number;
}

function wsOptions(t: Target, op: Op, a: BenchArgs): WsLoadOptions {
  return {
    urls: [t.ws],
    op: op === 'PUT' ? 'put' : 'get',
    batch: 32,
    valueBytes: benchValueBytes,
    keySpace: benchKeySpace,
    consistency: 'QUORUM',
    ...shape,
    seconds: a.seconds,
    warmupSeconds: a.warmupSeconds,
  };
}

/** "- GET 32/frame at 40% (39,787 ops/s), median p99: ringkv node 15.2 ms, floor server 3.10 ms (ringkv − floor 12.1 ms)." */
function compare(open: OpenRow[]): string[] {
  const p99 = (name: string, op: Op, share: number): OpenRow => open.find((o) => o.cells[0] === name && o.cells[1] === op && o.share === share)!;
  const out: string[] = [];
  for (const op of ['PUT', 'GET'] as const) {
    for (const share of shares) {
      const r = p99(ringkvName, op, share);
      const f = p99(floorName, op, share);
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
  const rows = new RowSet();
  const open: OpenRow[] = [];
  const targets: Target[] = [];
  try {
    const node = await startNodeProcess(run, 'ringkv', ['--sync-mode', 'batch']);
    await preload(node.ws, benchKeySpace, benchValueBytes, 'QUORUM');
    targets.push({ name: ringkvName, ws: node.ws, pid: node.child.pid });
    const port = await freePort();
    const floor = run.own(
      await startChild({ name: 'floor server', command: process.execPath, args: [path.join(__dirname, 'floor_server.js'), String(port)], ready: /floor server listening/, readyTimeoutMs: 30_000 }),
    );
    targets.push({ name: floorName, ws: `ws://127.0.0.1:${port}/api/v1/ws`, pid: floor.pid });
    for (let round = 1; round <= a.rounds; round++) {
      log(`round ${round} of ${a.rounds}: closed-loop peaks`);
      for (const t of targets) {
        for (const op of ['PUT', 'GET'] as const) {
          const cells = [t.name, t.name === ringkvName ? 'WAL, fdatasync before ack' : 'none (no store)', 'WebSocket, 32 ops/frame', op, 'QUORUM', `${shape.connections} sockets × ${shape.depth} frames × 32 ops`];
          await measureWs(rows, `${t.name}-${op}`, cells, [t.pid], wsOptions(t, op, a), 1, log);
        }
      }
    }
    for (const t of targets) for (const op of ['PUT', 'GET'] as const) for (const share of shares) open.push(openRow([t.name, op, '32'], rows.medianOps(`${ringkvName}-${op}`), share));
    for (let round = 1; round <= a.rounds; round++) {
      log(`round ${round} of ${a.rounds}: open loop`);
      for (const t of targets) {
        await openLoopRounds(
          open.filter((o) => o.cells[0] === t.name),
          (o) => wsOptions(t, o.cells[1] as Op, a),
          [t.pid],
          1,
          log,
        );
      }
    }
  } finally {
    await run.close();
  }
  const section = [
    ...sectionHead(`Latency floor: ringkv vs a server with no store${a.damonOff ? ', DAMON stopped' : ''} (bench/floor.bench.ts)`, 'bench:floor', 'dist/bench/floor.bench.js', argv, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `The same WebSocket load against one \`ringkv start --sync-mode batch\` node (default shards and V8 flags; ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written first) and against bench/floor_server.ts: uWebSockets.js with ringkv's own frame codec that answers every operation at once on one thread (a GET gets a ${benchValueBytes} B value), no store. ` +
      `What the floor server shows is the load generator, uWS, the codec and the machine (2 cores shared by the server and the generator), which every ringkv row pays too. WS 32 ops/frame over ${shape.connections} sockets; ${a.rounds} rounds, interleaved; each row starts once its server is quiet, then ${a.warmupSeconds} s of warm-up and ${a.seconds} s measured.`,
    '',
    rowsTable(rows.all(), [], 'server CPU (main + other threads)'),
    '',
    `Open loop at shares of the ringkv node's median closed-loop peak, the same target rates on both servers; latency from each frame's scheduled send time (no coordinated omission):`,
    '',
    openLoopTable(['server', 'op', 'ops/frame'], open),
    '',
    `Median p99 at the same target rates (bar: ${p99BarMs} ms):`,
    ...compare(open),
    ...sectionTail(rows.all(), [`node dist/bench/ws.bench.js --url ws://127.0.0.1:PORT/api/v1/ws --op put|get --consistency QUORUM --batch 32 --connections ${shape.connections} --depth ${shape.depth} --seconds ${a.seconds} [--rate FRAMES_PER_S]`]),
  ].join('\n');
  emitSection(section, a.damonOff ? 'floor-bench-damon-off' : 'floor-bench', a.write);
}

if (require.main === module) runMain('floor bench', main);
