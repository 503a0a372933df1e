// Decommission (a planned leave): before a node leaves the ring for good, it hands every record it
// holds over to the nodes that will replicate it once it is gone, so the replica count of every
// key is back at N the moment the others drop it from their rings. For each range the node
// replicates, it pages through its own copy and sends each record to the members of the range's
// preference list in the ring without it that are not in its current one (those already hold the
// key, barring divergence that anti-entropy fixes as it always does). Removing a node's tokens only
// merges ranges, never splits one, so every key of a current range has the same new preference
// list: the targets are worked out once per range, not per key.
// The receivers merge (replicaWrite), so sending a record twice, or one they already have, is
// harmless. Writes that land on the leaving node once the hand-over has begun (the scan may have
// passed their key, and coordinators that have not heard LEFT yet keep writing to it) are passed
// on to the same successors as they are applied (ClusterCoordinator.forwardToSuccessors).
import { type RangeReplica, scanPages, vnodeRanges } from '../antientropy';
import { assert } from '../errors';
import type { Ring } from '../ring';
import type { DecommissionSummary } from './types';

export interface HandoffDeps {
  nodeId: string;
  replicationFactor: number;
  /** The ring with this node in it, and the one the others will have once it has left. */
  current: Ring;
  without: Ring;
  local: RangeReplica;
  /** Another node's replica; throws (RKV_ERR_UNAVAILABLE) when its address is unknown. */
  remote: (nodeId: string) => RangeReplica;
}

/** Streams every range this node replicates to its new owners. Throws if a receiver fails. */
export async function handOffRanges(d: HandoffDeps): Promise<DecommissionSummary> {
  assert(!d.without.has(d.nodeId), 'the ring to hand over to must not contain the leaving node');
  const started = Date.now();
  const ranges = d.current.replicatedRanges(d.nodeId, d.replicationFactor);
  const sum: DecommissionSummary = { ranges: ranges.length, records: 0, sent: 0, changed: 0, hintsHandedOver: 0, hintsLeft: 0, peersTold: 0, durationMs: 0 };
  for (const r of ranges) {
    const holders = new Set(r.replicas);
    const targets = d.without.preferenceList(r.token, d.replicationFactor).filter((id) => !holders.has(id));
    for (const range of vnodeRanges(r.previous, r.token)) {
      for await (const entries of scanPages(d.local, range)) {
        sum.records += entries.length;
        if (entries.length === 0) continue;
        for (const target of targets) {
          sum.sent += entries.length;
          sum.changed += await d.remote(target).apply(entries);
        }
      }
    }
  }
  sum.durationMs = Date.now() - started;
  return sum;
}
