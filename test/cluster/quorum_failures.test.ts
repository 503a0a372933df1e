// A real 3-node cluster (separate processes, N=3, vector clocks, hinted handoff off so that only
// read repair can heal a replica) through node failures: a SIGSTOPped node, concurrent writes
// through different coordinators while nodes are stopped, and a SIGKILLed node that gossip must
// see SUSPECT then DEAD everywhere, then ALIVE again after a restart; and in partition mode cp,
// a conditional write at ONE coordinated by a replica that missed an acknowledged write.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';

describe('3-node cluster, vector clocks, one node at a time failing', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, conflictMode: 'vclock', hintedHandoff: false, readRepairChance: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('a read asks only as many replicas as its level needs (read_repair_chance 0)', async () => {
    // Proves the read fan-out: ONE asks 1 replica, QUORUM 2, ALL 3, counted at the coordinator,
    // and every level still reads the value written at ALL.
    assert.equal((await c.http(0, 'PUT', 'fanout', { body: 'x', consistency: 'ALL' })).status, 200);
    // A speculative ask (a replica slower than the usual round trip, on a busy machine) is one
    // more: counted apart, and taken off.
    const asked = async (): Promise<number> => (await c.metric(0, 'ringkv_replica_reads_asked_total')) - (await c.metric(0, 'ringkv_speculative_reads_total'));
    for (const [level, replicas] of [['ONE', 1], ['QUORUM', 2], ['ALL', 3]] as const) {
      const before = await asked();
      for (let i = 0; i < 10; i++) {
        const got = await c.http(0, 'GET', 'fanout', { consistency: level });
        assert.equal(base64Text(got.body.value), 'x', level);
      }
      assert.equal((await asked()) - before, 10 * replicas, `${level} asks ${replicas}`);
    }
  });

  test('with one node stopped QUORUM works, ALL fails with needed/alive; after SIGCONT read repair heals it', async () => {
    // Proves §7.2 under a failure: W=R=2 of 3 still serve, ALL fails fast with a clear 503, and a
    // QUORUM read that meets the stale replica repairs it in the background.
    assert.equal((await c.http(0, 'PUT', 'rr-key', { body: 'v1', consistency: 'ALL' })).status, 200);
    c.signal(2, 'SIGSTOP');
    await c.waitStatus([0, 1], 2, 'suspect', 10_000);

    const put = await c.http(0, 'PUT', 'rr-key', { body: 'v2', consistency: 'QUORUM' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const got = await c.http(1, 'GET', 'rr-key', { consistency: 'QUORUM' });
    assert.equal(got.status, 200);
    assert.equal(base64Text(got.body.value), 'v2');

    const all = await c.http(1, 'PUT', 'rr-key', { body: 'v3', consistency: 'ALL' });
    assert.equal(all.status, 503);
    assert.equal(all.body.error, 'unavailable');
    assert.match(String(all.body.message), /needs 3 of 3 replicas, only 2 alive/);
    const allGet = await c.http(0, 'GET', 'rr-key', { consistency: 'ALL' });
    assert.equal(allGet.status, 503);

    c.signal(2, 'SIGCONT');
    await c.waitStatus([0, 1], 2, 'healthy', 10_000);
    await c.waitStatus([2], 0, 'healthy', 10_000);
    const repairsBefore = await c.metric(2, 'ringkv_read_repairs_total');
    // Coordinated by the stale node itself: it always asks its own replica, so it meets the stale
    // copy, answers after two, then repairs.
    const healed = await c.http(2, 'GET', 'rr-key', { consistency: 'QUORUM' });
    assert.equal(base64Text(healed.body.value), 'v2');
    await waitFor('a read repair on node-2', async () => (await c.metric(2, 'ringkv_read_repairs_total')) > repairsBefore, 5000);

    // Proof that node-2's own copy is now v2: with the other two stopped, a ONE read coordinated
    // by node-2 can only be answered by node-2's replica.
    c.signal(0, 'SIGSTOP');
    c.signal(1, 'SIGSTOP');
    try {
      await c.waitStatus([2], 0, 'suspect', 10_000);
      await c.waitStatus([2], 1, 'suspect', 10_000);
      const local = await c.http(2, 'GET', 'rr-key', { consistency: 'ONE' });
      assert.equal(local.status, 200, JSON.stringify(local.body));
      assert.equal(base64Text(local.body.value), 'v2');
      const quorum = await c.http(2, 'GET', 'rr-key', { consistency: 'QUORUM' });
      assert.equal(quorum.status, 503, 'QUORUM with two of three down is unavailable');
    } finally {
      c.signal(0, 'SIGCONT');
      c.signal(1, 'SIGCONT');
    }
    await c.waitConverged(10_000);
  });

  test('concurrent writes through different coordinators while nodes are stopped become siblings; a write with the context resolves them', async () => {
    // Proves vector clocks keep both of two writes neither saw (§7.3) and return them together.
    c.signal(1, 'SIGSTOP');
    c.signal(2, 'SIGSTOP');
    try {
      await c.waitStatus([0], 1, 'suspect', 10_000);
      await c.waitStatus([0], 2, 'suspect', 10_000);
      assert.equal((await c.http(0, 'PUT', 'sib', { body: 'from-node-0', consistency: 'ONE' })).status, 200);
      c.signal(1, 'SIGCONT');
      c.signal(0, 'SIGSTOP');
      await c.waitStatus([1], 0, 'suspect', 10_000);
      assert.equal((await c.http(1, 'PUT', 'sib', { body: 'from-node-1', consistency: 'ONE' })).status, 200);
    } finally {
      c.signal(0, 'SIGCONT');
      c.signal(1, 'SIGCONT');
      c.signal(2, 'SIGCONT');
    }
    await c.waitConverged(10_000);
    const got = await c.http(2, 'GET', 'sib', { consistency: 'ALL' });
    assert.equal(got.status, 200, JSON.stringify(got.body));
    const siblings = (got.body.siblings as Array<{ value: string }> | undefined) ?? [];
    assert.deepEqual(siblings.map((s) => base64Text(s.value)).sort(), ['from-node-0', 'from-node-1']);

    const resolved = await c.http(2, 'PUT', 'sib', { body: 'merged', consistency: 'ALL', headers: { 'X-Context': String(got.body.context) } });
    assert.equal(resolved.status, 200, JSON.stringify(resolved.body));
    const after = await c.http(0, 'GET', 'sib', { consistency: 'ALL' });
    assert.equal(base64Text(after.body.value), 'merged');
    assert.equal(after.body.siblings, undefined, 'one version left');
  });

  test('If-Match across replicas: the current version succeeds once, a stale one is a 409 with current_version', async () => {
    // Proves conditional writes are checked against the quorum's newest version, not one replica's.
    const first = await c.http(1, 'PUT', 'cas', { body: 'a', consistency: 'ALL' });
    const v1 = String(first.body.version);
    const ok = await c.http(2, 'PUT', 'cas', { body: 'b', consistency: 'QUORUM', headers: { 'If-Match': v1 } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const stale = await c.http(0, 'PUT', 'cas', { body: 'c', consistency: 'QUORUM', headers: { 'If-Match': v1 } });
    assert.equal(stale.status, 409, JSON.stringify(stale.body));
    assert.equal(stale.body.current_version, ok.body.version);
  });

  test('If-Match raced through all three coordinators: exactly one write per version succeeds', async () => {
    // Proves conditional writes are serialized per key, not checked on each coordinator's replica
    // (both would pass and both be written: a lost update). Each round sends the same If-Match
    // through the three nodes at once, at QUORUM and at ONE.
    for (const level of ['QUORUM', 'ONE'] as const) {
      const key = `cas-race-${level}`;
      const first = await c.http(0, 'PUT', key, { body: 'r0', consistency: 'ALL' });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      let version = String(first.body.version);
      for (let round = 1; round <= 12; round++) {
        const answers = await Promise.all([0, 1, 2].map((n) => c.http(n, 'PUT', key, { body: `r${round}-n${n}`, consistency: level, headers: { 'If-Match': version } })));
        const won = answers.filter((a) => a.status === 200);
        assert.equal(won.length, 1, `${level} round ${round}: ${answers.map((a) => `${a.status} ${JSON.stringify(a.body)}`).join(' | ')}`);
        for (const a of answers) if (a.status !== 200) assert.equal(a.status, 409, JSON.stringify(a.body));
        version = String(won[0]!.body.version);
      }
      const got = await c.http(1, 'GET', key, { consistency: 'ALL' });
      assert.equal(got.body.siblings, undefined, `${level}: one version, no siblings`);
      assert.equal(got.body.version, version);
    }
  });

  test('a SIGKILLed node is SUSPECT then DEAD on every other node, and ALIVE again after a restart', async () => {
    // Proves the failure detector end to end over real gossip (suspect 1 s, dead 2.5 s here).
    const killedAt = Date.now();
    await c.kill(2);
    const seen: Record<string, { suspect?: number; dead?: number }> = { 'node-0': {}, 'node-1': {} };
    await waitFor('node-2 DEAD on node-0 and node-1', async () => {
      for (const o of [0, 1]) {
        const s = (await c.statuses(o))['node-2'];
        const rec = seen[`node-${o}`]!;
        if (s === 'suspect' && rec.suspect === undefined) rec.suspect = Date.now() - killedAt;
        if (s === 'dead' && rec.dead === undefined) rec.dead = Date.now() - killedAt;
      }
      return Object.values(seen).every((r) => r.dead !== undefined);
    }, 15_000);
    for (const [id, r] of Object.entries(seen)) {
      assert.ok(r.suspect !== undefined, `${id} never reported node-2 SUSPECT before DEAD`);
      assert.ok(r.suspect < r.dead!, `${id}: SUSPECT (${r.suspect} ms) must come before DEAD (${r.dead} ms)`);
      // Generous bounds: the configured times plus gossip lag and a loaded 2-core machine.
      assert.ok(r.suspect < c.spec.suspectAfterMs + 4000, `${id} saw SUSPECT after ${r.suspect} ms`);
      assert.ok(r.dead! < c.spec.deadAfterMs + 4000, `${id} saw DEAD after ${r.dead} ms`);
    }
    await c.spawn(2);
    await c.waitConverged(15_000);
    const got = await c.http(2, 'GET', 'rr-key', { consistency: 'QUORUM' });
    assert.equal(got.status, 200);
    assert.ok((await c.metric(0, 'ringkv_membership_to_alive_total')) >= 1);
  });

  test('a whole-cluster restart with node-0, the only seed, still down: node-1 and node-2 find each other through their PEERS files and serve QUORUM', async () => {
    // Each used to hold the other DEAD until the seed came back (gossip went only to seeds and to
    // nodes heard from in this run): every QUORUM request refused, every write a hint.
    const put = await c.http(1, 'PUT', 'restart-all', { body: 'kept', consistency: 'ALL' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    for (const i of [0, 1, 2]) await c.kill(i);
    await Promise.all([c.spawn(1), c.spawn(2)]);
    await c.waitStatus([1], 2, 'healthy', 20_000);
    await c.waitStatus([2], 1, 'healthy', 20_000);
    const got = await c.http(2, 'GET', 'restart-all', { consistency: 'QUORUM' });
    assert.equal(got.status, 200, JSON.stringify(got.body));
    const write = await c.http(1, 'PUT', 'restart-all', { body: 'again', consistency: 'QUORUM' });
    assert.equal(write.status, 200, JSON.stringify(write.body));
    await c.spawn(0);
    await c.waitConverged(20_000);
  });
});

describe('3-node cluster in partition mode cp, last write wins, hinted handoff off', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, partitionMode: 'cp', conflictMode: 'lww', hintedHandoff: false, readRepairChance: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('an If-Match write at ONE checks the version on a majority: a replica that missed the newer version cannot pass a stale If-Match', async () => {
    // Proves the cp floor covers a conditional write's check as well as its write: the check at
    // ONE read only the coordinating replica's copy (the key's first live replica), and one that
    // was down for a write acknowledged by the other two passed the stale version; under last
    // write wins its write then replaced the acknowledged one everywhere (a lost update).
    const keys: string[] = [];
    for (let i = 0; i < 200 && keys.length < 4; i++) {
      const key = `cp-cas-${i}`;
      if ((await c.replica(0, key)).replicas[0] === 'node-2') keys.push(key);
    }
    assert.equal(keys.length, 4, 'keys whose first replica is node-2');
    const v1 = new Map<string, string>();
    for (const key of keys) {
      const r = await c.http(0, 'PUT', key, { body: 'v1', consistency: 'ALL' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      v1.set(key, String(r.body.version));
    }
    await c.kill(2);
    for (const key of keys) {
      const r = await c.http(0, 'PUT', key, { body: 'v2', consistency: 'QUORUM' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    await c.spawn(2);
    await c.waitConverged(15_000);
    // No hints, read repair or anti-entropy: node-2 still holds v1 alone.
    for (const key of keys) assert.deepEqual((await c.replica(2, key)).values, ['v1'], key);
    // node-1's link to node-2 may still be in its back-off from the restart: an ALL read through
    // node-1 answers once it reaches node-2 again (read repair is off: it changes no replica).
    await waitFor('node-1 reaches node-2 again', async () => (await c.http(1, 'GET', keys[0]!, { consistency: 'ALL' })).status === 200, 15_000);
    for (const key of keys) {
      const stale = await c.http(1, 'PUT', key, { body: 'v3', consistency: 'ONE', headers: { 'If-Match': v1.get(key)! } });
      assert.equal(stale.status, 409, `${key}: ${JSON.stringify(stale.body)}`);
      const got = await c.http(0, 'GET', key, { consistency: 'ALL' });
      assert.equal(base64Text(got.body.value), 'v2', key);
    }
  });
});
