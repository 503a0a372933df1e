// Redis as the benchmarks' yardstick (Debian's redis-server, redis-cli and redis-benchmark):
// redis-benchmark SET/GET runs parsed from its CSV, and a local Redis Cluster of masters only.
// The standalone Redis with AOF is bench/latency/processes.ts's startRedis (one way to start it).
// Used by bench/node.bench.ts and bench/cluster.bench.ts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, RingkvError } from '../src/errors';
import { type RowSet } from './comparison';
import {
  benchKeySpace,
  benchValueBytes,
  cpuPercent,
  fmtInt,
  freeBasePort,
  runTool,
  sleep,
  startChild,
  stopAll,
  type Measured,
  type StartedChild,
} from './harness';

/** The installed redis-server's version, e.g. "7.0.15". */
export function redisVersion(): string {
  return /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
}

export interface RedisBenchOptions {
  port: number;
  /** redis-benchmark --cluster: keys go to the master that owns their slot. */
  cluster: boolean;
  clients: number;
  /** Requests per pipeline (1 = not pipelined). */
  pipeline: number;
  /** Requests per test: redis-benchmark has no duration, so this bounds each run. */
  requests: number;
  dataBytes: number;
  keySpace: number;
}

export interface RedisBenchResult {
  set: Measured;
  get: Measured;
  /** The command line, for the report. */
  command: string;
}

/** redis-benchmark arguments for one SET-then-GET run. */
export function redisBenchArgs(o: RedisBenchOptions): string[] {
  // Against a Redis Cluster two client threads: one saturates a core and then measures itself.
  // Against one server one thread: on 2 cores a second client thread takes cores from Redis (not
  // pipelined, -n 1,000,000: SET 142k ops/s with one thread, 125k with two; ad hoc, 2026-12-05).
  const threads = o.cluster ? ['--threads', '2'] : [];
  const args = ['-h', '127.0.0.1', '-p', String(o.port), ...threads, '-t', 'set,get', '-d', String(o.dataBytes), '-c', String(o.clients), '-n', String(o.requests), '-r', String(o.keySpace)];
  if (o.pipeline > 1) args.push('-P', String(o.pipeline));
  if (o.cluster) args.push('--cluster');
  return [...args, '--csv'];
}

/**
 * One redis-benchmark run of SET then GET. Its latency is per request (with -P, each request of a
 * pipeline counts from when the pipeline was written). The CPU figure is for the whole run (SET
 * and GET together).
 */
export async function runRedisBenchmark(o: RedisBenchOptions): Promise<RedisBenchResult> {
  const args = redisBenchArgs(o);
  const r = await runTool('redis-benchmark', args, 180_000);
  const rows = new Map<string, Measured>();
  for (const line of r.stdout.split('\n')) {
    // CSV columns: test, rps, avg, min, p50, p95, p99, max (latencies in ms).
    const cells = line.split(',').map((s) => s.replace(/"/g, ''));
    if (cells[0] !== 'SET' && cells[0] !== 'GET') continue;
    rows.set(cells[0], { opsPerSecond: Number(cells[1]), p50Ms: Number(cells[4]), p99Ms: Number(cells[6]), ops: o.requests, errors: 0, clientCpu: cpuPercent(r.cpuS, r.wallS) });
  }
  const set = rows.get('SET');
  const get = rows.get('GET');
  if (set === undefined || get === undefined) throw new RingkvError(ErrorCode.Internal, `cannot parse redis-benchmark output:\n${r.stdout}`);
  return { set, get, command: `redis-benchmark ${args.join(' ').replace(`-p ${o.port}`, '-p PORT')}` };
}

export const redisClients = 50;
const redisPipeline = 32;
/**
 * redis-benchmark has no duration: the request count sets a test's length, and it must be long.
 * With --threads, redis-benchmark sees the end of a test only at its threads' next 250 ms tick,
 * so its clock runs in 250 ms steps: 100,000 requests (this bench's count until 2026-12-05) took
 * 0.75 or 1.0 s by that clock and the same Redis read 133k or 99.8k ops/s, run to run. A million
 * (7 s or more here) keeps a step under 4% of a not-pipelined test; pipelined tests run faster.
 */
const redisRequestsPlain = 1_000_000;
const redisRequestsPipelined = 5_000_000;

/** What the Redis rows were, for the section text. */
export const redisLoadNote = `redis-benchmark (one client thread; two, --threads 2, against a Redis Cluster), ${redisClients} clients, -d ${benchValueBytes}, -r ${benchKeySpace}, ${redisRequestsPlain.toLocaleString('en-US')} requests per test not pipelined and ${redisRequestsPipelined.toLocaleString('en-US')} with -P ${redisPipeline}; its latency counts each request from when its pipeline was written, and its CPU figure covers SET and GET together`;

/**
 * SET and GET, not pipelined and pipelined, into `rows` under redis-p1-PUT, redis-p1-GET,
 * redis-p32-PUT, redis-p32-GET; the command lines go to `commands`.
 */
export async function measureRedis(rows: RowSet, port: number, cluster: boolean, system: string, durability: string, commands: Set<string>, log: (s: string) => void): Promise<void> {
  for (const pipeline of [1, redisPipeline]) await measureRedisShape(rows, port, cluster, redisClients, pipeline, `redis-p${pipeline}`, system, durability, commands, log);
}

/**
 * SET and GET not pipelined from `clients` clients (more than the standard rows' 50), into rows
 * redis-p1-c<clients>-PUT and -GET: whether 50 clients already take Redis to its peak.
 */
export async function measureRedisClients(rows: RowSet, port: number, clients: number, system: string, durability: string, commands: Set<string>, log: (s: string) => void): Promise<void> {
  await measureRedisShape(rows, port, false, clients, 1, `redis-p1-c${clients}`, system, durability, commands, log);
}

async function measureRedisShape(rows: RowSet, port: number, cluster: boolean, clients: number, pipeline: number, key: string, system: string, durability: string, commands: Set<string>, log: (s: string) => void): Promise<void> {
  const r = await runRedisBenchmark({ port, cluster, clients, pipeline, requests: pipeline === 1 ? redisRequestsPlain : redisRequestsPipelined, dataBytes: benchValueBytes, keySpace: benchKeySpace });
  commands.add(r.command);
  for (const [op, m] of [['PUT', r.set], ['GET', r.get]] as const) {
    const protocol = pipeline === 1 ? 'RESP, not pipelined' : `RESP, pipeline of ${pipeline}`;
    rows.add(`${key}-${op}`, [system, durability, protocol, op === 'PUT' ? 'SET' : 'GET', '-', `${clients} clients${pipeline > 1 ? ` × ${pipeline}` : ''}`], m);
    log(`  redis ${clients} clients -P ${pipeline} ${op === 'PUT' ? 'SET' : 'GET'}: ${fmtInt(m.opsPerSecond)} ops/s, client CPU ${m.clientCpu}`);
  }
}

export interface RedisCluster {
  /** The first master's port (redis-benchmark --cluster learns the rest from it). */
  port: number;
  stop(): Promise<void>;
}

/** Redis Cluster bus ports are the client port + 10000. */
const busPortOffset = 10_000;

/**
 * `masters` redis-server processes with cluster mode on, no replicas, joined with
 * `redis-cli --cluster create`, on free ports, data in `dir`. Persistence as given: the
 * benchmark states it. Resolves once CLUSTER INFO says cluster_state:ok.
 */
export async function startRedisCluster(masters: number, dir: string, persistence: string[]): Promise<RedisCluster> {
  const offsets = Array.from({ length: masters }, (_, i) => [i, i + busPortOffset]).flat();
  const base = await freeBasePort(offsets);
  const nodes: StartedChild[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const port = base + i;
      const nodeDir = path.join(dir, `redis-${port}`);
      fs.mkdirSync(nodeDir, { recursive: true });
      nodes.push(
        await startChild({
          name: `redis-cluster-${port}`,
          command: 'redis-server',
          args: ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--dir', nodeDir, '--daemonize', 'no', ...persistence],
          ready: /Ready to accept connections/,
          readyTimeoutMs: 20_000,
        }),
      );
    }
    execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((_, i) => `127.0.0.1:${base + i}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore', timeout: 60_000 });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const info = execFileSync('redis-cli', ['-p', String(base), 'cluster', 'info'], { encoding: 'utf8', timeout: 5_000 });
      if (info.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new RingkvError(ErrorCode.Timeout, `Redis Cluster on ${base}.. did not reach cluster_state:ok in 30 s`);
      await sleep(100);
    }
    return { port: base, stop: () => stopAll(nodes) };
  } catch (err) {
    await stopAll(nodes);
    throw err;
  }
}
