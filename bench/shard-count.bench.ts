// Shard threads per node: one ringkv node per shard count (1 up to the CPU count), each measured
// with the same WebSocket loads as bench/node.bench.ts (PUT and GET of 1 KiB values, 1 and 32 ops
// per frame, 512 ops in flight, default --sync-mode batch), rounds interleaved so drift on a
// shared machine hits every count alike. It is the evidence for the default shard count
// (src/shards/router.ts, defaultShardCount): the main thread is a busy thread of its own, so one
// shard per core can leave the shards and the main thread fighting over the cores.
//   flock /tmp/ringkv-heavy.lock npm run bench:shards -- [--write] [--rounds 3] [--seconds 3] [--warmup 3]
// --write replaces the section between <!-- shard-count-bench:start --> and
// <!-- shard-count-bench:end --> in BENCHMARKS.md.
import * as os from 'node:os';
import { emitSection, median, ops, parseBenchArgs, rowsTable, runMain, RowSet, sectionHead, sectionTail, type Column } from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, startNodeProcess } from './harness';
import { measureWs, preload } from './ws.bench';

/** The same shapes as node.bench.ts: 512 ops in flight either way. */
const shapes = { 1: { connections: 32, depth: 16 }, 32: { connections: 4, depth: 4 } } as const;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const a = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const counts = Array.from({ length: Math.max(2, os.availableParallelism()) }, (_, i) => i + 1);
  const run = new BenchRun('ringkv-shard-count-bench-');
  const rows = new RowSet();
  const commands = new Set<string>();
  try {
    const nodes = [];
    for (const shards of counts) {
      const node = await startNodeProcess(run, `ringkv-shards-${shards}`, ['--shards', String(shards)]);
      await preload(node.ws, benchKeySpace, benchValueBytes, 'QUORUM');
      nodes.push({ node, shards });
    }
    for (let round = 1; round <= a.rounds; round++) {
      log(`round ${round} of ${a.rounds}`);
      for (const batch of [1, 32] as const) {
        for (const op of ops) {
          for (const { node, shards } of nodes) {
            const s = shapes[batch];
            const cells = [`ringkv --shards ${shards}`, 'WAL, fdatasync before ack', `WebSocket, ${batch} op${batch > 1 ? 's' : ''}/frame`, op, 'QUORUM', `${s.connections} sockets × ${s.depth} frames${batch > 1 ? ` × ${batch} ops` : ''}`];
            await measureWs(rows, `${batch}-${op}-${shards}`, cells, [node.child.pid], {
              urls: [node.ws],
              op: op === 'PUT' ? 'put' : 'get',
              batch,
              valueBytes: benchValueBytes,
              keySpace: benchKeySpace,
              consistency: 'QUORUM',
              ...s,
              seconds: a.seconds,
              warmupSeconds: a.warmupSeconds,
            }, 1, log);
            commands.add(`bench/ws.bench.ts: --op ${op.toLowerCase()} --batch ${batch} --connections ${s.connections} --depth ${s.depth}`);
          }
        }
      }
    }
  } finally {
    await run.close();
  }
  const vsOne: Column = {
    title: 'vs --shards 1',
    right: true,
    cell: (r) => {
      const [batch, op] = [r.cells[2]!.includes('32') ? 32 : 1, r.cells[3]];
      return `${(median(r.runs.map((m) => m.opsPerSecond)) / rows.medianOps(`${batch}-${op}-1`)).toFixed(2)}x`;
    },
  };
  const section = [
    ...sectionHead('Shard threads per node (bench/shard-count.bench.ts)', 'bench:shards', 'dist/bench/shard-count.bench.js', argv, run),
    '',
    `One node per shard count, ${a.rounds} rounds interleaved, ${a.warmupSeconds} s warm-up + ${a.seconds} s measured per row, ${benchKeySpace} keys of ${benchValueBytes} B written first, latency per frame from send to answer. CPU columns as in the single-node section.`,
    '',
    rowsTable(rows.all(), [vsOne], 'ringkv CPU (main + other threads)'),
    '',
    ...sectionTail(rows.all(), commands),
  ].join('\n');
  emitSection(section, 'shard-count-bench', a.write);
}

runMain('shard-count bench', main);
