// The ring changing under a client that writes and reads at QUORUM: every read must see the write
// it follows while coordinators switch rings at different moments. A node joining a 3-node
// cluster must end, once it has streamed its ranges (bootstrap), with every key it replicates,
// whether the write came before the join (streamed), during it (streamed or sent to it live) or
// after it (sent live). A node leaving a 4-node cluster (decommission) while it and the others
// coordinate writes must leave every key on each of the three that remain (its hand-over, and the
// writes it applies meanwhile passed on to its successors). With N = 1 a joining node's keys are
// only on their previous owner until it has pulled them; reads must still see every write. Read
// repair and anti-entropy are off, so only those paths, and hints, can bring a node a key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keyToken, Ring } from '../../src/ring';
import { sleep, TestCluster, waitFor } from '../helpers/cluster';
import { startQuorumWorkload, workloadValue } from '../helpers/quorum_workload';

const writesMax = 3000;

/** The acknowledged keys node n replicates and lacks in its own copy (it must replicate some). */
async function lacking(c: TestCluster, n: number, prefix: string, acked: readonly number[]): Promise<number[]> {
  const missing: number[] = [];
  let replicated = 0;
  for (const i of acked) {
    const copy = await c.replica(n, `${prefix}-${i}`);
    if (!copy.replicas.includes(c.nodes[n]!.id)) continue;
    replicated++;
    if (copy.values.length !== 1 || copy.values[0] !== workloadValue(i)) missing.push(i);
  }
  assert.ok(replicated > 0, `node-${n} replicates none of the ${acked.length} keys`);
  return missing;
}

describe('a node joining under writes', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: true, readRepairChance: 0, antiEntropyIntervalMs: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('QUORUM reads see every write through the join, and the new node ends with every key it replicates', async () => {
    const w = startQuorumWorkload(c, { keyOf: (i) => `join-${i}`, via: () => [0, 1, 2], writesMax });
    await sleep(1000);
    const j = await c.addNode();
    await waitFor('node-3 to finish its bootstrap', async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2, 30_000);
    await sleep(1000);
    await w.finish(200);
    await c.waitConverged(15_000);
    await waitFor('every hint delivered', async () => (await Promise.all([0, 1, 2, 3].map((n) => c.metric(n, 'ringkv_hints_queued')))).every((q) => q === 0), 15_000);
    const missing = await lacking(c, j, 'join', w.acked);
    assert.deepEqual(missing.slice(0, 10), [], `node-3 lacks ${missing.length} of ${w.acked.length} acknowledged writes`);
  });
});

describe('a node joining under writes with N = 1', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 2, replicationFactor: 1, hintedHandoff: true, readRepairChance: 0, antiEntropyIntervalMs: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('reads see every write through the join, though the keys it takes over have no other replica, and the new node ends with them', async () => {
    // Until its pull from their previous owners is done, the new node's replica reads each key
    // it is asked for from there first (rebuild_gate.ts): without that, the keys it took over
    // read as not found.
    const w = startQuorumWorkload(c, { keyOf: (i) => `join1-${i}`, via: () => c.nodes.map((_, n) => n), writesMax });
    await sleep(1000);
    const j = await c.addNode();
    await waitFor('node-2 to finish its bootstrap', async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2, 30_000);
    await sleep(1000);
    await w.finish(200);
    assert.equal(await c.metric(j, 'ringkv_rebuilding'), 0);
    const ring = Ring.build(c.nodes.map((n) => ({ nodeId: n.id, vnodes: c.spec.vnodes })), 2);
    const mine = w.acked.filter((i) => ring.preferenceList(keyToken(Buffer.from(`join1-${i}`)), 1)[0] === 'node-2');
    assert.ok(mine.length > 0);
    const missing = await lacking(c, j, 'join1', mine);
    assert.deepEqual(missing.slice(0, 10), [], `node-2 lacks ${missing.length} of the ${mine.length} acknowledged writes it replicates`);
  });
});

describe('a node leaving under writes', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 4, hintedHandoff: true, readRepairChance: 0, antiEntropyIntervalMs: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('QUORUM reads see every write through the decommission, and the three that remain hold every key', async () => {
    // The leaving node coordinates too, before, during and after its hand-over.
    const w = startQuorumWorkload(c, { keyOf: (i) => `leave-${i}`, via: () => [0, 1, 2, 3], writesMax });
    await sleep(1000);
    const r = await c.post(3, '/api/v1/admin/decommission');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await waitFor('node-3 left on nodes 0-2', async () => (await Promise.all([0, 1, 2].map((i) => c.statuses(i)))).every((s) => s['node-3'] === 'left'), 10_000);
    await sleep(1000);
    await w.finish(200);
    await waitFor('every hint delivered', async () => (await Promise.all([0, 1, 2, 3].map((n) => c.metric(n, 'ringkv_hints_queued')))).every((q) => q === 0), 15_000);
    // With three nodes and N = 3 each replicates every key.
    for (const n of [0, 1, 2]) {
      const missing = await lacking(c, n, 'leave', w.acked);
      assert.deepEqual(missing.slice(0, 10), [], `node-${n} lacks ${missing.length} of ${w.acked.length} acknowledged writes`);
    }
  });
});
