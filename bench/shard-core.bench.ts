// The shard worker's own cost per operation, in-process (no threads, no sockets): ShardCore
// applying batches of 32 PUTs (read the stored versions, coordinate the new one, encode the set,
// write it) and 32 GETs over 10,000 keys of 1 KiB, beside the bare storage engine writing the
// same number of 1 KiB entries (StorageEngine.write, version bytes made up front) in the same
// run, rounds interleaved: the ratio is what versioning and batch handling add to the engine.
// The shard lane's codec (encode a batch, decode it, encode the answers) is timed apart. Sync mode
// none, so a WAL fsync does not hide the CPU cost. Bounded: a fixed number of ops per phase.
//   flock /tmp/ringkv-heavy.lock npm run bench:shard-core -- [--write] [--rounds 3]   (--seconds and --warmup are accepted and unused)
// --write replaces the section between <!-- shard-core-bench:start --> and
// <!-- shard-core-bench:end --> in BENCHMARKS.md.
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeRequests, encodeRequests, encodeResults } from '../src/shards/batch_codec';
import type { ShardOp, WriteOp } from '../src/shards/messages';
import { ShardCore } from '../src/shards/shard_core';
import { openStorage } from '../src/storage';
import type { StorageEngine, StorageEntry } from '../src/storage/types';
import { assert } from '../src/errors';
import { emitSection, median, parseBenchArgs, runMain, sectionHead } from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, fmtInt, markdownTable } from './harness';

const batchOps = 32;
const opsPerPhase = 100_000;
const phases = ['engine write', 'ShardCore PUT', 'ShardCore GET', 'lane codec, PUT batch'] as const;
type Phase = (typeof phases)[number];

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { rounds, write } = parseBenchArgs(argv, false);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-shard-core-bench-');
  const engines: StorageEngine[] = [];
  try {
    const open = async (name: string): Promise<StorageEngine> => {
      const e = await openStorage({ dir: path.join(run.dir, name), syncMode: 'none' });
      engines.push(e);
      return e;
    };
    const bare = await open('bare');
    const core = new ShardCore(await open('core'), { nodeId: 'bench-node', conflictMode: 'vclock', idempotencyKeysMax: 1024, idempotencyTtlMs: 60_000 });
    const keys = Array.from({ length: benchKeySpace }, (_, i) => new Uint8Array(Buffer.from(`bench:${i}`)));
    const value = new Uint8Array(benchValueBytes).fill(0x61);
    // What a one-version set's metadata looks like, so the bare engine writes entries of the same size.
    const versionVector = new Uint8Array(40).fill(1);
    let cursor = 0;
    const nextKey = (): Uint8Array => keys[(cursor = (cursor + 7919) % benchKeySpace)]!;
    const puts = (): WriteOp[] =>
      Array.from({ length: batchOps }, () => ({ op: 'put', key: nextKey(), value, ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: null, returnRecord: false, notAfterMs: 0 }));
    const gets = (): ShardOp[] => Array.from({ length: batchOps }, () => ({ op: 'get', key: nextKey() }));

    const runPhase = async (phase: Phase): Promise<number> => {
      let measuredMs = 0;
      for (let done = 0; done < opsPerPhase; done += batchOps) {
        if (phase === 'engine write') {
          const now = Date.now();
          const batch: StorageEntry[] = Array.from({ length: batchOps }, () => ({ key: nextKey(), value, versionVector, timestampMs: now, tombstone: false, expiresAtMs: 0 }));
          const t = performance.now();
          await bare.write(batch);
          measuredMs += performance.now() - t;
        } else if (phase === 'lane codec, PUT batch') {
          const ops = puts();
          const t = performance.now();
          const decoded = decodeRequests(encodeRequests(ops));
          encodeResults(decoded.map(() => ({ ok: true, op: 'put', version: 'v1_1764000000000_bench-node', timestampMs: 1_764_000_000_000, record: null, replayed: false })));
          measuredMs += performance.now() - t;
        } else {
          const ops = phase === 'ShardCore PUT' ? puts() : gets();
          const t = performance.now();
          const { results, durable } = core.applyBatch(ops);
          await durable;
          measuredMs += performance.now() - t;
          assert(results.every((r) => r.ok), `${phase}: an op failed`);
        }
      }
      return (measuredMs * 1000) / opsPerPhase;
    };

    // Every key written once, so GETs find data and PUTs read a stored version, as in steady use.
    for (let i = 0; i < benchKeySpace; i += batchOps) await core.applyBatch(puts()).durable;
    const usPerOp = new Map<Phase, number[]>(phases.map((p) => [p, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const phase of phases) {
        const us = await runPhase(phase);
        usPerOp.get(phase)!.push(us);
        log(`round ${round}: ${phase} ${us.toFixed(2)} us/op`);
      }
    }

    const bareUs = median(usPerOp.get('engine write')!);
    const rows = phases.map((p) => {
      const runs = usPerOp.get(p)!;
      const m = median(runs);
      return [p, m.toFixed(2), runs.map((x) => x.toFixed(2)).join(' / '), fmtInt(1e6 / m), p === 'engine write' ? '1.00x' : `${(m / bareUs).toFixed(2)}x`];
    });
    const section = [
      ...sectionHead('Shard worker cost per operation (bench/shard-core.bench.ts)', 'bench:shard-core', 'dist/bench/shard-core.bench.js', argv, run),
      '',
      `In-process, one thread, --sync-mode none; batches of ${batchOps} ops over ${fmtInt(benchKeySpace)} keys of ${benchValueBytes} B, every key written before the first round; ${fmtInt(opsPerPhase)} ops per phase per round, ${rounds} rounds interleaved. "ShardCore PUT" is a vector-clock write without a context (it reads the stored version first); "engine write" is the bare engine writing entries of the same size, the reference; the lane codec is the batch encode/decode a PUT batch pays on the shard lane (both ends, in one thread here).`,
      '',
      markdownTable(['phase', 'us per op (median)', 'us per op per round', 'ops/s (median)', 'vs engine write'], rows, [false, true, true, true, true]),
    ].join('\n');
    emitSection(section, 'shard-core-bench', write);
  } finally {
    for (const e of engines) await e.close().catch(() => undefined);
    await run.close();
  }
}

runMain('shard-core.bench', main);
