// Builds a cluster node's coordinator: the single-node coordinator's shards as the local replica,
// wrapped by the cluster coordinator (ring, gossip, quorum). The composition root (server/node.ts)
// calls this through its CoordinatorFactory hook; nothing here imports the server.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tombstoneGraceMsDefault } from '../constants';
import { type DirLock, dirLockFileName, lockDir } from '../storage/dir-lock';
import { writeFileDurably } from '../storage/durable-file';
import type { SyncMode } from '../storage/types';
import { type ClusterCoordinator, createClusterCoordinator, freshFileName, rebuildFileName } from './cluster_coordinator';
import { clusterDefaults, type ClusterOptions } from './cluster_options';
import { localReplicaOf } from './cluster_replica';
import { decommissionedFileName, refuseDecommissioned, removedFileName } from './decommissioned';
import { hintsDirName } from './hint_log';
import { clusterNameFileName, datacenterFileName, loadOrCreateClusterName, loadOrCreateDatacenter, loadOrCreateVnodes, loadOrCreateZone, recordedNodeId, vnodesFileName, zoneFileName } from './identity_files';
import { checkLastRun, lastRunFileName, startGrace } from './last_run';
import { loadPeers, peersFileName } from './peers_file';
import { syncedSinceFileName } from './sync_coverage';
import { clusterNameFromSeeds, newClusterName } from './cluster_name';
import { createLocalCoordinator, type LocalCoordinator } from './local_coordinator';

/** Everything a cluster node needs beyond the single-node options; nodeId comes from the data dir. */
export type ClusterNodeConfig = Omit<ClusterOptions, 'nodeId' | 'clusterName' | 'vnodes' | 'log' | 'random' | 'readRepairChance' | 'antiEntropyIntervalMs' | 'bootstrap' | 'tombstoneGraceMs'> & {
  nodeId?: string;
  /** Undefined: the number the data dir records, or vnodesPerNodeDefault (identity_files.ts). */
  vnodes?: number;
  /** Undefined: the one the data dir records (identity_files.ts). */
  clusterName?: string;
  /** Undefined: the one the data dir records, or none (identity_files.ts). */
  zone?: string;
  /** Undefined: the one the data dir records, or none (identity_files.ts). */
  datacenter?: string;
  readRepairChance?: number;
  antiEntropyIntervalMs?: number;
  /** Whether a node with an empty data dir streams its ranges as it joins (default true). */
  bootstrap?: boolean;
  /** Start even when the data dir last ran longer ago than the tombstone grace (last_run.ts). */
  allowStaleData?: boolean;
};

export interface NodeCoordinatorOptions {
  dataDir: string;
  shardCount?: number;
  syncMode: SyncMode;
  nodeId?: string;
  /** Default: tombstoneGraceMsDefault. */
  tombstoneGraceMs?: number;
  /** Each shard's memtable limit and block cache; default: the engine's. */
  memtableBytes?: number;
  blockCacheBytes?: number;
}

export function clusterCoordinatorFactory(cluster: ClusterNodeConfig, log: (line: string) => void): (options: NodeCoordinatorOptions) => Promise<ClusterCoordinator> {
  return async (options) => {
    // Before anything in the data dir is read or written (the identity files below included): a
    // second start on a running node's data dir, one that forgot --data-dir, must change nothing.
    const dirLock = lockDir(options.dataDir);
    let opened: OpenedDataDir;
    try {
      opened = await openDataDir(cluster, options, dirLock, log);
    } catch (err) {
      dirLock.release();
      throw err;
    }
    const { local, fresh } = opened;
    try {
      return await createClusterCoordinator(localReplicaOf(local), { ...clusterDefaults, ...cluster, nodeId: local.nodeId, clusterName: opened.clusterName, vnodes: opened.vnodes, tombstoneGraceMs: opened.tombstoneGraceMs, zone: opened.zone, datacenter: opened.datacenter, hintsDir: path.join(options.dataDir, hintsDirName), peersFile: path.join(options.dataDir, peersFileName), lastRunFile: path.join(options.dataDir, lastRunFileName), syncedSinceFile: path.join(options.dataDir, syncedSinceFileName), freshDataDir: fresh, freshFile: path.join(options.dataDir, freshFileName), rebuildFile: path.join(options.dataDir, rebuildFileName), decommissionedFile: path.join(options.dataDir, decommissionedFileName), removedFile: path.join(options.dataDir, removedFileName), bootstrap: (cluster.bootstrap ?? true) && fresh && cluster.seeds.length > 0, log });
    } catch (err) {
      await local.close().catch(() => undefined);
      throw err;
    }
  };
}

interface OpenedDataDir {
  local: LocalCoordinator;
  fresh: boolean;
  clusterName: string;
  zone: string;
  datacenter: string;
  vnodes: number;
  tombstoneGraceMs: number;
}

/** A cluster node's data dir, locked by the caller: its checks, its identity files, then its shards (which take the lock over). */
async function openDataDir(cluster: ClusterNodeConfig, options: NodeCoordinatorOptions, dirLock: DirLock, log: (line: string) => void): Promise<OpenedDataDir> {
  const nodeId = cluster.nodeId ?? options.nodeId;
  refuseDecommissioned(options.dataDir);
  // A node whose data dir is new and that has somewhere to join streams its ranges once it is in the ring.
  // (A LOCK file, or the CLUSTER_NAME, ZONE, DATACENTER and VNODES written below, is all a start that failed early leaves;
  // a LAST_RUN or SYNCED_SINCE beside them without any shard is a data dir emptied of its data, new too. So is
  // one of these files half written, FRESH's included: a crash in writeFileDurably leaves NAME.tmp. And the
  // lost+found of a file system made for it: a data dir at the root of a new volume.)
  const identityFiles = [dirLockFileName, clusterNameFileName, zoneFileName, datacenterFileName, vnodesFileName, lastRunFileName, syncedSinceFileName];
  const leftByNewDir = new Set([...identityFiles, ...[...identityFiles, freshFileName].map((name) => `${name}.tmp`), 'lost+found']);
  // A start refused after its shards were made (preflight: another cluster's settings, a twin)
  // leaves FRESH behind: the next start is still a new data dir's (ClusterOptions.freshFile).
  const freshFile = path.join(options.dataDir, freshFileName);
  const fresh = !fs.existsSync(options.dataDir) || fs.readdirSync(options.dataDir).every((name) => leftByNewDir.has(name)) || fs.existsSync(freshFile);
  if (fresh) writeFileDurably(freshFile, 'a new data dir: removed once the node has decided whether it rebuilds (streams its ranges)\n');
  // Before the store opens: a data dir of another cluster, zone or datacenter is refused with nothing started.
  // A first start given no name takes its seeds' (or, a first node, makes one up: cluster_name.ts);
  // a data dir with data from before names were recorded keeps the one it had (identity_files.ts).
  let named = cluster.clusterName;
  if (named === undefined && fresh && !fs.existsSync(path.join(options.dataDir, clusterNameFileName))) {
    named = (await clusterNameFromSeeds(cluster.seeds, { host: cluster.host, peerPort: cluster.peerPort }, nodeId ?? 'new-node', log)) ?? newClusterName();
  }
  const clusterName = loadOrCreateClusterName(options.dataDir, named);
  const zone = loadOrCreateZone(options.dataDir, cluster.zone);
  const datacenter = loadOrCreateDatacenter(options.dataDir, cluster.datacenter);
  // PEERS read quietly here: the coordinator reads it again below and says what is wrong with it.
  const peers = loadPeers(path.join(options.dataDir, peersFileName), () => undefined);
  const ownId = nodeId ?? recordedNodeId(options.dataDir);
  const vnodes = loadOrCreateVnodes(options.dataDir, cluster.vnodes, peers.find((p) => p.nodeId === ownId && p.leftIncarnation === undefined)?.vnodes);
  // With one replica per key no other copy can have purged a tombstone this one lacks.
  const tombstoneGraceMs = options.tombstoneGraceMs ?? tombstoneGraceMsDefault;
  if (cluster.replicationFactor > 1) {
    const grace = startGrace(tombstoneGraceMs, peers, ownId);
    checkLastRun(options.dataDir, Date.now(), grace, cluster.allowStaleData === true, log);
  }
  const local = await createLocalCoordinator({
    dataDir: options.dataDir,
    ...(options.shardCount !== undefined && { shardCount: options.shardCount }),
    syncMode: options.syncMode,
    ...(options.memtableBytes !== undefined && { memtableBytes: options.memtableBytes }),
    ...(options.blockCacheBytes !== undefined && { blockCacheBytes: options.blockCacheBytes }),
    tombstoneGraceMs,
    conflictMode: cluster.conflictMode,
    address: `${cluster.host}:${cluster.httpPort}`,
    requestTimeoutMs: cluster.requestTimeoutMs,
    ...(nodeId !== undefined && { nodeId }),
    // Other replicas hold what a corrupt table held: take it out and repair (Coordinator.scrub).
    storage: { quarantineCorruptTables: cluster.replicationFactor > 1 },
    dirLock,
  });
  return { local, fresh, clusterName, zone, datacenter, vnodes, tombstoneGraceMs };
}
