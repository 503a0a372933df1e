// A node joining a 3-node cluster while a client writes and reads at QUORUM: every read must see
// the write it follows while the ring changes under it (coordinators switch rings at different
// moments), and once the new node has streamed its ranges (bootstrap) it must hold every key it
// replicates, whether the write came before the join (streamed), during it (streamed or sent to
// it live) or after it (sent live). Read repair and anti-entropy are off, so only those two
// paths, and hints, can bring it a key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, TestCluster, waitFor } from '../helpers/cluster';
import { checkReadYourWrites, type HistoryEvent } from '../helpers/cluster_history';

const writesMax = 3000;
const decode = (v: unknown): string => Buffer.from(String(v), 'base64').toString();

describe('a node joining under writes', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: true, readRepairChance: 0, antiEntropyIntervalMs: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('QUORUM reads see every write through the join, and the new node ends with every key it replicates', async () => {
    const value = (i: number): string => `value-${i}`;
    const history: HistoryEvent[] = [];
    const acked: number[] = [];
    let stop = false;
    let failed = 0;
    const t0 = performance.now();
    const writer = (async () => {
      for (let i = 0; i < writesMax && !stop; i++) {
        const invokedAt = performance.now() - t0;
        const r = await c.http(i % 3, 'PUT', `join-w-${i}`, { body: value(i), consistency: 'QUORUM' }).catch(() => ({ status: 0 }));
        history.push({ kind: 'put', key: `join-w-${i}`, value: value(i), invokedAt, completedAt: performance.now() - t0, ok: r.status === 200 });
        if (r.status === 200) acked.push(i);
        else failed++;
      }
    })();
    let reads = 0;
    const reader = (async () => {
      for (let j = 0; j < writesMax && !stop; j++) {
        if (acked.length === 0) {
          await sleep(10);
          continue;
        }
        const i = acked[(j * 7919) % acked.length]!;
        const via = (j * 31) % c.nodes.length;
        const invokedAt = performance.now() - t0;
        const r = await c.http(via, 'GET', `join-w-${i}`, { consistency: 'QUORUM' }).catch(() => ({ status: 0, body: {} as Record<string, unknown> }));
        const ok = r.status === 200 || r.status === 404;
        if (ok) reads++;
        history.push({ kind: 'get', key: `join-w-${i}`, values: r.status === 200 ? [decode(r.body.value)] : [], invokedAt, completedAt: performance.now() - t0, ok });
      }
    })();

    await sleep(1000);
    const j = await c.addNode();
    await waitFor('node-3 to finish its bootstrap', async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2, 30_000);
    await sleep(1000);
    stop = true;
    await Promise.all([writer, reader]);
    assert.ok(acked.length > 200, `${acked.length} writes acknowledged (${failed} failed)`);
    assert.ok(reads > 200, `${reads} reads answered`);
    const violations = checkReadYourWrites(history);
    assert.deepEqual(violations.slice(0, 5).map((v) => `${v.read.key}: ${v.why}`), []);

    await c.waitConverged(15_000);
    await waitFor('every hint delivered', async () => (await Promise.all([0, 1, 2, 3].map((n) => c.metric(n, 'ringkv_hints_queued')))).every((q) => q === 0), 15_000);
    // A ONE read node-3 coordinates asks only its own copy for a key it replicates (and a replica
    // for the others, which then proves nothing but costs nothing).
    const missing: number[] = [];
    for (const i of acked) {
      const r = await c.http(j, 'GET', `join-w-${i}`, { consistency: 'ONE' });
      if (r.status !== 200 || decode(r.body.value) !== value(i)) missing.push(i);
    }
    assert.deepEqual(missing.slice(0, 10), [], `node-3 lacks ${missing.length} of ${acked.length} acknowledged writes`);
  });
});
