// Anti-entropy across real node processes: writes that a stopped replica missed (no hinted
// handoff, no reads that could repair) reach it through Merkle-tree sync alone once it is back,
// and the cluster settles with equal trees.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, waitFor } from '../helpers/cluster';

describe('3-node cluster with anti-entropy every 100 ms and no other repair', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: false, readRepairChance: 0, antiEntropyIntervalMs: 100, vnodes: 8 });
  });
  after(async () => {
    await c?.close();
  });

  test('a replica that missed writes while stopped gets them from Merkle sync, without reads or hints', async () => {
    // Proves §7.4/§10: divergence nobody reads is still found and fixed.
    c.signal(2, 'SIGSTOP');
    const keys = Array.from({ length: 60 }, (_, i) => `ae-${i}`);
    try {
      await c.waitStatus([0, 1], 2, 'suspect', 10_000);
      for (const [i, k] of keys.entries()) {
        const put = await c.http(i % 2, 'PUT', k, { body: `v${i}`, consistency: 'QUORUM' });
        assert.equal(put.status, 200, JSON.stringify(put.body));
      }
    } finally {
      c.signal(2, 'SIGCONT');
    }
    await c.waitStatus([0, 1], 2, 'healthy', 10_000);
    const repaired = async () => (await c.metric(2, 'ringkv_anti_entropy_pulled')) + (await c.metric(0, 'ringkv_anti_entropy_pushed')) + (await c.metric(1, 'ringkv_anti_entropy_pushed'));
    await waitFor('anti-entropy to bring node-2 all 60 writes', async () => (await repaired()) >= keys.length, 20_000);
    assert.equal(await repaired(), keys.length, 'each missed write changed node-2 exactly once');
    // A ONE read coordinated by node-2 asks only its own replica (read_repair_chance 0).
    for (const [i, k] of keys.entries()) {
      const got = await c.http(2, 'GET', k, { consistency: 'ONE' });
      assert.equal(got.status, 200, `${k} on node-2: ${JSON.stringify(got.body)}`);
      assert.equal(Buffer.from(String(got.body.value), 'base64').toString(), `v${i}`);
    }
    assert.equal(await c.metric(2, 'ringkv_read_repairs_total'), 0, 'no read repair did it');
    assert.ok((await c.metric(0, 'ringkv_anti_entropy_in_sync')) > 0, 'rounds that find equal trees are counted');
  });
});
