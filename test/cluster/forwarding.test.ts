// A 3-node cluster with N=2, so a third of the keys have a coordinator outside their preference
// list: such writes are forwarded once to a replica (which increments the clock), and every node
// still reads every key at ALL. A forward held in a paused replica until after its requester gave
// up is not applied when the replica wakes (its client may have retried it elsewhere).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keyToken, Ring } from '../../src/ring';
import { base64Text, sleep, TestCluster, waitFor } from '../helpers/cluster';

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
      assert.ok((await c.metric(node, 'ringkv_forwarded_writes_total')) > 0, `node-${node} forwarded nothing`);
    }
    const status = (await c.getJson(0, '/api/v1/cluster/status')) as { replication_factor: number; nodes: Array<{ tokens: string[] }> };
    assert.equal(status.replication_factor, 2);
    assert.ok(status.nodes.every((n) => n.tokens.length === c.spec.vnodes && n.tokens.every((t) => /^[0-9]+$/.test(t))));
  });

  test('a forward held in a paused replica past its time is not applied when the replica wakes: the retry written since stays alone', async () => {
    // Proves the inter-node lateness guard (protocol/frame_lateness.ts): node-0 forwards a write
    // to the key's first replica, which is SIGSTOPped with it in its socket; node-0 gives up
    // (504), the client's retry goes through the other replica and is acknowledged. The held
    // forward, read on SIGCONT, would otherwise be coordinated as a fresh blind write.
    const ring = Ring.build(c.nodes.map((n) => ({ nodeId: n.id, vnodes: c.spec.vnodes })), 1);
    const key = Array.from({ length: 200 }, (_, i) => `held-${i}`).find((k) => !ring.preferenceList(keyToken(Buffer.from(k)), 2).includes('node-0'))!;
    const [first, other] = ring.preferenceList(keyToken(Buffer.from(key)), 2).map((id) => Number(id.slice('node-'.length)));
    assert.equal((await c.http(0, 'PUT', key, { body: 'v0', consistency: 'ALL' })).status, 200);

    c.signal(first!, 'SIGSTOP');
    try {
      const given = await c.http(0, 'PUT', key, { body: 'given-up', consistency: 'ONE' });
      assert.ok(given.status === 504 || given.status === 503, `the forward to the stopped replica fails: ${given.status} ${JSON.stringify(given.body)}`);
      const retry = await c.http(other!, 'PUT', key, { body: 'retried', consistency: 'ONE' });
      assert.equal(retry.status, 200, JSON.stringify(retry.body));
      await sleep(300);
    } finally {
      c.signal(first!, 'SIGCONT');
    }
    await waitFor('the woken replica to refuse the held forward', async () => (await c.metric(first!, 'ringkv_forwards_expired_total')) === 1, 10_000);
    await c.waitStatus([0, other!], first!, 'healthy', 15_000);
    await waitFor('an ALL read to reach both replicas', async () => (await c.http(0, 'GET', key, { consistency: 'ALL' })).status === 200, 10_000);
    const all = await c.http(0, 'GET', key, { consistency: 'ALL' });
    assert.equal(all.body.siblings, undefined, JSON.stringify(all.body));
    assert.equal(base64Text(all.body.value), 'retried');
    for (const i of [first!, other!]) assert.ok(!(await c.replica(i, key)).values.includes('given-up'), `node-${i} never applied the write its client gave up on`);
  });
});
