// Two datacenters across real node processes (design.md §8, §10 scenario 3): east has three
// nodes, west two, N = 2 in each, so every key has two replicas in each datacenter (checked
// against src/ring, and against the replicas' own copies: the fifth node holds none of a key it
// does not replicate). West stopped whole (both its nodes SIGSTOPped, as a datacenter losing its
// link): east still takes LOCAL_QUORUM and LOCAL_ONE writes and reads, while QUORUM (3 of 4) and
// EACH_QUORUM answer 503 naming what is missing. West back: the writes it missed reach it (hints)
// and its own LOCAL_QUORUM reads see them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyToken, Ring } from '../../src/ring';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';

const datacenters = ['east', 'east', 'east', 'west', 'west'];
const east = [0, 1, 2];
const west = [3, 4];

describe('5 nodes in datacenters east (3) and west (2) with N = 2 in each', () => {
  let c: TestCluster;
  let ring: Ring;
  before(async () => {
    c = await TestCluster.start({ nodes: 5, datacenters, replicationFactor: 2, readRepairChance: 0 });
    ring = Ring.build(c.nodes.map((n, i) => ({ nodeId: n.id, vnodes: c.spec.vnodes, datacenter: datacenters[i]! })), 1);
  });
  after(async () => {
    await c?.close();
  });

  test('each node shows its datacenter and keeps it; every key has two replicas in each datacenter, and only they hold it', async () => {
    const s = (await c.getJson(4, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; datacenter?: string }>; total_keys: number };
    assert.deepEqual(Object.fromEntries(s.nodes.map((n) => [n.id, n.datacenter])), Object.fromEntries(c.nodes.map((n, i) => [n.id, datacenters[i]])));
    const status = await c.cli(['status', '--node', `127.0.0.1:${c.nodes[0]!.port}`]);
    assert.equal(status.code, 0, status.stderr);
    const rows = status.stdout.trim().split('\n').slice(2).map((l) => l.split(/\s{2,}/));
    assert.deepEqual(rows.map((r) => r[3]), datacenters, 'a datacenter column');
    for (const [i, dc] of datacenters.entries()) assert.equal(fs.readFileSync(path.join(c.nodes[i]!.dataDir, 'DATACENTER'), 'utf8'), `${dc}\n`);

    const keys = Array.from({ length: 30 }, (_, i) => `placed-${i}`);
    for (const k of keys) assert.equal((await c.http(i(k) % 5, 'PUT', k, { body: `v-${k}`, consistency: 'ALL' })).status, 200, k);
    for (const k of keys) {
      const pref = ring.preferenceList(keyToken(Buffer.from(k)), 2);
      assert.equal(pref.length, 4);
      assert.deepEqual(pref.map((id) => ring.datacenterOf(id)).sort(), ['east', 'east', 'west', 'west'], `${k}: ${pref.join()}`);
      for (const [n, node] of c.nodes.entries()) {
        const copy = await c.replica(n, k);
        assert.deepEqual([...copy.replicas].sort(), [...pref].sort(), `node-${n}'s ring agrees on ${k}`);
        assert.deepEqual(copy.values, pref.includes(node.id) ? [`v-${k}`] : [], `${node.id} of ${k}`);
      }
    }
  });

  test('west stopped whole: east takes LOCAL_QUORUM and LOCAL_ONE; QUORUM and EACH_QUORUM answer 503; west catches up once back', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `dc-${i}`);
    for (const k of keys) assert.equal((await c.http(i(k) % 5, 'PUT', k, { body: `v1-${k}`, consistency: 'EACH_QUORUM' })).status, 200, k);
    for (const n of west) c.signal(n, 'SIGSTOP');
    try {
      for (const n of west) await c.waitStatus(east, n, 'dead', 15_000);
      for (const [j, k] of keys.entries()) {
        const through = east[j % east.length]!;
        const put = await c.http(through, 'PUT', k, { body: `v2-${k}`, consistency: j % 2 === 0 ? 'LOCAL_QUORUM' : 'LOCAL_ONE' });
        assert.equal(put.status, 200, `${k}: ${JSON.stringify(put.body)}`);
        const got = await c.http(east[(j + 1) % east.length]!, 'GET', k, { consistency: 'LOCAL_QUORUM' });
        assert.equal(got.status, 200, `${k}: ${JSON.stringify(got.body)}`);
        assert.equal(base64Text(got.body.value), `v2-${k}`, k);
      }
      const quorum = await c.http(0, 'PUT', keys[0]!, { body: 'x', consistency: 'QUORUM' });
      assert.equal(quorum.status, 503, JSON.stringify(quorum.body));
      assert.match(String(quorum.body.message), /needs 3 of 4 replicas, only 2 alive/);
      assert.deepEqual([(quorum.body.details as Record<string, unknown> | undefined)?.['needed'], (quorum.body.details as Record<string, unknown> | undefined)?.['alive']], [3, 2], JSON.stringify(quorum.body));
      const each = await c.http(1, 'GET', keys[1]!, { consistency: 'EACH_QUORUM' });
      assert.equal(each.status, 503, JSON.stringify(each.body));
      assert.match(String(each.body.message), /in datacenter west, only 0 alive/);
    } finally {
      for (const n of west) c.signal(n, 'SIGCONT');
    }
    for (const n of west) await c.waitStatus(east, n, 'healthy', 15_000);
    // The writes west missed were hinted: delivered, each west replica's own copy has them.
    await waitFor(
      'west replicas hold every v2',
      async () => {
        for (const k of keys) {
          for (const n of west) {
            const copy = await c.replica(n, k);
            if (copy.replicas.includes(c.nodes[n]!.id) && !copy.values.includes(`v2-${k}`)) return false;
          }
        }
        return true;
      },
      30_000,
    );
    for (const [j, k] of keys.entries()) {
      const got = await c.http(west[j % west.length]!, 'GET', k, { consistency: 'LOCAL_QUORUM' });
      assert.equal(got.status, 200, `${k}: ${JSON.stringify(got.body)}`);
      assert.equal(base64Text(got.body.value), `v2-${k}`, k);
      assert.equal(got.body.siblings, undefined, `${k}: one version, not siblings`);
    }
  });
});

/** A key's number, to spread requests over coordinators. */
function i(k: string): number {
  return Number(k.slice(k.lastIndexOf('-') + 1));
}
