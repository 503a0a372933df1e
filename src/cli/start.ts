// `ringkv start`: run one node in this process (single-node mode, the embedded default) until
// SIGTERM/SIGINT/SIGHUP. Every flag has an environment variable; a flag wins over its variable.
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  blockCacheBytesDefault,
  blockCacheBytesMax,
  httpPortDefault,
  immutableMemtablesMax,
  memtableBytesDefault,
  nodeRuntimeFlags,
  scrubBytesPerSecondDefault,
  scrubIntervalSecondsDefault,
  tombstoneGraceMsClusterMin,
  tombstoneGraceMsDefault,
  tombstoneGraceMsMax,
} from '../constants';
import { isRingkvError } from '../errors';
import { exitOnSignals, startNode } from '../server/node';
import { defaultShardCount } from '../shards';
import type { SyncMode } from '../storage/types';
import { type CliCommand, parseIntOption, usageError } from './command';
import type { ClusterNodeConfig } from '../coordinator/cluster_factory';
import { clusterStartFlags, clusterStartHelp, parseClusterFlags } from './cluster';

const syncModes: readonly SyncMode[] = ['always', 'batch', 'none'];
const shardsMax = 256;
const mib = 1024 * 1024;
/** The engine takes memtables up to 1 GiB. */
const memtableMibMax = 1024;
const blockCacheMibMax = Math.floor(blockCacheBytesMax / mib);

export const startHelp = `usage: ringkv start [options]

Runs one ringkv node (HTTP API and binary WebSocket protocol) until SIGTERM, SIGINT or SIGHUP.

options (flag, environment variable, default):
  --port N          RINGKV_PORT       ${httpPortDefault}           TCP port of the HTTP/WebSocket API (0 = any free port)
  --host ADDR       RINGKV_HOST       127.0.0.1      address to listen on
  --data-dir DIR    RINGKV_DATA_DIR   ./data         where WALs and SSTables live (created if missing)
  --shards N        RINGKV_SHARDS     CPUs - 1 (>=1) shard worker threads, 1..${shardsMax}; a data dir
                                                     keeps the count it was created with (another
                                                     is refused: no re-sharding in place)
  --sync-mode MODE  RINGKV_SYNC_MODE  batch          WAL durability: always (fdatasync per write),
                                                     batch (group commit, a write is acknowledged
                                                     after its sync), none (OS decides; fastest)
  --node-id ID      RINGKV_NODE_ID    (from data dir) this node's id in versions and the ring
  --scrub-interval-seconds N  RINGKV_SCRUB_INTERVAL_SECONDS  ${scrubIntervalSecondsDefault} (a week)
                                                     how often the node checks every table end to
                                                     end, timed from the last scrub (kept in the
                                                     data dir's LAST_SCRUB); 0 = never
  --scrub-bytes-per-second N  RINGKV_SCRUB_BYTES_PER_SECOND  ${scrubBytesPerSecondDefault}
                                                     what a scheduled scrub reads per second, all
                                                     shards together
  --memtable-mib N  RINGKV_MEMTABLE_MIB  ${memtableBytesDefault / mib}
                                                     each shard's memtable: writes are kept in
                                                     memory up to this, then flushed to a table;
                                                     1..${memtableMibMax} (a shard holds up to ${1 + immutableMemtablesMax} while
                                                     flushes catch up)
  --block-cache-mib N  RINGKV_BLOCK_CACHE_MIB  ${blockCacheBytesDefault / mib}
                                                     each shard's cache of table blocks;
                                                     0..${blockCacheMibMax} (0 = none)
  --tombstone-grace-seconds N  RINGKV_TOMBSTONE_GRACE_SECONDS  ${tombstoneGraceMsDefault / 1000} (10 days)
                                                     how long a delete's tombstone is kept before
                                                     compaction may purge it (Cassandra's
                                                     gc_grace_seconds): every replica must hear of
                                                     the delete within it. 0..${tombstoneGraceMsMax / 1000}; at
                                                     least ${tombstoneGraceMsClusterMin / 1000} (${tombstoneGraceMsClusterMin / 3_600_000} hours) in a cluster with
                                                     --replication > 1; give every node the same
                                                     (the shortest decides; a node with a longer
                                                     one warns)
  -h, --help                                         this text
` + clusterStartHelp;

export interface StartConfig {
  host: string;
  port: number;
  dataDir: string;
  /** Undefined: the count the data dir was created with, else one per CPU but one. */
  shardCount?: number;
  syncMode: SyncMode;
  nodeId?: string;
  /** Background scrubbing: every intervalMs (0: never), at bytesPerSecond. */
  scrub: { intervalMs: number; bytesPerSecond: number };
  /** How long tombstones are kept before compaction may purge them. */
  tombstoneGraceMs: number;
  /** Each shard's memtable limit and block cache (undefined: the engine's defaults). */
  memtableBytes?: number;
  blockCacheBytes?: number;
  /** Cluster mode (--seeds given): how this node joins and replicates. */
  cluster?: ClusterNodeConfig;
}

/** Flags over environment over defaults; throws a usage error naming the bad option. */
export function parseStartConfig(argv: string[], env: NodeJS.ProcessEnv): StartConfig | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        shards: { type: 'string' },
        'sync-mode': { type: 'string' },
        'node-id': { type: 'string' },
        'scrub-interval-seconds': { type: 'string' },
        'scrub-bytes-per-second': { type: 'string' },
        'tombstone-grace-seconds': { type: 'string' },
        'memtable-mib': { type: 'string' },
        'block-cache-mib': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        ...clusterStartFlags,
      },
    }));
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return 'help';
  // An empty value is most often a variable unset in a script (`--data-dir "$DIR"`): taken as
  // given, the data dir would be the current directory and `--host ''` would listen everywhere.
  for (const [name, v] of Object.entries(values)) if (v === '') throw usageError(`--${name} needs a value, not an empty string`);
  const pick = (flag: string | undefined, envName: string): { text: string; name: string } | undefined => {
    if (flag !== undefined) return { text: flag, name: `--${envName.replace(/^RINGKV_/, '').toLowerCase().replace(/_/g, '-')}` };
    const e = env[envName];
    return e !== undefined && e !== '' ? { text: e, name: envName } : undefined;
  };
  const port = pick(values.port, 'RINGKV_PORT');
  const shards = pick(values.shards, 'RINGKV_SHARDS');
  const sync = pick(values['sync-mode'], 'RINGKV_SYNC_MODE');
  const nodeId = pick(values['node-id'], 'RINGKV_NODE_ID');
  const scrubInterval = pick(values['scrub-interval-seconds'], 'RINGKV_SCRUB_INTERVAL_SECONDS');
  const scrubRate = pick(values['scrub-bytes-per-second'], 'RINGKV_SCRUB_BYTES_PER_SECOND');
  const grace = pick(values['tombstone-grace-seconds'], 'RINGKV_TOMBSTONE_GRACE_SECONDS');
  const memtable = pick(values['memtable-mib'], 'RINGKV_MEMTABLE_MIB');
  const blockCache = pick(values['block-cache-mib'], 'RINGKV_BLOCK_CACHE_MIB');
  const config: StartConfig = {
    host: pick(values.host, 'RINGKV_HOST')?.text ?? '127.0.0.1',
    port: port === undefined ? httpPortDefault : parseIntOption(port.name, port.text, 0, 65535),
    dataDir: path.resolve(pick(values['data-dir'], 'RINGKV_DATA_DIR')?.text ?? 'data'),
    syncMode: 'batch',
    scrub: {
      intervalMs: 1000 * (scrubInterval === undefined ? scrubIntervalSecondsDefault : parseIntOption(scrubInterval.name, scrubInterval.text, 0, 365 * 24 * 3600)),
      bytesPerSecond: scrubRate === undefined ? scrubBytesPerSecondDefault : parseIntOption(scrubRate.name, scrubRate.text, 64 * 1024, 1024 * 1024 * 1024),
    },
    tombstoneGraceMs: grace === undefined ? tombstoneGraceMsDefault : 1000 * parseIntOption(grace.name, grace.text, 0, tombstoneGraceMsMax / 1000),
  };
  if (shards !== undefined) config.shardCount = parseIntOption(shards.name, shards.text, 1, shardsMax);
  if (memtable !== undefined) config.memtableBytes = mib * parseIntOption(memtable.name, memtable.text, 1, memtableMibMax);
  if (blockCache !== undefined) config.blockCacheBytes = mib * parseIntOption(blockCache.name, blockCache.text, 0, blockCacheMibMax);
  if (sync !== undefined) {
    if (!(syncModes as readonly string[]).includes(sync.text)) throw usageError(`${sync.name} must be one of ${syncModes.join(', ')}, not "${sync.text}"`);
    config.syncMode = sync.text as SyncMode;
  }
  if (nodeId !== undefined) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(nodeId.text)) throw usageError(`${nodeId.name} must be 1..64 of A-Z a-z 0-9 _ . -`);
    config.nodeId = nodeId.text;
  }
  const cluster = parseClusterFlags(values, env, config);
  if (cluster !== undefined) {
    if (cluster.replicationFactor > 1 && config.tombstoneGraceMs < tombstoneGraceMsClusterMin) {
      throw usageError(`${grace?.name ?? '--tombstone-grace-seconds'} must be at least ${tombstoneGraceMsClusterMin / 1000} in a cluster with --replication > 1 (hints live up to half of that)`);
    }
    config.cluster = cluster;
  }
  return config;
}

export const command: CliCommand = {
  summary: 'run a single node on 127.0.0.1 (data in ./data)',
  async run(argv) {
    let config: StartConfig | 'help';
    try {
      config = parseStartConfig(argv, process.env);
    } catch (err) {
      if (!isRingkvError(err)) throw err;
      process.stderr.write(`ringkv start: ${err.message}\n\n${startHelp}`);
      return 2;
    }
    if (config === 'help') {
      process.stdout.write(startHelp);
      return 0;
    }
    const log = (line: string): void => {
      process.stderr.write(`${line}\n`);
    };
    const factory = config.cluster === undefined ? undefined : (await import('../coordinator/cluster_factory')).clusterCoordinatorFactory(config.cluster, log);
    const node = await startNode({ ...config, log }, factory);
    exitOnSignals(node, log);
    const stats = await node.coordinator.stats().catch(() => null);
    const shards = typeof stats?.['shards'] === 'number' ? stats['shards'] : (config.shardCount ?? defaultShardCount());
    // The one line that says where the node is: tests and scripts wait for it.
    log(
      `ringkv: node ${node.coordinator.nodeId} listening on http://${node.server.host}:${node.server.port} ` +
        `data-dir=${config.dataDir} shards=${shards} sync-mode=${config.syncMode} pid=${process.pid}` +
        // Says whether the node runs with the V8 flags it is tuned for (constants.ts nodeRuntimeFlags).
        ` v8-flags=${nodeRuntimeFlags.every((f) => process.execArgv.includes(f) || (process.env.NODE_OPTIONS ?? '').includes(f)) ? nodeRuntimeFlags.join(',') : 'default'}`,
    );
    return 0;
  },
};
