// The ring changing under a client that writes and reads at QUORUM: every read must see the write
// it follows while coordinators switch rings at different moments. A node joining a 3-node
// cluster must end, once it has streamed its ranges (bootstrap), with every key it replicates,
// whether the write came before the join (streamed), during it (streamed or sent to it live) or
// after it (sent live). A node leaving a 4-node cluster (decommission) while it and the others
// coordinate writes must leave every key on each of the three that remain (its hand-over, and the
// writes it applies meanwhile passed on to its successors). Read repair and anti-entropy are off,
// so only those paths, and hints, can bring a node a key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, TestCluster, waitFor } from '../helpers/cluster';
import { checkReadYourWrites, type HistoryEvent } from '../helpers/cluster_history';

const writesMax = 3000;
const decode = (v: unknown): string => Buffer.from(String(v), 'base64').toString();
const value = (i: number): string => `value-${i}`;

/** A writer of new keys and a reader of written ones, at QUORUM, through `via()` nodes, until stopped. */
function workload(c: TestCluster, prefix: string, via: () => number[]) {
  const history: HistoryEvent[] = [];
  const acked: number[] = [];
  let stop = false;
  let failed = 0;
  let reads = 0;
  const t0 = performance.now();
  const writer = (async () => {
    for (let i = 0; i < writesMax && !stop; i++) {
      const nodes = via();
      const invokedAt = performance.now() - t0;
      const r = await c.http(nodes[i % nodes.length]!, 'PUT', `${prefix}-${i}`, { body: value(i), consistency: 'QUORUM' }).catch(() => ({ status: 0 }));
      history.push({ kind: 'put', key: `${prefix}-${i}`, value: value(i), invokedAt, completedAt: performance.now() - t0, ok: r.status === 200 });
      if (r.status === 200) acked.push(i);
      else failed++;
    }
  })();
  const reader = (async () => {
    for (let j = 0; j < writesMax && !stop; j++) {
      if (acked.length === 0) {
        await sleep(10);
        continue;
      }
      const i = acked[(j * 7919) % acked.length]!;
      const nodes = via();
      const invokedAt = performance.now() - t0;
      const r = await c.http(nodes[(j * 31) % nodes.length]!, 'GET', `${prefix}-${i}`, { consistency: 'QUORUM' }).catch(() => ({ status: 0, body: {} as Record<string, unknown> }));
      const ok = r.status === 200 || r.status === 404;
      if (ok) reads++;
      history.push({ kind: 'get', key: `${prefix}-${i}`, values: r.status === 200 ? [decode(r.body.value)] : [], invokedAt, completedAt: performance.now() - t0, ok });
    }
  })();
  return {
    acked,
    /** Stops both loops and checks read-your-writes over what they did. */
    async finish(): Promise<void> {
      stop = true;
      await Promise.all([writer, reader]);
      assert.ok(acked.length > 200, `${acked.length} writes acknowledged (${failed} failed)`);
      assert.ok(reads > 200, `${reads} reads answered`);
      const violations = checkReadYourWrites(history);
      assert.deepEqual(violations.slice(0, 5).map((v) => `${v.read.key}: ${v.why}`), []);
    },
  };
}

/** The acknowledged keys node n lacks in its own copy (a ONE read it coordinates asks only its copy of a key it replicates). */
async function lacking(c: TestCluster, n: number, prefix: string, acked: readonly number[]): Promise<number[]> {
  const missing: number[] = [];
  for (const i of acked) {
    const r = await c.http(n, 'GET', `${prefix}-${i}`, { consistency: 'ONE' });
    if (r.status !== 200 || decode(r.body.value) !== value(i)) missing.push(i);
  }
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
    const w = workload(c, 'join', () => [0, 1, 2]);
    await sleep(1000);
    const j = await c.addNode();
    await waitFor('node-3 to finish its bootstrap', async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2, 30_000);
    await sleep(1000);
    await w.finish();
    await c.waitConverged(15_000);
    await waitFor('every hint delivered', async () => (await Promise.all([0, 1, 2, 3].map((n) => c.metric(n, 'ringkv_hints_queued')))).every((q) => q === 0), 15_000);
    const missing = await lacking(c, j, 'join', w.acked);
    assert.deepEqual(missing.slice(0, 10), [], `node-3 lacks ${missing.length} of ${w.acked.length} acknowledged writes`);
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
    const w = workload(c, 'leave', () => [0, 1, 2, 3]);
    await sleep(1000);
    const r = await c.post(3, '/api/v1/admin/decommission');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await waitFor('node-3 left on nodes 0-2', async () => (await Promise.all([0, 1, 2].map((i) => c.statuses(i)))).every((s) => s['node-3'] === 'left'), 10_000);
    await sleep(1000);
    await w.finish();
    await waitFor('every hint delivered', async () => (await Promise.all([0, 1, 2, 3].map((n) => c.metric(n, 'ringkv_hints_queued')))).every((q) => q === 0), 15_000);
    // With three nodes and N = 3 each replicates every key.
    for (const n of [0, 1, 2]) {
      const missing = await lacking(c, n, 'leave', w.acked);
      assert.deepEqual(missing.slice(0, 10), [], `node-${n} lacks ${missing.length} of ${w.acked.length} acknowledged writes`);
    }
  });
});
