// How much of ringkv's open-loop p99 is the machine and the load generator: the same load against
// one ringkv node (`ringkv start --sync-mode batch`, default shards and V8 flags, 10,000 keys of
// 1 KiB written first) and against bench/floor_server.ts (uWebSockets.js and ringkv's frame codec
// answering at once, no store), side by side in one run. Per round, closed-loop WS 32 ops/frame
// PUT and GET on both; then, open loop, WS 32 ops/frame PUT and GET at 20%, 40%, 60% and 80% of
// ringkv's median peak, the same target rates on both, rounds interleaved. On a 2-core machine
// the floor includes the generator and the server sharing the cores, which ringkv's rows share too.
// --masks adds the same rows for both servers with the generator masking its frames with random
// keys, as `ws` does by default, beside its usual zero keys (ws.bench.ts zeroMask says why).
//   flock /tmp/ringkv-heavy.lock npm run bench:floor -- [--write] [--rounds 3] [--seconds 3] [--warmup 3] [--damon-off] [--masks]
// --write replaces the section between <!-- floor-bench:start --> and <!-- floor-bench:end -->
// (floor-masks-bench with --masks; -damon-off after either with --damon-off) in BENCHMARKS.md.
import path from 'node:path';
import { damonOffNote, emitSection, fmtShare, median, openLoopTable, openP99Ms, ops, p99BarMs, parseBenchArgs, rowsTable, runMain, sectionHead, sectionTail, type OpenRow } from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, fmtMs, freePort, startChild, startNodeProcess, stopDamonFor } from './harness';
import { measureSideBySide, openRowOf, sideBySideShape, sideBySideShares, ws32Command, type Server } from './side_by_side';
import { preload } from './ws.bench';

const ringkvName = 'ringkv node';
const floorName = 'floor server';
const randomMasked = (name: string): string => `${name}, random masks`;

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

/** "- PUT 32/frame at 80% (45,440 ops/s), median p99 with random / zero masking keys: ringkv node 20.1 / 14.2 ms (1.42x), floor server 9.8 / 3.1 ms (3.16x)." */
function compareMasks(open: OpenRow[]): string[] {
  const out: string[] = [];
  for (const op of ops) {
    for (const share of sideBySideShares) {
      const pair = (name: string): string => {
        const zero = openP99Ms(openRowOf(open, name, op, share));
        const random = openP99Ms(openRowOf(open, randomMasked(name), op, share));
        return `${name} ${fmtMs(random)} / ${fmtMs(zero)} ms (${(random / zero).toFixed(2)}x)`;
      };
      out.push(`- ${op} 32/frame at ${fmtShare(share)} (${fmtInt(openRowOf(open, ringkvName, op, share).rate)} ops/s), median p99 with random / zero masking keys: ${pair(ringkvName)}, ${pair(floorName)}.`);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const all = process.argv.slice(2);
  const masks = all.includes('--masks');
  const argv = all.filter((x) => x !== '--masks');
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
    if (masks) servers.push(...servers.map((s) => ({ ...s, name: randomMasked(s.name), load: { randomMasks: true } })));
    measured = await measureSideBySide(servers, ringkvName, a, log);
  } finally {
    await run.close();
  }
  const { rows, open } = measured;
  const section = [
    ...sectionHead(`Latency floor: ringkv vs a server with no store${masks ? ', and the generator\'s masking keys' : ''}${a.damonOff ? ', DAMON stopped' : ''} (bench/floor.bench.ts)`, 'bench:floor', 'dist/bench/floor.bench.js', all, run),
    '',
    ...(a.damonOff ? [damonOffNote, ''] : []),
    `The same WebSocket load against one \`ringkv start --sync-mode batch\` node (default shards and V8 flags; ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B written first) and against bench/floor_server.ts: uWebSockets.js with ringkv's own frame codec that answers every operation at once on one thread (a GET gets a ${benchValueBytes} B value), no store. ` +
      `What the floor server shows is the load generator, uWS, the codec and the machine (2 cores shared by the server and the generator), which every ringkv row pays too. WS 32 ops/frame over ${sideBySideShape.connections} sockets; ${a.rounds} rounds, interleaved, the servers taking turns to go first; each row starts once every server is quiet, then ${a.warmupSeconds} s of warm-up and ${a.seconds} s measured.` +
      (masks ? ` Rows named "${randomMasked('…')}" are the same server loaded by the generator masking its frames with random keys, as \`ws\` does by default; the others with zero keys, which \`ws\` does not apply (bench/ws.bench.ts zeroMask says why).` : ''),
    '',
    rowsTable(rows.all(), [], 'server CPU (main + other threads)'),
    '',
    `Open loop at shares of the ringkv node's median closed-loop peak, the same target rates on both servers; latency from each frame's scheduled send time (no coordinated omission):`,
    '',
    openLoopTable(['server', 'op', 'ops/frame'], open),
    '',
    `Median p99 at the same target rates (bar: ${p99BarMs} ms):`,
    ...compare(open),
    ...(masks ? ['', 'The generator\'s masking keys, the same target rates:', ...compareMasks(open)] : []),
    ...sectionTail(rows.all(), [`${ws32Command(a)}${masks ? ' [--random-masks]' : ''}`]),
  ].join('\n');
  const id = `floor${masks ? '-masks' : ''}-bench${a.damonOff ? '-damon-off' : ''}`;
  emitSection(section, id, a.write);
}

if (require.main === module) runMain('floor bench', main);
