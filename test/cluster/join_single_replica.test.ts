// A node joining a cluster with N = 1 takes over ranges whose keys are only on their previous
// owner. Node-1 is stopped while node-2 joins, so node-2's bootstrap cannot pull node-1's ranges
// and node-2 stays rebuilding (its next full pass is 30 s away): the window in which those keys
// are not on node-2 yet, held open for the test: a read of such a key through node-2 is then a
// 503 (node-2 cannot tell it is absent), not a 404, and a snapshot of node-2 says it is rebuilding
// (a node restored from it goes on rebuilding). Once node-1 is back, a read of such a key,
// through node-2 or through node-0 (a remote replica read), finds it on node-1 first, and a write
// to one follows its version instead of making a sibling, and is applied on node-1 too (a
// coordinator whose ring lacks node-2 reads there); node-1 may neither leave nor clean those
// keys up meanwhile. Its next pass, 30 s after the bootstrap, syncs just the ranges the
// bootstrap left out, and ends the rebuild. A node that joins after node-2's rebuild began, and
// finishes its own, is not taken by node-2 for the previous owner of keys it never held (the
// ring without node-2 may name it): node-2 keeps the ring's members at its rebuild's start in
// REBUILDING.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyToken, Ring } from '../../src/ring';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';

describe('2 nodes with N = 1; a third joins while one of them is down', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 2, replicationFactor: 1 });
  });
  after(async () => {
    await c?.close();
  });

  test('until its pass has pulled them, the new node reads the keys it took over from their previous owner', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `moved-${i}`);
    for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `v-${k}` })).status, 200, k);
    const ownerIn = (r: Ring, k: string): string => r.preferenceList(keyToken(Buffer.from(k)), 1)[0]!;
    const twoNodes = Ring.build(c.nodes.map((n) => ({ nodeId: n.id, vnodes: c.spec.vnodes })), 1);
    const threeNodes = Ring.build([...c.nodes.map((n) => ({ nodeId: n.id, vnodes: c.spec.vnodes })), { nodeId: 'node-2', vnodes: c.spec.vnodes }], 2);
    const fromOne = keys.filter((k) => ownerIn(twoNodes, k) === 'node-1' && ownerIn(threeNodes, k) === 'node-2');
    assert.ok(fromOne.length >= 4, `node-2 takes ${fromOne.length} keys from node-1`);

    c.signal(1, 'SIGSTOP');
    let stopped = true;
    try {
      // A joining node takes its seed's view of who is down: it will not wait on node-1.
      await c.waitStatus([0], 1, 'dead', 15_000);
      const j = await c.addNode();
      await waitFor('node-2 to finish its bootstrap', async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2, 30_000);
      assert.equal(await c.metric(j, 'ringkv_rebuilding'), 1, 'node-1\'s ranges were left for later');
      // Node-2 does not hold those keys yet, and the node that does is down: not a 404.
      const unknown = await c.http(j, 'GET', fromOne[0]!, { consistency: 'ONE' });
      assert.equal(unknown.status, 503, JSON.stringify(unknown.body));
      // A snapshot taken now lacks those keys too: a node restored from it goes on rebuilding.
      const snap = await c.post(j, '/api/v1/admin/snapshot', JSON.stringify({ name: 'mid-rebuild' }));
      assert.equal(snap.status, 200, JSON.stringify(snap.body));
      assert.match(fs.readFileSync(path.join(String(snap.body.path), 'REBUILDING'), 'utf8'), /^rebuilding: /);
      c.signal(1, 'SIGCONT');
      stopped = false;
      await c.waitStatus([0, 2], 1, 'healthy', 15_000);

      // Reads through node-2 (its own replica) and through node-0 (node-2 as the remote replica).
      const read = fromOne.slice(0, Math.ceil(fromOne.length / 2));
      for (const [n, k] of read.entries()) {
        const got = await c.http(n % 2 === 0 ? j : 0, 'GET', k);
        assert.equal(got.status, 200, `${k}: ${JSON.stringify(got.body)}`);
        assert.equal(base64Text(got.body.value), `v-${k}`);
      }
      // A write to one follows the version on node-1.
      const written = fromOne[fromOne.length - 1]!;
      assert.equal((await c.http(0, 'PUT', written, { body: 'newer' })).status, 200);
      const after = await c.http(j, 'GET', written);
      assert.equal(after.body.siblings, undefined, JSON.stringify(after.body));
      assert.equal(base64Text(after.body.value), 'newer');
      // A key new to the cluster, written through node-2, lands on node-1 too: a coordinator
      // whose ring lacks node-2 would read it there.
      const fresh = Array.from({ length: 500 }, (_, i) => `fresh-${i}`).find((k) => ownerIn(twoNodes, k) === 'node-1' && ownerIn(threeNodes, k) === 'node-2')!;
      const before1 = await c.storedEntries(1);
      assert.equal((await c.http(j, 'PUT', fresh, { body: 'new' })).status, 200);
      assert.equal(await c.storedEntries(1), before1 + 1, 'the write reached the previous owner');
      assert.equal(await c.metric(j, 'ringkv_rebuild_push_failures_total'), 0);
      assert.ok((await c.metric(j, 'ringkv_rebuild_pulls_total')) >= read.length + 2);
      assert.equal(await c.metric(j, 'ringkv_rebuilding'), 1, 'the window was still open: no pass had pulled the range');
      // Meanwhile node-1 holds the only copy of those keys: it may neither leave (it would hand
      // over only the ranges it still replicates, and node-2 would then look for their previous
      // owner in a ring without it) nor clean them up.
      await waitFor('node-1 to hear that node-2 is rebuilding', async () => {
        const st = (await c.getJson(1, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; rebuilding?: boolean }> };
        return st.nodes.find((m) => m.id === 'node-2')?.rebuilding === true;
      }, 10_000);
      for (const op of ['decommission', 'cleanup']) {
        const refused = await c.post(1, `/api/v1/admin/${op}`);
        assert.equal(refused.status, 503, `${op}: ${JSON.stringify(refused.body)}`);
        assert.match(String(refused.body.message), /rebuilding: node-2$/, `${op}: ${JSON.stringify(refused.body)}`);
      }

      // 30 s after its bootstrap, node-2 syncs the ranges that pass left out, and only those.
      const left = threeNodes.replicatedRanges('node-2', 1).filter((r) => threeNodes.without(['node-2']).preferenceList(r.token, 1)[0] === 'node-1').length;
      assert.ok(left > 0 && left < threeNodes.replicatedRanges('node-2', 1).length, `${left} ranges left`);
      assert.equal(await c.metric(j, 'ringkv_rebuild_ranges_left'), left);
      // Gossip carries it, and each node's disk, to the cluster status on every node.
      await waitFor('node-0 to hear how many ranges node-2 has left', async () => {
        const st = (await c.getJson(0, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; rebuild_ranges_left?: number; disk_size_bytes?: number; disk_free_bytes?: number }> };
        const two = st.nodes.find((m) => m.id === 'node-2');
        return two?.rebuild_ranges_left === left && st.nodes.every((m) => (m.disk_size_bytes ?? 0) > 0 && m.disk_free_bytes! <= m.disk_size_bytes!);
      }, 10_000);
      const log = c.nodes[j]!.log;
      const syncsBefore = await c.metric(j, 'ringkv_anti_entropy_syncs_total');
      await waitFor('node-2 to end its rebuild', () => log.some((l) => l.includes('rebuilding: done: every range synced')), 45_000);
      assert.ok(log.some((l) => l.includes(`rebuilding: syncing the ${left} ranges no pass has synced yet`)), log.join('\n'));
      assert.equal(await c.metric(j, 'ringkv_rebuilding'), 0);
      assert.equal(await c.metric(j, 'ringkv_rebuild_ranges_left'), 0);
      // One sync per range (two for the range that wraps past the top of the ring).
      const syncs = (await c.metric(j, 'ringkv_anti_entropy_syncs_total')) - syncsBefore;
      assert.ok(syncs >= left && syncs <= left + 1, `${syncs} syncs for ${left} ranges`);
      // Its replica holds them now: with node-1 stopped again, node-2 still answers.
      c.signal(1, 'SIGSTOP');
      stopped = true;
      await c.waitStatus([2], 1, 'suspect', 15_000);
      for (const k of fromOne) {
        const got = await c.http(j, 'GET', k);
        assert.equal(got.status, 200, `${k}: ${JSON.stringify(got.body)}`);
        assert.equal(base64Text(got.body.value), k === written ? 'newer' : `v-${k}`);
      }
    } finally {
      if (stopped) c.signal(1, 'SIGCONT');
    }
  });
});

describe('2 nodes with N = 1; a third joins while one of them is down, and a fourth joins and finishes while the third still rebuilds', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 2, replicationFactor: 1, vnodes: 8 });
  });
  after(async () => {
    await c?.close();
  });

  test('the third reads the keys it took over from their owner before its join, not from the fourth', async () => {
    const members = (n: number) => Array.from({ length: n }, (_, i) => ({ nodeId: `node-${i}`, vnodes: c.spec.vnodes }));
    const [two, three, four] = [Ring.build(members(2), 1), Ring.build(members(3), 2), Ring.build(members(4), 3)];
    const ownerIn = (r: Ring, k: string): string => r.preferenceList(keyToken(Buffer.from(k)), 1)[0]!;
    // Keys node-2 takes from node-1 and keeps once node-3 is in, for which the ring without node-2 names node-3.
    const keys = Array.from({ length: 3000 }, (_, i) => `later-${i}`)
      .filter((k) => ownerIn(two, k) === 'node-1' && ownerIn(three, k) === 'node-2' && ownerIn(four, k) === 'node-2' && ownerIn(four.without(['node-2']), k) === 'node-3')
      .slice(0, 40);
    assert.ok(keys.length >= 5, `${keys.length} keys`);
    for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `v-${k}` })).status, 200, k);

    c.signal(1, 'SIGSTOP');
    let stopped = true;
    try {
      await c.waitStatus([0], 1, 'dead', 15_000);
      const j = await c.addNode();
      assert.equal(j, 2);
      await waitFor('node-2 to finish its bootstrap', async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2, 30_000);
      assert.equal(await c.metric(j, 'ringkv_rebuilding'), 1, 'node-1\'s ranges were left for later');
      assert.match(fs.readFileSync(path.join(c.nodes[j]!.dataDir, 'REBUILDING'), 'utf8'), /^ring members at its start: node-0 node-1 node-2$/m);
      c.signal(1, 'SIGCONT');
      stopped = false;
      await c.waitStatus([0, 2], 1, 'healthy', 15_000);
    } finally {
      if (stopped) c.signal(1, 'SIGCONT');
    }
    const d = await c.addNode();
    await waitFor('node-3 to finish its bootstrap and its rebuild', async () => (await c.metric(d, 'ringkv_bootstrap_state')) === 2 && (await c.metric(d, 'ringkv_rebuilding')) === 0, 30_000);
    await c.waitConverged(15_000);
    for (const k of keys) {
      const got = await c.http(2, 'GET', k, { consistency: 'ONE' });
      assert.equal(got.status, 200, `${k} through node-2: ${JSON.stringify(got.body)}`);
      assert.equal(base64Text(got.body.value), `v-${k}`);
    }
    // The window the test is about: node-2's retry pass (30 s after its bootstrap) has not run.
    assert.equal(await c.metric(2, 'ringkv_rebuilding'), 1);
  });
});
