// A rolling restart under writes: each node of three in turn is stopped (SIGTERM for two, SIGKILL
// for the last: a crash) and started again while a client keeps writing new keys at QUORUM
// through the nodes that are up. With read repair and anti-entropy off, hinted handoff alone must
// bring every acknowledged write to every replica, including the hints a node held when it was
// itself stopped (they are on disk). Each node's own copy is then read at ONE (a node asks only
// its own replica for ONE when repair chance is 0). Meanwhile a reader reads written keys back at
// QUORUM through the nodes that are up, and every read must see the write it follows (W + R > N
// holds through a restart: hints never count toward W). It found a write coordinated just as a node
// came back that reached that node neither as a replica write nor as a hint (quorum_writes.ts
// decided who was down twice, before and after the local apply). With hints held in memory only
// it fails in some runs (one of three, ad hoc: the next node stopped before it delivered the hints
// it held for the previous one; 221 writes lost).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, TestCluster, waitFor } from '../helpers/cluster';
import { checkReadYourWrites, type HistoryEvent } from '../helpers/cluster_history';

const writesMax = 1500;
const value = (i: number): string => `value-${i}`;
const decode = (v: unknown): string => Buffer.from(String(v), 'base64').toString();

describe('3-node cluster, rolling restart under writes', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: true, readRepairChance: 0, antiEntropyIntervalMs: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('every acknowledged write reaches every replica through hints alone', async () => {
    const down = new Set<number>();
    const acked: number[] = [];
    let failed = 0;
    let stop = false;
    const history: HistoryEvent[] = [];
    const t0 = performance.now();
    const writer = (async () => {
      for (let i = 0; i < writesMax && !stop; i++) {
        const up = [0, 1, 2].filter((n) => !down.has(n));
        const via = up[i % up.length]!;
        const invokedAt = performance.now() - t0;
        const r = await c.http(via, 'PUT', `rolling-${i}`, { body: value(i), consistency: 'QUORUM' }).catch(() => ({ status: 0 }));
        history.push({ kind: 'put', key: `rolling-${i}`, value: value(i), invokedAt, completedAt: performance.now() - t0, ok: r.status === 200 });
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
        const up = [0, 1, 2].filter((n) => !down.has(n));
        const via = up[(j * 31) % up.length]!;
        const invokedAt = performance.now() - t0;
        const r = await c.http(via, 'GET', `rolling-${i}`, { consistency: 'QUORUM' }).catch(() => ({ status: 0, body: {} as Record<string, unknown> }));
        const ok = r.status === 200 || r.status === 404;
        if (ok) reads++;
        history.push({ kind: 'get', key: `rolling-${i}`, values: r.status === 200 ? [decode(r.body.value)] : [], invokedAt, completedAt: performance.now() - t0, ok });
      }
    })();

    for (const [n, sig] of [[0, 'SIGTERM'], [1, 'SIGTERM'], [2, 'SIGKILL']] as const) {
      await sleep(500);
      // Stop sending it requests first, and let the replica writes of those it coordinated finish.
      down.add(n);
      await sleep(200);
      const proc = c.nodes[n]!.proc!;
      const exited = new Promise((r) => proc.once('exit', r));
      c.signal(n, sig);
      await exited;
      await sleep(1000);
      await c.spawn(n);
      await c.waitStatus([0, 1, 2].filter((o) => o !== n), n, 'healthy', 15_000);
      down.delete(n);
    }
    await sleep(500);
    stop = true;
    await Promise.all([writer, reader]);
    assert.ok(acked.length > 100, `${acked.length} writes acknowledged (${failed} failed)`);
    assert.ok(reads > 100, `${reads} reads answered`);
    const violations = checkReadYourWrites(history);
    assert.deepEqual(violations.slice(0, 5).map((v) => `${v.read.key}: ${v.why}`), []);

    await c.waitConverged(15_000);
    await waitFor('every hint delivered', async () => {
      const queued = await Promise.all([0, 1, 2].map((n) => c.metric(n, 'ringkv_hints_queued')));
      return queued.every((q) => q === 0);
    }, 30_000);
    const delivered = await Promise.all([0, 1, 2].map((n) => c.metric(n, 'ringkv_hints_delivered')));
    assert.ok(delivered.reduce((a, b) => a + b, 0) > 0, 'hints were delivered');
    for (const n of [0, 1, 2]) {
      const missing: number[] = [];
      for (const i of acked) {
        const r = await c.http(n, 'GET', `rolling-${i}`, { consistency: 'ONE' });
        if (r.status !== 200 || decode(r.body.value) !== value(i)) missing.push(i);
      }
      assert.deepEqual(missing, [], `node-${n} lacks ${missing.length} of ${acked.length} acknowledged writes`);
    }
  });
});
