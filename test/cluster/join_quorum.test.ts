// A node joins and takes a range over from an owner that drops out of its preference list. A
// write a quorum acknowledged may be on that owner and on one settled replica only (node-1 was
// down while it was written, with hints, read repair and anti-entropy off, so nothing brings it
// there later). The joiner's bootstrap pulls from one settled replica, picked at random, and
// from the owner it displaced: once it has finished, a QUORUM read that reaches the joiner and the
// stale replica (the third stopped) still returns the acknowledged write. And before it has
// finished (its stream throttled, so the pass takes far longer than the test), the joiner's
// replica reads such a key from the owner it displaced before it answers, so the same read does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { keyToken, Ring } from '../../src/ring';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';

/**
 * Up to `count` keys whose preference list once node-3 joins is node-3, node-0 and node-1 (node-2
 * gives them up), written v1 at ALL, then v2 at QUORUM while node-1 is down: v2 is on node-0 and
 * node-2 alone. Killed, not stopped: a stopped node would still find the replica writes in its
 * sockets when it went on. `first` runs before v1 is written (more data, say).
 */
async function missedByNode1(c: TestCluster, prefix: string, count: number, first?: () => Promise<void>): Promise<string[]> {
  const after4 = Ring.build(['node-0', 'node-1', 'node-2', 'node-3'].map((nodeId) => ({ nodeId, vnodes: c.spec.vnodes })), 2);
  const keys = Array.from({ length: 2000 }, (_, i) => `${prefix}-${i}`)
    .filter((k) => !after4.preferenceList(keyToken(Buffer.from(k)), 3).includes('node-2'))
    .slice(0, count);
  assert.ok(keys.length >= 40, `${keys.length} keys node-2 gives up`);
  await first?.();
  for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `v1-${k}`, consistency: 'ALL' })).status, 200, k);
  await c.kill(1);
  for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `v2-${k}`, consistency: 'QUORUM' })).status, 200, k);
  await c.spawn(1);
  await c.waitStatus([0, 2], 1, 'healthy', 20_000);
  return keys;
}

/** Three nodes, N = 3, nothing but the join itself to bring node-1 what it missed. */
const spec = { nodes: 3, hintedHandoff: false, readRepairChance: 0, antiEntropyIntervalMs: 0, vnodes: 8 };

/** The keys a QUORUM read through node-1 returns at another value than v2 (each read must succeed). */
async function staleThroughNode1(c: TestCluster, keys: readonly string[]): Promise<string[]> {
  const stale: string[] = [];
  for (const k of keys) {
    const got = await c.http(1, 'GET', k, { consistency: 'QUORUM' });
    assert.equal(got.status, 200, `${k}: ${JSON.stringify(got.body)}`);
    if (base64Text(got.body.value) !== `v2-${k}`) stale.push(k);
  }
  return stale;
}

describe('3 nodes, N = 3: a fourth joins in place of the one that holds a write the stale replica missed', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start(spec);
  });
  after(async () => {
    await c?.close();
  });

  test('after the join, a QUORUM read through the stale replica and the new node returns every acknowledged write', async () => {
    const keys = await missedByNode1(c, 'moved', 80);
    for (const k of keys.slice(0, 5)) assert.equal(base64Text((await c.http(1, 'GET', k, { consistency: 'ONE' })).body.value), `v1-${k}`, `node-1 missed ${k}`);

    const j = await c.addNode();
    assert.equal(j, 3);
    await c.waitConverged(20_000);
    await waitFor('node-3 to finish its bootstrap and stop rebuilding', async () => (await c.metric(j, 'ringkv_bootstrap_state')) === 2 && (await c.metric(j, 'ringkv_rebuilding')) === 0, 30_000);

    // node-0 stopped: a QUORUM read needs node-1 (v1) and node-3.
    c.signal(0, 'SIGSTOP');
    try {
      await c.waitStatus([1], 0, 'suspect', 10_000);
      assert.deepEqual(await staleThroughNode1(c, keys), [], 'keys read at their value from before the acknowledged write');
    } finally {
      c.signal(0, 'SIGCONT');
    }
  });
});

describe('3 nodes, N = 3: a fourth joins in place of the one that holds a write the stale replica missed, and is still streaming', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start(spec);
  });
  after(async () => {
    await c?.close();
  });

  test('while it rebuilds, a QUORUM read through the stale replica and the new node returns every acknowledged write', async () => {
    // About 2.4 MB for node-3 to stream at 64 KiB/s: its pass lasts well past the reads below.
    const filler = 'f'.repeat(8192);
    const keys = await missedByNode1(c, 'window', 60, async () => {
      for (let i = 0; i < 300; i++) assert.equal((await c.http(0, 'PUT', `filler-${i}`, { body: filler, consistency: 'ALL' })).status, 200);
    });

    const j = await c.addNode({ args: ['--stream-bytes-per-second', String(64 * 1024)] });
    assert.equal(j, 3);
    await c.waitConverged(20_000);
    c.signal(0, 'SIGSTOP');
    try {
      await c.waitStatus([1, 3], 0, 'suspect', 10_000);
      assert.deepEqual(await staleThroughNode1(c, keys), [], 'keys read at their value from before the acknowledged write');
      // The reads ran in the window this test is about: node-3 has not streamed its ranges yet.
      assert.equal(await c.metric(j, 'ringkv_rebuilding'), 1);
    } finally {
      c.signal(0, 'SIGCONT');
    }
  });
});
