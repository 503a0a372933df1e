// Starts a real multi-process ringkv cluster on 127.0.0.1 for tests (test/cluster): each node is
// `node bin/ringkv.js start` with its own HTTP and peer port (free ports chosen by the OS), its
// own temp data dir, short gossip timers, and node 0 as every node's seed. The handle can
// SIGSTOP/SIGCONT/SIGKILL/restart nodes and talk HTTP to any of them. With `peerProxies`, every
// node's peer port sits behind a FaultProxy (the node advertises the proxy), so a test can slow,
// cut off or reset the links into one node while it runs. close() resumes and kills every child,
// closes the proxies and removes the temp dirs; tests call it in `after`, so nothing outlives a run.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { statusConverged } from '../../src/cli/cluster';
import { type CliResult, runCli } from './cli';
import { FaultProxy } from './fault_proxy';
import { waitListening } from './listening';
import { spawnOwnSession } from './own_session';
import { freePort } from './ports';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(root, 'bin', 'ringkv.js');
const clockSkewModule = path.join(__dirname, 'clock_skew.js');

export interface ClusterSpec {
  nodes: number;
  conflictMode?: 'vclock' | 'lww';
  /** Every node's --partition-mode (the cluster's: gossiped and compared). */
  partitionMode?: 'ap' | 'cp';
  hintedHandoff?: boolean;
  gossipIntervalMs?: number;
  suspectAfterMs?: number;
  deadAfterMs?: number;
  requestTimeoutMs?: number;
  vnodes?: number;
  replicationFactor?: number;
  /** Share of reads that ask every replica; the node's default when not given. */
  readRepairChance?: number;
  /** Anti-entropy round interval; 0 (off) unless given, so other tests see only what they cause. */
  antiEntropyIntervalMs?: number;
  /** Put a FaultProxy in front of every node's peer port (other nodes reach it only through it). */
  peerProxies?: boolean;
  /**
   * Node `node` keeps its data on a tmpfs of `bytes` in a private mount namespace (`unshare -rm`),
   * with a `ballastBytes` file beside its data dir that freeBallast() deletes: a disk that fills.
   */
  smallDisk?: { node: number; bytes: number; ballastBytes: number };
  /** Node i starts with `--zone zones[i % zones.length]` (the first nodes only; none when absent). */
  zones?: string[];
  /** Node i starts with `--datacenter datacenters[i % datacenters.length]` (none when absent). */
  datacenters?: string[];
  /** Start the nodes without --cluster-name: node-0 makes one up, the others take it from their seed. */
  unnamed?: boolean;
  /** Every node's --stream-bytes-per-second (the node's default when absent). */
  streamBytesPerSecond?: number;
  /** Every node's --hint-replay-bytes-per-second (the node's default when absent). */
  hintReplayBytesPerSecond?: number;
}

export interface TestNode {
  id: string;
  port: number;
  peerPort: number;
  dataDir: string;
  proc: ChildProcess | undefined;
  stopped: boolean;
  /** The test sent SIGKILL or SIGTERM since the last start: an exit is what it asked for. */
  stopAsked: boolean;
  log: string[];
  /** Started with --bootstrap on (nodes added after the cluster formed). */
  bootstrap: boolean;
  /** Started with itself as its only seed: it knows nobody until someone contacts it. */
  alone: boolean;
  /** Flags after the cluster's own (a later one wins): a node that differs from the rest. */
  extraArgs: string[];
  /**
   * How far its wall clock is set off the machine's from its next start on (helpers/clock_skew.ts;
   * 0: the machine's own).
   */
  clockSkewMs: number;
  /** In front of peerPort when the cluster has peerProxies; the node advertises its port. */
  proxy: FaultProxy | undefined;
  /** The tmpfs its data dir is on, when it is the spec's smallDisk node. */
  mount: string | undefined;
}

/** The peer port other nodes are told to use for n: its proxy's, when it has one. */
export function advertisedPeerPort(n: TestNode): number {
  return n.proxy?.port ?? n.peerPort;
}

export interface HttpAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** The text a base64 field of a JSON answer holds (values travel as base64, design.md §5). */
/** A node's own copy of a key: the key's replicas, and the live values this node stores, newest first ([]: none, or only a tombstone). */
export interface ReplicaCopy {
  replicas: string[];
  values: string[];
}

/** The answer to GET /api/v1/admin/replica/{key} as a ReplicaCopy; throws on any other answer. */
export function replicaCopy(status: number, body: unknown, node: string): ReplicaCopy {
  const b = body as { replicas?: string[]; versions?: Array<{ value: string; tombstone: boolean; expires_at?: number }> };
  if (status !== 200 || b.versions === undefined || b.replicas === undefined) throw new Error(`replica read on ${node}: ${status} ${JSON.stringify(body)}`);
  return { replicas: b.replicas, values: b.versions.filter((v) => !v.tombstone && (v.expires_at === undefined || v.expires_at > Date.now())).map((v) => base64Text(v.value)) };
}

export function base64Text(field: unknown): string {
  return Buffer.from(String(field), 'base64').toString();
}


export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` every 50 ms until it holds; throws with `what` after `timeoutMs`. */
export async function waitFor(what: string, pred: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await pred()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Numbers the clusters of this process: each has a cluster name of its own. */
let clustersStarted = 0;

export class TestCluster {
  readonly nodes: TestNode[] = [];
  readonly tmp: string;
  /**
   * Unique to this cluster: tests that run side by side reuse each other's freed ports, and a
   * node of one cluster must never be taken in by another's (identity_files.ts).
   */
  readonly clusterName = `test-${process.pid}-${++clustersStarted}`;
  /** What nodes printed when an assertion failed in them (spawn watches their stderr). */
  private readonly assertionFailures: string[] = [];
  /** Nodes that exited after they started listening without the test stopping them, with their last output. */
  private readonly unexpectedExits: string[] = [];
  readonly spec: Required<Omit<ClusterSpec, 'readRepairChance' | 'smallDisk' | 'zones' | 'datacenters' | 'unnamed' | 'streamBytesPerSecond' | 'hintReplayBytesPerSecond'>> &
    Pick<ClusterSpec, 'readRepairChance' | 'smallDisk' | 'zones' | 'datacenters' | 'unnamed' | 'streamBytesPerSecond' | 'hintReplayBytesPerSecond'>;

  private constructor(spec: ClusterSpec) {
    this.spec = {
      conflictMode: 'vclock',
      partitionMode: 'ap',
      hintedHandoff: true,
      gossipIntervalMs: 100,
      suspectAfterMs: 1000,
      deadAfterMs: 2500,
      requestTimeoutMs: 2000,
      vnodes: 64,
      replicationFactor: 3,
      antiEntropyIntervalMs: 0,
      peerProxies: false,
      ...spec,
    };
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-cluster-'));
  }

  static async start(spec: ClusterSpec): Promise<TestCluster> {
    const c = new TestCluster(spec);
    try {
      for (let i = 0; i < spec.nodes; i++) {
        const zone = spec.zones === undefined ? [] : ['--zone', spec.zones[i % spec.zones.length]!];
        const dc = spec.datacenters === undefined ? [] : ['--datacenter', spec.datacenters[i % spec.datacenters.length]!];
        c.nodes.push(await c.newNode(i, { bootstrap: false, alone: false, extraArgs: [...zone, ...dc] }));
      }
      await Promise.all(c.nodes.map((_, i) => c.spawn(i)));
      await c.waitConverged(20_000);
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  private async newNode(i: number, o: Pick<TestNode, 'bootstrap' | 'alone' | 'extraArgs'>): Promise<TestNode> {
    const peerPort = await freePort();
    const proxy = this.spec.peerProxies ? await FaultProxy.start(peerPort) : undefined;
    const mount = this.spec.smallDisk?.node === i ? path.join(this.tmp, `node-${i}-disk`) : undefined;
    if (mount !== undefined) fs.mkdirSync(mount);
    const dataDir = mount === undefined ? path.join(this.tmp, `node-${i}`) : path.join(mount, 'data');
    return { id: `node-${i}`, port: await freePort(), peerPort, dataDir, proc: undefined, stopped: false, stopAsked: false, log: [], proxy, mount, clockSkewMs: 0, ...o };
  }

  /** Starts node i (again) and resolves once it prints its listening line. */
  async spawn(i: number): Promise<void> {
    const n = this.nodes[i]!;
    const seed = n.alone ? n : this.nodes[0]!;
    const s = this.spec;
    const args = [
      ...(n.clockSkewMs === 0 ? [] : ['--require', clockSkewModule]),
      bin, 'start',
      '--port', String(n.port),
      '--peer-port', String(n.peerPort),
      '--data-dir', n.dataDir,
      '--node-id', n.id,
      '--shards', '1',
      '--sync-mode', 'none',
      '--seeds', `127.0.0.1:${seed.port}:${advertisedPeerPort(seed)}`,
      ...(this.spec.unnamed === true ? [] : ['--cluster-name', this.clusterName]),
      ...(n.proxy === undefined ? [] : ['--advertise', `127.0.0.1:${n.port}:${n.proxy.port}`]),
      '--conflict-mode', s.conflictMode,
      '--partition-mode', s.partitionMode,
      '--hinted-handoff', s.hintedHandoff ? 'on' : 'off',
      '--gossip-interval-ms', String(s.gossipIntervalMs),
      '--suspect-after-ms', String(s.suspectAfterMs),
      '--dead-after-ms', String(s.deadAfterMs),
      '--request-timeout-ms', String(s.requestTimeoutMs),
      '--vnodes', String(s.vnodes),
      '--replication', String(s.replicationFactor),
      ...(s.readRepairChance === undefined ? [] : ['--read-repair-chance', String(s.readRepairChance)]),
      '--anti-entropy-interval-ms', String(s.antiEntropyIntervalMs),
      ...(s.streamBytesPerSecond === undefined ? [] : ['--stream-bytes-per-second', String(s.streamBytesPerSecond)]),
      ...(s.hintReplayBytesPerSecond === undefined ? [] : ['--hint-replay-bytes-per-second', String(s.hintReplayBytesPerSecond)]),
      // The first nodes start together and empty; a node added later streams its ranges.
      '--bootstrap', n.bootstrap ? 'on' : 'off',
      ...n.extraArgs,
    ];
    let proc: ChildProcess;
    if (n.mount === undefined) {
      proc = spawnOwnSession(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RINGKV_TEST_CLOCK_SKEW_MS: String(n.clockSkewMs) } });
    } else {
      // A new tmpfs each start (the namespace ends with the node): the mount, the ballast, then
      // the node itself (exec: the child's pid is the node's, for signals and /proc/PID/root).
      const d = this.spec.smallDisk!;
      const quoted = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      const script = `mount -t tmpfs -o size=${d.bytes} tmpfs '${n.mount}' && head -c ${d.ballastBytes} /dev/zero > '${n.mount}/ballast' && exec ${quoted}`;
      proc = spawnOwnSession('unshare', ['-r', '-m', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    }
    n.proc = proc;
    n.stopped = false;
    n.stopAsked = false;
    // An assertion failing in a node is a bug whatever the test checks (no request may stop a
    // node), even where the test goes on to pass without that node: close() fails with it.
    proc.stderr!.on('data', (d: Buffer) => {
      const text = d.toString();
      if (text.includes('assertion failed')) this.assertionFailures.push(`${n.id} (pid ${proc.pid}):\n${text}`);
    });
    await waitListening(proc, n.id, n.log);
    // Likewise a node that exits on its own once it serves (a crash, an exit on a fault it should
    // have survived): the tests around it fail in other ways, timeouts and refused connections,
    // and its own output is what tells why.
    proc.once('exit', (code, signal) => {
      // Started again since (n.proc is another process): the test had moved on from this one.
      if (n.stopAsked || n.proc !== proc) return;
      this.unexpectedExits.push(`${n.id} (pid ${proc.pid}) exited (${signal ?? code}) without the test stopping it; its last output:\n${n.log.join('').slice(-4000)}`);
    });
  }

  /** Deletes the smallDisk node's ballast file, inside its mount namespace: space comes back. */
  freeBallast(i: number): void {
    const n = this.nodes[i]!;
    if (n.mount === undefined || n.proc?.pid === undefined) throw new Error(`${n.id} has no small disk`);
    fs.rmSync(`/proc/${n.proc.pid}/root${n.mount}/ballast`);
  }

  /**
   * Starts one more node process that is expected to refuse to join: with node `sameIdAs`'s id
   * when given (as a copy of its data dir would have), else `nodeId` or its own, on new ports and
   * `dataDir` or a fresh data dir, seeded with a cluster node, with `args` appended. Waits
   * (bounded) for it to exit; killed and reported as code null if it still runs after 15 s.
   */
  async startStray(opts: { sameIdAs?: number; nodeId?: string; dataDir?: string; args?: string[] }): Promise<{ code: number | null; output: string; dataDir: string }> {
    const id = opts.sameIdAs === undefined ? (opts.nodeId ?? 'stray') : this.nodes[opts.sameIdAs]!.id;
    const seed = this.nodes[((opts.sameIdAs ?? 0) + 1) % this.nodes.length]!;
    const dataDir = opts.dataDir ?? path.join(this.tmp, `${id}-stray-${Date.now()}`);
    const args = [
      bin, 'start',
      '--port', String(await freePort()),
      '--peer-port', String(await freePort()),
      '--data-dir', dataDir,
      '--node-id', id,
      '--shards', '1',
      '--sync-mode', 'none',
      '--seeds', `127.0.0.1:${seed.port}:${advertisedPeerPort(seed)}`,
      '--conflict-mode', this.spec.conflictMode,
      '--partition-mode', this.spec.partitionMode,
      '--replication', String(this.spec.replicationFactor),
      '--gossip-interval-ms', String(this.spec.gossipIntervalMs),
      '--suspect-after-ms', String(this.spec.suspectAfterMs),
      '--dead-after-ms', String(this.spec.deadAfterMs),
      '--vnodes', String(this.spec.vnodes),
      '--bootstrap', 'off',
      '--cluster-name', this.clusterName,
      ...(opts.args ?? []),
    ];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    return new Promise((resolve) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, output, dataDir });
      });
    });
  }

  signal(i: number, sig: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL' | 'SIGTERM'): void {
    const n = this.nodes[i]!;
    if (n.proc === undefined || n.proc.exitCode !== null || n.proc.signalCode !== null) return;
    n.proc.kill(sig);
    if (sig === 'SIGKILL' || sig === 'SIGTERM') n.stopAsked = true;
    if (sig === 'SIGSTOP') n.stopped = true;
    if (sig === 'SIGCONT') n.stopped = false;
  }

  /** SIGKILL and wait for the exit. */
  async kill(i: number): Promise<void> {
    const p = this.nodes[i]!.proc;
    if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    this.signal(i, 'SIGKILL');
    await exited;
  }

  async http(i: number, method: 'GET' | 'PUT' | 'DELETE', key: string, opts: { body?: string; consistency?: string; headers?: Record<string, string> } = {}): Promise<HttpAnswer> {
    const n = this.nodes[i]!;
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.consistency !== undefined) headers['X-Consistency-Level'] = opts.consistency;
    const res = await fetch(`http://127.0.0.1:${n.port}/api/v1/keys/${encodeURIComponent(key)}`, {
      method,
      headers,
      ...(opts.body !== undefined && { body: opts.body }),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text };
    }
    return { status: res.status, body };
  }

  async getJson(i: number, urlPath: string): Promise<unknown> {
    const res = await fetch(`http://127.0.0.1:${this.nodes[i]!.port}${urlPath}`, { signal: AbortSignal.timeout(5000) });
    return res.json();
  }

  /** What node i's own replica stores of `key` (GET /api/v1/admin/replica/{key}: no other replica asked). */
  async replica(i: number, key: string): Promise<ReplicaCopy> {
    const res = await fetch(`http://127.0.0.1:${this.nodes[i]!.port}/api/v1/admin/replica/${encodeURIComponent(key)}`, { signal: AbortSignal.timeout(5000) });
    return replicaCopy(res.status, await res.json(), `node-${i}`);
  }

  /** node id → status as node i sees it (empty when node i does not answer). */
  async statuses(i: number): Promise<Record<string, string>> {
    try {
      const s = (await this.getJson(i, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; status: string }> };
      return Object.fromEntries(s.nodes.map((x) => [x.id, x.status]));
    } catch {
      return {};
    }
  }

  /** A Prometheus counter of node i, by its name in /metrics. */
  async metric(i: number, name: string): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.nodes[i]!.port}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text);
    return m === null ? Number.NaN : Number(m[1]);
  }

  /** Waits until every node in `observers` sees `target` with `status`. */
  async waitStatus(observers: number[], target: number, status: string, timeoutMs: number): Promise<number> {
    const id = this.nodes[target]!.id;
    return waitFor(`${id} ${status} on nodes ${observers.join(',')}`, async () => (await Promise.all(observers.map((o) => this.statuses(o)))).every((s) => s[id] === status), timeoutMs);
  }

  /**
   * Starts one more node (a new, empty data dir) that joins through node-0, or, `alone`, that
   * knows nobody (for POST /api/v1/cluster/nodes), with `args` after the cluster's flags;
   * returns its index.
   */
  async addNode(opts: { alone?: boolean; args?: string[] } = {}): Promise<number> {
    return (await this.addNodes(1, opts))[0]!;
  }

  /** Starts `count` such nodes together (their processes start at once); their indexes. */
  async addNodes(count: number, opts: { alone?: boolean; args?: string[] } = {}): Promise<number[]> {
    const added: number[] = [];
    for (let k = 0; k < count; k++) {
      const i = this.nodes.length;
      this.nodes.push(await this.newNode(i, { bootstrap: true, alone: opts.alone ?? false, extraArgs: opts.args ?? [] }));
      added.push(i);
    }
    await Promise.all(added.map((i) => this.spawn(i)));
    return added;
  }

  /** POSTs to node i (with `body` as is, if given); the JSON answer and its status. */
  async post(i: number, urlPath: string, body?: string, timeoutMs = 30_000): Promise<HttpAnswer> {
    return this.send(i, 'POST', urlPath, body, timeoutMs);
  }

  /** DELETEs `urlPath` on node i; the JSON answer and its status. */
  async delete(i: number, urlPath: string): Promise<HttpAnswer> {
    return this.send(i, 'DELETE', urlPath, undefined, 30_000);
  }

  private async send(i: number, method: 'POST' | 'DELETE', urlPath: string, body: string | undefined, timeoutMs: number): Promise<HttpAnswer> {
    const res = await fetch(`http://127.0.0.1:${this.nodes[i]!.port}${urlPath}`, { method, ...(body !== undefined && { body }), signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /**
   * Waits until every node sees all nodes healthy and, as their gossip says, holding the ring it
   * holds (the launcher's test, statusConverged): a `ringkv status` right after shows one ring,
   * without the note it adds while rings differ.
   */
  async waitConverged(timeoutMs: number): Promise<void> {
    const n = this.nodes.length;
    let seen: Array<Record<string, string>> = [];
    try {
      await waitFor('gossip convergence', async () => {
        const answers = await Promise.all(this.nodes.map((_, i) => this.getJson(i, '/api/v1/cluster/status').catch(() => null)));
        seen = answers.map((a) => Object.fromEntries(((a as { nodes?: Array<{ id: string; status: string; ring_digest?: string }> } | null)?.nodes ?? []).map((x) => [x.id, `${x.status} ring ${x.ring_digest ?? '-'}`])));
        return answers.every((a) => statusConverged(a, n));
      }, timeoutMs);
    } catch (err) {
      // What each node saw last, and the end of each node's log: enough to tell a slow join from a refused one.
      const views = seen.map((s, i) => `node-${i} sees ${JSON.stringify(s)}`).join('\n');
      const logs = this.nodes.map((node) => `--- ${node.id} log (last 2000 chars):\n${node.log.join('').slice(-2000)}`).join('\n');
      throw new Error(`${(err as Error).message}\n${views}\n${logs}`);
    }
  }

  /** Runs `ringkv ARGS` to completion (an admin command); `--node` is for the caller to give. */
  cli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
    return runCli(args, {}, timeoutMs);
  }

  /** Flushes node i and counts the entries in its tables (a scrub): what its replica holds on disk. */
  async storedEntries(i: number): Promise<number> {
    const at = ['--node', `127.0.0.1:${this.nodes[i]!.port}`];
    const flushed = await this.cli(['flush', ...at]);
    assert.equal(flushed.code, 0, flushed.stderr);
    const scrub = await this.cli(['scrub', ...at, '--json']);
    assert.equal(scrub.code, 0, scrub.stderr);
    return (JSON.parse(scrub.stdout) as { entries: number }).entries;
  }

  /** Resumes and kills every node, then removes the data dirs. Safe to call twice. */
  async close(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (_, i) => {
        this.signal(i, 'SIGCONT');
        await this.kill(i);
      }),
    );
    await Promise.all(this.nodes.map((n) => n.proxy?.close()));
    fs.rmSync(this.tmp, { recursive: true, force: true });
    const failures = [
      ...(this.assertionFailures.length > 0 ? [`a node failed an assertion:\n${this.assertionFailures.join('\n')}`] : []),
      ...this.unexpectedExits,
    ];
    if (failures.length > 0) throw new Error(failures.join('\n'));
  }
}
