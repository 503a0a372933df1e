// Reads a node's GET /api/v1/cluster/status and checks its shape. The client learns the ring from
// it: which nodes exist, where they listen, how many vnodes each owns, and the ring version that
// tells it when to rebuild. Plain node:http (no fetch) so a timeout and a size cap are explicit.
import http from 'node:http';
import type { ClusterNodeInfo, ClusterStatus, NodeStatus } from '../coordinator/types';
import { ErrorCode, RingkvError } from '../errors';

/** A status document larger than this is refused (a 100-node ring with 256 vnodes is ~600 KiB). */
const statusBytesMax = 8 * 1024 * 1024;
const nodeStatuses: readonly NodeStatus[] = ['healthy', 'degraded', 'suspect', 'dead', 'joining', 'leaving', 'left'];

function bad(address: string, what: string): RingkvError {
  return new RingkvError(ErrorCode.MalformedFrame, `cluster status from ${address}: ${what}`, { details: { address } });
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
    if (typeof r['address'] !== 'string' || !/^[^:\s]+:\d+$/.test(r['address'])) throw bad(address, `nodes[${i}].address`);
    const status = r['status'];
    if (typeof status !== 'string' || !nodeStatuses.includes(status as NodeStatus)) throw bad(address, `nodes[${i}].status`);
    const tokens = r['tokens'] ?? [];
    if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string' && /^[0-9]{1,20}$/.test(t))) {
      throw bad(address, `nodes[${i}].tokens must be decimal strings`);
    }
    const reason = r['reason'];
    if (reason !== undefined && typeof reason !== 'string') throw bad(address, `nodes[${i}].reason is not a string`);
    return {
      id: r['id'],
      address: r['address'],
      status: status as NodeStatus,
      ...(reason !== undefined && { reason }),
      load: typeof r['load'] === 'number' ? r['load'] : 0,
      tokens: tokens as string[],
    };
  });
  const clusterName = o['cluster_name'];
  if (clusterName !== undefined && typeof clusterName !== 'string') throw bad(address, 'cluster_name is not a string');
  return {
    ...(clusterName !== undefined && { cluster_name: clusterName }),
    nodes,
    ring_version: o['ring_version'],
    total_keys: typeof o['total_keys'] === 'number' ? o['total_keys'] : 0,
    replication_factor: typeof o['replication_factor'] === 'number' ? o['replication_factor'] : 3,
  };
}

export function fetchClusterStatus(address: string, timeoutMs: number): Promise<ClusterStatus> {
  const [host, port] = splitAddress(address);
  return new Promise<ClusterStatus>((resolve, reject) => {
    const req = http.get({ host, port, path: '/api/v1/cluster/status', timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.byteLength;
        if (size > statusBytesMax) {
          req.destroy(bad(address, `larger than ${statusBytesMax} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new RingkvError(ErrorCode.Unavailable, `cluster status from ${address}: HTTP ${res.statusCode}`, { details: { address, transport: true } }));
          return;
        }
        try {
          resolve(parseClusterStatus(address, JSON.parse(Buffer.concat(chunks).toString('utf8'))));
        } catch (err) {
          reject(err instanceof RingkvError ? err : bad(address, `invalid JSON: ${(err as Error).message}`));
        }
      });
      res.on('error', (err) => reject(err));
    });
    req.on('timeout', () => req.destroy(new RingkvError(ErrorCode.Timeout, `cluster status from ${address}: no answer in ${timeoutMs} ms`, { details: { address, transport: true } })));
    req.on('error', (err) => {
      reject(err instanceof RingkvError ? err : new RingkvError(ErrorCode.Unavailable, `cluster status from ${address}: ${err.message}`, { cause: err, details: { address, transport: true } }));
    });
  });
}

export function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RingkvError(ErrorCode.InvalidArgument, `node address must be host:port, not ${JSON.stringify(address)}`);
  }
  return [address.slice(0, i), port];
}
