// Proves the order in which a cluster node opens its data dir: the lock first, so a second start
// on a running node's data dir (one that forgot --data-dir) writes none of its identity files
// there, and a start refused after taking the lock lets it go; a start with another vnode count is
// refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clusterCoordinatorFactory, type ClusterNodeConfig } from '../../../src/coordinator/cluster_factory';
import { clusterDefaults } from '../../../src/coordinator/cluster_options';
import { nodeIdFileName, vnodesFileName, zoneFileName } from '../../../src/coordinator/identity_files';
import { peersFileName, savePeers } from '../../../src/coordinator/peers_file';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { lockDir } from '../../../src/storage/dir-lock';

const config: ClusterNodeConfig = { ...clusterDefaults, clusterName: 'c-factory', zone: 'rack-b', host: '127.0.0.1', httpPort: 7100, peerPort: 8100, seeds: [{ host: '127.0.0.1', peerPort: 8101 }] };

test('a cluster start on a data dir another node holds is refused busy and writes nothing there; one refused after the lock lets it go', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-factory-'));
  const open = clusterCoordinatorFactory(config, () => undefined);
  try {
    const running = lockDir(dir);
    try {
      await assert.rejects(open({ dataDir: dir, syncMode: 'batch' }), (e: unknown) => isRingkvError(e, ErrorCode.Busy) && /is in use by another ringkv node/.test((e as Error).message));
      assert.deepEqual(fs.readdirSync(dir), ['LOCK'], 'no CLUSTER_NAME, ZONE or DATACENTER written into the running node\'s data dir');
    } finally {
      running.release();
    }
    // A data dir of another zone: refused after the lock was taken, which is let go.
    fs.writeFileSync(path.join(dir, zoneFileName), 'rack-a\n');
    await assert.rejects(open({ dataDir: dir, syncMode: 'batch' }), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && /rack-a/.test((e as Error).message));
    lockDir(dir).release();
    // A node that ran with 64 vnodes, started with another count: other tokens would move its
    // ranges without their data.
    fs.writeFileSync(path.join(dir, zoneFileName), 'rack-b\n');
    fs.writeFileSync(path.join(dir, vnodesFileName), '64\n');
    await assert.rejects(clusterCoordinatorFactory({ ...config, vnodes: 128 }, () => undefined)({ dataDir: dir, syncMode: 'batch' }), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && /64 vnodes, not 128/.test((e as Error).message));
    lockDir(dir).release();
    // A data dir from before VNODES was kept: the count its PEERS remembers for the node stands.
    fs.rmSync(path.join(dir, vnodesFileName));
    fs.writeFileSync(path.join(dir, nodeIdFileName), 'n-factory\n');
    savePeers(path.join(dir, peersFileName), [{ nodeId: 'n-factory', host: '127.0.0.1', httpPort: 7100, peerPort: 8100, vnodes: 32 }], () => undefined);
    await assert.rejects(clusterCoordinatorFactory({ ...config, vnodes: 128 }, () => undefined)({ dataDir: dir, syncMode: 'batch' }), (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && /32 vnodes, not 128/.test((e as Error).message));
    assert.equal(fs.readFileSync(path.join(dir, vnodesFileName), 'utf8'), '32\n');
    lockDir(dir).release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
