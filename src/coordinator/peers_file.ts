// The members a cluster node last knew, kept in `<dataDir>/PEERS` so that a restart begins with
// the ring it left rather than a ring of itself (Cassandra keeps its peers in system.peers for
// the same reason): until gossip reaches a restarted node, a ring of one made it take writes as
// their only replica and leave no hint for the nodes it had forgotten. Written (whole, synced, to
// a temporary file renamed over the old one) when the ring's members change; read once at start.
// A file that does not parse is reported and ignored: gossip rebuilds the list.
//
//   {"format": 1, "peers": [{"node_id", "host", "http_port", "peer_port", "vnodes", "zone"?, "datacenter"?, "tombstone_grace_ms"?, "left_incarnation"?}, ...]}
//
// ("zone" and "datacenter" only for a node that has one, "tombstone_grace_ms" for one that said
// it; files written before them have none.) Also rewritten when the shortest tombstone grace
// changes: a start judges how long the node was away by it (last_run.ts startGrace), and when a
// LEFT node is forgotten. A node that left (decommissioned, or removed) is kept with the
// incarnation it left at ("left_incarnation", no grace) until the table forgets it: a node that
// restarted meanwhile would otherwise take it back, were it started again on its old data dir
// (membership/table.ts), and spread it to the others.
import * as fs from 'node:fs';
import { clusterNodesMax, tombstoneGraceMsMax, vnodesPerNodeMax } from '../constants';
import type { MemberInfo } from '../membership';
import { isValidZone } from '../ring';
import { writeFileDurably } from '../storage/durable-file';

export const peersFileName = 'PEERS';

export type RememberedPeer = Pick<MemberInfo, 'nodeId' | 'host' | 'httpPort' | 'peerPort' | 'vnodes' | 'zone' | 'datacenter' | 'tombstoneGraceMs'> & {
  /** The incarnation the node left at; undefined for a member of the ring. */
  leftIncarnation?: number;
};

const optionalName = (x: unknown): boolean => x === undefined || (typeof x === 'string' && x !== '' && isValidZone(x));

const port = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= 65535;

function peerOf(x: unknown): RememberedPeer | null {
  if (typeof x !== 'object' || x === null) return null;
  const r = x as Record<string, unknown>;
  const id = r['node_id'];
  const host = r['host'];
  if (typeof id !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(id) || typeof host !== 'string' || host.length === 0 || host.length > 255) return null;
  if (!port(r['http_port']) || !port(r['peer_port'])) return null;
  const vnodes = r['vnodes'];
  if (!Number.isInteger(vnodes) || (vnodes as number) < 1 || (vnodes as number) > vnodesPerNodeMax) return null;
  const zone = r['zone'];
  const datacenter = r['datacenter'];
  if (!optionalName(zone) || !optionalName(datacenter)) return null;
  const grace = r['tombstone_grace_ms'];
  if (grace !== undefined && !(Number.isSafeInteger(grace) && (grace as number) >= 0 && (grace as number) <= tombstoneGraceMsMax)) return null;
  const left = r['left_incarnation'];
  if (left !== undefined && !(Number.isSafeInteger(left) && (left as number) >= 1)) return null;
  const peer: RememberedPeer = { nodeId: id, host, httpPort: r['http_port'] as number, peerPort: r['peer_port'] as number, vnodes: vnodes as number };
  if (zone !== undefined) peer.zone = zone as string;
  if (datacenter !== undefined) peer.datacenter = datacenter as string;
  if (grace !== undefined) peer.tombstoneGraceMs = grace as number;
  if (left !== undefined) peer.leftIncarnation = left as number;
  return peer;
}

/** The peers in `file`; none when it does not exist, or (logged) when it does not parse. */
export function loadPeers(file: string, log: (line: string) => void): RememberedPeer[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log(`WARN peers: could not read ${file} (${String(err)}); starting from the seeds alone`);
    return [];
  }
  try {
    const doc = JSON.parse(text) as { format?: unknown; peers?: unknown };
    if (doc.format !== 1 || !Array.isArray(doc.peers) || doc.peers.length > clusterNodesMax) throw new Error('not a format-1 peer list');
    const peers = doc.peers.map(peerOf);
    if (peers.some((p) => p === null)) throw new Error('an entry is malformed');
    return peers as RememberedPeer[];
  } catch (err) {
    log(`WARN peers: ${file} is damaged (${err instanceof Error ? err.message : String(err)}); starting from the seeds alone`);
    return [];
  }
}

/** The members of a node's table as PEERS keeps them: a LEFT one by the incarnation it left at. */
export function peersOf(members: readonly MemberInfo[]): RememberedPeer[] {
  return members.map((m) => {
    const p: RememberedPeer = { nodeId: m.nodeId, host: m.host, httpPort: m.httpPort, peerPort: m.peerPort, vnodes: m.vnodes };
    if (m.zone) p.zone = m.zone;
    if (m.datacenter) p.datacenter = m.datacenter;
    // A LEFT node's grace judges nothing (last_run.ts counts the members').
    if (m.status === 'LEFT') p.leftIncarnation = Math.max(1, m.incarnation);
    else if (m.tombstoneGraceMs !== undefined) p.tombstoneGraceMs = m.tombstoneGraceMs;
    return p;
  });
}

/** Replaces `file` with `peers` (a temporary file renamed over it, so a crash leaves one or the other). */
export function savePeers(file: string, peers: readonly RememberedPeer[], log: (line: string) => void): void {
  const doc = {
    format: 1,
    peers: peers.map((p) => ({
      node_id: p.nodeId,
      host: p.host,
      http_port: p.httpPort,
      peer_port: p.peerPort,
      vnodes: p.vnodes,
      ...(p.zone ? { zone: p.zone } : {}),
      ...(p.datacenter ? { datacenter: p.datacenter } : {}),
      ...(p.tombstoneGraceMs !== undefined && { tombstone_grace_ms: p.tombstoneGraceMs }),
      ...(p.leftIncarnation !== undefined && { left_incarnation: p.leftIncarnation }),
    })),
  };
  try {
    // Synced, file and dir: a PEERS left empty by a power cut would drop the left_incarnations
    // and the graces a start judges its absence by (last_run.ts startGrace).
    writeFileDurably(file, JSON.stringify(doc) + '\n');
  } catch (err) {
    log(`WARN peers: could not write ${file} (${String(err)}); a restart begins from the seeds alone`);
  }
}
