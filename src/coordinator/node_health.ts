// A node's status as the admin API shows it (design.md §5: healthy, suspect, ...), from what the
// failure detector says of it and what it says of its own storage (gossip's MemberInfo.storage).
// An ALIVE node whose storage refuses writes is `degraded` (design.md §10, scenario 4), with the
// reason /health gives on that node: it is up and serves reads, but writes to it fail.
import type { MemberStatus, StorageTrouble } from '../membership';
import type { ClusterNodeInfo, NodeStatus } from './types';

const statusToApi: Record<MemberStatus, NodeStatus> = { ALIVE: 'healthy', SUSPECT: 'suspect', DEAD: 'dead', LEFT: 'left' };
const troubleReason: Record<StorageTrouble, string> = { full: 'storage_full', failed: 'storage_failed' };

export function nodeStatusOf(status: MemberStatus): NodeStatus {
  return statusToApi[status];
}

export function nodeHealth(status: MemberStatus, storage: StorageTrouble | undefined): Pick<ClusterNodeInfo, 'status' | 'reason'> {
  if (status !== 'ALIVE' || storage === undefined) return { status: statusToApi[status] };
  return { status: 'degraded', reason: troubleReason[storage] };
}
