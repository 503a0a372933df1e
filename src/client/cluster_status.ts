// Reads a node's GET /api/v1/cluster/status and checks its shape. The client learns the ring from
// it: which nodes exist, where they listen, how many vnodes each owns, their zones, and the ring
// version that tells it when to rebuild.
import type { ClusterNodeInfo, ClusterStatus, NodeStatus } from '../coordinator/types';
import { ErrorCode, RingkvError } from '../errors';
import { isValidZone, type RingMember } from '../ring';
import { requestJson } from './http_request';

/** A status document larger than this is refused (a 100-node ring with 256 vnodes is ~600 KiB). */
const statusBytesMax = 8 * 1024 * 1024;
/** A ring digest as ring.ts ringDigestText writes it. */
const digestRe = /^[0-9a-f]{8}$/;
const nodeStatuses: readonly NodeStatus[] = ['healthy', 'degraded', 'suspect', 'dead', 'joining', 'leaving', 'left'];

/**
 * A node's HTTP address as the client connects to it: host:port, port 1..65535, nothing a URL
 * would read otherwise (a `#`, `/`, `?` or `@` would make `ws://…` another URL, or one the
 * WebSocket constructor throws on). A node's own address parser takes more than this.
 */
export function isNodeAddress(v: unknown): v is string {
  const m = typeof v === 'string' ? /^[A-Za-z0-9.\-_]{1,253}:([0-9]{1,5})$/.exec(v) : null;
  return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 65535;
}

function bad(address: string, what: string): RingkvError {
  return new RingkvError(ErrorCode.MalformedFrame, `cluster status from ${address}: ${what}`, { details: { address } });
}

/** An optional ring digest (`where` names the field): 8 hex digits as ring.ts ringDigestText writes it. */
function digestOf(address: string, v: unknown, where: string): string | undefined {
  if (v !== undefined && !(typeof v === 'string' && digestRe.test(v))) throw bad(address, `${where} is not 8 hex digits`);
  return v;
}

export function parseClusterStatus(address: string, body: unknown): ClusterStatus {
  if (typeof body !== 'object' || body === null) throw bad(address, 'not a JSON object');
  const o = body as Record<string, unknown>;
  if (!Array.isArray(o['nodes'])) throw bad(address, 'nodes is not an array');
  if (typeof o['ring_version'] !== 'number') throw bad(address, 'ring_version is not a number');
  const nodes: ClusterNodeInfo[] = o['nodes'].map((n: unknown, i: number) => {
    if (typeof n !== 'object' || n === null) throw bad(address, `nodes[${i}] is not an object`);
    const r = n as Record<string, unknown>;
    if (typeof r['id'] !== 'string' || r['id'].length === 0) throw bad(address, `nodes[${i}].id`);
    if (!isNodeAddress(r['address'])) throw bad(address, `nodes[${i}].address is not host:port the client can connect to`);
    const status = r['status'];
    if (typeof status !== 'string' || !nodeStatuses.includes(status as NodeStatus)) throw bad(address, `nodes[${i}].status`);
    const tokens = r['tokens'] ?? [];
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string' && /^[0-9]{1,20}$/.test(t))) {
      throw bad(address, `nodes[${i}].tokens must be decimal strings`);
    }
    const reason = r['reason'];
    if (reason !== undefined && typeof reason !== 'string') throw bad(address, `nodes[${i}].reason is not a string`);
    const count = (field: string): number | undefined => {
      const v = r[field];
      if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) throw bad(address, `nodes[${i}].${field} is not a count`);
      return v;
    };
    const dataBytes = count('data_bytes');
    const graceSeconds = count('tombstone_grace_seconds');
    const ringDigest = digestOf(address, r['ring_digest'], `nodes[${i}].ring_digest`);
    const clockOffsetMs = r['clock_offset_ms'];
    if (clockOffsetMs !== undefined && !(typeof clockOffsetMs === 'number' && Number.isSafeInteger(clockOffsetMs))) throw bad(address, `nodes[${i}].clock_offset_ms is not a whole number of ms`);
    const diskSizeBytes = count('disk_size_bytes');
    const diskFreeBytes = count('disk_free_bytes');
    const rangesLeft = count('rebuild_ranges_left');
    const rebuilding = r['rebuilding'];
    if (rebuilding !== undefined && typeof rebuilding !== 'boolean') throw bad(address, `nodes[${i}].rebuilding is not a boolean`);
    const behind = r['behind'];
    if (behind !== undefined && typeof behind !== 'boolean') throw bad(address, `nodes[${i}].behind is not a boolean`);
    const zone = r['zone'];
    if (zone !== undefined && (typeof zone !== 'string' || !isValidZone(zone))) throw bad(address, `nodes[${i}].zone is not a zone name`);
    const datacenter = r['datacenter'];
    if (datacenter !== undefined && (typeof datacenter !== 'string' || !isValidZone(datacenter))) throw bad(address, `nodes[${i}].datacenter is not a datacenter name`);
    return {
      id: r['id'],
      address: r['address'],
      ...(zone ? { zone } : {}),
      ...(datacenter ? { datacenter } : {}),
      status: status as NodeStatus,
      ...(reason !== undefined && { reason }),
      ...(rebuilding === true && { rebuilding, ...(rangesLeft !== undefined && { rebuild_ranges_left: rangesLeft }) }),
      ...(behind === true && { behind }),
      load: typeof r['load'] === 'number' ? r['load'] : 0,
      ...(clockOffsetMs !== undefined && { clock_offset_ms: clockOffsetMs }),
      ...(graceSeconds !== undefined && { tombstone_grace_seconds: graceSeconds }),
      ...(dataBytes !== undefined && { data_bytes: dataBytes }),
      ...(diskSizeBytes !== undefined && diskFreeBytes !== undefined && { disk_size_bytes: diskSizeBytes, disk_free_bytes: diskFreeBytes }),
      ...(ringDigest !== undefined && { ring_digest: ringDigest }),
      tokens: tokens as string[],
    };
  });
  const clusterName = o['cluster_name'];
  if (clusterName !== undefined && typeof clusterName !== 'string') throw bad(address, 'cluster_name is not a string');
  const ringDigest = digestOf(address, o['ring_digest'], 'ring_digest');
  return {
    ...(clusterName !== undefined && { cluster_name: clusterName }),
    nodes,
    ring_version: o['ring_version'],
    ...(ringDigest !== undefined && { ring_digest: ringDigest }),
    total_keys: typeof o['total_keys'] === 'number' ? o['total_keys'] : 0,
    replication_factor: typeof o['replication_factor'] === 'number' ? o['replication_factor'] : 3,
  };
}

export async function fetchClusterStatus(address: string, timeoutMs: number): Promise<ClusterStatus> {
  const a = await requestJson(address, 'GET', '/api/v1/cluster/status', { timeoutMs, bytesMax: statusBytesMax });
  if (a.status !== 200) throw new RingkvError(ErrorCode.Unavailable, `cluster status from ${address}: HTTP ${a.status}`, { details: { address, transport: true } });
  return parseClusterStatus(address, a.body);
}

/** The ring members a status describes: the nodes that own tokens, with their vnode counts, zones and datacenters. */
export function ringMembersOf(status: ClusterStatus): RingMember[] {
  return status.nodes.filter((n) => n.tokens.length > 0).map((n) => ({ nodeId: n.id, vnodes: n.tokens.length, ...(n.zone ? { zone: n.zone } : {}), ...(n.datacenter ? { datacenter: n.datacenter } : {}) }));
}
