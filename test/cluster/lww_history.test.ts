// A real 3-node cluster with last-write-wins and hinted handoff on: a random concurrent workload
// checked for read-your-writes by a history checker (W + R > N), concurrent writes through
// different coordinators resolving to one winner, and hints delivered to a node that was down.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';
import { checkReadYourWrites, type HistoryEvent } from '../helpers/cluster_history';
import { mulberry32, testSeed } from '../helpers/prng';

const seed = testSeed();

describe('3-node cluster, last-write-wins, hinted handoff', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, conflictMode: 'lww', hintedHandoff: true, requestTimeoutMs: 4000 });
  });
  after(async () => {
    await c?.close();
  });

  test(`read-your-writes holds for a random concurrent workload at W+R>N (seed ${seed})`, async () => {
    // Proves quorum overlap end to end: no read misses a write acknowledged before it began,
    // across many keys, concurrent clients and every node as coordinator.
    const rnd = mulberry32(seed);
    const history: HistoryEvent[] = [];
    const keys = Array.from({ length: 30 }, (_, i) => `ryw-${i}`);
    const phases: Array<{ w: string; r: string; ops: number }> = [
      { w: 'QUORUM', r: 'QUORUM', ops: 70 },
      { w: 'ALL', r: 'ONE', ops: 30 },
      { w: 'ONE', r: 'ALL', ops: 30 },
    ];
    const t0 = performance.now();
    for (const phase of phases) {
      await Promise.all(
        Array.from({ length: 6 }, async (_, worker) => {
          for (let i = 0; i < phase.ops; i++) {
            const key = keys[Math.floor(rnd() * keys.length)]!;
            const node = Math.floor(rnd() * 3);
            const invokedAt = performance.now() - t0;
            if (rnd() < 0.5) {
              const value = `${phase.w}-${worker}-${i}`;
              const res = await c.http(node, 'PUT', key, { body: value, consistency: phase.w }).catch(() => ({ status: 0, body: {} }));
              history.push({ kind: 'put', key, value, invokedAt, completedAt: performance.now() - t0, ok: res.status === 200 });
            } else {
              const res = await c.http(node, 'GET', key, { consistency: phase.r }).catch(() => ({ status: 0, body: {} as Record<string, unknown> }));
              const sibs = res.body.siblings as Array<{ value: string }> | undefined;
              const values = res.status !== 200 ? [] : sibs !== undefined ? sibs.map((s) => base64Text(s.value)) : [base64Text(res.body.value)];
              history.push({ kind: 'get', key, values, invokedAt, completedAt: performance.now() - t0, ok: res.status === 200 || res.status === 404 });
            }
          }
        }),
      );
    }
    const failed = history.filter((e) => !e.ok).length;
    const violations = checkReadYourWrites(history);
    assert.deepEqual(violations.slice(0, 5).map((v) => `${v.read.key}: ${v.why}`), [], `seed ${seed}`);
    assert.ok(history.filter((e) => e.kind === 'get' && e.ok && e.values.length > 0).length > 100, 'the workload read back real values');
    assert.equal(failed, 0, `${failed} operations failed with no node down (seed ${seed})`);
  });

  test('concurrent writes through different coordinators while nodes are stopped leave one winner under LWW', async () => {
    // Proves the LWW mode: the same partition that makes siblings under vector clocks keeps only
    // the later write here, and every replica converges on it.
    c.signal(1, 'SIGSTOP');
    c.signal(2, 'SIGSTOP');
    try {
      await c.waitStatus([0], 1, 'suspect', 10_000);
      await c.waitStatus([0], 2, 'suspect', 10_000);
      assert.equal((await c.http(0, 'PUT', 'lww', { body: 'from-node-0', consistency: 'ONE' })).status, 200);
      c.signal(1, 'SIGCONT');
      c.signal(0, 'SIGSTOP');
      await c.waitStatus([1], 0, 'suspect', 10_000);
      assert.equal((await c.http(1, 'PUT', 'lww', { body: 'from-node-1', consistency: 'ONE' })).status, 200);
    } finally {
      c.signal(0, 'SIGCONT');
      c.signal(1, 'SIGCONT');
      c.signal(2, 'SIGCONT');
    }
    await c.waitConverged(10_000);
    for (const node of [0, 1, 2]) {
      const got = await c.http(node, 'GET', 'lww', { consistency: 'ALL' });
      assert.equal(got.status, 200);
      assert.equal(base64Text(got.body.value), 'from-node-1');
      assert.equal(got.body.siblings, undefined);
    }
  });

  test('writes for a stopped replica are kept as hints and delivered when it is ALIVE again', async () => {
    // Proves hinted handoff (§7.5): after recovery the node holds writes it never saw live, with
    // no read touching those keys (so read repair played no part).
    c.signal(2, 'SIGSTOP');
    const keys = Array.from({ length: 20 }, (_, i) => `hint-${i}`);
    try {
      await c.waitStatus([0, 1], 2, 'suspect', 10_000);
      for (const [i, k] of keys.entries()) assert.equal((await c.http(i % 2, 'PUT', k, { body: `h${i}`, consistency: 'QUORUM' })).status, 200);
      const stored = (await c.metric(0, 'ringkv_hints_stored_total')) + (await c.metric(1, 'ringkv_hints_stored_total'));
      assert.ok(stored >= keys.length, `${stored} hints stored`);
    } finally {
      c.signal(2, 'SIGCONT');
    }
    await c.waitStatus([0, 1], 2, 'healthy', 10_000);
    await waitFor('hint queues drained', async () => (await c.metric(0, 'ringkv_hints_queued')) + (await c.metric(1, 'ringkv_hints_queued')) === 0, 10_000);
    for (const [i, k] of keys.entries()) assert.deepEqual((await c.replica(2, k)).values, [`h${i}`], `${k} on node-2`);
  });
});
