// Proves the names a node keeps in its data dir: chosen once (given, or made up: a random node
// id, the default cluster name), then fixed; a start that names others is refused, and a
// damaged file is reported as such rather than replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { vnodesPerNodeDefault } from '../../../src/constants';
import { clusterNameDefault, clusterNameFileName, datacenterFileName, loadOrCreateClusterName, loadOrCreateDatacenter, loadOrCreateNodeId, loadOrCreateVnodes, loadOrCreateZone, nodeIdFileName, vnodesFileName, zoneFileName } from '../../../src/coordinator/identity_files';
import { ErrorCode, isRingkvError } from '../../../src/errors';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-identity-'));
}

test('a cluster name is recorded on first start and kept; another one is refused, naming both', () => {
  const dir = tmpDir();
  try {
    assert.equal(loadOrCreateClusterName(dir, 'prod-eu'), 'prod-eu');
    assert.equal(fs.readFileSync(path.join(dir, clusterNameFileName), 'utf8'), 'prod-eu\n');
    assert.equal(loadOrCreateClusterName(dir), 'prod-eu', 'a start without --cluster-name keeps the recorded one');
    assert.equal(loadOrCreateClusterName(dir, 'prod-eu'), 'prod-eu');
    assert.throws(
      () => loadOrCreateClusterName(dir, 'staging'),
      (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && /belongs to cluster prod-eu, not staging/.test((e as Error).message) && e.details.recorded_cluster_name === 'prod-eu',
    );
    assert.throws(() => loadOrCreateClusterName(dir, 'bad name'), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a node never given a cluster name belongs to the default one, and a damaged file is reported', () => {
  const dir = tmpDir();
  try {
    assert.equal(loadOrCreateClusterName(dir), clusterNameDefault);
    assert.throws(() => loadOrCreateClusterName(dir, 'prod'), /belongs to cluster ringkv, not prod/);
    fs.writeFileSync(path.join(dir, clusterNameFileName), 'no/such name\n');
    assert.throws(() => loadOrCreateClusterName(dir), (e: unknown) => isRingkvError(e, ErrorCode.Corruption) && /holds no valid cluster name/.test((e as Error).message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a node id is made up once and kept; a configured id that disagrees is refused', () => {
  const dir = tmpDir();
  try {
    const id = loadOrCreateNodeId(dir);
    assert.match(id, /^n[0-9a-f]{10}$/);
    assert.equal(loadOrCreateNodeId(dir), id);
    assert.equal(fs.readFileSync(path.join(dir, nodeIdFileName), 'utf8'), `${id}\n`);
    assert.throws(() => loadOrCreateNodeId(dir, 'node-7'), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && e.details.recorded_node_id === id && e.details.configured_node_id === 'node-7');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a zone is recorded on first start ('' for none) and kept; another one is refused with what to do instead", () => {
  const dir = tmpDir();
  const other = tmpDir();
  try {
    assert.equal(loadOrCreateZone(dir, 'eu-west-1a'), 'eu-west-1a');
    assert.equal(fs.readFileSync(path.join(dir, zoneFileName), 'utf8'), 'eu-west-1a\n');
    assert.equal(loadOrCreateZone(dir), 'eu-west-1a', 'a start without --zone keeps the recorded one');
    assert.throws(
      () => loadOrCreateZone(dir, 'eu-west-1b'),
      (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && /zone "eu-west-1a", not "eu-west-1b".*decommission/.test((e as Error).message) && e.details.recorded_zone === 'eu-west-1a',
    );
    assert.equal(loadOrCreateZone(other), '', 'a node never given a zone has none');
    assert.equal(loadOrCreateZone(other), '');
    assert.throws(() => loadOrCreateZone(other, 'rack-1'), /zone "", not "rack-1"/, 'none is a zone too: a node gets one only with a new data dir');
    assert.throws(() => loadOrCreateZone(tmpDirIn(other), 'a b'), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(other, { recursive: true, force: true });
  }
});

test('a datacenter is recorded and kept as a zone is; another one is refused', () => {
  const dir = tmpDir();
  try {
    assert.equal(loadOrCreateDatacenter(dir, 'east'), 'east');
    assert.equal(fs.readFileSync(path.join(dir, datacenterFileName), 'utf8'), 'east\n');
    assert.equal(loadOrCreateDatacenter(dir), 'east');
    assert.throws(
      () => loadOrCreateDatacenter(dir, 'west'),
      (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && /datacenter "east", not "west".*decommission/.test((e as Error).message) && e.details.recorded_datacenter === 'east',
    );
    assert.equal(loadOrCreateZone(dir), '', 'the zone is its own record');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a vnode count is recorded and kept; another one is refused; none given is the recorded one, else the default', () => {
  const dir = tmpDir();
  try {
    assert.equal(loadOrCreateVnodes(dir, 64), 64);
    assert.equal(fs.readFileSync(path.join(dir, vnodesFileName), 'utf8'), '64\n');
    assert.equal(loadOrCreateVnodes(dir), 64, 'a restart without --vnodes keeps the count');
    assert.equal(loadOrCreateVnodes(dir, 64), 64);
    assert.throws(
      () => loadOrCreateVnodes(dir, 128),
      (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && /64 vnodes, not 128.*decommission/.test((e as Error).message) && e.details.recorded_vnodes === '64',
    );
    fs.writeFileSync(path.join(dir, vnodesFileName), '0\n');
    assert.throws(() => loadOrCreateVnodes(dir), (e: unknown) => isRingkvError(e, ErrorCode.Corruption) && /holds no valid vnodes/.test((e as Error).message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const fresh = tmpDir();
  try {
    assert.equal(loadOrCreateVnodes(fresh), vnodesPerNodeDefault);
    assert.equal(fs.readFileSync(path.join(fresh, vnodesFileName), 'utf8'), `${vnodesPerNodeDefault}\n`);
  } finally {
    fs.rmSync(fresh, { recursive: true, force: true });
  }
});

function tmpDirIn(parent: string): string {
  return fs.mkdtempSync(path.join(parent, 'sub-'));
}
