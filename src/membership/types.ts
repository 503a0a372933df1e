// What gossip carries about one node, and the statuses the failure detector assigns. A node's
// `incarnation` is the wall-clock ms at which its process started, so a restarted node is newer
// than anything gossip remembers about it without persisting a counter (Cassandra's generation);
// `heartbeat` counts its gossip rounds within one incarnation.

// LEFT is not a detector verdict but the node's own announcement (decommission): sticky for that
// incarnation, gossiped like a heartbeat, and a LEFT node is out of the ring.
export type MemberStatus = 'ALIVE' | 'SUSPECT' | 'DEAD' | 'LEFT';
export const memberStatuses: readonly MemberStatus[] = ['ALIVE', 'SUSPECT', 'DEAD', 'LEFT'];

/**
 * Why a node rebuilds its replica: it joined (its ranges' keys are on their owners before the
 * join, the replicas of the ring without it), or it replaced an earlier data dir under its id (its
 * tokens are its id's, so its keys are on its present co-replicas alone).
 */
export type RebuildKind = 'joined' | 'replaced';

export interface MemberInfo {
  nodeId: string;
  /** Address other nodes and clients reach this node at. */
  host: string;
  httpPort: number;
  peerPort: number;
  vnodes: number;
  incarnation: number;
  heartbeat: number;
  /** The sender's opinion; a receiver adopts it only for nodes it has not heard of yet. */
  status: MemberStatus;
  /** Distinct keys this node holds (its engines' HyperLogLog estimate; summed for total_keys). */
  keyEstimate: number;
  /** Fraction of capacity in use, 0..1. */
  load: number;
  /**
   * The settings every node of one cluster must share (replication factor, conflict mode), as a
   * canonical string its owner advertises; compared, never parsed, here. Absent: a node that
   * does not say (older than the field), which no check holds against it.
   */
  settings?: string;
  /**
   * Set while the node's storage refuses writes (design.md §10, scenario 4: a node marks itself
   * degraded in gossip): 'full' until space is freed, 'failed' until it restarts. Absent: it takes
   * writes (or is older than the field). Reads are unaffected either way.
   */
  storage?: StorageTrouble;
  /**
   * The node's failure domain (rack, availability zone), which the ring's walk spreads each key's
   * replicas over (ring/ring.ts). Absent: none (or a node older than the field).
   */
  zone?: string;
  /**
   * The node's datacenter: the ring keeps N replicas of each key in each one (ring/ring.ts), and
   * LOCAL_QUORUM counts the coordinator's. Absent: none (or a node older than the field).
   */
  datacenter?: string;
  /**
   * Set while the node rebuilds its replica (a new data dir: cluster_coordinator.ts `rebuilding`),
   * saying why (RebuildKind); other coordinators ask it last on reads. Absent: its replica is whole
   * (or it is older than the field). A node older than the kind says 'joined'.
   */
  rebuilding?: RebuildKind;
  /** Bytes of its tables and WAL, as its last storage poll found them. Absent: older than the field. */
  dataBytes?: number;
  /** Its data dir's file system: size, and what the node may still use. Absent: unknown (older, or statfs failed). */
  diskSizeBytes?: number;
  diskFreeBytes?: number;
  /** While it rebuilds: the ranges no pass has synced yet. Absent: not rebuilding (or older). */
  rebuildRangesLeft?: number;
  /**
   * The nodes it holds hints for (writes they missed, not delivered yet; at most
   * gossipHintTargetsMax, most hints first): they are behind, and every coordinator asks them last
   * on reads, not only the ones holding the hints. Absent: none (or a node older than the field).
   */
  hintsFor?: string[];
  /**
   * How long after a delete its tombstone may be purged on this node (--tombstone-grace-seconds).
   * Nodes may differ (a rolling change of the flag passes through that); the shortest decides
   * (MembershipTable.shortestTombstoneGrace). Absent: a node that does not say (older than the field).
   */
  tombstoneGraceMs?: number;
  /**
   * The digest of the ring the node held at its last heartbeat (Ring.digest): nodes that show
   * different ones have not all learned of a ring change yet. Absent: a node older than the field.
   */
  ringDigest?: number;
  /**
   * Set while the node hands its ranges over (a decommission under way): until it has left, the
   * nodes taking them over do not replicate them in their own rings, so their cleanups wait.
   * Absent: not leaving (or older than the field).
   */
  leaving?: boolean;
  /** Set while a cleanup runs on the node: a decommission waits. Absent: none (or older than the field). */
  cleaningUp?: boolean;
  /**
   * Set when the node's process started on a new, empty data dir. A node held LEFT (decommissioned
   * or removed) is taken back at a later incarnation only then: on its old data dir it would serve
   * what it held when it left, missing every write since. Absent: a used data dir (or a node older
   * than the field).
   */
  freshDataDir?: boolean;
}

/** What a node says of itself each gossip round, besides its identity and heartbeat. */
export type MemberLoad = Pick<MemberInfo, 'keyEstimate' | 'load' | 'storage' | 'rebuilding' | 'dataBytes' | 'diskSizeBytes' | 'diskFreeBytes' | 'rebuildRangesLeft' | 'hintsFor' | 'leaving' | 'cleaningUp'>;

export type StorageTrouble = 'full' | 'failed';

/** A status transition seen by one node's failure detector or merge. */
export interface StatusChange {
  nodeId: string;
  from: MemberStatus | 'UNKNOWN';
  to: MemberStatus;
  atMs: number;
}

/** Where to gossip: the peer (inter-node) address. */
export interface PeerAddress {
  host: string;
  peerPort: number;
  /** The node expected there; absent for a seed (any node of the cluster may answer). */
  nodeId?: string;
}
