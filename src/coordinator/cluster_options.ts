// Options of a cluster node's coordinator, validated at the boundary with messages that name the
// option (the CLI turns flags into these).
import {
  antiEntropyIntervalMsDefault,
  deadAfterMsDefault,
  gossipIntervalMsDefault,
  hintReplayBytesPerSecondDefault,
  hintReplayBytesPerSecondMin,
  streamBytesPerSecondDefault,
  streamBytesPerSecondMin,
  hintReplayIntervalMsDefault,
  readRepairChanceDefault,
  replicationFactorDefault,
  requestTimeoutMsDefault,
  suspectAfterMsDefault,
  tombstoneGraceMsClusterMin,
  tombstoneGraceMsDefault,
  tombstoneGraceMsMax,
  vnodesPerNodeDefault,
  vnodesPerNodeMax,
  zoneBytesMax,
} from '../constants';
import { ErrorCode, RingkvError } from '../errors';
import { clusterNameDefault, isValidClusterName } from './identity_files';
import type { PeerAddress } from '../membership';
import { isValidZone } from '../ring';
import type { PartitionMode } from './quorum';
import type { ConflictMode } from '../versioning';

export interface ClusterOptions {
  nodeId: string;
  /**
   * The cluster this node belongs to (identity_files.ts): its inter-node connections open with it
   * and it answers no node of another cluster.
   */
  clusterName: string;
  /** Address peers and clients reach this node at, as gossip advertises it. */
  host: string;
  httpPort: number;
  peerPort: number;
  /**
   * Where the peer port binds, when not at host:peerPort: behind NAT or a proxy, or listening on
   * every interface (0.0.0.0) while peers are told one routable address (Cassandra's
   * listen_address beside broadcast_address).
   */
  peerListen?: { host: string; port: number };
  seeds: PeerAddress[];
  vnodes: number;
  /**
   * The failure domain this node is in (a rack, an availability zone); '' or absent: none. The
   * ring puts a key's replicas in as many zones as it can (ring/ring.ts), so a zone that fails
   * whole takes at most ceil(N / zones) of them.
   */
  zone?: string;
  /**
   * The datacenter this node is in; '' or absent: none. Each datacenter keeps `replicationFactor`
   * replicas of every key (ring/ring.ts) with its own quorums (LOCAL_QUORUM), and the others get
   * the writes asynchronously (design.md §8).
   */
  datacenter?: string;
  /** N: replicas of each key (in each datacenter, where nodes name datacenters). */
  replicationFactor: number;
  conflictMode: ConflictMode;
  /**
   * What a node does with writes it cannot get to a majority of their replicas (design.md §10,
   * scenario 2): 'ap' takes them at the level asked (a ONE write succeeds on one side of a
   * partition); 'cp' gives every write a floor of QUORUM, so only the side with a majority of a
   * key's replicas takes writes to it and the other answers 503. Reads are the same in both.
   */
  partitionMode: PartitionMode;
  gossipIntervalMs: number;
  suspectAfterMs: number;
  deadAfterMs: number;
  /** Keep writes for down replicas as hints on a stand-in and replay them (default true). */
  hintedHandoff: boolean;
  hintReplayIntervalMs: number;
  /** Hint bytes (keys, versions, values) this node replays per second, to all targets together. */
  hintReplayBytesPerSecond: number;
  /** Record bytes this node streams per second (anti_entropy.ts pacedRangeReplica); 0 = unthrottled. */
  streamBytesPerSecond: number;
  /** Where hints are kept across restarts (`<dataDir>/hints`); in memory only when absent. */
  hintsDir?: string;
  /** This node's data dir was made by this start (nothing in it yet): see ClusterCoordinator's `rebuilding`. */
  freshDataDir?: boolean;
  /**
   * Where a new data dir is marked new (`<dataDir>/FRESH`, made before its shards) until this node
   * has decided whether it rebuilds: a start refused after the shards were made (another
   * cluster's settings, a twin) leaves it, so the next start is still a new data dir's.
   */
  freshFile?: string;
  /** Where a rebuild in progress is recorded (`<dataDir>/REBUILDING`), so a restart resumes it. */
  rebuildFile?: string;
  /** Where a successful decommission is recorded (`<dataDir>/DECOMMISSIONED`, decommissioned.ts); not recorded when absent. */
  decommissionedFile?: string;
  /** Where this node records that the cluster removed it (`<dataDir>/REMOVED`, decommissioned.ts); not recorded when absent. */
  removedFile?: string;
  /** Where the members last known are kept across restarts (`<dataDir>/PEERS`); not kept when absent. */
  peersFile?: string;
  /** Where the node records that it runs (`<dataDir>/LAST_RUN`, last_run.ts); not recorded when absent. */
  lastRunFile?: string;
  /** Where the node keeps the time since which anti-entropy has synced every range (`<dataDir>/SYNCED_SINCE`, sync_coverage.ts); not kept when absent. */
  syncedSinceFile?: string;
  requestTimeoutMs: number;
  /** Probability that a read asks every live replica instead of only the ones its level needs. */
  readRepairChance: number;
  /** How often this node syncs one of its token ranges with another replica (0 = never). */
  antiEntropyIntervalMs: number;
  /** How long a delete's tombstone is kept before compaction may purge it (the storage engine's, told in DELETE answers). */
  tombstoneGraceMs: number;
  /**
   * This node is new (its data dir was empty) and joins through seeds: once the ring has settled
   * with it, it streams every range it now replicates from their other replicas (a full
   * anti-entropy pass), whatever antiEntropyIntervalMs is.
   */
  bootstrap: boolean;
  /** Uniform in [0, 1); tests may fix it. */
  random: () => number;
  log: (line: string) => void;
}

export const clusterDefaults = {
  clusterName: clusterNameDefault,
  vnodes: vnodesPerNodeDefault,
  replicationFactor: replicationFactorDefault,
  conflictMode: 'vclock' as ConflictMode,
  partitionMode: 'ap' as PartitionMode,
  gossipIntervalMs: gossipIntervalMsDefault,
  suspectAfterMs: suspectAfterMsDefault,
  deadAfterMs: deadAfterMsDefault,
  hintedHandoff: true,
  hintReplayIntervalMs: hintReplayIntervalMsDefault,
  hintReplayBytesPerSecond: hintReplayBytesPerSecondDefault,
  streamBytesPerSecond: streamBytesPerSecondDefault,
  requestTimeoutMs: requestTimeoutMsDefault,
  readRepairChance: readRepairChanceDefault,
  antiEntropyIntervalMs: antiEntropyIntervalMsDefault,
  tombstoneGraceMs: tombstoneGraceMsDefault,
  bootstrap: false,
  random: Math.random,
};

function bad(option: string, why: string): RingkvError {
  return new RingkvError(ErrorCode.InvalidArgument, `cluster option ${option} ${why}`, { details: { option } });
}

/**
 * The options every node of one cluster must agree on, as the string each node gossips
 * (MemberInfo.settings) and compares: with different replication factors coordinators disagree
 * on who holds a key and on what a quorum is, so an acknowledged write can be missed by a read;
 * with different conflict modes one node collapses siblings another keeps; with different
 * partition modes a minority side still takes the writes the 'cp' nodes promise it refuses.
 */
export function clusterSettingsOf(o: Pick<ClusterOptions, 'replicationFactor' | 'conflictMode' | 'partitionMode'>): string {
  // 'ap' is left out: the string nodes gossiped before the option existed.
  return `replication=${o.replicationFactor} conflict-mode=${o.conflictMode}${o.partitionMode === 'cp' ? ' partition-mode=cp' : ''}`;
}

export function validateClusterOptions(o: ClusterOptions): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(o.nodeId)) throw bad('nodeId', 'must be 1..64 of A-Z a-z 0-9 _ . -');
  if (!isValidClusterName(o.clusterName)) throw bad('clusterName', 'must be 1..64 of A-Z a-z 0-9 _ . -');
  for (const [name, port] of [['httpPort', o.httpPort], ['peerPort', o.peerPort]] as const) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(name, `must be 1..65535, not ${port}`);
  }
  if (!Number.isInteger(o.vnodes) || o.vnodes < 1 || o.vnodes > vnodesPerNodeMax) throw bad('vnodes', `must be 1..${vnodesPerNodeMax}`);
  if (o.zone !== undefined && !isValidZone(o.zone)) throw bad('zone', `must be 0..${zoneBytesMax} of A-Z a-z 0-9 _ . -`);
  if (o.datacenter !== undefined && !isValidZone(o.datacenter)) throw bad('datacenter', `must be 0..${zoneBytesMax} of A-Z a-z 0-9 _ . -`);
  if (!Number.isInteger(o.replicationFactor) || o.replicationFactor < 1 || o.replicationFactor > 7) throw bad('replicationFactor', 'must be 1..7');
  if (o.conflictMode !== 'vclock' && o.conflictMode !== 'lww') throw bad('conflictMode', 'must be vclock or lww');
  if (o.partitionMode !== 'ap' && o.partitionMode !== 'cp') throw bad('partitionMode', 'must be ap or cp');
  if (!(o.gossipIntervalMs >= 10)) throw bad('gossipIntervalMs', 'must be at least 10');
  if (!(o.suspectAfterMs > o.gossipIntervalMs)) throw bad('suspectAfterMs', 'must exceed gossipIntervalMs');
  if (!(o.deadAfterMs > o.suspectAfterMs)) throw bad('deadAfterMs', 'must exceed suspectAfterMs');
  if (!(o.hintReplayIntervalMs >= 10)) throw bad('hintReplayIntervalMs', 'must be at least 10');
  if (!(Number.isInteger(o.hintReplayBytesPerSecond) && o.hintReplayBytesPerSecond >= hintReplayBytesPerSecondMin)) {
    throw bad('hintReplayBytesPerSecond', `must be an integer of at least ${hintReplayBytesPerSecondMin}`);
  }
  if (!(Number.isInteger(o.streamBytesPerSecond) && (o.streamBytesPerSecond === 0 || o.streamBytesPerSecond >= streamBytesPerSecondMin))) {
    throw bad('streamBytesPerSecond', `must be 0 (unthrottled) or an integer of at least ${streamBytesPerSecondMin}`);
  }
  if (!(o.requestTimeoutMs >= 1)) throw bad('requestTimeoutMs', 'must be positive');
  if (!(o.readRepairChance >= 0 && o.readRepairChance <= 1)) throw bad('readRepairChance', 'must be in [0, 1]');
  if (!(Number.isInteger(o.antiEntropyIntervalMs) && o.antiEntropyIntervalMs >= 0)) throw bad('antiEntropyIntervalMs', 'must be a non-negative integer (0 = off)');
  if (!(Number.isSafeInteger(o.tombstoneGraceMs) && o.tombstoneGraceMs >= 0 && o.tombstoneGraceMs <= tombstoneGraceMsMax)) throw bad('tombstoneGraceMs', `must be an integer 0..${tombstoneGraceMsMax}`);
  if (o.replicationFactor > 1 && o.tombstoneGraceMs < tombstoneGraceMsClusterMin) throw bad('tombstoneGraceMs', `must be at least ${tombstoneGraceMsClusterMin} with replicationFactor > 1 (hints live up to half of that)`);
}
