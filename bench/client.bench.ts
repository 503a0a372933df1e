// What the TypeScript client (src/client/, RingkvClient) costs its application per operation, and
// how many operations one client drives, against one real node on 127.0.0.1 (this tree's, with
// --sync-mode none, so the node waits on no disk and the client's own cost shows). Closed loop:
// 8 tasks, each making 32 calls at once and awaiting them all, then the next 32; rows PUT of
// 1 KiB values (no options: each carries the idempotency key the client makes), PUT with a TTL
// and a consistency level, and GET at ONE, over 10,000 keys written first. The client's CPU per
// operation is that process's: each row of each round runs in a process of its own (this file
// run with --child), which loads one build's client and nothing else.
// --base REV adds the same rows for that revision's RingkvClient (base_revision.ts), each row's
// two builds side by side, taking turns to go first.
//   flock /tmp/ringkv-heavy.lock npm run bench:client -- [--write] [--rounds 3] [--base REV]   (--seconds and --warmup do not apply)
// --write replaces the section between <!-- client-bench:start --> and <!-- client-bench:end -->
// in BENCHMARKS.md.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RingkvClient } from '../src/client';
import { distRootsOf, sideBySide, sideBySideBody, versusLines } from './base_revision';
import { emitSection, median, parseBenchArgs, runMain, sectionHead, takeOption } from './comparison';
import { BenchRun, benchKeySpace, benchValueBytes, sleep, startNodeProcess } from './harness';

type ClientClass = typeof RingkvClient;

const tasks = 8;
const callsPerTurn = 32;
const warmupMs = 1_000;
const measuredMs = 3_000;
/** Calls per row and round at most: a bound besides the time (the client drives under 100,000 a second here). */
const callsMax = 4_000_000;

interface Row {
  name: string;
  call: (c: RingkvClient, key: string, value: Uint8Array) => Promise<unknown>;
}

const rows: readonly Row[] = [
  { name: 'PUT', call: (c, key, value) => c.put(key, value) },
  { name: 'PUT, TTL and level', call: (c, key, value) => c.put(key, value, { ttlSeconds: 3600, consistency: 'QUORUM' }) },
  { name: 'GET ONE', call: (c, key) => c.get(key, { consistency: 'ONE' }) },
];

interface Measured {
  opsPerS: number;
  cpuUsPerOp: number;
}

const keyOf = (i: number): string => `bench-${i % benchKeySpace}`;

/** Runs `row` through a fresh client of `Client` for warmupMs, then measures it for measuredMs (in a --child process). */
async function measure(Client: ClientClass, address: string, row: Row, value: Uint8Array): Promise<Measured> {
  const c = await Client.connect({ nodes: [address] });
  try {
    let ops = 0;
    let next = 0;
    let measuring = false;
    let stop = false;
    const task = async (): Promise<void> => {
      while (!stop && next < callsMax) {
        const calls: Array<Promise<unknown>> = [];
        for (let i = 0; i < callsPerTurn; i++) calls.push(row.call(c, keyOf(next++), value));
        await Promise.all(calls);
        if (measuring) ops += callsPerTurn;
      }
    };
    const running = Promise.all(Array.from({ length: tasks }, task));
    await sleep(warmupMs);
    measuring = true;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(measuredMs);
    const cpu = process.cpuUsage(cpu0);
    const seconds = (performance.now() - t0) / 1000;
    measuring = false;
    stop = true;
    await running;
    return { opsPerS: ops / seconds, cpuUsPerOp: (cpu.user + cpu.system) / ops };
  } finally {
    c.close();
  }
}

/** The RingkvClient of the build whose dist/ is `distRoot`. */
function clientOf(distRoot: string): ClientClass {
  return (require(path.join(distRoot, 'src', 'client', 'client.js')) as { RingkvClient: ClientClass }).RingkvClient;
}

/** Measures row `r` with the client of `distRoot` in a process of its own. */
async function inChild(distRoot: string, r: number, address: string): Promise<Measured> {
  const { stdout } = await promisify(execFile)(process.execPath, [__filename, '--child', distRoot, String(r), address], { timeout: 60_000 });
  return JSON.parse(stdout) as Measured;
}

/** --child DIST_ROOT ROW ADDRESS: one measurement, printed as JSON. */
async function child(argv: string[]): Promise<void> {
  const [distRoot, r, address] = argv;
  const row = rows[Number(r)];
  if (distRoot === undefined || row === undefined || address === undefined) throw new Error(`--child DIST_ROOT ROW ADDRESS, not ${argv.join(' ')}`);
  const m = await measure(clientOf(distRoot), address, row, new Uint8Array(benchValueBytes).fill(7));
  process.stdout.write(`${JSON.stringify(m)}\n`);
}

async function main(): Promise<void> {
  const { value: baseArg, rest: argv } = takeOption(process.argv.slice(2), '--base');
  const { rounds, write } = parseBenchArgs(argv, false);
  const run = new BenchRun('ringkv-client-bench-');
  try {
    const builds = distRootsOf(baseArg, run.dir, (s) => void process.stderr.write(`${s}\n`));
    const node = await startNodeProcess(run, 'node', ['--sync-mode', 'none']);
    const address = `127.0.0.1:${node.port}`;
    const value = new Uint8Array(benchValueBytes).fill(7);
    const loader = await clientOf(builds[builds.length - 1]!.impl).connect({ nodes: [address] });
    for (let i = 0; i < benchKeySpace; i += 256) await Promise.all(Array.from({ length: 256 }, (_, j) => loader.put(keyOf(i + j), value)));
    loader.close();
    const got = await sideBySide(builds, rows, rounds, (distRoot, _row, r) => inChild(distRoot, r, address));
    const f = (x: number): string => Math.round(x).toLocaleString('en-US');
    const g = (x: number): string => x.toFixed(2);
    const section = [
      ...sectionHead('TypeScript client against one node (bench/client.bench.ts)', 'bench:client', 'dist/bench/client.bench.js', process.argv.slice(2), run),
      '',
      ...sideBySideBody(
        builds,
        `One RingkvClient per row and round, each in a process of its own (which loads that build's client and nothing else), against one \`ringkv start --sync-mode none\` node of this tree (${node.shards} shards) on 127.0.0.1, ${benchKeySpace.toLocaleString('en-US')} keys of ${benchValueBytes} B written first. Closed loop: ${tasks} tasks, each making ${callsPerTurn} calls at once and awaiting them all; ${warmupMs / 1000} s of warm-up, then ${measuredMs / 1000} s measured. "Client CPU" is that process's user + system CPU over the measured seconds per operation. ${rounds} rounds, the builds taking turns to go first, medians. The node and the client share the machine's two cores, so ops/s is bounded by both; the client's CPU per operation is its own.`,
        ['row', 'ops/s (median)', 'ops/s per round', 'client CPU µs per op (median)', 'client CPU µs per op, per round'],
        [false, true, false, true, false],
        rows,
        (row, r, b) => {
          const all = got[b]![r]!;
          return [row.name, f(median(all.map((m) => m.opsPerS))), all.map((m) => f(m.opsPerS)).join(' / '), g(median(all.map((m) => m.cpuUsPerOp))), all.map((m) => g(m.cpuUsPerOp)).join(' / ')];
        },
      ),
      '',
      ...versusLines(builds, rows, (row, r, against) => {
        const x = (pick: (m: Measured) => number): string => (median(got[1]![r]!.map(pick)) / median(got[0]![r]!.map(pick))).toFixed(2);
        return `- ${row.name}: ${against}: ops/s ${x((m) => m.opsPerS)}x (higher is better), client CPU per op ${x((m) => m.cpuUsPerOp)}x (lower is better); medians.`;
      }),
    ].join('\n');
    emitSection(section, 'client-bench', write);
  } finally {
    await run.close();
  }
}

if (require.main === module) {
  if (process.argv[2] === '--child') runMain('client bench child', () => child(process.argv.slice(3)));
  else runMain('client bench', main);
}
