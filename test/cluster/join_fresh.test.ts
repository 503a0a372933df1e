// A node joining with a new data dir rebuilds (streams the ranges it takes over) even where its
// first start did not get that far: one refused after its shards were made (the cluster runs
// with other settings) leaves its data dir new for the next start (FRESH), and one whose seed
// did not answer as it started (the seed was restarting) rebuilds once gossip finds the cluster,
// however long that takes.
// A data dir at the root of a new file system (its lost+found), or one where the first start
// crashed while it wrote FRESH (FRESH.tmp), is new too.
// With N = 1 nothing else would bring it the keys: they are on their previous owners alone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyToken, Ring } from '../../src/ring';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';

describe('2 nodes with N = 1; new nodes join after a first start that did not get far', () => {
  let c: TestCluster;
  const keys = Array.from({ length: 200 }, (_, i) => `fresh-${i}`);
  before(async () => {
    c = await TestCluster.start({ nodes: 2, replicationFactor: 1, hintedHandoff: false, readRepairChance: 0, antiEntropyIntervalMs: 0, vnodes: 8 });
    for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `v-${k}` })).status, 200, k);
  });
  after(async () => {
    await c?.close();
  });

  /** The keys that moved to the newest node, which it holds only if it pulled them. */
  const movedTo = (j: number): string[] => {
    const ring = (n: number) => Ring.build(c.nodes.slice(0, n).map((m) => ({ nodeId: m.id, vnodes: c.spec.vnodes })), 1);
    const [old, now] = [ring(j), ring(j + 1)];
    return keys.filter((k) => now.preferenceList(keyToken(Buffer.from(k)), 1)[0] === c.nodes[j]!.id && old.preferenceList(keyToken(Buffer.from(k)), 1)[0] !== c.nodes[j]!.id);
  };

  async function readsThrough(j: number): Promise<void> {
    await waitFor(`${c.nodes[j]!.id} to finish its bootstrap`, async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2, 30_000);
    await waitFor(`${c.nodes[j]!.id} to end its rebuild`, async () => (await c.metric(j, 'ringkv_rebuilding')) === 0, 30_000);
    const moved = movedTo(j);
    assert.ok(moved.length >= 4, `${c.nodes[j]!.id} takes ${moved.length} keys`);
    for (const k of moved) {
      const got = await c.http(j, 'GET', k, { consistency: 'ONE' });
      assert.equal(got.status, 200, `${k} via ${c.nodes[j]!.id}: ${JSON.stringify(got.body)}`);
      assert.equal(base64Text(got.body.value), `v-${k}`);
    }
  }

  test('a start refused after its shards were made leaves the data dir new: the next start streams its ranges', async () => {
    const dataDir = path.join(c.tmp, `node-${c.nodes.length}`);
    const refused = await c.startStray({ nodeId: `node-${c.nodes.length}`, dataDir, args: ['--replication', '2', '--bootstrap', 'on'] });
    assert.notEqual(refused.code, 0, refused.output);
    assert.ok(refused.output.includes('this node was started with replication=2'), refused.output);
    assert.ok(fs.existsSync(path.join(dataDir, 'shard-000')), 'the refused start had made its shards');
    const j = await c.addNode();
    assert.equal(c.nodes[j]!.dataDir, dataDir);
    await readsThrough(j);
    assert.ok(c.nodes[j]!.log.some((l) => l.includes('rebuilding: this node joins with a new data dir')), c.nodes[j]!.log.join(''));
    assert.ok(!fs.existsSync(path.join(dataDir, 'FRESH')), 'decided: the data dir is new no more');
  });

  test('a data dir holding only a lost+found and a half-written FRESH is new: the node streams its ranges', async () => {
    const dataDir = path.join(c.tmp, `node-${c.nodes.length}`);
    fs.mkdirSync(path.join(dataDir, 'lost+found'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'FRESH.tmp'), 'a new data dir');
    const j = await c.addNode();
    assert.equal(c.nodes[j]!.dataDir, dataDir);
    await readsThrough(j);
    assert.ok(c.nodes[j]!.log.some((l) => l.includes('rebuilding: this node joins with a new data dir')), c.nodes[j]!.log.join(''));
  });

  test('a node whose seed did not answer as it started rebuilds once gossip finds the cluster', async () => {
    c.signal(0, 'SIGSTOP');
    let j: number;
    try {
      j = await c.addNode();
    } finally {
      c.signal(0, 'SIGCONT');
    }
    await readsThrough(j);
    assert.ok(c.nodes[j]!.log.some((l) => l.includes('its seeds answered only after it started')), c.nodes[j]!.log.join(''));
  });

  test('a node whose seed answers only after its bootstrap stopped waiting for the ring still rebuilds once gossip finds the cluster', async () => {
    // Longer than a bootstrap waits for the ring to settle (60 gossip rounds: 6 s here).
    c.signal(0, 'SIGSTOP');
    let j: number;
    try {
      j = await c.addNode();
      const n = c.nodes[j]!;
      await waitFor(
        `${n.id} to stop waiting for the ring`,
        async () => n.log.some((l) => l.includes('bootstrap: WARN no seed has answered')) || (await c.metric(j, 'ringkv_bootstrap_state')) === 2,
        30_000,
      );
    } finally {
      c.signal(0, 'SIGCONT');
    }
    await readsThrough(j);
    assert.ok(c.nodes[j]!.log.some((l) => l.includes('its seeds answered only after it started')), c.nodes[j]!.log.join(''));
  });

  test('a node started on its own and taken in by addnode after its bootstrap stopped waiting for a ring streams its ranges', async () => {
    const j = await c.addNode({ alone: true });
    const n = c.nodes[j]!;
    // Its bootstrap found no ring to stream from (60 gossip rounds: 6 s here) and ended.
    await waitFor(`${n.id} to end its bootstrap alone`, async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2, 30_000);
    const added = await c.post(0, '/api/v1/cluster/nodes', JSON.stringify({ node_id: n.id, address: `127.0.0.1:${n.port}:${n.peerPort}` }));
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal(await c.metric(j, 'ringkv_rebuilding'), 1, 'taken in, it rebuilds as a joining node');
    await c.waitConverged(20_000);
    await readsThrough(j);
    assert.ok(n.log.some((l) => l.includes('rebuilding: this node was added to a running cluster')), n.log.join(''));
  });

  test('the same, where REBUILDING cannot be written: it still rebuilds, and says that a restart before the end decides again', async () => {
    const j = await c.addNode({ alone: true });
    const n = c.nodes[j]!;
    await waitFor(`${n.id} to end its bootstrap alone`, async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2, 30_000);
    // Where writeFileDurably writes first: the write fails (EISDIR), as on a full or read-only disk.
    fs.mkdirSync(path.join(n.dataDir, 'REBUILDING.tmp'));
    const added = await c.post(0, '/api/v1/cluster/nodes', JSON.stringify({ node_id: n.id, address: `127.0.0.1:${n.port}:${n.peerPort}` }));
    assert.equal(added.status, 200, JSON.stringify(added.body));
    await c.waitConverged(20_000);
    await readsThrough(j);
    assert.ok(n.log.some((l) => /rebuilding: WARN cannot record .*REBUILDING.*: EISDIR.*a restart before it ends decides again/.test(l)), n.log.join(''));
    assert.ok(!fs.existsSync(path.join(n.dataDir, 'FRESH')), 'FRESH goes once the rebuild has ended');
  });
});
