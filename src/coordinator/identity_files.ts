// The names a node keeps in its data dir, each chosen once and then fixed:
// - `NODE_ID`, this node's id: versions written by the node carry it in their dots
//   (versioning/sibling.ts) and version strings, so it must survive restarts;
// - `CLUSTER_NAME`, the cluster the node belongs to: inter-node connections open with it
//   (protocol/internode_connection.ts, the Hello) and a node answers no other cluster, so a seed
//   or a remembered peer address that now leads to another cluster's node never merges the two;
// - `ZONE`, the failure domain the node is in ('' for none): the ring spreads each key's replicas
//   over zones (ring/ring.ts), so a node that changed zone at a restart would change which nodes
//   replicate its ranges without streaming any data to them (Cassandra refuses a rack change at
//   start for the same reason). A data dir from before zones has no record: its first zone is taken.
// - `DATACENTER`, the datacenter the node is in ('' for none), fixed for the same reason: the ring
//   keeps N replicas of each key per datacenter.
// - `VNODES`, the node's number of ring tokens, fixed for the same reason: another count gives
//   the node other tokens, so it would take ranges over empty and others would give them up (a
//   cleanup there dropping the only copies with N = 1). A data dir from before has no record: the
//   count its PEERS remembers for the node is taken, else its first count.
// A configured name that disagrees with the recorded one is refused: the data would then carry
// two ids for one node, or a node would carry one cluster's data into another.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { vnodesPerNodeDefault, vnodesPerNodeMax } from '../constants';
import { ErrorCode, RingkvError } from '../errors';
import { isValidZone } from '../ring';
import { mkdirDurably, writeFileDurably } from '../storage/durable-file';
import { assertNodeId, isValidNodeId } from '../versioning';

export const nodeIdFileName = 'NODE_ID';
export const clusterNameFileName = 'CLUSTER_NAME';
export const zoneFileName = 'ZONE';
export const datacenterFileName = 'DATACENTER';
export const vnodesFileName = 'VNODES';
/**
 * The cluster of a data dir that holds data from before cluster names were recorded (a new data
 * dir given no name takes its seeds' or a made-up one instead: cluster_name.ts).
 */
export const clusterNameDefault = 'ringkv';

const clusterNamePattern = /^[A-Za-z0-9_.-]{1,64}$/;

/** A cluster name is 1..64 of A-Z a-z 0-9 _ . - (the one check: flags, options, files, a seed's answer). */
export function isValidClusterName(name: string): boolean {
  return clusterNamePattern.test(name);
}

export function assertClusterName(name: string): void {
  if (!isValidClusterName(name)) {
    throw new RingkvError(ErrorCode.InvalidArgument, `cluster name "${name}" must be 1..64 of A-Z a-z 0-9 _ . -`, { details: { cluster_name: name } });
  }
}

export function assertZone(zone: string): void {
  if (!isValidZone(zone)) throw new RingkvError(ErrorCode.InvalidArgument, `zone "${zone}" must be 0..64 of A-Z a-z 0-9 _ . -`, { details: { zone } });
}

export function loadOrCreateNodeId(dataDir: string, configured?: string): string {
  return loadOrCreate(dataDir, nodeIdFileName, 'node', assertNodeId, configured, () => `n${crypto.randomBytes(5).toString('hex')}`);
}

export function loadOrCreateClusterName(dataDir: string, configured?: string): string {
  return loadOrCreate(dataDir, clusterNameFileName, 'cluster', assertClusterName, configured, () => clusterNameDefault);
}

/** The node's zone: `configured` (checked against the record), else the recorded one, else ''. */
export function loadOrCreateZone(dataDir: string, configured?: string): string {
  return loadOrCreate(dataDir, zoneFileName, 'zone', assertZone, configured, () => '');
}

/** The node's datacenter: `configured` (checked against the record), else the recorded one, else ''. */
export function loadOrCreateDatacenter(dataDir: string, configured?: string): string {
  return loadOrCreate(dataDir, datacenterFileName, 'datacenter', assertDatacenter, configured, () => '');
}

/**
 * The node's number of ring tokens: `configured` (checked against the record), else the recorded
 * one, else vnodesPerNodeDefault. `remembered` is the count the data dir's PEERS gives the node,
 * recorded first where no VNODES is (a data dir from before it).
 */
export function loadOrCreateVnodes(dataDir: string, configured?: number, remembered?: number): number {
  const file = path.join(dataDir, vnodesFileName);
  if (remembered !== undefined && !fs.existsSync(file)) {
    assertVnodes(String(remembered));
    mkdirDurably(dataDir);
    writeFileDurably(file, `${remembered}\n`);
  }
  return Number(loadOrCreate(dataDir, vnodesFileName, 'vnodes', assertVnodes, configured === undefined ? undefined : String(configured), () => String(vnodesPerNodeDefault)));
}

function assertVnodes(text: string): void {
  const n = Number(text);
  if (!/^[1-9][0-9]*$/.test(text) || n > vnodesPerNodeMax) throw new RingkvError(ErrorCode.InvalidArgument, `vnodes "${text}" must be 1..${vnodesPerNodeMax}`, { details: { vnodes: text } });
}

function assertDatacenter(datacenter: string): void {
  if (!isValidZone(datacenter)) throw new RingkvError(ErrorCode.InvalidArgument, `datacenter "${datacenter}" must be 0..64 of A-Z a-z 0-9 _ . -`, { details: { datacenter } });
}

/** The node id a data dir records, or null when it records none (a new data dir) or one that reads badly (loadOrCreateNodeId says why). */
export function recordedNodeId(dataDir: string): string | null {
  try {
    const id = fs.readFileSync(path.join(dataDir, nodeIdFileName), 'utf8').trim();
    return isValidNodeId(id) ? id : null;
  } catch {
    return null;
  }
}

const fieldOf = { node: 'node_id', cluster: 'cluster_name', zone: 'zone', datacenter: 'datacenter', vnodes: 'vnodes' } as const;

function loadOrCreate(dataDir: string, fileName: string, what: keyof typeof fieldOf, check: (name: string) => void, configured: string | undefined, fresh: () => string): string {
  const field = fieldOf[what];
  if (configured !== undefined) check(configured);
  mkdirDurably(dataDir);
  const file = path.join(dataDir, fileName);
  let recorded: string | null = null;
  try {
    recorded = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new RingkvError(ErrorCode.Io, `cannot read ${file}`, { cause: err });
  }
  if (recorded !== null) {
    try {
      check(recorded);
    } catch (cause) {
      throw new RingkvError(ErrorCode.Corruption, `${file} holds no valid ${field.replace('_', ' ')}`, { cause });
    }
    if (configured !== undefined && configured !== recorded) {
      const message =
        what === 'zone' || what === 'datacenter'
          ? `data dir ${dataDir} is a node of ${what} "${recorded}", not "${configured}": a ${what} change moves replicas without their data; decommission the node and add it again in the new ${what}`
          : what === 'vnodes'
            ? `data dir ${dataDir} is a node of ${recorded} vnodes, not ${configured}: a vnode count change moves ranges without their data; decommission the node and add it again with the new count`
            : `data dir ${dataDir} belongs to ${what} ${recorded}, not ${configured}`;
      throw new RingkvError(ErrorCode.InvalidArgument, message, {
        details: { [`recorded_${field}`]: recorded, [`configured_${field}`]: configured },
      });
    }
    return recorded;
  }
  const name = configured ?? fresh();
  writeFileDurably(file, `${name}\n`);
  return name;
}
