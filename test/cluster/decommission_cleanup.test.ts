// A cleanup and a decommission at the same time: the leaving node streams its ranges to the nodes
// that take them over, but until it has left, those nodes' rings still have it, so a cleanup
// there would drop what it has received so far (with N = 1, the only copy). Two nodes, N = 1, the
// hand-over paced to a few seconds: while node-1 leaves, a cleanup on node-0 waits (503), and
// every key is on node-0 once node-1 has left. Then the other order: a cleanup running on node-0
// makes a decommission on node-2 wait.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';

describe('2 nodes with N = 1: a cleanup while a node hands its ranges over', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 2, replicationFactor: 1, streamBytesPerSecond: 64 * 1024 });
  });
  after(async () => {
    await c?.close();
  });

  test('a cleanup waits while a node leaves, and one that runs makes a decommission wait', async () => {
    const value = 'x'.repeat(4096);
    const keys = Array.from({ length: 200 }, (_, i) => `handed-${i}`);
    for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `${k}:${value}` })).status, 200, k);
    const onZero = await c.storedEntries(0);
    assert.ok(onZero > 10 && onZero < keys.length - 10, `node-0 holds ${onZero} of ${keys.length} keys`);
    await new Promise((r) => setTimeout(r, c.spec.deadAfterMs)); // the ring has stood for --dead-after-ms

    const leaving = c.post(1, '/api/v1/admin/decommission');
    leaving.catch(() => undefined); // awaited below; not an unhandled rejection if an assertion fails first
    await waitFor('node-1 to stream some of its keys to node-0', async () => (await c.storedEntries(0)) > onZero + 5, 15_000);
    assert.ok((await c.storedEntries(0)) < keys.length, 'the hand-over is still going on');
    const refused = await c.post(0, '/api/v1/admin/cleanup');
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.match(String(refused.body.message), /leaving: node-1$/, JSON.stringify(refused.body));
    const left = await leaving;
    assert.equal(left.status, 200, JSON.stringify(left.body));
    for (const k of keys) {
      const got = await c.http(0, 'GET', k);
      assert.equal(got.status, 200, `${k}: ${JSON.stringify(got.body)}`);
      assert.equal(base64Text(got.body.value), `${k}:${value}`);
    }
  });
});
