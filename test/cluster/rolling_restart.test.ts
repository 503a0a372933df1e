// A rolling restart under writes: each node of three in turn is stopped (SIGTERM for two, SIGKILL
// for the last: a crash) and started again while a client keeps writing new keys at QUORUM
// through the nodes that are up. With read repair and anti-entropy off, hinted handoff alone must
// bring every acknowledged write to every replica, including the hints a node held when it was
// itself stopped (they are on disk). Each node's own copy is then read at ONE (a node asks only
// its own replica for ONE when repair chance is 0). It found a write coordinated just as a node
// came back that reached that node neither as a replica write nor as a hint (quorum_writes.ts
// decided who was down twice, before and after the local apply). With hints held in memory only
// it fails in some runs (one of three, ad hoc: the next node stopped before it delivered the hints
// it held for the previous one; 221 writes lost).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sleep, TestCluster, waitFor } from '../helpers/cluster';

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
    const writer = (async () => {
      for (let i = 0; i < writesMax && !stop; i++) {
        const up = [0, 1, 2].filter((n) => !down.has(n));
        const via = up[i % up.length]!;
        try {
          const r = await c.http(via, 'PUT', `rolling-${i}`, { body: value(i), consistency: 'QUORUM' });
          if (r.status === 200) acked.push(i);
          else failed++;
        } catch {
          failed++;
        }
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
    await writer;
    assert.ok(acked.length > 100, `${acked.length} writes acknowledged (${failed} failed)`);

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
