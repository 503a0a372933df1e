// The shard layer's batching, measured: PUT and GET of 1 KiB values through the single-node
// coordinator (no HTTP), with 1000 requests in flight, once with batching (shardBatchOpsMax ops
// per Piscina task) and once with one op per task; plus sequential (one in flight) latency.
// Bounded: a fixed number of ops per phase and a time cap. Run:
//   node_modules/.bin/tsc -p tsconfig.json && node dist/bench/shards.bench.js [syncMode]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLocalCoordinator } from '../src/coordinator';
import type { SyncMode } from '../src/storage/types';

const opsPerPhase = 20_000;
const inFlight = 1000;
const phaseCapMs = 30_000;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function run(batchOpsMax: number, syncMode: SyncMode): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-bench-shards-'));
  const c = await createLocalCoordinator({ dataDir: dir, shardCount: 2, syncMode, limits: { batchOpsMax } });
  const value = new Uint8Array(1024).fill(7);
  const key = (i: number) => new Uint8Array(Buffer.from(`bench-key-${i}`));
  try {
    for (const op of ['put', 'get'] as const) {
      const start = Date.now();
      let done = 0;
      while (done < opsPerPhase && Date.now() - start < phaseCapMs) {
        const wave = Array.from({ length: inFlight }, (_, j) => {
          const k = key(done + j);
          return op === 'put' ? c.put({ key: k, value, consistency: 'ONE' }) : c.get({ key: k, consistency: 'ONE' });
        });
        await Promise.all(wave);
        done += inFlight;
      }
      const secs = (Date.now() - start) / 1000;
      console.log(`batchOpsMax=${batchOpsMax} sync=${syncMode} ${op} concurrent(${inFlight}): ${Math.round(done / secs)} ops/s`);
    }
    const lat: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = process.hrtime.bigint();
      await c.get({ key: key(i), consistency: 'ONE' });
      lat.push(Number(process.hrtime.bigint() - t) / 1000);
    }
    lat.sort((a, b) => a - b);
    const stats = await c.stats();
    console.log(`batchOpsMax=${batchOpsMax} sequential get: p50 ${pct(lat, 0.5).toFixed(0)} µs, p99 ${pct(lat, 0.99).toFixed(0)} µs; ${stats.shardOps} ops in ${stats.shardBatches} tasks`);
  } finally {
    await c.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const syncMode = (process.argv[2] ?? 'none') as SyncMode;
  await run(512, syncMode);
  await run(1, syncMode);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
