// A 3-node cluster with N=2, so a third of the keys have a coordinator outside their preference
// list: such writes are forwarded once to a replica (which increments the clock), and every node
// still reads every key at ALL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { base64Text, TestCluster } from '../helpers/cluster';

describe('3-node cluster with replication factor 2', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, replicationFactor: 2 });
  });
  after(async () => {
    await c?.close();
  });

  test('writes coordinated outside the preference list are forwarded once and readable everywhere', async () => {
    // Proves routing: forwarded writes succeed at ALL (both replicas), versions name a replica, and
    // each node forwards some writes (it is not a replica of about a third of the keys).
    const keys = Array.from({ length: 45 }, (_, i) => `fwd-${i}`);
    for (const [i, k] of keys.entries()) {
      const put = await c.http(i % 3, 'PUT', k, { body: `v${i}`, consistency: 'ALL' });
      assert.equal(put.status, 200, JSON.stringify(put.body));
    }
    for (const node of [0, 1, 2]) {
      for (const [i, k] of keys.entries()) {
        const got = await c.http(node, 'GET', k, { consistency: 'ALL' });
        assert.equal(got.status, 200);
        assert.equal(base64Text(got.body.value), `v${i}`);
      }
      assert.ok((await c.metric(node, 'ringkv_forwarded_writes')) > 0, `node-${node} forwarded nothing`);
    }
    const status = (await c.getJson(0, '/api/v1/cluster/status')) as { replication_factor: number; nodes: Array<{ tokens: string[] }> };
    assert.equal(status.replication_factor, 2);
    assert.ok(status.nodes.every((n) => n.tokens.length === c.spec.vnodes && n.tokens.every((t) => /^[0-9]+$/.test(t))));
  });
});
