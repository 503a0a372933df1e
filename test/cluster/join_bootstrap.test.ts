// A node that joins a running cluster with an empty data dir streams the ranges it now replicates
// from the nodes that hold them (bootstrap, a full anti-entropy pass), with periodic anti-entropy,
// hints and read repair all off, so nothing else could have brought it the data. An operator's
// POST /api/v1/admin/repair runs such a pass on demand and reports it, and POST
// /api/v1/cluster/nodes (design.md §5) takes in a running node that knows nobody. Nodes that
// join together, or one during another's pass, each end up with every key of their ranges.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { rebuildRetryMs, streamBytesPerSecondMin } from '../../src/constants';
import { base64Text, sleep, TestCluster, waitFor } from '../helpers/cluster';

describe('a fourth node joining a loaded 3-node cluster', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: false, readRepairChance: 0, antiEntropyIntervalMs: 0, vnodes: 8 });
  });
  after(async () => {
    await c?.close();
  });

  const keys = Array.from({ length: 120 }, (_, i) => `join-${i}`);

  test('streams its ranges as it joins; ONE reads it coordinates find every key', async () => {
    for (const [i, k] of keys.entries()) {
      const put = await c.http(i % 3, 'PUT', k, { body: `v${i}`, consistency: 'ALL' });
      assert.equal(put.status, 200, JSON.stringify(put.body));
    }
    const j = await c.addNode();
    await c.waitConverged(20_000);
    await waitFor('node-3 to finish its bootstrap', async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2, 30_000);
    const pulled = await c.metric(j, 'ringkv_anti_entropy_pulled_total');
    // With 4 nodes and N = 3 the new node replicates about 3/4 of the keys; it had none of them.
    assert.ok(pulled >= keys.length / 2 && pulled <= keys.length, `pulled ${pulled} of ${keys.length}`);
    // It joined rebuilding (reads ask the other replicas first) and its bootstrap, syncing every
    // range, ended that: a ONE read coordinated by a replica asks only its own copy again
    // (read_repair_chance 0), so a key in one of node-3's ranges is found only if the bootstrap brought it.
    assert.ok(c.nodes[j]!.log.some((l) => l.includes('rebuilding: this node joins with a new data dir')), c.nodes[j]!.log.join('\n'));
    assert.equal(await c.metric(j, 'ringkv_rebuilding'), 0);
    for (const [i, k] of keys.entries()) {
      const got = await c.http(j, 'GET', k, { consistency: 'ONE' });
      assert.equal(got.status, 200, `${k} via node-3: ${JSON.stringify(got.body)}`);
      assert.equal(base64Text(got.body.value), `v${i}`);
    }
    assert.equal(await c.metric(j, 'ringkv_read_repairs_total'), 0, 'no read repair did it');
  });

  test('a second process with a running node\'s id refuses to join, and the cluster keeps that id where it was', async () => {
    const twin = await c.startStray({ sameIdAs: 1 });
    assert.notEqual(twin.code, 0, twin.output);
    assert.notEqual(twin.code, null, `the twin was still running after 15 s:\n${twin.output}`);
    assert.ok(twin.output.includes(`node id node-1 is already running at 127.0.0.1:${c.nodes[1]!.peerPort}`), twin.output);
    assert.doesNotMatch(twin.output, /listening on/);
    // Nothing in its data dir says it ran: a next start there is a new node's, and bootstraps.
    assert.equal(fs.existsSync(path.join(twin.dataDir, 'PEERS')), false);
    for (const i of [0, 1, 2]) {
      const status = (await c.getJson(i, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; address: string; status: string }> };
      const one = status.nodes.find((m) => m.id === 'node-1');
      assert.deepEqual(one && { address: one.address, status: one.status }, { address: `127.0.0.1:${c.nodes[1]!.port}`, status: 'healthy' }, `as node-${i} sees it`);
    }
    assert.equal((await c.http(1, 'PUT', 'after-twin', { body: 'v', consistency: 'ALL' })).status, 200);
  });

  test('a node started with another replication factor or conflict mode than the cluster\'s refuses to join', async () => {
    for (const [flag, value, says] of [
      ['--replication', '2', 'replication=2 conflict-mode=vclock'],
      ['--conflict-mode', 'lww', 'replication=3 conflict-mode=lww'],
    ] as const) {
      const stray = await c.startStray({ args: [flag, value] });
      assert.notEqual(stray.code, 0, stray.output);
      assert.notEqual(stray.code, null, `the node was still running after 15 s:\n${stray.output}`);
      assert.ok(stray.output.includes(`runs with replication=3 conflict-mode=vclock`) && stray.output.includes(`this node was started with ${says}`), stray.output);
    }
    const status = (await c.getJson(0, '/api/v1/cluster/status')) as { nodes: Array<{ id: string }> };
    assert.ok(!status.nodes.some((m) => m.id === 'stray'), 'no refused node in the ring');
  });

  test('a node of another cluster refuses to start through this cluster\'s seed, which handles nothing it sent', async () => {
    // Its seed (node-1) refuses the connection's Hello: the stray's peek reaches no handler, so
    // nothing of it is merged anywhere, and the stray says why it stopped.
    const refusedBefore = await c.metric(1, 'ringkv_internode_connections_refused_total');
    const stray = await c.startStray({ args: ['--cluster-name', 'another-cluster'] });
    assert.notEqual(stray.code, 0, stray.output);
    assert.notEqual(stray.code, null, `the node was still running after 15 s:\n${stray.output}`);
    assert.ok(stray.output.includes(`is in another cluster than this node's (another-cluster)`) && stray.output.includes(`node node-1 of cluster ${c.clusterName} does not answer node stray of cluster another-cluster`), stray.output);
    assert.doesNotMatch(stray.output, /listening on/);
    assert.ok((await c.metric(1, 'ringkv_internode_connections_refused_total')) > refusedBefore, 'node-1 refused it');
    await sleep(5 * c.spec.gossipIntervalMs);
    for (const i of [0, 1, 2]) assert.equal((await c.statuses(i))['stray'], undefined, `node-${i} never heard of it`);
  });

  test('a node whose HTTP port is taken stops before it gossips, so it never enters the ring', async () => {
    const taken = c.nodes[0]!.port;
    const stray = await c.startStray({ args: ['--port', String(taken)] });
    assert.notEqual(stray.code, 0, stray.output);
    assert.ok(stray.output.includes(`cannot listen on 127.0.0.1:${taken}`), stray.output);
    // Long enough for a gossip round to have carried it anywhere, had it gossiped.
    await sleep(5 * c.spec.gossipIntervalMs);
    for (const i of [0, 1, 2]) assert.equal((await c.statuses(i))['stray'], undefined, `node-${i} never heard of it`);
  });

  test('POST /api/v1/admin/repair runs a full pass and reports it; nothing is left to move', async () => {
    const r = await c.post(0, '/api/v1/admin/repair');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const b = r.body as { ranges: number; synced: number; skipped: number; failed: number; pulled: number; pushed: number; duration_ms: number };
    assert.ok(b.ranges > 0);
    assert.equal(b.synced, b.ranges, 'every range had a live replica to sync with');
    assert.equal(b.failed, 0);
    assert.equal(b.pulled + b.pushed, 0, 'the cluster was already in sync');
    assert.ok(Number.isInteger(b.duration_ms) && b.duration_ms >= 0);
  });

  test('POST /api/v1/cluster/nodes takes a running node in by address; bad requests are 400, nobody there is 503', async () => {
    const k = await c.addNode({ alone: true });
    const n = c.nodes[k]!;
    const body = (o: unknown) => JSON.stringify(o);
    // Refusals first, while the new node is still on its own.
    assert.equal((await c.post(0, '/api/v1/cluster/nodes', 'not json')).status, 400);
    assert.equal((await c.post(0, '/api/v1/cluster/nodes', body({ node_id: n.id }))).status, 400, 'no address');
    const wrongId = await c.post(0, '/api/v1/cluster/nodes', body({ node_id: 'someone-else', address: `127.0.0.1:${n.port}:${n.peerPort}` }));
    assert.equal(wrongId.status, 400, JSON.stringify(wrongId.body));
    // Refused by the node there (the Hello named someone-else), before any exchange: not merged.
    assert.match(String(wrongId.body.message), new RegExp(`is not node someone-else`));
    assert.equal((await c.statuses(0))[n.id], undefined, 'a node at the address under another id is not taken in');
    const wrongVnodes = await c.post(0, '/api/v1/cluster/nodes', body({ node_id: n.id, address: `127.0.0.1:${n.port}:${n.peerPort}`, num_vnodes: 9 }));
    assert.equal(wrongVnodes.status, 400, JSON.stringify(wrongVnodes.body));
    const nobody = await c.post(0, '/api/v1/cluster/nodes', body({ node_id: n.id, address: '127.0.0.1:1:2' }));
    assert.equal(nobody.status, 503, JSON.stringify(nobody.body));

    const added = await c.post(0, '/api/v1/cluster/nodes', body({ node_id: n.id, address: `127.0.0.1:${n.port}:${n.peerPort}`, num_vnodes: 8 }));
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal(added.body.node_id, n.id);
    assert.equal(added.body.status, 'healthy');
    await c.waitConverged(20_000);
    // It came in empty with --bootstrap on: once in the ring it streams its ranges.
    await waitFor(`${n.id} to finish its bootstrap`, async () => (await c.metric(k, 'ringkv_bootstrap_state')) === 2, 30_000);
    assert.ok((await c.metric(k, 'ringkv_anti_entropy_pulled_total')) > 0);
  });

  test('POST /api/v1/cluster/nodes refuses a running node whose settings differ from the cluster\'s, before it is in the ring', async () => {
    const k = await c.addNode({ alone: true, args: ['--conflict-mode', 'lww'] });
    const n = c.nodes[k]!;
    const refused = await c.post(0, '/api/v1/cluster/nodes', JSON.stringify({ node_id: n.id, address: `127.0.0.1:${n.port}:${n.peerPort}` }));
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(String(refused.body.message), new RegExp(`${n.id} runs with replication=3 conflict-mode=lww, this cluster with replication=3 conflict-mode=vclock`));
    const status = (await c.getJson(0, '/api/v1/cluster/status')) as { nodes: Array<{ id: string }> };
    assert.ok(!status.nodes.some((m) => m.id === n.id), 'the refused node is not in the ring');
    assert.equal(await c.metric(0, 'ringkv_membership_settings_conflicts_total'), 0, 'nothing of it was merged');
  });

  test('POST /api/v1/cluster/nodes refuses a running node of another cluster, before it is in the ring', async () => {
    const k = await c.addNode({ alone: true, args: ['--cluster-name', 'another-cluster'] });
    const n = c.nodes[k]!;
    const refused = await c.post(0, '/api/v1/cluster/nodes', JSON.stringify({ node_id: n.id, address: `127.0.0.1:${n.port}:${n.peerPort}` }));
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(String(refused.body.message), new RegExp(`cannot join: .*node ${n.id} of cluster another-cluster does not answer node node-0 of cluster ${c.clusterName}`));
    assert.equal((await c.statuses(0))[n.id], undefined, 'the refused node is not in the ring');
    assert.equal((await c.statuses(k))['node-0'], undefined, 'and it took nothing of this cluster in');
  });
});

/** The keys of `keys` (key-i holding `${prefix}i`) that a ONE read through node j does not find with their value. */
async function missingThrough(c: TestCluster, j: number, keys: string[], prefix: string): Promise<string[]> {
  const missing: string[] = [];
  for (const [i, k] of keys.entries()) {
    const got = await c.http(j, 'GET', k, { consistency: 'ONE' });
    if (got.status !== 200 || base64Text(got.body.value) !== `${prefix}${i}`) missing.push(k);
  }
  return missing;
}

describe('two nodes joining a loaded 3-node cluster at once', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: false, readRepairChance: 0, antiEntropyIntervalMs: 0, vnodes: 8 });
  });
  after(async () => {
    await c?.close();
  });

  test('each streams its ranges from a replica that held them, not from the other, which holds nothing yet', async () => {
    const keys = Array.from({ length: 150 }, (_, i) => `pair-${i}`);
    for (const [i, k] of keys.entries()) {
      const put = await c.http(i % 3, 'PUT', k, { body: `v${i}`, consistency: 'ALL' });
      assert.equal(put.status, 200, JSON.stringify(put.body));
    }
    const joined = await c.addNodes(2);
    await c.waitConverged(20_000);
    // Started together, each normally waits out the other's join before its pass (the ring has
    // to stand still for three gossip rounds); when one starts its pass first, it passes again
    // over what the other's tokens split (the next test), well before rebuildRetryMs.
    for (const j of joined) await waitFor(`node-${j} to finish its bootstrap and stop rebuilding`, async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2 && (await c.metric(j, 'ringkv_rebuilding')) === 0, 20_000);
    // Anti-entropy rounds, hints and read repair are off, and a ONE read coordinated by a replica
    // asks only its own copy once it has stopped rebuilding: a key one of them replicates is found
    // through it only if its bootstrap brought it. (With N = 3 over 5 nodes, ranges replicated by
    // both new nodes and one old one are where a pull from the other new node found nothing.)
    for (const j of joined) {
      const missing = await missingThrough(c, j, keys, 'v');
      assert.deepEqual(missing, [], `node-${j} lacks ${missing.length} of ${keys.length} keys`);
    }
  });
});

describe('a node joining while another node\'s bootstrap streams', () => {
  let c: TestCluster;
  before(async () => {
    // The stream budget's floor makes the first new node's pass take ~7 s (~450 KB to pull),
    // far longer than the second node takes to start.
    c = await TestCluster.start({ nodes: 3, hintedHandoff: false, readRepairChance: 0, antiEntropyIntervalMs: 0, vnodes: 8, streamBytesPerSecond: streamBytesPerSecondMin });
  });
  after(async () => {
    await c?.close();
  });

  test('the first passes again over the ranges the second one\'s tokens split, once the ring is still, and ends its rebuild long before the retry timer', async () => {
    const value = 'x'.repeat(4096);
    const keys = Array.from({ length: 150 }, (_, i) => `mid-${i}`);
    for (const [i, k] of keys.entries()) {
      const put = await c.http(i % 3, 'PUT', k, { body: `${value}${i}`, consistency: 'ALL' });
      assert.equal(put.status, 200, JSON.stringify(put.body));
    }
    const first = await c.addNode();
    await waitFor(`node-${first} to start streaming`, () => c.nodes[first]!.log.some((l) => l.includes('bootstrap: streaming')), 20_000);
    const second = await c.addNode();
    await waitFor(`node-${first} to finish its bootstrap and stop rebuilding`, async () => (await c.metric(first, 'ringkv_bootstrap_state')) === 2 && (await c.metric(first, 'ringkv_rebuilding')) === 0, rebuildRetryMs - 10_000);
    const log = c.nodes[first]!.log.join('');
    assert.match(log, /bootstrap: the ring changed during the pass/, 'the second node joined during the first one\'s pass');
    await waitFor(`node-${second} to finish its bootstrap and stop rebuilding`, async () => (await c.metric(second, 'ringkv_bootstrap_state')) === 2 && (await c.metric(second, 'ringkv_rebuilding')) === 0, 30_000);
    for (const j of [first, second]) {
      const missing = await missingThrough(c, j, keys, value);
      assert.deepEqual(missing, [], `node-${j} lacks ${missing.length} of ${keys.length} keys`);
    }
  });
});
