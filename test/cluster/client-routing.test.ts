// Proves the client is ring-aware against a real 3-process cluster: it learns the ring from one
// node, sends writes and ONE reads to the first node of the key's preference list and spreads
// QUORUM reads over the key's replicas (checked against each node's own request counters), and
// reads of more bytes than a connection may hold come back through its retries, and when the
// first node is killed it fails over to the next replica, with the writes readable afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RingkvClient } from '../../src/client';
import { valueBytesMax, wsAnswerBytesPerConnectionMax } from '../../src/constants';
import { TestCluster, waitFor } from '../helpers/cluster';

/** Sum of a node's ringkv_requests_total over the WebSocket transport for `op`. */
async function wsOps(c: TestCluster, i: number, op: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${c.nodes[i]!.port}/metrics`, { signal: AbortSignal.timeout(5000) });
  let n = 0;
  for (const line of (await res.text()).split('\n')) {
    if (line.startsWith('ringkv_requests_total{') && line.includes('transport="ws"') && line.includes(`op="${op}"`)) n += Number(line.split(' ').pop());
  }
  return n;
}

describe('client against a 3-node cluster', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3 });
  });
  after(async () => {
    await c?.close();
  });

  test('writes go to the first node of each key\'s preference list, as the nodes\' own metrics show', async () => {
    const client = await RingkvClient.connect({ nodes: [`127.0.0.1:${c.nodes[0]!.port}`], ringRefreshMs: 0 });
    try {
      assert.equal(client.stats().ringLoads, 1, 'ring learned from node 0');
      const before = await Promise.all([0, 1, 2].map((i) => wsOps(c, i, 'put')));
      const expected = new Map<string, number>();
      const keys = Array.from({ length: 90 }, (_, i) => `route:${i}`);
      for (const k of keys) {
        const pref = client.preferenceList(k);
        assert.equal(pref.length, 3, 'N=3 distinct nodes');
        assert.equal(new Set(pref).size, 3);
        expected.set(pref[0]!, (expected.get(pref[0]!) ?? 0) + 1);
      }
      const results = await Promise.all(keys.map((k) => client.put(k, `v-${k}`, { consistency: 'ONE' })));
      results.forEach((r, i) => assert.equal(r.node, client.preferenceList(keys[i]!)[0]));
      const afterCounts = await Promise.all([0, 1, 2].map((i) => wsOps(c, i, 'put')));
      for (let i = 0; i < 3; i++) {
        assert.equal(afterCounts[i]! - before[i]!, expected.get(c.nodes[i]!.id) ?? 0, `${c.nodes[i]!.id} coordinated its keys and only those`);
      }
      // Every node is the primary of some keys: the spread is real, not all to the seed.
      assert.equal(expected.size, 3);
    } finally {
      client.close();
    }
  });

  test('QUORUM reads of a hot key are coordinated by each of its replicas in turn; ONE reads stay on the first', async () => {
    const client = await RingkvClient.connect({ nodes: [`127.0.0.1:${c.nodes[0]!.port}`], ringRefreshMs: 0 });
    try {
      const k = 'hot-key';
      await client.put(k, 'v', { consistency: 'ALL' });
      const pref = client.preferenceList(k);
      const idx = (id: string): number => c.nodes.findIndex((n) => n.id === id);
      const before = await Promise.all([0, 1, 2].map((i) => wsOps(c, i, 'get')));
      const quorum = [];
      for (let i = 0; i < 30; i++) quorum.push(await client.get(k, { consistency: 'QUORUM' }));
      assert.ok(quorum.every((r) => r.found && Buffer.from(r.value).toString() === 'v'));
      const byNode = new Map<string, number>();
      for (const r of quorum) byNode.set(r.node, (byNode.get(r.node) ?? 0) + 1);
      assert.deepEqual([...byNode.keys()].sort(), [...pref].sort(), 'every replica coordinated some');
      assert.ok([...byNode.values()].every((n) => n === 10), JSON.stringify([...byNode]));
      const afterQuorum = await Promise.all([0, 1, 2].map((i) => wsOps(c, i, 'get')));
      for (const id of pref) assert.equal(afterQuorum[idx(id)]! - before[idx(id)]!, 10, `${id} counted its turns`);
      for (let i = 0; i < 10; i++) assert.equal((await client.get(k, { consistency: 'ONE' })).node, pref[0]);
      const afterOne = await Promise.all([0, 1, 2].map((i) => wsOps(c, i, 'get')));
      assert.equal(afterOne[idx(pref[0]!)]! - afterQuorum[idx(pref[0]!)]!, 10);
    } finally {
      client.close();
    }
  });

  test("reads of more bytes than a connection may hold: the node answers the rest busy, and the client's retries bring every value back", async () => {
    const client = await RingkvClient.connect({ nodes: [`127.0.0.1:${c.nodes[0]!.port}`], ringRefreshMs: 0 });
    try {
      const k = 'big-hot-key';
      const value = Buffer.alloc(valueBytesMax, 5);
      await client.put(k, value, { consistency: 'ALL' });
      // A counter not bumped yet is not in the exposition (NaN here).
      const refused = async (): Promise<number> => (await Promise.all([0, 1, 2].map((i) => c.metric(i, 'ringkv_ws_answers_refused_total')))).reduce((a, n) => a + (Number.isNaN(n) ? 0 : n), 0);
      const before = await refused();
      // One frame (issued in one tick) to the key's first replica: more 1 MiB answers than wsAnswerBytesPerConnectionMax.
      const n = wsAnswerBytesPerConnectionMax / valueBytesMax + 16;
      const reads = await Promise.all(Array.from({ length: n }, () => client.get(k, { consistency: 'ONE' })));
      assert.ok(reads.every((r) => r.found && Buffer.compare(Buffer.from(r.value), value) === 0), 'every read came back with the whole value');
      assert.ok((await refused()) - before >= 16, 'the node answered busy past the bound');
      assert.ok(client.stats().retries >= 16, 'and the client asked again');
    } finally {
      client.close();
    }
  });

  test('with the primary killed, writes fail over to the next replica and stay readable', async () => {
    const client = await RingkvClient.connect({ nodes: [`127.0.0.1:${c.nodes[0]!.port}`], ringRefreshMs: 0, timeoutMs: 3000 });
    try {
      const victim = c.nodes[1]!.id;
      const keys = Array.from({ length: 60 }, (_, i) => `fail:${i}`).filter((k) => client.preferenceList(k)[0] === victim);
      assert.ok(keys.length >= 5, `some keys have ${victim} as primary (${keys.length})`);
      await client.get(keys[0]!); // opens the connection to the victim before it dies
      await c.kill(1);
      const results = [];
      for (const k of keys) results.push(await client.put(k, `after-${k}`, { consistency: 'QUORUM' }));
      results.forEach((r, i) => {
        const pref = client.preferenceList(keys[i]!);
        assert.notEqual(r.node, victim);
        assert.equal(r.node, pref[1], 'the next replica in the preference list coordinated');
      });
      assert.ok(client.stats().retries >= 1, 'the first attempt to the dead node was retried');
      for (const k of keys) {
        const g = await client.get(k, { consistency: 'QUORUM' });
        assert.ok(g.found && Buffer.from(g.value).toString() === `after-${k}`);
      }
      // Once gossip declares the node dead, a refreshed ring view puts it last from the start.
      await waitFor(`${victim} dead on node-0`, async () => (await c.statuses(0))[victim] === 'dead', 15_000);
      await client.refreshRing();
      const retriesBefore = client.stats().retries;
      await client.put(keys[0]!, 'again', { consistency: 'QUORUM' });
      assert.equal(client.stats().retries, retriesBefore, 'no attempt wasted on the dead node');
    } finally {
      client.close();
    }
  });
});
