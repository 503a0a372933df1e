// What the TypeScript client's read cache (src/client/read_cache.ts, ClientOptions.readCache)
// costs per read once it is full: a lookup per read, and for a miss the store of its answer,
// which evicts the least recently used entry. Rows by the share of reads that hit (a hundred hot
// keys among them; the misses are keys not read before). In one process, no sockets: the cache's
// own work, which runs on the application's thread. --base REV adds the same rows for that
// revision's ReadCache (base_revision.ts), each row's two builds side by side.
//   flock /tmp/ringkv-heavy.lock npm run bench:read-cache -- [--write] [--rounds 3] [--base REV]   (--seconds and --warmup do not apply)
// --write replaces the section between <!-- read-cache-bench:start --> and
// <!-- read-cache-bench:end --> in BENCHMARKS.md.
import { ReadCache } from '../src/client/read_cache';
import type { GetResult } from '../src/client/types';
import { buildsOf, sideBySide, sideBySideBody, versusLines } from './base_revision';
import { emitSection, median, parseBenchArgs, runMain, sectionHead, takeOption } from './comparison';
import { BenchRun } from './harness';

/** The cache's size (ClientOptions.readCache.entriesMax's default) and the value size of each answer. */
const entriesMax = 10_000;
const valueBytes = 100;
const readsPerRow = 200_000;
const hotKeys = 100;
const hitShares = [0, 0.5, 0.9, 0.99] as const;

type ReadCacheClass = typeof ReadCache;

/** An answer as the client hands the cache one (the cache copies what it keeps). */
function answer(key: Uint8Array): GetResult {
  const value = new Uint8Array(valueBytes);
  return { found: true, key, value, version: 'v1_1_n', timestampMs: 1, siblings: [{ value, version: 'v1_1_n', timestampMs: 1 }], context: new Uint8Array(16), node: 'n' };
}

/** µs per read through a full cache, `hitShare` of them hits. */
function measure(Cache: ReadCacheClass, hitShare: number, keys: readonly Uint8Array[], answers: readonly GetResult[]): number {
  const cache = new Cache({ ttlMs: 3_600_000, entriesMax });
  for (let i = 0; i < entriesMax; i++) cache.store(keys[i]!, 'QUORUM', cache.readBegins(), answers[i % answers.length]!);
  const hot = keys.slice(entriesMax - hotKeys, entriesMax);
  let next = entriesMax;
  let r = 1;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < readsPerRow; i++) {
    r = (Math.imul(r, 1103515245) + 12345) >>> 0;
    if ((r % 10_000) / 10_000 < hitShare) {
      if (cache.lookup(hot[r % hotKeys]!, 'ONE') === undefined) throw new Error('a hot key missed');
    } else {
      const k = keys[next++ % keys.length]!;
      if (cache.lookup(k, 'ONE') !== undefined) throw new Error('a cold key hit');
      cache.store(k, 'QUORUM', cache.readBegins(), answers[next % answers.length]!);
    }
  }
  return Number(process.hrtime.bigint() - t0) / 1e3 / readsPerRow;
}

async function main(): Promise<void> {
  const { value: baseArg, rest: argv } = takeOption(process.argv.slice(2), '--base');
  const { rounds, write } = parseBenchArgs(argv, false);
  const run = new BenchRun('ringkv-read-cache-bench-');
  try {
    const builds = buildsOf<ReadCacheClass>(baseArg, run.dir, 'src/client/read_cache.js', 'ReadCache', ReadCache, (s) => void process.stderr.write(`${s}\n`));
    // More keys than a row misses on, so every miss is a key not read before.
    const keys = Array.from({ length: entriesMax + readsPerRow }, (_, i) => Buffer.from(`bench-key-${i}`));
    const answers = keys.slice(0, 1024).map(answer);
    const us = await sideBySide(builds, hitShares, rounds, (impl, share) => measure(impl, share, keys, answers));
    const f = (x: number): string => x.toFixed(2);
    const section = [
      ...sectionHead('Client read cache (bench/read-cache.bench.ts)', 'bench:read-cache', 'dist/bench/read-cache.bench.js', process.argv.slice(2), run),
      '',
      ...sideBySideBody(
        builds,
        `A ReadCache of ${entriesMax.toLocaleString('en-US')} entries (its default bound), filled first, then ${readsPerRow.toLocaleString('en-US')} reads per row: a hit reads one of ${hotKeys} hot keys; a miss reads a key not read before and stores its answer (${valueBytes} B value, copied in by the cache), which evicts the least recently used entry. Wall time per read over the row, the cache's work alone (no sockets). ${rounds} rounds, the builds taking turns to go first, medians.`,
        ['hits', 'µs per read (median)', 'µs per read, per round'],
        [true, true, false],
        hitShares,
        (share, s, b) => {
          const all = us[b]![s]!;
          return [`${Math.round(share * 100)}%`, f(median(all)), all.map(f).join(' / ')];
        },
      ),
      '',
      ...versusLines(builds, hitShares, (share, s, against) => `- ${Math.round(share * 100)}% hits: ${against}: ${(median(us[1]![s]!) / median(us[0]![s]!)).toFixed(2)}x per read (medians; under 1 is better).`),
    ].join('\n');
    emitSection(section, 'read-cache-bench', write);
  } finally {
    await run.close();
  }
}

if (require.main === module) runMain('read cache bench', main);
