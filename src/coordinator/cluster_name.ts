// The name of a cluster node given no --cluster-name and with none recorded in its data dir (its
// first start). A name everyone left at one default would let two clusters merge through a wrong
// seed, so there is no such default: a node with seeds other than itself takes its seeds' cluster
// name (asked as a Hello that names no cluster: the seed refuses it and says which cluster it is
// in), and a first node, whose only seed is itself, makes one up (`ringkv-` and 8 hex digits),
// which the nodes that join through it then take. identity_files.ts records it either way.
import * as crypto from 'node:crypto';
import { ErrorCode, isRingkvError, RingkvError } from '../errors';
import type { PeerAddress } from '../membership';
import { PeerConnection } from '../protocol/internode_connection';
import { isValidClusterName } from './identity_files';
import { clusterNameAsk } from '../protocol/internode_server';

/** How long a new node waits for a seed to tell it its cluster's name before it gives up. */
export const clusterNameWaitMs = 30_000;
const askTimeoutMs = 2_000;
const askIntervalMs = 250;


export function newClusterName(): string {
  return `ringkv-${crypto.randomBytes(4).toString('hex')}`;
}

/**
 * The cluster name of the first seed that answers, or null when `seeds` holds none other than
 * `self`. Waits `waitMs` of elapsed time: on the wall clock, a step back at a machine's first
 * start made a start with no seed up hang for the size of the step.
 */
export async function clusterNameFromSeeds(seeds: readonly PeerAddress[], self: { host: string; peerPort: number }, nodeId: string, log: (line: string) => void, waitMs = clusterNameWaitMs): Promise<string | null> {
  const others = seeds.filter((s) => !(s.host === self.host && s.peerPort === self.peerPort));
  if (others.length === 0) return null;
  const deadline = performance.now() + waitMs;
  for (;;) {
    for (const seed of others) {
      const conn = new PeerConnection({ host: seed.host, port: seed.peerPort, hello: { clusterName: clusterNameAsk, fromNode: nodeId }, log: () => {} });
      try {
        await conn.request({ kind: 'gossip', members: [] }, askTimeoutMs);
      } catch (err) {
        const name = isRingkvError(err, ErrorCode.WrongPeer) ? err.details['cluster_name'] : undefined;
        if (typeof name === 'string' && isValidClusterName(name)) {
          log(`cluster name: ${name}, from seed ${seed.host}:${seed.peerPort} (recorded in the data dir)`);
          return name;
        }
      } finally {
        conn.close();
      }
    }
    if (performance.now() >= deadline) {
      throw new RingkvError(
        ErrorCode.Unavailable,
        `no seed (${others.map((s) => `${s.host}:${s.peerPort}`).join(', ')}) answered within ${waitMs} ms to tell this new node its cluster's name: start it with the cluster's --cluster-name, or once a seed is up`,
        { details: { seeds: others.length } },
      );
    }
    await new Promise((r) => setTimeout(r, askIntervalMs));
  }
}
