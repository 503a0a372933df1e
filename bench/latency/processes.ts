// Starts and stops the servers a benchmark run measures, all on 127.0.0.1: ringkv nodes (this
// repository's bin/ringkv.js) and redis-server (Debian's package). Every start waits until the
// server answers, bounded in time; every stop waits for the exit, then removes temp dirs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { nodeRuntimeFlags } from '../../src/constants';
import { ErrorCode, RingkvError } from '../../src/errors';
import { freePort } from '../../test/helpers/ports';

export { freePort };

const startTimeoutMs = 20_000;
const stopTimeoutMs = 10_000;
const repoRoot = path.resolve(__dirname, '..', '..', '..');

export interface ServerProcess {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** Its process id, for waiting until it is quiet between runs (harness.ts waitQuiet). */
  readonly pid: number;
  stop(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(what: string, child: ChildProcess, probe: () => Promise<boolean>, log: () => string): Promise<void> {
  const deadline = Date.now() + startTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new RingkvError(ErrorCode.Unavailable, `${what} exited during start (${child.exitCode ?? child.signalCode}): ${log()}`);
    }
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new RingkvError(ErrorCode.Timeout, `${what} did not answer within ${startTimeoutMs} ms: ${log()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function httpOk(port: number, urlPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

function tail(chunks: string[]): string {
  return chunks.join('').slice(-2000);
}

export interface RingkvNodeOptions {
  port?: number;
  shards?: number;
  syncMode?: 'always' | 'batch' | 'none';
  /** Extra flags for `ringkv start` (e.g. cluster seeds). */
  extraArgs?: string[];
  nodeId?: string;
}

export async function startRingkvNode(opts: RingkvNodeOptions = {}): Promise<ServerProcess> {
  const port = opts.port ?? (await freePort());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-bench-'));
  const args = [path.join(repoRoot, 'bin', 'ringkv.js'), 'start', '--port', String(port), '--data-dir', dataDir];
  if (opts.shards !== undefined) args.push('--shards', String(opts.shards));
  if (opts.syncMode !== undefined) args.push('--sync-mode', opts.syncMode);
  if (opts.nodeId !== undefined) args.push('--node-id', opts.nodeId);
  args.push(...(opts.extraArgs ?? []));
  const child = spawn(process.execPath, [...nodeRuntimeFlags, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  try {
    await waitFor(`ringkv node on port ${port}`, child, () => httpOk(port, '/api/v1/cluster/status'), () => tail(out));
  } catch (err) {
    await stopChild(child);
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    name: `ringkv:${port}`,
    address: `127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    async stop() {
      await stopChild(child);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function clusterHealthy(port: number, n: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/api/v1/cluster/status', timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        try {
          const s = JSON.parse(body) as { nodes: Array<{ status: string; tokens: string[] }> };
          resolve(s.nodes.length === n && s.nodes.every((x) => x.status === 'healthy' && x.tokens.length > 0));
        } catch {
          resolve(false);
        }
      });
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

/**
 * Starts `n` nodes as one cluster (node 0 is every node's seed) and waits until every node sees
 * all of them healthy with tokens. Stopping the returned handles stops the nodes.
 */
export async function startRingkvCluster(n: number, opts: Omit<RingkvNodeOptions, 'port' | 'extraArgs' | 'nodeId'>): Promise<ServerProcess[]> {
  const ports = await Promise.all(Array.from({ length: n }, async () => [await freePort(), await freePort()] as const));
  const seed = `127.0.0.1:${ports[0]![0]}:${ports[0]![1]}`;
  const nodes: ServerProcess[] = [];
  try {
    for (let i = 0; i < n; i++) {
      nodes.push(
        // They start together and empty: no bootstrap pass (as `ringkv cluster` starts its nodes).
        await startRingkvNode({ ...opts, port: ports[i]![0], nodeId: `node-${i}`, extraArgs: ['--peer-port', String(ports[i]![1]), '--seeds', seed, '--bootstrap', 'off'] }),
      );
    }
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      const ok = await Promise.all(nodes.map((x) => clusterHealthy(x.port, n)));
      if (ok.every(Boolean)) break;
      if (Date.now() > deadline) throw new RingkvError(ErrorCode.Timeout, `cluster of ${n} did not converge within ${startTimeoutMs} ms`);
      await sleep(200);
    }
    return nodes;
  } catch (err) {
    for (const x of nodes) await x.stop().catch(() => undefined);
    throw err;
  }
}

export type RedisFsync = 'always' | 'everysec' | 'no';

export function redisServerPath(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p.length > 0 ? p : null;
}

function redisPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(1000);
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** redis-server with AOF on (fsync per `fsync`), no RDB snapshots, data in a temp dir. */
export async function startRedis(fsync: RedisFsync): Promise<ServerProcess> {
  const bin = redisServerPath();
  if (bin === null) throw new RingkvError(ErrorCode.Unavailable, 'redis-server is not installed (apt-get install redis-server)');
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-bench-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no'];
  args.push(...(fsync === 'no' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', fsync]));
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
  try {
    await waitFor(`redis-server on port ${port}`, child, () => redisPing(port), () => tail(out));
  } catch (err) {
    await stopChild(child);
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    name: `redis:${port}`,
    address: `127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    async stop() {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
