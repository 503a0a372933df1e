// What a TypeScript client connection's queue (src/client/connection.ts) costs when it is long:
// operations past the node's in-flight limit wait in it, up to clientQueuedOpsPerConnectionMax.
// Two rows, each on one connection to a scripted peer on 127.0.0.1 (test/unit/client/protocol_peer.ts,
// real sockets):
// - timeouts: a full queue behind a peer that never answers, every operation timing out: how long
//   the burst of timeouts holds the client's event loop (its longest gap between turns);
// - backlog: a peer answering at once, the queue kept full by sending one operation per answer:
//   operations per second through the connection.
// --base REV adds the same rows for that revision's NodeConnection (base_revision.ts), each row's
// two builds side by side, taking turns to go first.
//   flock /tmp/ringkv-heavy.lock npm run bench:client-queue -- [--write] [--rounds 3] [--base REV]   (--seconds and --warmup do not apply)
// --write replaces the section between <!-- client-queue-bench:start --> and
// <!-- client-queue-bench:end --> in BENCHMARKS.md.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { NodeConnection } from '../src/client/connection';
import { clientQueuedOpsPerConnectionMax } from '../src/constants';
import { ProtocolPeer } from '../test/unit/client/protocol_peer';
import { buildsOf, sideBySide, sideBySideBody, versusLines } from './base_revision';
import { emitSection, median, parseBenchArgs, runMain, sectionHead, takeOption } from './comparison';
import { BenchRun } from './harness';

type ConnectionClass = typeof NodeConnection;

const timeoutRowTimeoutMs = 1_000;
const backlogOps = 200_000;
const key = Buffer.from('bench-key-0000');

const counters = (): { framesSent: number; opsSent: number; timeouts: number } => ({ framesSent: 0, opsSent: 0, timeouts: 0 });

/** The longest gap between event-loop turns (ms) while a full queue times out. */
async function timeoutsRow(Connection: ConnectionClass): Promise<number> {
  const peer = await ProtocolPeer.start(() => null);
  const c = new Connection(peer.address, 'n1', counters());
  try {
    const all: Array<Promise<unknown>> = [];
    for (let i = 0; i < clientQueuedOpsPerConnectionMax; i++) {
      all.push(c.send({ op: 'get', key, consistency: 'ONE' }, timeoutRowTimeoutMs).catch(() => null));
    }
    // Sampled every ms from the queue's filling to its last timeout: the timeouts dominate the gaps.
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    await Promise.all(all);
    delay.disable();
    return delay.max / 1e6;
  } finally {
    c.close();
    await peer.close();
  }
}

/** Operations per second through a connection whose queue is kept full. */
async function backlogRow(Connection: ConnectionClass): Promise<number> {
  const peer = await ProtocolPeer.start((req) => ({ id: req.id, status: 'not_found' }));
  const c = new Connection(peer.address, 'n1', counters());
  try {
    let sent = 0;
    let answered = 0;
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const one = (): void => {
        sent++;
        c.send({ op: 'get', key, consistency: 'ONE' }, 60_000).then(() => {
          answered++;
          if (sent < backlogOps) one();
          else if (answered === backlogOps) resolve();
        }, reject);
      };
      for (let i = 0; i < clientQueuedOpsPerConnectionMax; i++) one();
    });
    return backlogOps / ((performance.now() - t0) / 1000);
  } finally {
    c.close();
    await peer.close();
  }
}

const rows = [
  { name: 'timeouts', unit: 'longest event-loop gap, ms', run: timeoutsRow, f: (x: number) => x.toFixed(1), better: 'lower' },
  { name: 'backlog', unit: 'ops/s', run: backlogRow, f: (x: number) => Math.round(x).toLocaleString('en-US'), better: 'higher' },
] as const;

async function main(): Promise<void> {
  const { value: baseArg, rest: argv } = takeOption(process.argv.slice(2), '--base');
  const { rounds, write } = parseBenchArgs(argv, false);
  const run = new BenchRun('ringkv-client-queue-bench-');
  try {
    const builds = buildsOf<ConnectionClass>(baseArg, run.dir, 'src/client/connection.js', 'NodeConnection', NodeConnection, (s) => void process.stderr.write(`${s}\n`));
    const got = await sideBySide(builds, rows, rounds, (impl, row) => row.run(impl));
    const section = [
      ...sectionHead('Client connection queue (bench/client-queue.bench.ts)', 'bench:client-queue', 'dist/bench/client-queue.bench.js', process.argv.slice(2), run),
      '',
      ...sideBySideBody(
        builds,
        `One NodeConnection to a scripted peer on 127.0.0.1 (real sockets; the peer runs in the same process), ${clientQueuedOpsPerConnectionMax.toLocaleString('en-US')} operations held (the connection's bound; all but the node's in-flight limit wait in its queue). timeouts: the peer never answers and every operation times out after ${timeoutRowTimeoutMs} ms; the longest gap between the process's event-loop turns (monitorEventLoopDelay, 1 ms resolution) from the queue's filling to its last timeout. backlog: the peer answers each operation at once, and each answer sends another, ${backlogOps.toLocaleString('en-US')} in all; operations per second. ${rounds} rounds, the builds taking turns to go first, medians.`,
        ['row', 'measure', 'median', 'per round'],
        [false, false, true, false],
        rows,
        (row, r, b) => {
          const all = got[b]![r]!;
          return [row.name, row.unit, row.f(median(all)), all.map(row.f).join(' / ')];
        },
      ),
      '',
      ...versusLines(builds, rows, (row, r, against) => `- ${row.name}: ${against}: ${(median(got[1]![r]!) / median(got[0]![r]!)).toFixed(2)}x (medians; ${row.better} is better).`),
    ].join('\n');
    emitSection(section, 'client-queue-bench', write);
  } finally {
    await run.close();
  }
}

if (require.main === module) runMain('client queue bench', main);
