// A node that comes back under its old id with its data gone (a disk replaced, a data dir lost):
// the versions it issued before are only on the other replicas, so a blind write it coordinated
// from its empty replica would stand beside them as a sibling (its counter follows the clock, so
// it cannot take their dots any more), and its own replica would answer reads with nothing. It notices (its id is in the cluster, its data
// dir is new), and until a full pass syncs every range its writes read the key from the other
// replicas first and its reads ask them first. Started with --bootstrap off, so nothing streams
// until the repair this test runs: the window is the test's, not a race. A node put back to a
// snapshot of its data dir is not new, but it has lost the versions made since: its counters
// follow the clock (versioning/dot_counter.ts), so its next write does not reuse their dots.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';

describe('3 nodes, N = 3, node-2 replaced by an empty node of the same id', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: false, readRepairChance: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('its writes count past its old versions and its reads ask the others until a repair has synced every range', async () => {
    for (const v of ['v1', 'v2', 'v3']) assert.equal((await c.http(2, 'PUT', 'replaced', { body: v, consistency: 'ALL' })).status, 200);
    const keys = Array.from({ length: 20 }, (_, i) => `kept-${i}`);
    for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `v-${k}`, consistency: 'ALL' })).status, 200);

    const n = c.nodes[2]!;
    await c.kill(2);
    fs.rmSync(n.dataDir, { recursive: true, force: true });
    n.log.length = 0;
    await c.spawn(2);
    await c.waitStatus([0, 1], 2, 'healthy', 15_000);
    await c.waitStatus([2], 0, 'healthy', 15_000);
    // Node-0's link to node-2 may still be backing off from its absence: wait until it reaches it.
    await waitFor('node-0 to reach node-2', async () => (await c.http(0, 'GET', keys[0]!, { consistency: 'ALL' })).status === 200, 10_000);
    assert.ok(n.log.some((l) => l.includes('rebuilding: node id node-2 was in the cluster before, and this data dir is new')), n.log.join('\n'));
    assert.ok(fs.existsSync(path.join(n.dataDir, 'REBUILDING')));
    assert.equal(await c.metric(2, 'ringkv_rebuilding'), 1);
    // Gossip tells the others, whose reads then ask it last; the status says so.
    const rebuildingOn = async (i: number): Promise<boolean> =>
      ((await c.getJson(i, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; rebuilding?: boolean }> }).nodes.find((m) => m.id === 'node-2')?.rebuilding === true;
    await waitFor('node-0 to hear that node-2 rebuilds', () => rebuildingOn(0), 10_000);
    const status = await c.cli(['status', '--node', `127.0.0.1:${c.nodes[0]!.port}`]);
    // No pass has run (--bootstrap off): every range it replicates is left; 3 nodes, N = 3: all of them.
    assert.match(status.stdout, new RegExp(`^healthy \\(rebuilding, ${3 * c.spec.vnodes} ranges left\\)\\s+node-2\\s`, 'm'), status.stdout);
    // A cleanup elsewhere waits: the rebuilding node may not hold yet what it would drop.
    const cleanup = await c.post(0, '/api/v1/admin/cleanup');
    assert.equal(cleanup.status, 503, JSON.stringify(cleanup.body));
    assert.match(String(cleanup.body['message']), /cleanup waits until no node of the ring is rebuilding .*; rebuilding: node-2$/);

    // Its own replica is empty: a ONE read through it still finds every key on the others.
    for (const k of keys) {
      const got = await c.http(2, 'GET', k, { consistency: 'ONE' });
      assert.equal(got.status, 200, `${k}: ${JSON.stringify(got.body)}`);
      assert.equal(base64Text(got.body.value), `v-${k}`);
    }
    // A write it coordinates supersedes the versions its id issued before (v1..v3).
    assert.equal((await c.http(2, 'PUT', 'replaced', { body: 'v4', consistency: 'ONE' })).status, 200);
    const all = await c.http(0, 'GET', 'replaced', { consistency: 'ALL' });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.equal(all.body.siblings, undefined, JSON.stringify(all.body));
    assert.equal(base64Text(all.body.value), 'v4', 'the acknowledged write is the one read');

    const repair = await c.cli(['repair', '--node', `127.0.0.1:${n.port}`]);
    assert.equal(repair.code, 0, repair.stderr);
    assert.ok(n.log.some((l) => /rebuilding: done: every range synced \(\d+ records pulled\)/.test(l)), n.log.join('\n'));
    assert.ok(!fs.existsSync(path.join(n.dataDir, 'REBUILDING')));
    assert.equal(await c.metric(2, 'ringkv_rebuilding'), 0);
    await waitFor('node-0 to hear that node-2 is whole again', async () => !(await rebuildingOn(0)), 10_000);
    // Its replica holds everything now, and a restart is an ordinary one.
    c.signal(0, 'SIGSTOP');
    c.signal(1, 'SIGSTOP');
    try {
      for (const k of keys) assert.equal(base64Text((await c.http(2, 'GET', k, { consistency: 'ONE' })).body.value), `v-${k}`);
    } finally {
      c.signal(0, 'SIGCONT');
      c.signal(1, 'SIGCONT');
    }
    await c.kill(2);
    n.log.length = 0;
    await c.spawn(2);
    await c.waitStatus([0], 2, 'healthy', 15_000);
    assert.ok(!n.log.some((l) => l.includes('rebuilding:')), n.log.join('\n'));
  });
});

describe('3 nodes, N = 3, node-0 (whose only seed is itself) replaced by an empty node of the same id', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: false, readRepairChance: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('it learns from the gossip that reaches it that its id was known, and rebuilds from then on', async () => {
    for (const v of ['v1', 'v2', 'v3']) assert.equal((await c.http(0, 'PUT', 'replaced-seed', { body: v, consistency: 'ALL' })).status, 200);
    const n = c.nodes[0]!;
    await c.kill(0);
    fs.rmSync(n.dataDir, { recursive: true, force: true });
    n.log.length = 0;
    await c.spawn(0);
    // No seed to ask at start: the others' gossip, carrying node-0's earlier entry, tells it.
    await waitFor('node-0 to learn its id was known', () => n.log.some((l) => l.includes('rebuilding: gossip shows node id node-0 was in the cluster before, and this data dir is new')), 15_000);
    assert.ok(fs.existsSync(path.join(n.dataDir, 'REBUILDING')));
    assert.equal(await c.metric(0, 'ringkv_rebuilding'), 1);
    await c.waitStatus([0], 1, 'healthy', 15_000);
    await c.waitStatus([0], 2, 'healthy', 15_000);
    // A write it coordinates supersedes the versions its id issued before.
    assert.equal((await c.http(0, 'PUT', 'replaced-seed', { body: 'v4', consistency: 'ONE' })).status, 200);
    const all = await c.http(1, 'GET', 'replaced-seed', { consistency: 'ALL' });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.equal(all.body.siblings, undefined, JSON.stringify(all.body));
    assert.equal(base64Text(all.body.value), 'v4', 'the acknowledged write is the one read');
  });
});

describe('3 nodes, N = 3, node-2 put back to a snapshot of its data dir', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: false, readRepairChance: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('a write it coordinates next gets a new version, not the dot of one made after the snapshot, so no replica hides either', async () => {
    const n = c.nodes[2]!;
    assert.equal((await c.http(2, 'PUT', 'restored', { body: 'v0', consistency: 'ALL' })).status, 200);
    const snap = await c.cli(['snapshot', 'before-v1', '--node', `127.0.0.1:${n.port}`]);
    assert.equal(snap.code, 0, snap.stderr);
    // Made after the snapshot, acknowledged by every replica: the others keep it.
    const v1 = await c.http(2, 'PUT', 'restored', { body: 'v1', consistency: 'ALL' });
    assert.equal(v1.status, 200, JSON.stringify(v1.body));

    await c.kill(2);
    const copy = path.join(c.tmp, 'node-2-restored');
    fs.cpSync(path.join(n.dataDir, 'snapshots', 'before-v1'), copy, { recursive: true });
    fs.rmSync(n.dataDir, { recursive: true, force: true });
    fs.renameSync(copy, n.dataDir);
    await c.spawn(2);
    await c.waitStatus([0, 1], 2, 'healthy', 15_000);
    await c.waitStatus([2], 0, 'healthy', 15_000);
    await c.waitStatus([2], 1, 'healthy', 15_000);
    assert.deepEqual((await c.replica(2, 'restored')).values, ['v0'], 'its own copy is the snapshot\'s');

    // Blind, through the restored node: it has not seen v1, so v1 and v2 are siblings everywhere.
    const v2 = await c.http(2, 'PUT', 'restored', { body: 'v2', consistency: 'ALL' });
    assert.equal(v2.status, 200, JSON.stringify(v2.body));
    assert.notEqual(v2.body.version, v1.body.version);
    for (const i of [0, 1]) assert.deepEqual((await c.replica(i, 'restored')).values.sort(), ['v1', 'v2'], `node-${i}'s copy`);
    assert.deepEqual((await c.replica(2, 'restored')).values, ['v2'], 'v2 superseded the v0 it held');
    const all = await c.http(0, 'GET', 'restored', { consistency: 'ALL' });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    const siblings = (all.body.siblings as Array<{ value: string; version: string }> | undefined) ?? [];
    assert.deepEqual(siblings.map((s) => base64Text(s.value)).sort(), ['v1', 'v2'], JSON.stringify(all.body));
    assert.deepEqual(siblings.map((s) => s.version).sort(), [v1.body.version, v2.body.version].sort());
    // The read found node-2 behind and repaired it.
    await waitFor('node-2 to hold both', async () => (await c.replica(2, 'restored')).values.sort().join() === 'v1,v2', 10_000);
  });
});
