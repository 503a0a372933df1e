// A ringkv cluster whose nodes each run in their own network namespace, joined by veth pairs to a
// bridge in one more namespace (a switch), for partitions that a SIGSTOP or a proxy cannot make:
// a node cut off in both directions that keeps running and keeps serving its own clients.
// partition(i) sets node i's port on the switch down; heal(i) sets it up. Every node listens on
// 0.0.0.0 in its namespace and advertises 10.77.0.(i+1); the test talks to a node over its
// namespace's loopback (`ip netns exec ... curl`), which a partition does not touch. Needs root
// (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2; nothing is added to the host's own namespace, and
// close() kills the nodes and deletes the namespaces.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { waitListening } from './listening';
import { replicaCopy, type ReplicaCopy } from './cluster';

const run = promisify(execFile);
const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'ringkv.js');
const httpPort = 7000;
const peerPort = 8000;

export interface NetnsAnswer {
  status: number;
  body: Record<string, unknown>;
}

export class NetnsCluster {
  private readonly tag = `rkvt${process.pid}`;
  private readonly procs: ChildProcess[] = [];
  private readonly logs: string[][] = [];
  private readonly namespaces: string[] = [];
  readonly tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-netns-'));

  private constructor(readonly size: number) {}

  ns(i: number): string {
    return `${this.tag}-n${i}`;
  }

  private get sw(): string {
    return `${this.tag}-sw`;
  }

  static address(i: number): string {
    return `10.77.0.${i + 1}`;
  }

  /** Builds the namespaces and starts `size` nodes with `args` (cluster flags), node 0 the seed. */
  static async start(size: number, args: string[]): Promise<NetnsCluster> {
    const c = new NetnsCluster(size);
    try {
      await c.ip(['netns', 'add', c.sw]);
      c.namespaces.push(c.sw);
      await c.ip(['-n', c.sw, 'link', 'add', 'br0', 'type', 'bridge']);
      await c.ip(['-n', c.sw, 'link', 'set', 'br0', 'up']);
      for (let i = 0; i < size; i++) {
        const ns = c.ns(i);
        await c.ip(['netns', 'add', ns]);
        c.namespaces.push(ns);
        // The veth is made inside the node's namespace, its peer moved to the switch: nothing is
        // ever created in the host's namespace.
        await c.ip(['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${i}`]);
        await c.ip(['-n', ns, 'link', 'set', `p${i}`, 'netns', c.sw]);
        await c.ip(['-n', c.sw, 'link', 'set', `p${i}`, 'master', 'br0']);
        await c.ip(['-n', c.sw, 'link', 'set', `p${i}`, 'up']);
        await c.ip(['-n', ns, 'addr', 'add', `${NetnsCluster.address(i)}/24`, 'dev', 'eth0']);
        await c.ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
        await c.ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      }
      await Promise.all(Array.from({ length: size }, (_, i) => c.spawn(i, args)));
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  private async ip(args: string[]): Promise<void> {
    await run('ip', args);
  }

  private spawn(i: number, args: string[]): Promise<void> {
    const addr = NetnsCluster.address(i);
    const proc = spawn('ip', [
      'netns', 'exec', this.ns(i),
      process.execPath, bin, 'start',
      '--host', '0.0.0.0',
      '--port', String(httpPort),
      '--peer-port', String(peerPort),
      '--advertise', `${addr}:${httpPort}:${peerPort}`,
      '--seeds', `${NetnsCluster.address(0)}:${httpPort}:${peerPort}`,
      '--cluster-name', `netns-${process.pid}`,
      '--data-dir', path.join(this.tmp, `node-${i}`),
      '--node-id', `node-${i}`,
      '--shards', '1',
      '--sync-mode', 'none',
      '--bootstrap', 'off',
      ...args,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs[i] = proc;
    const log: string[] = (this.logs[i] = []);
    return waitListening(proc, `node-${i}`, log);
  }

  /** Cuts node i off from every other node, both ways; it keeps running. */
  async partition(i: number): Promise<void> {
    await this.ip(['-n', this.sw, 'link', 'set', `p${i}`, 'down']);
  }

  async heal(i: number): Promise<void> {
    await this.ip(['-n', this.sw, 'link', 'set', `p${i}`, 'up']);
  }

  /** An HTTP request to node i over its own namespace's loopback (works while it is partitioned). */
  async http(i: number, method: 'GET' | 'PUT' | 'DELETE', urlPath: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<NetnsAnswer> {
    const args = ['netns', 'exec', this.ns(i), 'curl', '-s', '-m', '15', '-X', method, '-w', '\n%{http_code}'];
    for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`);
    if (opts.body !== undefined) args.push('--data-binary', opts.body);
    args.push(`http://127.0.0.1:${httpPort}${urlPath}`);
    const { stdout } = await run('ip', args);
    const cut = stdout.lastIndexOf('\n');
    const text = stdout.slice(0, cut);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text };
    }
    return { status: Number(stdout.slice(cut + 1)), body };
  }

  /** What node i's own replica stores of `key` (GET /api/v1/admin/replica/{key}: no other replica asked). */
  async replica(i: number, key: string): Promise<ReplicaCopy> {
    const r = await this.http(i, 'GET', `/api/v1/admin/replica/${encodeURIComponent(key)}`);
    return replicaCopy(r.status, r.body, `node-${i}`);
  }

  /** node id → status as node i sees it. */
  async statuses(i: number): Promise<Record<string, string>> {
    const r = await this.http(i, 'GET', '/api/v1/cluster/status');
    const nodes = (r.body as { nodes?: Array<{ id: string; status: string }> }).nodes ?? [];
    return Object.fromEntries(nodes.map((x) => [x.id, x.status]));
  }

  /** A number from node i's /metrics. */
  async metric(i: number, name: string): Promise<number> {
    const { stdout } = await run('ip', ['netns', 'exec', this.ns(i), 'curl', '-s', '-m', '10', `http://127.0.0.1:${httpPort}/metrics`]);
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(stdout);
    return m === null ? Number.NaN : Number(m[1]);
  }

  log(i: number): string {
    return (this.logs[i] ?? []).join('');
  }

  async close(): Promise<void> {
    await Promise.all(
      this.procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            if (p === undefined || p.exitCode !== null || p.signalCode !== null) return resolve();
            p.once('exit', () => resolve());
            p.kill('SIGKILL');
          }),
      ),
    );
    for (const ns of this.namespaces.reverse()) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}
