// Storage engine benchmark: ringkv's LSM engine side by side with LevelDB (npm classic-level) on
// the same data in one run. Each engine runs in its own child process (this script with
// --engine), so peak RSS is per engine. Phases, each bounded in count and in time:
//   1. --keys random keys x --value-bytes random (incompressible) values, written in batches of 100
//   2. --single more keys written one at a time (each awaited)
//   3. --reads random point reads of present keys
//   4. --missing reads of absent keys
// Both engines run without fsync per write (LevelDB sync:false, ringkv syncMode 'none'): the
// same durability (page cache), so the comparison is of the engines, not the disk. Both run
// their compactions in the background while the phases go on (LevelDB on its own thread, ringkv
// on the engine's background thread); the ringkv engine's levels, backlog and background jobs
// are printed after each phase so a reader can see what was still pending.
// The engines run one after the other (ringkv first unless --leveldb-first): on a shared machine
// whose load changes, alternate the order across runs and quote them all.
//   node dist/bench/storage.bench.js --keys 200000 --single 20000 --reads 200000 --missing 20000
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

interface PhaseResult {
  name: string;
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50us: number;
  p99us: number;
}

interface EngineResult {
  engine: string;
  phases: PhaseResult[];
  diskBytes: number;
  peakRssMiB: number;
  /** The engine's own state at the end of each phase (ringkv only): levels, backlog, background jobs. */
  notes: string[];
}

function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${name} needs a non-negative integer`);
  return v;
}

const opts = {
  keys: flag('keys', 1_000_000),
  single: flag('single', 100_000),
  reads: flag('reads', 1_000_000),
  missing: flag('missing', 100_000),
  valueBytes: flag('value-bytes', 1024),
  phaseSecondsMax: flag('phase-seconds-max', 180),
  seed: flag('seed', 1),
};

interface Kv {
  writeBatch(keys: Buffer[], values: Buffer[]): Promise<void>;
  get(key: Buffer): Promise<Buffer | null>;
  close(): Promise<void>;
  /** A one-line summary of the engine's state, when it has one to give. */
  state?(): string;
}

async function openRingkv(dir: string): Promise<Kv> {
  const { openStorage } = await import('../src/storage');
  const db = await openStorage({ dir, syncMode: 'none' });
  const vv = Buffer.alloc(0);
  return {
    writeBatch: (keys, values) =>
      db.write(keys.map((key, i) => ({ key, value: values[i]!, timestampMs: 1, versionVector: vv, tombstone: false, expiresAtMs: 0 }))),
    get: async (key) => {
      const e = await db.get(key);
      return e === null || e.tombstone ? null : Buffer.from(e.value.buffer, e.value.byteOffset, e.value.length);
    },
    close: () => db.close(),
    state: () => {
      const st = db.stats();
      const mib = (n: number): string => (n / 2 ** 20).toFixed(0);
      return `tables per level [${st.sstablesPerLevel.join(', ')}], compaction backlog ${mib(st.compactionBacklog)} MiB, immutable memtables ${st.immutableMemtables}, write stalls ${st.writeStalls}, background flushes ${st.flushes} and compactions ${st.compactions} (${mib(st.compactionBytesWritten)} MiB written)`;
    },
  };
}

async function openLevel(dir: string): Promise<Kv> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ClassicLevel } = require('classic-level') as {
    ClassicLevel: new (dir: string, o: object) => {
      open(): Promise<void>;
      batch(ops: { type: 'put'; key: Buffer; value: Buffer }[], o?: object): Promise<void>;
      get(key: Buffer): Promise<Buffer | undefined>;
      close(): Promise<void>;
    };
  };
  // Same block cache as ringkv's default (64 MiB); LevelDB's other settings are its defaults.
  const db = new ClassicLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer', cacheSize: 64 * 1024 * 1024 });
  await db.open();
  return {
    writeBatch: (keys, values) => db.batch(keys.map((key, i) => ({ type: 'put' as const, key, value: values[i]! })), { sync: false }),
    get: async (key) => (await db.get(key)) ?? null,
    close: () => db.close(),
  };
}

function dirBytes(dir: string): number {
  let s = 0;
  for (const n of fs.readdirSync(dir)) s += fs.statSync(path.join(dir, n)).size;
  return s;
}

function keyOf(i: number, salt: number): Buffer {
  // 16 random-looking bytes, deterministic in (i, salt): both engines get identical keys.
  const b = Buffer.alloc(16);
  b.writeUInt32BE(i, 0);
  b.writeUInt32BE(Math.imul(i ^ salt, 0x9e3779b1) >>> 0, 4);
  b.writeUInt32BE(Math.imul(i + 0x7f4a7c15, 0x85ebca6b) >>> 0, 8);
  b.writeUInt32BE(salt, 12);
  return b;
}

async function phase(name: string, count: number, perOp: number, body: (i: number) => Promise<void>): Promise<PhaseResult> {
  const lat = new Float64Array(count);
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(opts.phaseSecondsMax) * 1_000_000_000n;
  let n = 0;
  for (; n < count; n++) {
    const t0 = process.hrtime.bigint();
    await body(n);
    const t1 = process.hrtime.bigint();
    lat[n] = Number(t1 - t0) / 1000;
    if ((n & 255) === 0 && t1 > deadline) {
      n++;
      break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const sorted = lat.subarray(0, n).sort();
  return {
    name,
    ops: n * perOp,
    seconds,
    opsPerSec: (n * perOp) / seconds,
    p50us: sorted[Math.floor(n * 0.5)] ?? 0,
    p99us: sorted[Math.min(n - 1, Math.floor(n * 0.99))] ?? 0,
  };
}

async function runEngine(engine: string): Promise<EngineResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rkv-bench-${engine}-`));
  try {
    const db = engine === 'ringkv' ? await openRingkv(dir) : await openLevel(dir);
    // Values are windows of a 32 MiB random pool at scattered offsets: incompressible within a
    // block, so LevelDB's snappy cannot shrink them and neither engine gets a free ride.
    const poolBytes = 32 * 1024 * 1024;
    const pool = randomBytes(poolBytes + opts.valueBytes);
    const value = (i: number): Buffer => {
      const at = Number((BigInt(i) * 2654435761n) % BigInt(poolBytes));
      const v = Buffer.allocUnsafe(opts.valueBytes);
      v.set(pool.subarray(at, at + opts.valueBytes));
      return v;
    };
    const phases: PhaseResult[] = [];
    const notes: string[] = [];
    const note = (after: string): void => {
      if (db.state) notes.push(`after ${after}: ${db.state()}`);
    };
    const batch = 100;
    phases.push(
      await phase(`write, batches of ${batch}`, Math.ceil(opts.keys / batch), batch, async (b) => {
        const keys: Buffer[] = [];
        const values: Buffer[] = [];
        for (let i = b * batch; i < Math.min(opts.keys, (b + 1) * batch); i++) {
          keys.push(keyOf(i, 1));
          values.push(value(i));
        }
        await db.writeBatch(keys, values);
      }),
    );
    note('batched writes');
    phases.push(await phase('write, one at a time', opts.single, 1, (i) => db.writeBatch([keyOf(i, 2)], [value(i)])));
    note('single writes');
    let x = opts.seed >>> 0 || 1;
    const rand = (n: number): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) % n;
    };
    const written = phases[0]!.ops;
    let misses = 0;
    phases.push(
      await phase('read present keys', opts.reads, 1, async () => {
        const v = await db.get(keyOf(rand(written), 1));
        if (v === null || v.length !== opts.valueBytes) misses++;
      }),
    );
    if (misses > 0) throw new Error(`${engine}: ${misses} present keys not found`);
    note('present reads');
    let found = 0;
    phases.push(
      await phase('read missing keys', opts.missing, 1, async () => {
        if ((await db.get(keyOf(rand(1 << 30), 3))) !== null) found++;
      }),
    );
    if (found > 0) throw new Error(`${engine}: ${found} missing keys found`);
    note('missing reads');
    await db.close();
    return { engine, phases, diskBytes: dirBytes(dir), peakRssMiB: process.resourceUsage().maxRSS / 1024, notes };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function main(): void {
  const ei = process.argv.indexOf('--engine');
  if (ei >= 0) {
    runEngine(process.argv[ei + 1]!).then(
      (r) => process.stdout.write(`RESULT ${JSON.stringify(r)}\n`),
      (err) => {
        process.stderr.write(`${(err as Error).stack}\n`);
        process.exit(1);
      },
    );
    return;
  }
  const byEngine = new Map<string, EngineResult>();
  const order = process.argv.includes('--leveldb-first') ? ['leveldb', 'ringkv'] : ['ringkv', 'leveldb'];
  for (const engine of order) {
    const args = process.argv.slice(2).filter((a) => a !== '--leveldb-first');
    const r = spawnSync(process.execPath, [__filename, ...args, '--engine', engine], { encoding: 'utf8', maxBuffer: 1 << 24 });
    process.stderr.write(r.stderr);
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (r.status !== 0 || !line) throw new Error(`${engine} run failed (status ${r.status})`);
    byEngine.set(engine, JSON.parse(line.slice(7)) as EngineResult);
  }
  const ours = byEngine.get('ringkv')!;
  const lvl = byEngine.get('leveldb')!;
  const lines = [
    `keys=${opts.keys} single=${opts.single} reads=${opts.reads} missing=${opts.missing} value=${opts.valueBytes} B, node ${process.version}, ${os.cpus().length} CPUs, ran ${order.join(' then ')}`,
    '',
    '| phase | ringkv ops/s | LevelDB ops/s | ratio | ringkv p50 / p99 µs | LevelDB p50 / p99 µs |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (let i = 0; i < ours.phases.length; i++) {
    const a = ours.phases[i]!;
    const b = lvl.phases[i]!;
    lines.push(
      `| ${a.name} (${fmt(a.ops)} / ${fmt(b.ops)} ops) | ${fmt(a.opsPerSec)} | ${fmt(b.opsPerSec)} | ${fmt(a.opsPerSec / b.opsPerSec, 2)} | ${fmt(a.p50us, 1)} / ${fmt(a.p99us, 1)} | ${fmt(b.p50us, 1)} / ${fmt(b.p99us, 1)} |`,
    );
  }
  lines.push(`| bytes on disk | ${fmt(ours.diskBytes / 2 ** 20, 1)} MiB | ${fmt(lvl.diskBytes / 2 ** 20, 1)} MiB | ${fmt(ours.diskBytes / lvl.diskBytes, 2)} | | |`);
  lines.push(`| peak RSS | ${fmt(ours.peakRssMiB, 0)} MiB | ${fmt(lvl.peakRssMiB, 0)} MiB | ${fmt(ours.peakRssMiB / lvl.peakRssMiB, 2)} | | |`);
  lines.push('', 'Latency is per operation (a batch of 100 counts as one operation for p50/p99; ops/s counts entries).');
  if (ours.notes.length > 0) lines.push('', 'ringkv engine state:', ...ours.notes.map((n) => `- ${n}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
