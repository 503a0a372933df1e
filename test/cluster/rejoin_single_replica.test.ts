// With N = 1 a decommissioned node comes back the way decommissioned.ts tells the operator to:
// under its old id, with a new, empty data dir. Its id is known to the cluster (LEFT), but it is
// no replaced node with other replicas to rebuild from: its keys are on the node that took its
// ranges over, and it streams them back from there, as any joining node does. Until its rebuild
// has them, reads through it go to that node; after, it serves them, and its rebuild ends (a
// rebuild that never ends refuses every cleanup and decommission in the cluster).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';

describe('2 nodes with N = 1; one is decommissioned and starts again under its id with a new data dir', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 2, replicationFactor: 1 });
  });
  after(async () => {
    await c?.close();
  });

  test('it streams its ranges back from the node that held them, serves every key, and ends its rebuild', async () => {
    const keys = Array.from({ length: 150 }, (_, i) => `back-${i}`);
    for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `v-${k}` })).status, 200, k);
    const left = await c.post(1, '/api/v1/admin/decommission');
    assert.equal(left.status, 200, JSON.stringify(left.body));
    assert.equal((left.body as { status: string }).status, 'left');
    await c.kill(1);
    fs.rmSync(c.nodes[1]!.dataDir, { recursive: true, force: true });

    c.nodes[1]!.bootstrap = true;
    await c.spawn(1);
    await c.waitStatus([0, 1], 1, 'healthy', 20_000);
    for (const k of keys) {
      const got = await c.http(1, 'GET', k, { consistency: 'ONE' });
      assert.equal(got.status, 200, `${k} through node-1: ${JSON.stringify(got.body)}`);
      assert.equal(base64Text(got.body.value), `v-${k}`);
    }
    await waitFor('node-1 to end its rebuild', async () => (await c.metric(1, 'ringkv_rebuilding')) === 0, 30_000);
    // Its own copy now: node-0 stopped, node-1 still serves the keys it owns (N = 1).
    await c.kill(0);
    const ownedByOne = [];
    for (const k of keys) {
      const got = await c.http(1, 'GET', k, { consistency: 'ONE' });
      if (got.status === 200) {
        assert.equal(base64Text(got.body.value), `v-${k}`);
        ownedByOne.push(k);
      }
    }
    assert.ok(ownedByOne.length > keys.length / 4, `node-1 serves ${ownedByOne.length} of ${keys.length} keys itself`);
  });
});
