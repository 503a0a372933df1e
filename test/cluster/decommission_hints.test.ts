// A decommission waits for the hints other nodes hold for the leaving node: they are writes its
// replica missed while it was down, and a LEFT node takes no hints, so they would be dropped and
// those writes left on fewer than N replicas until repair. Real node processes; hints replayed
// slowly (64 KiB/s) so that some are still held when the decommission is asked for.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { base64Text, sleep, TestCluster, waitFor } from '../helpers/cluster';

let c: TestCluster;
before(async () => {
  c = await TestCluster.start({ nodes: 4, readRepairChance: 0, antiEntropyIntervalMs: 0, vnodes: 8, hintReplayBytesPerSecond: 64 * 1024 });
});
after(async () => {
  await c?.close();
});

test('a decommission is refused while other nodes hold hints for the node, and succeeds once they are replayed; every write is then on the remaining replicas', async () => {
  c.signal(3, 'SIGSTOP');
  await c.waitStatus([0, 1, 2], 3, 'dead', 15_000);
  // About 1.3 MB of writes node-3 misses: hints on their coordinators, replayed at 64 KiB/s each.
  const value = (i: number): string => `${i}:`.padEnd(16 * 1024, 'h');
  const keys = Array.from({ length: 80 }, (_, i) => `missed-${i}`);
  for (const [i, k] of keys.entries()) {
    const put = await c.http(i % 3, 'PUT', k, { body: value(i), consistency: 'QUORUM' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  }
  c.signal(3, 'SIGCONT');
  await c.waitStatus([0, 1, 2], 3, 'healthy', 15_000);

  // Until node-3 has heard (gossip) that the others hold hints for it, a decommission may start:
  // ask until it is refused, which must come before any success.
  let refused: { status: number; body: Record<string, unknown> } | undefined;
  for (let tries = 0; tries < 40 && refused === undefined; tries++) {
    const r = await c.post(3, '/api/v1/admin/decommission');
    assert.notEqual(r.status, 200, `decommission went ahead while hints were held: ${JSON.stringify(r.body)}`);
    if (r.status === 503 && /holding hints/.test(String(r.body['message']))) refused = r;
    else await sleep(100);
  }
  assert.ok(refused !== undefined, 'refused for the hints held');
  assert.match(String(refused.body['message']), /decommission waits until no node of the ring is holding hints/);
  assert.equal(typeof (refused.body['details'] as Record<string, unknown> | undefined)?.['nodes_holding_hints'], 'string', JSON.stringify(refused.body));

  let left = false;
  await waitFor('the decommission, once the hints are replayed', async () => {
    const r = await c.post(3, '/api/v1/admin/decommission');
    if (r.status === 200) left = true;
    else assert.equal(r.status, 503, JSON.stringify(r.body));
    return left;
  }, 90_000);
  assert.deepEqual((await Promise.all([0, 1, 2].map((i) => c.statuses(i)))).map((s) => s['node-3']), ['left', 'left', 'left']);
  // N = 3 over the three nodes left: every key on every one of them.
  for (const i of [0, 1, 2]) {
    for (const [k, key] of keys.entries()) {
      const got = await c.http(i, 'GET', key, { consistency: 'ONE' });
      assert.equal(got.status, 200, `${key} on node-${i}: ${JSON.stringify(got.body)}`);
      assert.equal(base64Text(got.body.value), value(k));
    }
  }
});

test('two decommissions asked for at once: at most one goes ahead, the other is refused while that node leaves', async () => {
  // node-3 has left: three nodes, N = 3. Without the check both would hand over, each on a ring
  // that still has the other, and node-0 would be left with copies streamed to neither.
  const answers = await Promise.all([1, 2].map((i) => c.post(i, '/api/v1/admin/decommission')));
  const ok = answers.filter((r) => r.status === 200);
  const refused = answers.filter((r) => r.status !== 200);
  assert.ok(ok.length <= 1, `both left: ${JSON.stringify(answers.map((r) => r.body))}`);
  assert.ok(refused.length >= 1);
  for (const r of refused) {
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.match(String(r.body['message']), /decommission waits until no node of the ring is leaving/);
  }
});
