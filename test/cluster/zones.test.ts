// Zone-aware placement across real node processes (ring/ring.ts): four nodes in two zones with
// N = 2 put one replica of every key in each zone, so a whole zone stopped (both its nodes
// SIGSTOPped, as a rack losing power) leaves every key readable and writable at ONE through the
// other. The zone-less ring of the same nodes would have put both replicas of some keys in the
// stopped zone (checked below, so the test cannot pass by luck). The zones show in the cluster
// status, in `ringkv status`, and in each node's data dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyToken, Ring } from '../../src/ring';
import { base64Text, TestCluster } from '../helpers/cluster';

describe('4 nodes in zones a, a, b, b with N = 2', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 4, zones: ['a', 'a', 'b', 'b'], replicationFactor: 2, hintedHandoff: false, readRepairChance: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('every node shows its zone in the cluster status and `ringkv status`, and keeps it in its data dir and its snapshots', async () => {
    const s = (await c.getJson(3, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; zone?: string }> };
    assert.deepEqual(Object.fromEntries(s.nodes.map((n) => [n.id, n.zone])), { 'node-0': 'a', 'node-1': 'a', 'node-2': 'b', 'node-3': 'b' });
    const status = await c.cli(['status', '--node', `127.0.0.1:${c.nodes[0]!.port}`]);
    assert.equal(status.code, 0, status.stderr);
    const rows = status.stdout.trim().split('\n').slice(2).map((l) => l.split(/\s{2,}/));
    assert.deepEqual(rows.map((r) => [r[1], r[3]]), [['node-0', 'a'], ['node-1', 'a'], ['node-2', 'b'], ['node-3', 'b']]);
    for (const [i, zone] of ['a', 'a', 'b', 'b'].entries()) assert.equal(fs.readFileSync(path.join(c.nodes[i]!.dataDir, 'ZONE'), 'utf8'), `${zone}\n`);
    // A node restored from a snapshot must come back in its zone, not in none.
    const snap = await c.cli(['snapshot', 'zoned', '--node', `127.0.0.1:${c.nodes[2]!.port}`]);
    assert.equal(snap.code, 0, snap.stderr);
    assert.equal(fs.readFileSync(path.join(c.nodes[2]!.dataDir, 'snapshots', 'zoned', 'ZONE'), 'utf8'), 'b\n');
  });

  test('zone b stopped whole: every key still reads and writes at ONE through zone a', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `zoned-${i}`);
    const zoneless = Ring.build(c.nodes.map((n) => ({ nodeId: n.id, vnodes: c.spec.vnodes })), 1);
    const bothInB = keys.filter((k) => zoneless.preferenceList(keyToken(Buffer.from(k)), 2).every((id) => id === 'node-2' || id === 'node-3'));
    assert.ok(bothInB.length > 0, 'without zones some keys would have had no replica left');

    for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `v1-${k}`, consistency: 'ALL' })).status, 200, k);
    c.signal(2, 'SIGSTOP');
    c.signal(3, 'SIGSTOP');
    try {
      await c.waitStatus([0, 1], 2, 'dead', 15_000);
      await c.waitStatus([0, 1], 3, 'dead', 15_000);
      for (const [i, k] of keys.entries()) {
        const got = await c.http(i % 2, 'GET', k, { consistency: 'ONE' });
        assert.equal(got.status, 200, `${k}: ${JSON.stringify(got.body)}`);
        assert.equal(base64Text(got.body.value), `v1-${k}`, k);
        const put = await c.http((i + 1) % 2, 'PUT', k, { body: `v2-${k}`, consistency: 'ONE' });
        assert.equal(put.status, 200, `${k}: ${JSON.stringify(put.body)}`);
      }
      // QUORUM of 2 is both replicas: out of reach for every key now, which says zone b really is down.
      const q = await c.http(0, 'GET', keys[0]!, { consistency: 'QUORUM' });
      assert.equal(q.status, 503, JSON.stringify(q.body));
    } finally {
      c.signal(2, 'SIGCONT');
      c.signal(3, 'SIGCONT');
    }
  });
});
