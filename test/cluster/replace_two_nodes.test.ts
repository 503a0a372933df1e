// Two nodes of a range lose their data dirs at once and come back under their ids (N = 2): each
// rebuilds as a replaced node, whose keys are on its co-replicas alone, and for the ranges the two
// share the only co-replica is the other, rebuilding too. Gossip says why each rebuilds; as both
// replaced their data dirs, nothing anywhere holds what those ranges held, and they sync with each
// other instead of waiting for the other to settle (each waiting so, neither rebuild ever ended,
// and every cleanup and decommission in the cluster was refused meanwhile). The ranges they share
// with the third node come back from it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { keyToken, Ring } from '../../src/ring';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';

describe('3 nodes, N = 2: node-1 and node-2 both replaced by empty nodes of the same ids', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, replicationFactor: 2, hintedHandoff: false, readRepairChance: 0, antiEntropyIntervalMs: 0, vnodes: 8 });
  });
  after(async () => {
    await c?.close();
  });

  test('both end their rebuilds, and the keys node-0 replicates are back on the other replica', async () => {
    const ring = Ring.build(['node-0', 'node-1', 'node-2'].map((nodeId) => ({ nodeId, vnodes: c.spec.vnodes })), 1);
    const keys = Array.from({ length: 90 }, (_, i) => `pair-${i}`);
    const withNode0 = keys.filter((k) => ring.preferenceList(keyToken(Buffer.from(k)), 2).includes('node-0'));
    assert.ok(withNode0.length > 20 && withNode0.length < keys.length, `${withNode0.length} of ${keys.length} keys on node-0`);
    for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `v-${k}`, consistency: 'ALL' })).status, 200, k);

    await Promise.all([c.kill(1), c.kill(2)]);
    for (const i of [1, 2]) fs.rmSync(c.nodes[i]!.dataDir, { recursive: true, force: true });
    await c.spawn(1);
    await c.spawn(2);
    await c.waitStatus([0, 1, 2], 1, 'healthy', 20_000);
    await c.waitStatus([0, 1, 2], 2, 'healthy', 20_000);
    const rebuildingOn = async (observer: number, id: string): Promise<boolean> =>
      ((await c.getJson(observer, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; rebuilding?: boolean }> }).nodes.find((m) => m.id === id)?.rebuilding === true;
    await waitFor('node-1 and node-2 to hear that the other rebuilds', async () => (await rebuildingOn(1, 'node-2')) && (await rebuildingOn(2, 'node-1')), 15_000);

    // Started with --bootstrap off: each rebuild runs now, through the repair, one after the other.
    const repair1 = await c.cli(['repair', '--node', `127.0.0.1:${c.nodes[1]!.port}`]);
    assert.equal(repair1.code, 0, repair1.stderr);
    assert.equal(await c.metric(1, 'ringkv_rebuilding'), 0, c.nodes[1]!.log.join('\n'));
    assert.ok(c.nodes[1]!.log.some((l) => /rebuilding: WARN \d+ ranges have no replica left that kept its data dir/.test(l)), c.nodes[1]!.log.join('\n'));
    const repair2 = await c.cli(['repair', '--node', `127.0.0.1:${c.nodes[2]!.port}`]);
    assert.equal(repair2.code, 0, repair2.stderr);
    assert.equal(await c.metric(2, 'ringkv_rebuilding'), 0, c.nodes[2]!.log.join('\n'));
    await waitFor('node-0 to hear that both are whole again', async () => !(await rebuildingOn(0, 'node-1')) && !(await rebuildingOn(0, 'node-2')), 15_000);

    // node-0 stopped: each of its keys is read from the replaced node that shares it.
    c.signal(0, 'SIGSTOP');
    try {
      await c.waitStatus([1], 0, 'suspect', 10_000);
      for (const k of withNode0) {
        const via = ring.preferenceList(keyToken(Buffer.from(k)), 2).includes('node-1') ? 1 : 2;
        const got = await c.http(via, 'GET', k, { consistency: 'ONE' });
        assert.equal(got.status, 200, `${k} through node-${via}: ${JSON.stringify(got.body)}`);
        assert.equal(base64Text(got.body.value), `v-${k}`);
      }
    } finally {
      c.signal(0, 'SIGCONT');
    }
  });
});
