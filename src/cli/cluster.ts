// Cluster flags of `ringkv start` (a node joins a cluster when --seeds is given) and the
// `ringkv cluster` command, which starts N real node processes on 127.0.0.1 for local use and
// tests: ports P, P+1, ... (peer ports P+1000, ...), data in D/node-i, node 0 as every node's
// seed. It waits until gossip has converged (every node's /api/v1/cluster/status shows all nodes
// healthy and holding its ring), prints the addresses, and stops every node on SIGINT, SIGTERM or
// SIGHUP.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { deadAfterMsDefault, gossipIntervalMsDefault, hintReplayBytesPerSecondMin, launcherCloseMarginMs, nodeRuntimeFlags, peerPortOffset, replicationFactorDefault, shutdownGraceMsDefault, streamBytesPerSecondMin, suspectAfterMsDefault, vnodesPerNodeDefault, vnodesPerNodeMax, zoneBytesMax } from '../constants';
import type { ClusterNodeConfig } from '../coordinator/cluster_factory';
import { clusterDefaults } from '../coordinator/cluster_options';
import { newClusterName } from '../coordinator/cluster_name';
import { clusterNameFileName, isValidClusterName } from '../coordinator/identity_files';
import { isRingkvError } from '../errors';
import { parseNodeAddress, type PeerAddress } from '../membership';
import { isValidZone } from '../ring';
import { layoutFileName } from '../shards/shard_layout';
import { type CliCommand, parseIntOption, usageError } from './command';

/** parseArgs definitions of the cluster flags `ringkv start` accepts. */
export const clusterStartFlags = {
  seeds: { type: 'string' },
  'cluster-name': { type: 'string' },
  zone: { type: 'string' },
  datacenter: { type: 'string' },
  'peer-port': { type: 'string' },
  advertise: { type: 'string' },
  vnodes: { type: 'string' },
  replication: { type: 'string' },
  'conflict-mode': { type: 'string' },
  'partition-mode': { type: 'string' },
  'gossip-interval-ms': { type: 'string' },
  'suspect-after-ms': { type: 'string' },
  'dead-after-ms': { type: 'string' },
  'hinted-handoff': { type: 'string' },
  'hint-replay-bytes-per-second': { type: 'string' },
  'stream-bytes-per-second': { type: 'string' },
  'request-timeout-ms': { type: 'string' },
  'read-repair-chance': { type: 'string' },
  'anti-entropy-interval-ms': { type: 'string' },
  bootstrap: { type: 'string' },
  'allow-stale-data': { type: 'string' },
} as const;

export const clusterStartHelp = `
cluster options (a node runs in cluster mode when --seeds is given; it may name the node itself):
  --seeds LIST              RINGKV_SEEDS   (none)      comma-separated seed nodes, host:port (their
                                                       HTTP port; peer port = port + ${peerPortOffset}) or
                                                       host:port:peerport
  --cluster-name NAME                      (data dir)  the cluster this node belongs to, 1..64 of
                                                       A-Z a-z 0-9 _ . -; kept in the data dir
                                                       (CLUSTER_NAME). Never given, a new node takes
                                                       its seeds' (a first node, seeding itself,
                                                       makes up ringkv-XXXXXXXX). A node answers no
                                                       other cluster's nodes, and refuses to start
                                                       when its seeds are in another cluster
  --zone NAME                              (data dir)  the node's failure domain (rack, availability
                                                       zone), 1..64 of A-Z a-z 0-9 _ . -: each key's
                                                       replicas go to as many zones as there are, so
                                                       a zone failing whole loses at most
                                                       ceil(N / zones) of them. Kept in the data dir
                                                       (ZONE); a start with another zone is refused
  --datacenter NAME                        (data dir)  the node's datacenter, 1..64 of A-Z a-z 0-9
                                                       _ . -: every datacenter keeps --replication
                                                       replicas of each key, LOCAL_QUORUM counts
                                                       the coordinator's, the others get writes
                                                       asynchronously. Kept in the data dir
                                                       (DATACENTER); another one is refused
  --peer-port N                            port+${peerPortOffset}   inter-node (gossip, replication) TCP port
  --advertise ADDR                         (listen)    the address peers and clients are told to reach
                                                       this node at, host:port or host:port:peerport
                                                       (behind NAT or a proxy; needed with --host
                                                       0.0.0.0); default: --host, --port, --peer-port
  --vnodes N                               ${vnodesPerNodeDefault}         ring tokens of this node, 1..${vnodesPerNodeMax}
                                                       (a stronger machine takes more). Kept in
                                                       the data dir (VNODES); another count is
                                                       refused
  --replication N                          ${replicationFactorDefault}           replicas per key (N), in each datacenter
  --conflict-mode MODE                     vclock      vclock (siblings) or lww (last write wins)
  --partition-mode MODE                    ap          ap: a write succeeds at the level asked;
                                                       cp: every write needs a majority of its
                                                       replicas (QUORUM at least), so a minority
                                                       side of a partition answers writes 503
  --gossip-interval-ms N                   ${gossipIntervalMsDefault}
  --suspect-after-ms N                     ${suspectAfterMsDefault}
  --dead-after-ms N                        ${deadAfterMsDefault}
  --hinted-handoff on|off                  on          keep writes for down replicas as hints
  --hint-replay-bytes-per-second N         ${clusterDefaults.hintReplayBytesPerSecond}     hint bytes replayed per second, all
                                                       targets together (at least ${hintReplayBytesPerSecondMin})
  --stream-bytes-per-second N              ${clusterDefaults.streamBytesPerSecond}    record bytes this node streams per
                                                       second, pulled, pushed and served together
                                                       (anti-entropy, bootstrap, repair,
                                                       decommission); 0 = unthrottled, else at
                                                       least ${streamBytesPerSecondMin}
  --request-timeout-ms N                   ${clusterDefaults.requestTimeoutMs}        default request timeout
  --read-repair-chance P                   ${clusterDefaults.readRepairChance}         share of reads that ask every replica (0..1)
  --anti-entropy-interval-ms N             ${clusterDefaults.antiEntropyIntervalMs}       how often one token range is Merkle-compared
                                                       with another replica and synced (0 = off)
  --bootstrap on|off                       on          a node started with an empty data dir streams
                                                       the ranges it replicates once it is in the ring
  --allow-stale-data on|off                off         start even when the data dir last ran longer
                                                       ago than --tombstone-grace-seconds (kept in
                                                       its LAST_RUN): its copies of keys deleted
                                                       meanwhile would come back. Off, such a start is
                                                       refused; give it a new data dir instead
`;

type FlagValues = Partial<Record<keyof typeof clusterStartFlags, string>>;

/** --stream-bytes-per-second: 0 (unthrottled) or streamBytesPerSecondMin..1 GiB. */
function streamRate(text: string | undefined): number {
  if (text === undefined) return clusterDefaults.streamBytesPerSecond;
  const n = parseIntOption('--stream-bytes-per-second', text, 0, 1024 * 1024 * 1024);
  if (n !== 0 && n < streamBytesPerSecondMin) throw usageError(`--stream-bytes-per-second must be 0 (unthrottled) or at least ${streamBytesPerSecondMin}, not ${n}`);
  return n;
}

export function parseSeeds(text: string): PeerAddress[] {
  const out: PeerAddress[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const a = parseNodeAddress(part);
    if (typeof a === 'string') throw usageError(`--seeds: ${a}`);
    out.push({ host: a.host, peerPort: a.peerPort });
  }
  if (out.length === 0) throw usageError('--seeds names no seed');
  return out;
}

/** Listen addresses that name no one host: gossip cannot tell peers to connect to them. */
const unspecifiedHosts: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]']);

/** The cluster part of `ringkv start`'s config, or undefined for a single node (no --seeds). */
export function parseClusterFlags(values: FlagValues, env: NodeJS.ProcessEnv, base: { host: string; port: number; nodeId?: string }): ClusterNodeConfig | undefined {
  const seedsText = values.seeds ?? (env.RINGKV_SEEDS !== undefined && env.RINGKV_SEEDS !== '' ? env.RINGKV_SEEDS : undefined);
  if (seedsText === undefined) {
    const stray = Object.keys(clusterStartFlags).find((f) => values[f as keyof FlagValues] !== undefined);
    if (stray !== undefined) throw usageError(`--${stray} needs --seeds (cluster mode)`);
    return undefined;
  }
  if (base.port === 0) throw usageError('cluster mode needs an explicit --port (peers must know it)');
  const int = (flag: keyof FlagValues, def: number, min: number, max: number) => (values[flag] === undefined ? def : parseIntOption(`--${flag}`, values[flag]!, min, max));
  const conflict = values['conflict-mode'] ?? 'vclock';
  if (conflict !== 'vclock' && conflict !== 'lww') throw usageError(`--conflict-mode must be vclock or lww, not "${conflict}"`);
  const partition = values['partition-mode'] ?? 'ap';
  if (partition !== 'ap' && partition !== 'cp') throw usageError(`--partition-mode must be ap or cp, not "${partition}"`);
  const hh = values['hinted-handoff'] ?? 'on';
  if (hh !== 'on' && hh !== 'off') throw usageError(`--hinted-handoff must be on or off, not "${hh}"`);
  const boot = values.bootstrap ?? 'on';
  if (boot !== 'on' && boot !== 'off') throw usageError(`--bootstrap must be on or off, not "${boot}"`);
  const stale = values['allow-stale-data'] ?? 'off';
  if (stale !== 'on' && stale !== 'off') throw usageError(`--allow-stale-data must be on or off, not "${stale}"`);
  const gossipIntervalMs = int('gossip-interval-ms', gossipIntervalMsDefault, 10, 60_000);
  const suspectAfterMs = int('suspect-after-ms', suspectAfterMsDefault, 20, 3_600_000);
  const deadAfterMs = int('dead-after-ms', deadAfterMsDefault, 30, 7_200_000);
  if (suspectAfterMs <= gossipIntervalMs) throw usageError('--suspect-after-ms must exceed --gossip-interval-ms');
  if (deadAfterMs <= suspectAfterMs) throw usageError('--dead-after-ms must exceed --suspect-after-ms');
  const chanceText = values['read-repair-chance'];
  const readRepairChance = chanceText === undefined ? clusterDefaults.readRepairChance : Number(chanceText);
  if (!(readRepairChance >= 0 && readRepairChance <= 1) || (chanceText !== undefined && !/^[0-9.]+$/.test(chanceText))) throw usageError(`--read-repair-chance must be a number in 0..1, not "${chanceText}"`);
  if (values['peer-port'] === undefined && base.port + peerPortOffset > 65535) {
    throw usageError(`--port ${base.port} puts the peer port at ${base.port + peerPortOffset}, over 65535: give --peer-port`);
  }
  const peerPort = int('peer-port', base.port + peerPortOffset, 1, 65535);
  // Caught here, not as a failed listen: the peer port binds and gossips first, and a node whose
  // HTTP listen then failed would stay in every ring as a DEAD member, its tokens with it.
  if (peerPort === base.port) throw usageError(`--peer-port ${peerPort} is --port too: the peer port needs a port of its own`);
  let advertised = { host: base.host, httpPort: base.port, peerPort };
  if (values.advertise !== undefined) {
    const a = parseNodeAddress(values.advertise);
    if (typeof a === 'string') throw usageError(`--advertise: ${a}`);
    advertised = a;
  } else if (unspecifiedHosts.has(base.host)) {
    throw usageError(`--host ${base.host} listens on every interface; give --advertise with the address peers should use`);
  }
  const clusterName = values['cluster-name'];
  if (clusterName !== undefined && !isValidClusterName(clusterName)) throw usageError(`--cluster-name must be 1..64 of A-Z a-z 0-9 _ . -, not "${clusterName}"`);
  const zone = values.zone;
  if (zone !== undefined && (zone === '' || !isValidZone(zone))) throw usageError(`--zone must be 1..${zoneBytesMax} of A-Z a-z 0-9 _ . -, not "${zone}"`);
  const datacenter = values.datacenter;
  if (datacenter !== undefined && (datacenter === '' || !isValidZone(datacenter))) throw usageError(`--datacenter must be 1..${zoneBytesMax} of A-Z a-z 0-9 _ . -, not "${datacenter}"`);
  return {
    ...(base.nodeId !== undefined && { nodeId: base.nodeId }),
    ...(clusterName !== undefined && { clusterName }),
    ...(zone !== undefined && { zone }),
    ...(datacenter !== undefined && { datacenter }),
    ...advertised,
    peerListen: { host: base.host, port: peerPort },
    seeds: parseSeeds(seedsText),
    ...(values.vnodes !== undefined && { vnodes: int('vnodes', vnodesPerNodeDefault, 1, vnodesPerNodeMax) }),
    replicationFactor: int('replication', replicationFactorDefault, 1, 7),
    conflictMode: conflict,
    partitionMode: partition,
    gossipIntervalMs,
    suspectAfterMs,
    deadAfterMs,
    hintedHandoff: hh === 'on',
    hintReplayIntervalMs: Math.max(10, Math.min(clusterDefaults.hintReplayIntervalMs, gossipIntervalMs * 2)),
    hintReplayBytesPerSecond: int('hint-replay-bytes-per-second', clusterDefaults.hintReplayBytesPerSecond, hintReplayBytesPerSecondMin, 1024 * 1024 * 1024),
    streamBytesPerSecond: streamRate(values['stream-bytes-per-second']),
    requestTimeoutMs: int('request-timeout-ms', clusterDefaults.requestTimeoutMs, 1, 600_000),
    readRepairChance,
    antiEntropyIntervalMs: int('anti-entropy-interval-ms', clusterDefaults.antiEntropyIntervalMs, 0, 86_400_000),
    bootstrap: boot === 'on',
    allowStaleData: stale === 'on',
  };
}

// ---- ringkv cluster ---------------------------------------------------------------------------

/**
 * The flags `ringkv cluster` gives every node: the cluster options it was given, and
 * --replication min(3, nodes) when it was not, since QUORUM counts over N (a 1-node local cluster
 * with N = 3 could meet no QUORUM); `nodes` is the smallest datacenter's count where there are several.
 */
export function clusterPassThrough(values: Partial<Record<string, string | boolean>>, nodes: number): string[] {
  const out: string[] = [];
  for (const flag of ['cluster-name', 'vnodes', 'replication', 'conflict-mode', 'partition-mode', 'gossip-interval-ms', 'suspect-after-ms', 'dead-after-ms', 'hinted-handoff', 'hint-replay-bytes-per-second', 'stream-bytes-per-second', 'request-timeout-ms', 'read-repair-chance', 'anti-entropy-interval-ms', 'allow-stale-data', 'sync-mode', 'tombstone-grace-seconds', 'memtable-mib', 'block-cache-mib']) {
    const v = values[flag];
    if (typeof v === 'string') out.push(`--${flag}`, v);
  }
  if (values['replication'] === undefined) out.push('--replication', String(Math.min(replicationFactorDefault, nodes)));
  return out;
}

/** Shard threads per node of a local cluster, whose nodes share this machine's CPUs. */
const clusterShardsDefault = 2;

/**
 * The --shards a node is started with: the one given, else this command's default for a new data
 * dir only; an existing one keeps the count it records (a node refuses a different one, as it
 * cannot re-shard in place).
 */
export function shardsFlag(given: string | undefined, nodeDataDir: string): string[] {
  if (given !== undefined) return ['--shards', given];
  return fs.existsSync(path.join(nodeDataDir, layoutFileName)) ? [] : ['--shards', String(clusterShardsDefault)];
}

export const clusterHelp = `usage: ringkv cluster [options]

Starts a local cluster of real node processes on 127.0.0.1 and stops them all on Ctrl-C/SIGTERM/SIGHUP.
Node i listens on base-port+i (HTTP/WebSocket) and base-port+i+${peerPortOffset} (peers), keeps its
data in DATA-DIR/node-i, and joins through node 0.

options:
  --nodes N                 3           how many nodes (1..16); --replication defaults to
                                        min(3, N)
  --base-port P             7000        HTTP port of node 0
  --data-dir DIR            ./cluster   parent of the nodes' data directories
  --shards N                2           shard threads per node, for a new data dir (an
                                        existing one keeps its count)
  --sync-mode MODE          batch       always | batch | none
  --wait-ms N               30000       how long to wait for gossip to converge
  --zones LIST              (none)      comma-separated zones, given to the nodes in turn
                                        (node i gets the (i mod count)-th): try zone-aware
                                        placement on one machine
  --datacenters LIST        (none)      comma-separated datacenters, given to the nodes in
                                        turn as zones are; --replication then defaults to
                                        min(3, the smallest datacenter's nodes)
  any cluster option of \`ringkv start\` (--cluster-name, --replication, --conflict-mode,
  --partition-mode, --gossip-interval-ms, --suspect-after-ms, --dead-after-ms, --vnodes,
  --hinted-handoff, --hint-replay-bytes-per-second, --stream-bytes-per-second,
  --read-repair-chance, --anti-entropy-interval-ms, --allow-stale-data), and
  --tombstone-grace-seconds, --memtable-mib and --block-cache-mib, is passed to every node.
`;

function getJson(port: number, urlPath: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * Whether a node's cluster status shows all `n` nodes healthy, each (as its gossip last said)
 * holding the ring that node holds: so that a `ringkv status` right after the launcher says
 * "converged" shows one ring.
 */
export function statusConverged(s: unknown, n: number): boolean {
  const status = s as { ring_digest?: string; nodes?: Array<{ status?: string; ring_digest?: string }> } | null;
  return Array.isArray(status?.nodes) && status.nodes.length === n && status.nodes.every((x) => x.status === 'healthy' && x.ring_digest === status.ring_digest);
}

/** statusConverged of the node at `port`; false when it does not answer. */
export async function nodeSeesConverged(port: number, n: number): Promise<boolean> {
  try {
    return statusConverged(await getJson(port, '/api/v1/cluster/status', 1000), n);
  } catch {
    return false;
  }
}

export const command: CliCommand = {
  summary: 'start a local cluster of N node processes on 127.0.0.1',
  async run(argv) {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
          nodes: { type: 'string' },
          'base-port': { type: 'string' },
          'data-dir': { type: 'string' },
          shards: { type: 'string' },
          'sync-mode': { type: 'string' },
          'tombstone-grace-seconds': { type: 'string' },
          'memtable-mib': { type: 'string' },
          'block-cache-mib': { type: 'string' },
          'wait-ms': { type: 'string' },
          zones: { type: 'string' },
          datacenters: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
          ...clusterStartFlags,
        },
      }));
    } catch (err) {
      process.stderr.write(`ringkv cluster: ${err instanceof Error ? err.message : String(err)}\n\n${clusterHelp}`);
      return 2;
    }
    if (values.help) {
      process.stdout.write(clusterHelp);
      return 0;
    }
    let n: number;
    let basePort: number;
    let waitMs: number;
    let zones: string[];
    let datacenters: string[];
    try {
      n = values.nodes === undefined ? 3 : parseIntOption('--nodes', values.nodes, 1, 16);
      basePort = values['base-port'] === undefined ? 7000 : parseIntOption('--base-port', values['base-port'], 1, 65535 - 16 - peerPortOffset);
      waitMs = values['wait-ms'] === undefined ? 30_000 : parseIntOption('--wait-ms', values['wait-ms'], 100, 600_000);
      if (values.seeds !== undefined || values['peer-port'] !== undefined || values.advertise !== undefined || values.zone !== undefined || values.datacenter !== undefined || values.bootstrap !== undefined) {
        throw usageError('ringkv cluster chooses --seeds, --peer-port, --advertise, --zone, --datacenter and --bootstrap itself (zones: --zones, datacenters: --datacenters)');
      }
      const names = (flag: string, text: string | undefined): string[] => {
        const list = text === undefined ? [] : text.split(',').map((z) => z.trim());
        const bad = list.find((z) => z === '' || !isValidZone(z));
        if (bad !== undefined) throw usageError(`--${flag} must list names of 1..${zoneBytesMax} of A-Z a-z 0-9 _ . -, not "${bad}"`);
        return list;
      };
      zones = names('zones', values.zones);
      datacenters = names('datacenters', values.datacenters);
      if (datacenters.length > n) throw usageError(`--datacenters names ${datacenters.length} datacenters for ${n} nodes`);
    } catch (err) {
      if (!isRingkvError(err)) throw err;
      process.stderr.write(`ringkv cluster: ${err.message}\n\n${clusterHelp}`);
      return 2;
    }
    const dataDir = path.resolve(values['data-dir'] ?? 'cluster');
    const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'ringkv.js');
    // Named here, not by node 0 for the others to learn while they all start at once; a data dir
    // from an earlier run keeps its name.
    const recorded = (() => {
      try {
        return fs.readFileSync(path.join(dataDir, 'node-0', clusterNameFileName), 'utf8').trim();
      } catch {
        return undefined;
      }
    })();
    const passThrough = clusterPassThrough({ ...values, 'cluster-name': values['cluster-name'] ?? recorded ?? newClusterName() }, Math.floor(n / Math.max(1, datacenters.length)));
    const nodeArgs = (i: number): string[] => [
      'start',
      '--port', String(basePort + i),
      '--data-dir', path.join(dataDir, `node-${i}`),
      '--node-id', `node-${i}`,
      ...shardsFlag(values.shards, path.join(dataDir, `node-${i}`)),
      '--seeds', `127.0.0.1:${basePort}`,
      // They start together, empty: there is nothing to stream yet.
      '--bootstrap', 'off',
      ...(zones.length > 0 ? ['--zone', zones[i % zones.length]!] : []),
      ...(datacenters.length > 0 ? ['--datacenter', datacenters[i % datacenters.length]!] : []),
      ...passThrough,
    ];
    // The options passed on are checked here, once: a bad --shards or --sync-mode is a usage
    // error of this command, not every node's exit 2 with the start help printed N times.
    try {
      (await import('./start')).parseStartConfig(nodeArgs(0).slice(1), {});
    } catch (err) {
      if (!isRingkvError(err)) throw err;
      process.stderr.write(`ringkv cluster: ${err.message}\n\n${clusterHelp}`);
      return 2;
    }
    const children: ChildProcess[] = [];
    const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
    let stopping: Promise<never> | undefined;
    // Once: a second Ctrl-C must not send the nodes a second SIGTERM, which a node takes as
    // "exit now" (server/node.ts exitOnSignals), cutting its shutdown short.
    const stopAll = (code: number): Promise<never> => {
      if (stopping !== undefined) {
        process.stderr.write('ringkv cluster: still stopping the nodes, each finishing its shutdown\n');
        return stopping;
      }
      return (stopping = stopNodes(code));
    };
    const stopNodes = async (code: number): Promise<never> => {
      for (const c of children) if (running(c)) c.kill('SIGTERM');
      // A node waits up to its shutdown grace for requests in flight, then closes its shards.
      const waitMs = shutdownGraceMsDefault + launcherCloseMarginMs;
      const deadline = Date.now() + waitMs;
      while (children.some(running) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      let failed = false;
      for (const [i, c] of children.entries()) {
        if (running(c)) {
          c.kill('SIGKILL');
          process.stderr.write(`ringkv cluster: node-${i} had not stopped after ${waitMs} ms; killed\n`);
          failed = true;
        } else if (c.exitCode !== 0) {
          process.stderr.write(`ringkv cluster: node-${i} exited (${c.signalCode ?? c.exitCode}) while stopping\n`);
          failed = true;
        }
      }
      process.exit(failed ? Math.max(code, 1) : code);
    };
    // Nodes in sessions of their own outlive the launcher unless it stops them: whatever ends it
    // (an exception included) kills those still running. Only a SIGKILL of the launcher leaves them.
    process.on('exit', () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
    process.on('SIGINT', () => void stopAll(0));
    process.on('SIGTERM', () => void stopAll(0));
    process.on('SIGHUP', () => void stopAll(0));
    for (let i = 0; i < n; i++) {
      const args = [bin, ...nodeArgs(i)];
      // Each node in a session of its own: a Ctrl-C (or the terminal closing) reaches the
      // launcher alone, which stops the nodes with one SIGTERM each. In the terminal's process
      // group every node also got the SIGINT itself, took the launcher's SIGTERM as a second
      // signal and exited without finishing its shutdown.
      const child = spawn(process.execPath, [...nodeRuntimeFlags, ...args], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
      child.on('exit', (code, signal) => {
        if (stopping !== undefined) return;
        process.stderr.write(`ringkv cluster: node-${i} exited (${signal ?? code}); stopping the others\n`);
        void stopAll(1);
      });
      children.push(child);
    }
    const started = Date.now();
    for (;;) {
      const ok = await Promise.all(Array.from({ length: n }, (_, i) => nodeSeesConverged(basePort + i, n)));
      if (ok.every(Boolean)) break;
      if (Date.now() - started > waitMs) {
        process.stderr.write(`ringkv cluster: gossip did not converge within ${waitMs} ms\n`);
        return stopAll(1);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    process.stdout.write(`ringkv cluster: ${n} nodes up, gossip converged in ${Date.now() - started} ms\n`);
    for (let i = 0; i < n; i++) {
      const zone = (datacenters.length > 0 ? `  datacenter ${datacenters[i % datacenters.length]!}` : '') + (zones.length > 0 ? `  zone ${zones[i % zones.length]!}` : '');
      process.stdout.write(`  node-${i}  http://127.0.0.1:${basePort + i}  peer 127.0.0.1:${basePort + i + peerPortOffset}${zone}  data ${path.join(dataDir, `node-${i}`)}  pid ${children[i]!.pid}\n`);
    }
    process.stdout.write('Ctrl-C stops every node.\n');
    return 0;
  },
};
