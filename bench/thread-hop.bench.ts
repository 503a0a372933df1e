// One thread hop, three ways, on this machine: a bare worker_threads postMessage round trip, a
// Piscina task round trip (what shard batches were until the lane), and a real shard read through
// ShardRouter.get (the lane: encode, post, engine lookup of a memtable key, answer, decode). Each
// is measured back to back and paced (a 4 ms gap between round trips, so the threads go idle as
// they do under light load), 3000 round trips each, rounds interleaved. It is the evidence for
// the lane in src/shards/shard_client.ts, and for what one hop's tail is on this VM at all.
//   flock /tmp/ringkv-heavy.lock npm run bench:hop -- [--write] [--rounds 3]   (--seconds and --warmup do not apply)
// --write replaces the section between <!-- thread-hop-bench:start --> and
// <!-- thread-hop-bench:end --> in BENCHMARKS.md.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { ShardRouter } from '../src/shards/router';
import { emitSection, median, parseBenchArgs, runMain, sectionHead } from './comparison';
import { BenchRun, markdownTable, tempDir } from './harness';

const roundTrips = 3000;
const paceGapMs = 4;

type Hop = () => Promise<unknown>;

async function measure(hop: Hop, paced: boolean): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < roundTrips; i++) {
    const t = process.hrtime.bigint();
    await hop();
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (paced) await new Promise((r) => setTimeout(r, paceGapMs));
  }
  return lat.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { rounds, write } = parseBenchArgs(argv, false);
  const run = new BenchRun('ringkv-thread-hop-bench-');
  const data = tempDir('ringkv-thread-hop-data-');
  const bare = new Worker("const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));", { eval: true });
  const pool = new Piscina<number, number>({ filename: path.join(__dirname, 'thread_hop_worker.js'), minThreads: 1, maxThreads: 1, idleTimeout: Infinity, atomics: 'disabled' });
  const router = await ShardRouter.open({ dataDir: data.dir, nodeId: 'bench', shardCount: 1, storage: { syncMode: 'none' } });
  try {
    const key = Buffer.from('thread-hop-key');
    await router.write({ op: 'put', key, value: new Uint8Array(1024), ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: null, returnRecord: false, notAfterMs: 0 });
    const hops: Array<[string, Hop]> = [
      ['bare postMessage (worker_threads)', () => new Promise((r) => { bare.once('message', r); bare.postMessage(1); })],
      ['Piscina task (pool.run)', () => pool.run(1)],
      ['shard read over the lane (ShardRouter.get, 1 KiB value)', () => router.get(key)],
    ];
    const results = new Map<string, { p50: number[]; p90: number[]; p99: number[]; p999: number[] }>();
    for (let round = 1; round <= rounds; round++) {
      process.stderr.write(`round ${round} of ${rounds}\n`);
      for (const paced of [false, true]) {
        for (const [name, hop] of hops) {
          await measure(hop, false); // warm-up of the same length
          const lat = await measure(hop, paced);
          const k = `${name}|${paced ? `paced, ${paceGapMs} ms gaps` : 'back to back'}`;
          const r = results.get(k) ?? { p50: [], p90: [], p99: [], p999: [] };
          r.p50.push(pct(lat, 0.5));
          r.p90.push(pct(lat, 0.9));
          r.p99.push(pct(lat, 0.99));
          r.p999.push(pct(lat, 0.999));
          results.set(k, r);
        }
      }
    }
    const f = (x: number): string => x.toFixed(3);
    const rows = [...results.entries()].map(([k, r]) => [...k.split('|'), f(median(r.p50)), f(median(r.p90)), f(median(r.p99)), f(median(r.p999)), r.p99.map(f).join(' / ')]);
    const section = [
      ...sectionHead('One thread hop (bench/thread-hop.bench.ts)', 'bench:hop', 'dist/bench/thread-hop.bench.js', argv, run),
      '',
      `Round-trip time of one main-thread -> worker -> main-thread hop, ${roundTrips} round trips per row and round, ${rounds} rounds interleaved, medians over the rounds (ms). Paced rows wait ${paceGapMs} ms between round trips so the threads go idle, as under light load.`,
      '',
      markdownTable(['hop', 'load', 'p50', 'p90', 'p99', 'p99.9', 'p99 per round'], rows, [false, false, true, true, true, true, false]),
      '',
      '- Batches to a shard used to be Piscina tasks; they now travel on the shard\'s own MessageChannel (src/shards/shard_client.ts), so the third row\'s hop costs a bare postMessage plus the encode, the engine lookup and the decode.',
      '- The p99.9 of even a bare hop is 1-3 ms on this 2-vCPU VM, which also runs the load generator and the other servers during the suites: a request that crosses four to eight hops (client -> node -> shard, and -> replica -> its shard in a cluster, some of them loopback TCP) meets such a stall on several percent of requests, which is where the latency suite\'s p99 comes from.',
    ].join('\n');
    emitSection(section, 'thread-hop-bench', write);
  } finally {
    await router.close();
    await pool.destroy();
    await bare.terminate();
    data.remove();
    await run.close();
  }
}

if (require.main === module) runMain('thread-hop bench', main);
