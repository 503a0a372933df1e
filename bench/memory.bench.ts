// A node's memory under a long mixed load: does it level off, and where does it go? A local
// 3-node cluster (`ringkv cluster`, N = 3, its default of 2 shard threads per node)
// takes a steady open-loop mix for --minutes: PUTs of 100 B to 16 KiB values (a fifth with a
// TTL), GETs at ONE, QUORUM and ALL, reads that write back with their context, deletes, batches
// of 32 GETs and conditional PUTs that fail (409) through the TypeScript client, whose connection
// is replaced every clientLifeMs (a new client, the old one closed 2 s later), and HTTP PUTs, GETs
// and refused requests (414), a tenth of them on a connection of their own. Every sampleMs each
// node's /metrics gives its resident set, the parts of its shards' memory (memtables, free arena
// chunks, block caches, open tables' filters and indexes), and each kind of thread's V8 heap and
// the memory outside it (ringkv_heap_used_bytes{thread} and its kin). A leak shows as a resident
// set that still grows in the second half; memtables (up to two per shard), the block cache and
// V8's young generation fill over the first minutes and then hold.
//   flock /tmp/ringkv-heavy.lock npm run bench:memory -- [--write] [--minutes 10] [--rate 1000] [--label NAME] [--damon-off]
// --write replaces the section between <!-- memory-bench:start --> and <!-- memory-bench:end -->
// (--label NAME: memory-bench-NAME, a section of its own, as for a code change measured beside
// the standing run; --damon-off adds -damon-off) in BENCHMARKS.md.
import { parseIntOption } from '../src/cli/command';
import { RingkvClient } from '../src/client';
import { ErrorCode, RingkvError, isRingkvError } from '../src/errors';
import type { ThreadMemory } from '../src/thread_memory';
import { startCluster } from './cluster.bench';
import { damonOffNote, emitSection, median, parseBenchArgs, runMain, sectionHead, takeOption } from './comparison';
import { BenchRun, markdownTable, sleep, stopDamonFor } from './harness';

const keySpace = 20_000;
const valueSizes = [100, 1024, 4096, 16384] as const;
const sampleMs = 10_000;
const clientLifeMs = 20_000;
/** Operations in flight at most; an operation due while this many are out is counted as skipped, not queued. */
const inflightMax = 512;
/** How often the load loop wakes up (it issues what is due since its last turn). */
const tickMs = 10;

interface Sample {
  atS: number;
  rssBytes: number;
  /** The parts of the shards' memory that settings size (and the tables' filters and indexes, which grow with the data). */
  memtableBytes: number;
  arenaFreeBytes: number;
  blockCacheBytes: number;
  indexFilterBytes: number;
  threads: Record<'main' | 'shard' | 'background', ThreadMemory>;
}

interface Tally {
  done: number;
  skipped: number;
  /** Errors by code: the expected ones (409 of the stale conditional PUTs, 414 of the HTTP long keys) apart. */
  errors: Map<string, number>;
  conflictsExpected: number;
  refusalsExpected: number;
}

function gauge(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  if (m === null) throw new RingkvError(ErrorCode.Internal, `${name} not in /metrics`);
  return Number(m[1]);
}

async function sample(http: string, atS: number): Promise<Sample> {
  const text = await (await fetch(`${http}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const thread = (t: string): ThreadMemory => ({
    heapUsedBytes: gauge(text, `ringkv_heap_used_bytes{thread="${t}"}`),
    heapTotalBytes: gauge(text, `ringkv_heap_total_bytes{thread="${t}"}`),
    externalBytes: gauge(text, `ringkv_external_memory_bytes{thread="${t}"}`),
  });
  return {
    atS,
    rssBytes: gauge(text, 'ringkv_process_resident_memory_bytes'),
    memtableBytes: gauge(text, 'ringkv_memtable_bytes'),
    arenaFreeBytes: gauge(text, 'ringkv_memtable_arena_free_bytes'),
    blockCacheBytes: gauge(text, 'ringkv_block_cache_bytes'),
    indexFilterBytes: gauge(text, 'ringkv_sstable_index_filter_bytes'),
    threads: { main: thread('main'), shard: thread('shard'), background: thread('background') },
  };
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const keyOf = (): string => `mem:${Math.floor(Math.random() * keySpace)}`;
const values = valueSizes.map((n) => Buffer.alloc(n, 0x61));

/** One operation of the mix, against `client` or a node's HTTP API. */
async function oneOp(client: RingkvClient, http: readonly string[], t: Tally): Promise<void> {
  const x = Math.random();
  const key = keyOf();
  try {
    if (x < 0.35) {
      await client.put(key, pick(values), Math.random() < 0.2 ? { ttlSeconds: 5 + Math.floor(Math.random() * 30) } : {});
    } else if (x < 0.65) {
      await client.get(key, { consistency: pick(['ONE', 'QUORUM', 'ALL'] as const) });
    } else if (x < 0.7) {
      const r = await client.get(key);
      if (r.found) await client.put(key, values[0]!, { context: r.context });
    } else if (x < 0.75) {
      await client.delete(key);
    } else if (x < 0.8) {
      await client.batch(Array.from({ length: 32 }, () => ({ op: 'get' as const, key: keyOf() })));
    } else if (x < 0.82) {
      try {
        await client.put(key, values[0]!, { expectedVersion: 'v1_1_nobody' });
      } catch (err) {
        if (!isRingkvError(err, ErrorCode.Conflict)) throw err;
        t.conflictsExpected++;
      }
    } else {
      const url = `${pick(http)}/api/v1/keys/${x < 0.98 ? encodeURIComponent(key) : 'k'.repeat(300)}`;
      // A tenth on a connection of their own (undici's pool reuses connections otherwise).
      const headers: Record<string, string> = Math.random() < 0.1 ? { connection: 'close' } : {};
      const put = x < 0.9;
      const res = await fetch(url, put ? { method: 'PUT', body: pick(values.slice(0, 3)), headers: { ...headers, 'x-ttl': '60' } } : { headers });
      await res.arrayBuffer();
      if (x >= 0.98 && res.status === 414) t.refusalsExpected++;
      else if (res.status >= 400 && res.status !== 404) t.errors.set(`http ${res.status}`, (t.errors.get(`http ${res.status}`) ?? 0) + 1);
    }
  } catch (err) {
    const code = err instanceof RingkvError ? err.code : err instanceof Error ? err.name : String(err);
    t.errors.set(code, (t.errors.get(code) ?? 0) + 1);
  }
  t.done++;
}

/** Least-squares slope of y over x (MiB per minute when y is MiB and x minutes). */
function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const minutesOpt = takeOption(argv, '--minutes');
  const rateOpt = takeOption(minutesOpt.rest, '--rate');
  const labelOpt = takeOption(rateOpt.rest, '--label');
  const a = parseBenchArgs(labelOpt.rest, false);
  const label = labelOpt.value;
  if (label !== undefined && !/^[a-z0-9-]{1,40}$/.test(label)) throw new RingkvError(ErrorCode.InvalidArgument, '--label NAME: 1-40 of a-z, 0-9, -');
  const minutes = minutesOpt.value === undefined ? 10 : parseIntOption('--minutes', minutesOpt.value, 1, 120);
  const rate = rateOpt.value === undefined ? 1000 : parseIntOption('--rate', rateOpt.value, 1, 20_000);
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  const run = new BenchRun('ringkv-memory-bench-');
  try {
    if (a.damonOff) stopDamonFor(run);
    const cluster = await startCluster(run, 0, null);
    const nodes = cluster.http.map((h) => h.replace('http://', ''));
    const t: Tally = { done: 0, skipped: 0, errors: new Map(), conflictsExpected: 0, refusalsExpected: 0 };
    const samples: Sample[][] = cluster.http.map(() => []);
    let client = await RingkvClient.connect({ nodes });
    let clientBornMs = performance.now();
    let inflight = 0;
    let issued = 0;
    const startMs = performance.now();
    const endMs = startMs + minutes * 60_000;
    // Sampling and replacing the client run beside the load loop, never holding it up: a loop
    // that waited for a busy node's /metrics would issue what fell due meanwhile in one burst.
    let sampling: Promise<void> | null = null;
    let replacing: Promise<void> | null = null;
    let failure: unknown = null;
    const failed = (err: unknown): void => void (failure ??= err);
    let nextSampleMs = startMs;
    while (performance.now() < endMs) {
      if (failure !== null) throw failure;
      const now = performance.now();
      // Open loop: what is due by now is issued now, whatever the earlier operations are doing.
      const due = Math.floor(((now - startMs) / 1000) * rate);
      for (; issued < due; issued++) {
        if (inflight >= inflightMax) {
          t.skipped++;
          continue;
        }
        inflight++;
        void oneOp(client, cluster.http, t).finally(() => inflight--);
      }
      if (replacing === null && now - clientBornMs >= clientLifeMs) {
        replacing = RingkvClient.connect({ nodes }).then((next) => {
          const old = client;
          client = next;
          clientBornMs = performance.now();
          replacing = null;
          setTimeout(() => old.close(), 2000);
        }, failed);
      }
      if (sampling === null && now >= nextSampleMs) {
        nextSampleMs += sampleMs;
        const atS = Math.round((now - startMs) / 1000);
        sampling = Promise.all(cluster.http.map((h) => sample(h, atS))).then((s) => {
          s.forEach((x, i) => samples[i]!.push(x));
          log(`${atS} s: ${t.done} ops, ${inflight} in flight, ${t.skipped} skipped, rss ${s.map((x) => (x.rssBytes / 1048576).toFixed(0)).join(' / ')} MiB`);
          sampling = null;
        }, failed);
      }
      await sleep(tickMs);
    }
    await sampling;
    await replacing;
    if (failure !== null) throw failure;
    for (let i = 0; i < 1000 && inflight > 0; i++) await sleep(10);
    client.close();
    const last = await Promise.all(cluster.http.map((h) => sample(h, Math.round((performance.now() - startMs) / 1000))));
    last.forEach((x, i) => samples[i]!.push(x));
    emitSection(report(samples, t, { minutes, rate, argv, run, damonOff: a.damonOff, label }), `memory-bench${label === undefined ? '' : `-${label}`}${a.damonOff ? '-damon-off' : ''}`, a.write);
  } finally {
    await run.close();
  }
}

function report(samples: Sample[][], t: Tally, o: { minutes: number; rate: number; argv: string[]; run: BenchRun; damonOff: boolean; label: string | undefined }): string {
  const mib = (b: number): string => (b / 1048576).toFixed(0);
  const med = (at: number, f: (s: Sample) => number): number => median(samples.map((node) => f(node[at]!)));
  const threadCell = (at: number, th: keyof Sample['threads']): string =>
    `${mib(med(at, (s) => s.threads[th].heapUsedBytes))} / ${mib(med(at, (s) => s.threads[th].heapTotalBytes))} / ${mib(med(at, (s) => s.threads[th].externalBytes))}`;
  const n = samples[0]!.length;
  // A row a minute (every sixth sample) up to twelve minutes, then about a dozen rows in all,
  // and the last one.
  const rowEvery = (60_000 / sampleMs) * Math.ceil(o.minutes / 12);
  const rows: string[][] = [];
  for (let at = 0; at < n; at++) {
    if (at % rowEvery !== 0 && at !== n - 1) continue;
    rows.push([
      String(samples[0]![at]!.atS),
      samples.map((node) => mib(node[at]!.rssBytes)).join(' / '),
      (['memtableBytes', 'arenaFreeBytes', 'blockCacheBytes', 'indexFilterBytes'] as const).map((f) => mib(med(at, (s) => s[f]))).join(' / '),
      threadCell(at, 'main'),
      threadCell(at, 'shard'),
      threadCell(at, 'background'),
    ]);
  }
  const halfS = samples[0]![n - 1]!.atS / 2;
  const secondHalfSlope = (node: Sample[], f: (s: Sample) => number): number =>
    slope(node.filter((s) => s.atS >= halfS).map((s) => [s.atS / 60, f(s) / 1048576] as const));
  const growth = samples.map((node) => secondHalfSlope(node, (s) => s.rssBytes));
  // Which part grows, if the resident set does: the same slope for each cell, medians over the nodes.
  const partGrowth = (f: (s: Sample) => number): string => median(samples.map((node) => secondHalfSlope(node, f))).toFixed(1);
  const parts = (['main', 'shard', 'background'] as const).map(
    (th) =>
      `${th} ${partGrowth((s) => s.threads[th].heapUsedBytes)} / ${partGrowth((s) => s.threads[th].heapTotalBytes)} / ${partGrowth((s) => s.threads[th].externalBytes)}`,
  );
  const peak = samples.map((node) => Math.max(...node.map((s) => s.rssBytes)));
  const errors = [...t.errors].map(([code, k]) => `${code} ${k}`).join(', ');
  return [
    ...sectionHead(`Memory under a long mixed load, 3-node cluster${o.label === undefined ? '' : `: ${o.label}`}${o.damonOff ? ', DAMON stopped' : ''} (bench/memory.bench.ts)`, 'bench:memory', 'dist/bench/memory.bench.js', o.argv, o.run),
    '',
    ...(o.damonOff ? [damonOffNote, ''] : []),
    `\`ringkv cluster --nodes 3 --sync-mode batch\` (N = 3, 2 shard threads per node, the launcher's default; the nodes' V8 flags), ${o.minutes} min of an open-loop mix at ${o.rate} ops/s from one process: through the TypeScript client (a new client every ${clientLifeMs / 1000} s) 35% PUTs of ${valueSizes.join(' / ')} B values (a fifth with a TTL of 5-35 s), 30% GETs at ONE / QUORUM / ALL, 5% GETs that write back with their context, 5% DELETEs, 5% batches of 32 GETs, 2% PUTs with a stale If-Match (409); over HTTP 8% PUTs with a 60 s TTL, 8% GETs, 2% keys over the limit (414), a tenth on a connection of their own. ${keySpace.toLocaleString('en-US')} keys. At most ${inflightMax} operations in flight (more due are skipped and counted). Every ${sampleMs / 1000} s each node's /metrics; MiB, medians over the nodes; "shard parts" are memtables / free memtable arena chunks / block caches / open tables' filters and indexes, all shards together; per-thread cells are heap used / heap committed / off-heap (ArrayBuffers and SharedArrayBuffers) (\`shard\` and \`background\`: all of a node's shards together; \`background\` as its last flush or compaction ended, when it still holds the flushed memtable's shared arena chunks).`,
    '',
    markdownTable(['s', 'RSS per node', 'shard parts', 'main thread', 'shard threads', 'background threads'], rows, [true, false, false, false, false, false]),
    '',
    `- Resident set at the end: ${samples.map((node) => mib(node[n - 1]!.rssBytes)).join(' / ')} MiB; highest: ${peak.map(mib).join(' / ')} MiB.`,
    `- Growth of the resident set over the second half (least squares): ${growth.map((g) => g.toFixed(1)).join(' / ')} MiB per minute.`,
    `- The same slope for each part (heap used / heap committed / off-heap, medians over the nodes): memtables ${partGrowth((s) => s.memtableBytes)}, free arena ${partGrowth((s) => s.arenaFreeBytes)}, index and filters ${partGrowth((s) => s.indexFilterBytes)}, ${parts.join(', ')} MiB per minute.`,
    `- Operations: ${t.done.toLocaleString('en-US')} done, ${t.skipped.toLocaleString('en-US')} skipped (due while ${inflightMax} were in flight); expected refusals: ${t.conflictsExpected} conflicts, ${t.refusalsExpected} 414s; other errors: ${errors === '' ? 'none' : errors}.`,
  ].join('\n');
}

if (require.main === module) runMain('memory bench', main);
