// A rolling restart under writes: each node of three in turn is stopped (SIGTERM for two, SIGKILL
// for the last: a crash) and started again while a client keeps writing at QUORUM through the
// nodes that are up. With read repair and anti-entropy off, hinted handoff alone must bring every
// acknowledged write to every replica, including the hints a node held when it was itself
// stopped (they are on disk). Each node's own copy is then read at ONE (a node asks only its own
// replica for ONE when repair chance is 0). Meanwhile a reader reads written keys back at QUORUM
// through the nodes that are up, and every read must see the write it follows (W + R > N holds
// through a restart: hints never count toward W). Run twice: vector clocks with a new key per
// write, and last-write-wins with every key overwritten many times (hints for one key coalesce).
// It found a write coordinated just as a node came back that reached that node neither as a
// replica write nor as a hint (quorum_writes.ts decided who was down twice, before and after the
// local apply). With hints held in memory only it fails in some runs (one of three, ad hoc: the
// next node stopped before it delivered the hints it held for the previous one; 221 writes lost).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RingkvClient } from '../../src/client';
import { sleep, TestCluster, waitFor } from '../helpers/cluster';
import { startQuorumWorkload, workloadValue } from '../helpers/quorum_workload';

const writesMax = 1500;

/**
 * Stops each node in turn (SIGTERM, SIGTERM, then SIGKILL: a crash) and starts it again once it
 * has been away a second, waiting until the others see it healthy. Clients are told first
 * (`down`) and given 200 ms to let the replica writes of what it coordinated finish.
 */
async function restartEachInTurn(c: TestCluster, down: Set<number>): Promise<void> {
  for (const [n, sig] of [[0, 'SIGTERM'], [1, 'SIGTERM'], [2, 'SIGKILL']] as const) {
    await sleep(500);
    down.add(n);
    await sleep(200);
    const proc = c.nodes[n]!.proc!;
    const exited = new Promise((r) => proc.once('exit', r));
    c.signal(n, sig);
    await exited;
    await sleep(1000);
    await c.spawn(n);
    const others = [0, 1, 2].filter((o) => o !== n);
    await c.waitStatus(others, n, 'healthy', 15_000).catch(async (e: unknown) => {
      // What each node saw, whether its process is up, and its last words: a failure here was
      // seen three times (2026-12-05), the node restarted before this one being DEAD to the others.
      const seen = await Promise.all(
        [0, 1, 2].map(async (o) => {
          const p = c.nodes[o]!.proc;
          const state = p === undefined ? 'never started' : p.exitCode !== null || p.signalCode !== null ? `exited (${p.signalCode ?? p.exitCode})` : `running (pid ${p.pid})`;
          return `node-${o}, ${state}, sees ${JSON.stringify(await c.statuses(o))}; its log:\n${c.nodes[o]!.log.slice(-30).join('')}`;
        }),
      );
      throw new Error(`${String(e)}\n${seen.join('\n')}`);
    });
    down.delete(n);
  }
  await sleep(500);
}

interface Workload {
  /** The key write i goes to. */
  keyOf: (i: number) => string;
  conflictMode: 'vclock' | 'lww';
}

/** Runs the restarts under the workload and checks what the header says; `c` is a fresh cluster. */
async function rollingRestart(c: TestCluster, w: Workload): Promise<void> {
  const down = new Set<number>();
  const load = startQuorumWorkload(c, { keyOf: w.keyOf, via: () => [0, 1, 2].filter((n) => !down.has(n)), writesMax });
  await restartEachInTurn(c, down);
  await load.finish(100);

  await c.waitConverged(15_000);
  await waitFor('every hint delivered', async () => {
    const queued = await Promise.all([0, 1, 2].map((n) => c.metric(n, 'ringkv_hints_queued')));
    return queued.every((q) => q === 0);
  }, 30_000);
  const delivered = await Promise.all([0, 1, 2].map((n) => c.metric(n, 'ringkv_hints_delivered_total')));
  assert.ok(delivered.reduce((a, b) => a + b, 0) > 0, 'hints were delivered');
  // Each replica holds, for each key, its last acknowledged write, or a later one that failed
  // (a failed write may have been applied); with LWW, the newest of those. Every replica the same.
  for (const n of [0, 1, 2]) {
    const wrong: string[] = [];
    for (const [key, list] of load.writes) {
      const lastAcked = list.map((x) => x.ok).lastIndexOf(true);
      if (lastAcked < 0) continue;
      const allowed = list.slice(lastAcked).map((x) => workloadValue(x.i));
      const got = (await c.replica(n, key)).values;
      if (got.length === 0 || !got.every((v) => allowed.includes(v)) || (w.conflictMode === 'lww' && got.length !== 1)) wrong.push(`${key}: ${JSON.stringify(got)} not of ${JSON.stringify(allowed)}`);
    }
    assert.deepEqual(wrong.slice(0, 5), [], `node-${n}: ${wrong.length} of ${load.writes.size} keys without their last acknowledged write`);
  }
}

describe('3-node cluster, rolling restart under writes of new keys (vector clocks)', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: true, readRepairChance: 0, antiEntropyIntervalMs: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('every acknowledged write reaches every replica through hints alone, and QUORUM reads see it', async () => {
    await rollingRestart(c, { keyOf: (i) => `rolling-${i}`, conflictMode: 'vclock' });
  });
});

describe('3-node cluster, rolling restart under overwrites (last-write-wins)', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, conflictMode: 'lww', hintedHandoff: true, readRepairChance: 0, antiEntropyIntervalMs: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('every replica ends with each key\'s last acknowledged write, and QUORUM reads never go back', async () => {
    // 64 keys written in turn: each key ~20 times, ~64 writes apart (LWW timestamps stay ordered).
    await rollingRestart(c, { keyOf: (i) => `over-${i % 64}`, conflictMode: 'lww' });
  });
});

describe('3-node cluster, rolling restart under writes through the TypeScript client', () => {
  // The client routes each write to a replica of its key and retries elsewhere; a node just
  // restarted knows only itself until gossip reaches it. Before ringkv counted QUORUM over N and
  // the client ignored partial views, a restarted node took QUORUM writes as their only replica
  // (thousands in a run, on one node of three).
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: true, readRepairChance: 0, antiEntropyIntervalMs: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('every write the client saw acknowledged is on every replica', async () => {
    const client = await RingkvClient.connect({ nodes: c.nodes.map((n) => `127.0.0.1:${n.port}`), ringRefreshMs: 500, timeoutMs: 3000 });
    const acked: number[] = [];
    let failed = 0;
    let stop = false;
    try {
      const writers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = w; !stop && i < 4 * writesMax; i += 4) {
          try {
            await client.put(`client-${i}`, `v${i}`, { consistency: 'QUORUM' });
            acked.push(i);
          } catch {
            failed++;
          }
        }
      });
      // The client is not told (it finds out), so `down` is only the helper's.
      await restartEachInTurn(c, new Set());
      stop = true;
      await Promise.all(writers);
    } finally {
      client.close();
    }
    assert.ok(acked.length > 100, `${acked.length} writes acknowledged (${failed} failed)`);
    await c.waitConverged(15_000);
    await waitFor('every hint delivered', async () => (await Promise.all([0, 1, 2].map((n) => c.metric(n, 'ringkv_hints_queued')))).every((q) => q === 0), 30_000);
    // A retry through another coordinator may apply a write a second time, with a version of its
    // own (the first attempt may have been applied where the client could not see it): two
    // versions of the same value are still that write.
    for (const n of [0, 1, 2]) {
      const wrong: string[] = [];
      for (const i of acked) {
        const values = (await c.replica(n, `client-${i}`)).values;
        if (values.length === 0 || values.some((v) => v !== `v${i}`)) wrong.push(`client-${i}: ${JSON.stringify(values)}`);
      }
      assert.deepEqual(wrong.slice(0, 5), [], `node-${n}: ${wrong.length} of ${acked.length} acknowledged writes missing or beside another value`);
    }
  });
});
