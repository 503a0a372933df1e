// The cluster coordinator's view of replicas: the local one (this node's shards, through the
// ShardRouter's ops) and remote ones (the same ops over the inter-node transport), behind one
// pair of calls, read and apply, so the quorum state machines never care where a replica lives.
// Records travel as the versioning layer's encoding (a sibling set: versionVector + value +
// tombstone flag), opaque to the transport.
import type { RangeStore } from '../antientropy';
import { ErrorCode, RingkvError } from '../errors';
import type { Membership } from '../membership';
import type { InternodeMessage } from '../protocol/internode_codec';
import type { PeerPool } from '../protocol/internode_pool';
import type { WireRecord, WriteDone, WriteOp } from '../shards/messages';
import type { LocalCoordinator } from './local_coordinator';
import type { CoordinatorStats } from './types';

/** This node's shards as the cluster coordinator uses them: the ShardRouter's ops, plus figures. */
export interface LocalReplica {
  get(key: Uint8Array, timeoutMs: number): Promise<WireRecord | null>;
  /** A write coordinated here; resolves once durable, `onApplied` hears it once applied (before its sync). */
  write(op: WriteOp, timeoutMs: number, onApplied?: (r: WriteDone) => void): Promise<WriteDone>;
  /** Merges a record from another replica; true when it changed what is stored. */
  apply(key: Uint8Array, record: WireRecord, timeoutMs: number): Promise<boolean>;
  /** Storage figures for stats(): memtable bytes, SSTables per level, WAL syncs, ... */
  storageStats(): Promise<CoordinatorStats>;
  /** About how many keys this node stores (advertised through gossip for total_keys). */
  keyEstimate(): Promise<number>;
  /** The token-range operations anti-entropy needs (the ShardRouter's). */
  readonly ranges: RangeStore;
  close(): Promise<void>;
}

/** The local replica of a node: the single-node coordinator's router and figures. */
export function localReplicaOf(lc: LocalCoordinator): LocalReplica {
  return {
    get: (key, timeoutMs) => lc.router.get(key, timeoutMs),
    write: (op, timeoutMs, onApplied) => lc.router.write(op, timeoutMs, onApplied ?? null),
    apply: (key, record, timeoutMs) => lc.router.apply(key, record, timeoutMs),
    storageStats: () => lc.stats(),
    keyEstimate: async () => (await lc.clusterStatus()).total_keys,
    ranges: lc.router,
    close: () => lc.close(),
  };
}

export function recordToWire(record: WireRecord): Pick<InternodeMessage, 'record' | 'value' | 'recordTombstone'> {
  return { record: record.versionVector, value: record.value, recordTombstone: record.tombstone };
}

export function recordFromWire(m: InternodeMessage): WireRecord {
  if (m.record === undefined) throw new RingkvError(ErrorCode.MalformedFrame, 'a replica message lacks its record');
  return { versionVector: m.record, value: m.value ?? new Uint8Array(0), tombstone: m.recordTombstone === true };
}

/** Reads and applies records on any replica, local or remote. */
export class ReplicaClient {
  constructor(
    private readonly selfId: string,
    private readonly local: LocalReplica,
    private readonly membership: Membership,
    private readonly pool: PeerPool,
  ) {}

  private peer(nodeId: string): { host: string; peerPort: number } {
    const addr = this.membership.peerAddress(nodeId);
    if (addr === undefined) throw new RingkvError(ErrorCode.Unavailable, `no address known for node ${nodeId}`, { details: { node: nodeId } });
    return addr;
  }

  async read(nodeId: string, key: Uint8Array, timeoutMs: number): Promise<WireRecord | null> {
    if (nodeId === this.selfId) return this.local.get(key, timeoutMs);
    const p = this.peer(nodeId);
    const reply = await this.pool.request(p.host, p.peerPort, { kind: 'replicaRead', key }, timeoutMs);
    return reply.found ? recordFromWire(reply) : null;
  }

  /** Merges `record` into the replica on `nodeId` (or stores it there as a hint for `hintFor`). */
  async apply(nodeId: string, key: Uint8Array, record: WireRecord, timeoutMs: number, hintFor?: string): Promise<void> {
    if (nodeId === this.selfId && hintFor === undefined) {
      await this.local.apply(key, record, timeoutMs);
      return;
    }
    const p = this.peer(nodeId);
    await this.pool.request(p.host, p.peerPort, { kind: 'replicaWrite', key, ...recordToWire(record), ...(hintFor === undefined ? {} : { hintFor }) }, timeoutMs);
  }
}
