// A coordinator shut down (SIGTERM) while replica writes are still in flight to a replica that
// does not answer: those writes fail as the node closes its peer links, and the hints they leave
// must reach the hint log on disk before it closes, or they are lost with the process. Real node
// processes; read repair and anti-entropy off, so only the hints can bring the keys to node-2.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, waitFor } from '../helpers/cluster';

let c: TestCluster;
before(async () => {
  c = await TestCluster.start({ nodes: 3, readRepairChance: 0, antiEntropyIntervalMs: 0, requestTimeoutMs: 8000 });
});
after(async () => {
  await c?.close();
});

test('writes in flight to a silent replica when their coordinator shuts down leave hints on its disk, delivered after it restarts', async () => {
  // Node-2 stops answering before anyone notices (no SUSPECT yet): its copies of the writes wait
  // on node-0's links until their 8 s timeout, while QUORUM answers with node-0 and node-1.
  c.signal(2, 'SIGSTOP');
  const keys = Array.from({ length: 20 }, (_, i) => `in-flight-${i}`);
  for (const k of keys) {
    const put = await c.http(0, 'PUT', k, { body: `v-${k}`, consistency: 'QUORUM' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  }
  const proc = c.nodes[0]!.proc!;
  const exited = new Promise((r) => proc.once('exit', r));
  c.signal(0, 'SIGTERM');
  await exited;
  assert.equal(proc.exitCode, 0, c.nodes[0]!.log.join('').slice(-2000));

  c.signal(2, 'SIGCONT');
  await c.spawn(0);
  await waitFor('node-0 delivering its hints', async () => (await c.metric(0, 'ringkv_hints_queued')) === 0 && (await c.metric(0, 'ringkv_hints_delivered_total')) >= keys.length, 30_000);
  for (const k of keys) assert.deepEqual((await c.replica(2, k)).values, [`v-${k}`], `${k} on node-2`);
});
