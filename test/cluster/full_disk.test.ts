// A real 3-node cluster in which one node's disk fills (node-2 keeps its data on a small tmpfs in
// its own mount namespace, test/helpers/cluster.ts smallDisk): a full replica costs the cluster
// nothing at QUORUM, the writes it misses become hints (it stays ALIVE), it still coordinates
// (its own replica keeps a hint for itself), still serves reads, answers 507 when it alone would
// have to take a write, holds no replay of hints meant for it (they would fail), and once space
// is freed it takes writes again by itself and the hints
// bring it every write it missed, with no restart and no repair.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';

const valueBytes = 48 * 1024;
const value = (i: number): string => String(i % 10).repeat(valueBytes);

describe('3-node cluster, one node on a small disk that fills', () => {
  let c: TestCluster;
  before(async () => {
    // Read repair and anti-entropy off: only hints can bring node-2 what it missed.
    c = await TestCluster.start({ nodes: 3, readRepairChance: 0, requestTimeoutMs: 2000, smallDisk: { node: 2, bytes: 8 * 1024 * 1024, ballastBytes: 3 * 1024 * 1024 } });
  });
  after(async () => {
    await c?.close();
  });

  test('QUORUM goes on past a full replica, ALL and a lone full node answer 507 with the reason, and hints catch it up once space is freed', async () => {
    // Fill node-2 through ordinary QUORUM writes (each reaches every replica).
    let filled = -1;
    for (let i = 0; i < 200; i++) {
      const put = await c.http(i % 2, 'PUT', `fill-${i}`, { body: value(i), consistency: 'QUORUM' });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      if ((await c.metric(2, 'ringkv_shards_out_of_space')) === 1) {
        filled = i;
        break;
      }
    }
    assert.ok(filled > 0, 'node-2 ran out of space');
    const health = await fetch(`http://127.0.0.1:${c.nodes[2]!.port}/health`);
    assert.equal(health.status, 503);
    assert.equal(((await health.json()) as { status: string }).status, 'storage_full');
    // Not down: degraded, on every node, through gossip (design.md §10, scenario 4).
    await c.waitStatus([0, 1, 2], 2, 'degraded', 10_000);
    const seen = (await c.getJson(0, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; status: string; reason?: string }> };
    assert.deepEqual(seen.nodes.find((n) => n.id === 'node-2'), { ...seen.nodes.find((n) => n.id === 'node-2')!, status: 'degraded', reason: 'storage_full' });
    assert.equal(seen.nodes.find((n) => n.id === 'node-1')!.reason, undefined);
    // From here every node knows: none sends node-2 its hints (they would only fail).
    const replayFailures = async (): Promise<number[]> => Promise.all([0, 1, 2].map((i) => c.metric(i, 'ringkv_hint_replay_failures_total')));
    const failuresBefore = await replayFailures();

    // The other two take QUORUM writes; node-2 misses them and the coordinators keep hints.
    for (let i = 0; i < 8; i++) {
      const put = await c.http(i % 2, 'PUT', `while-full-${i}`, { body: value(i), consistency: 'QUORUM' });
      assert.equal(put.status, 200, JSON.stringify(put.body));
    }
    assert.ok((await c.metric(0, 'ringkv_hints_queued')) + (await c.metric(1, 'ringkv_hints_queued')) >= 8, 'hints for node-2');
    // ALL cannot be met, and the answer says why: the one replica that failed has a full disk.
    const all = await c.http(0, 'PUT', 'while-full-all', { body: 'x', consistency: 'ALL' });
    assert.equal(all.status, 507, JSON.stringify(all.body));
    assert.match(String(all.body.message), /needs 3 replicas, \d answered \(1 failed, 3 reachable\); first failure: .*no space left on device/i);
    // node-2 still coordinates: its own replica cannot take the write, the other two can, so
    // QUORUM is met; node-2 keeps a hint for itself. Reads there still work.
    const own = await c.http(2, 'PUT', 'via-full-node', { body: value(5), consistency: 'QUORUM' });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.deepEqual((await c.replica(2, 'via-full-node')).values, [], 'not on the full replica');
    const read = await c.http(2, 'GET', 'while-full-3', { consistency: 'QUORUM' });
    assert.equal(read.status, 200);
    assert.equal(base64Text(read.body.value), value(3));
    // Alone, the full node can meet nothing: its writes at ONE fail, with the reason.
    c.signal(0, 'SIGSTOP');
    c.signal(1, 'SIGSTOP');
    try {
      await c.waitStatus([2], 0, 'suspect', 10_000);
      await c.waitStatus([2], 1, 'suspect', 10_000);
      const alone = await c.http(2, 'PUT', 'alone', { body: 'x', consistency: 'ONE' });
      assert.equal(alone.status, 507, JSON.stringify(alone.body));
      assert.equal(alone.body.error, 'insufficient_storage');
      assert.match(String(alone.body.message), /no space left on device/i);
    } finally {
      c.signal(0, 'SIGCONT');
      c.signal(1, 'SIGCONT');
    }
    await c.waitStatus([2], 0, 'healthy', 15_000);
    await c.waitStatus([2], 1, 'healthy', 15_000);
    await c.waitStatus([0, 1], 2, 'degraded', 15_000);

    assert.deepEqual(await replayFailures(), failuresBefore, 'no hint replay to the full node failed');
    c.freeBallast(2);
    await waitFor('node-2 healthy again', async () => (await fetch(`http://127.0.0.1:${c.nodes[2]!.port}/health`)).status === 200, 20_000);
    await c.waitStatus([0, 1, 2], 2, 'healthy', 10_000);
    // node-2's own copy: delivered by hints.
    await waitFor('node-2 to hold every write it missed', async () => {
      for (let i = 0; i < 8; i++) if ((await c.replica(2, `while-full-${i}`)).values.join() !== value(i)) return false;
      return (await c.replica(2, 'via-full-node')).values.join() === value(5);
    }, 20_000);
    assert.equal((await c.http(2, 'PUT', 'after-space', { body: 'y', consistency: 'ALL' })).status, 200);
  });
});
