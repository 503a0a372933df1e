// Hints outlive their stand-in's process (design.md §7.5: the stand-in "stores the data with a
// hint"): a coordinator holding hints for a dead replica is SIGKILLed (nothing flushed or synced
// by a shutdown), starts again from its data dir, and delivers every hint once the replica is
// back. Read repair and anti-entropy are off, and no read touches the keys before the check, so
// only the hints can have brought them. It restarts with a low hint replay rate, so the second
// replay batch waits for the byte budget (counted) and still arrives. And while a coordinator
// holds hints for a replica, its reads do not ask that replica (it is behind), and gossip tells
// the other coordinators so, whose reads do not ask it either.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recordOf } from '../../src/coordinator/read_repair';
import { ErrorCode, isRingkvError } from '../../src/errors';
import { PeerConnection } from '../../src/protocol/internode_connection';
import { coordinateWrite } from '../../src/versioning';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';


describe('3-node cluster, hints on disk', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: true, readRepairChance: 0, antiEntropyIntervalMs: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('a coordinator SIGKILLed with hints queued delivers them after it restarts', async () => {
    // More than one replay batch (256 hints) of ~1 KiB each: over the 64 KiB/s budget set below.
    const keys = Array.from({ length: 300 }, (_, i) => `persisted-hint-${i}`);
    const body = (i: number): string => `v${i}-`.padEnd(1024, 'x');
    await c.kill(2);
    await c.waitStatus([0, 1], 2, 'dead', 15_000);
    // Node-1 coordinates every write; with three nodes it is its own stand-in for node-2.
    for (const [i, k] of keys.entries()) {
      const r = await c.http(1, 'PUT', k, { body: body(i), consistency: 'QUORUM' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    assert.equal(await c.metric(1, 'ringkv_hints_queued'), keys.length);
    assert.equal(await c.metric(0, 'ringkv_hints_queued'), 0);
    const hintsDir = path.join(c.nodes[1]!.dataDir, 'hints');
    await waitFor('node-1 writing its hints to disk', async () => (await c.metric(1, 'ringkv_hints_disk_bytes')) > 0, 5_000);

    await c.kill(1);
    assert.ok(fs.readdirSync(hintsDir).some((n) => n.endsWith('.log')), 'hint files left by the killed process');
    c.nodes[1]!.extraArgs = ['--hint-replay-bytes-per-second', '65536'];
    await c.spawn(1);
    assert.equal(await c.metric(1, 'ringkv_hints_recovered_total'), keys.length);
    assert.equal(await c.metric(1, 'ringkv_hints_queued'), keys.length);
    const metrics = await (await fetch(`http://127.0.0.1:${c.nodes[1]!.port}/metrics`)).text();
    assert.match(metrics, new RegExp(`^ringkv_hints_queued_for_node\\{target="node-2"\\} ${keys.length}$`, 'm'));
    assert.match(metrics, /^ringkv_hints_oldest_age_seconds\{target="node-2"\} \d+$/m);

    await c.spawn(2);
    await c.waitStatus([1], 2, 'healthy', 15_000);
    await waitFor('node-1 delivering every hint', async () => (await c.metric(1, 'ringkv_hints_queued')) === 0, 15_000);
    assert.equal(await c.metric(1, 'ringkv_hints_delivered_total'), keys.length);
    assert.ok((await c.metric(1, 'ringkv_hint_replay_waits_total')) >= 1, 'the second batch waited for the replay budget');
    await waitFor('the delivered hints leaving the disk', async () => (await c.metric(1, 'ringkv_hints_disk_bytes')) === 0, 5_000);

    // Node-2's own replica.
    for (const [i, k] of keys.entries()) assert.deepEqual((await c.replica(2, k)).values, [body(i)], `${k} on node-2`);
  });

  test('hints for a node removed from the ring are dropped, from memory and disk', async () => {
    await c.waitStatus([0, 1], 2, 'healthy', 15_000);
    const dropped = await c.metric(1, 'ringkv_hints_dropped_total');
    await c.kill(2);
    await c.waitStatus([0, 1], 2, 'dead', 15_000);
    for (let i = 0; i < 10; i++) assert.equal((await c.http(1, 'PUT', `for-removed-${i}`, { body: 'x', consistency: 'QUORUM' })).status, 200);
    assert.equal(await c.metric(1, 'ringkv_hints_queued'), 10);
    // Gone for good: removed through node-0; node-1 hears LEFT through gossip and lets the hints go.
    assert.equal((await c.delete(0, '/api/v1/cluster/nodes/node-2')).status, 200);
    await waitFor('node-1 dropping the hints for node-2', async () => (await c.metric(1, 'ringkv_hints_queued')) === 0, 10_000);
    assert.equal((await c.metric(1, 'ringkv_hints_dropped_total')) - dropped, 10);
    await waitFor('the dropped hints leaving the disk', async () => (await c.metric(1, 'ringkv_hints_disk_bytes')) === 0, 5_000);
  });

  test('a hint handed over for a node that is not in the cluster, or has left it, is refused', async () => {
    // As another coordinator would hand it (the peer protocol), for node-2 (removed above), a
    // made-up id, and one over the node id limit: none is kept, and the node goes on serving.
    const record = recordOf(coordinateWrite([], { nodeId: 'node-1', nowMs: Date.now(), mode: 'vclock', value: Buffer.from('h'), tombstone: false, ttlMs: 0, context: null }).siblings);
    const item = (key: string, hintFor: string) => ({ key: Buffer.from(key), record: record.versionVector, value: record.value, hintFor });
    const peer = new PeerConnection({ host: '127.0.0.1', port: c.nodes[0]!.peerPort, hello: { clusterName: c.clusterName, fromNode: 'node-1', toNode: 'node-0' } });
    const storedBefore = await c.metric(0, 'ringkv_hints_stored_total');
    try {
      await assert.rejects(
        peer.request({ kind: 'replicaWrite', key: Buffer.from('h-1'), record: record.versionVector, value: record.value, recordTombstone: false, hintFor: 'no-such-node' }, 5000),
        (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && /not a node of this cluster/.test((e as Error).message),
      );
      const reply = await peer.request({ kind: 'replicaWriteBatch', items: [item('h-2', 'node-2'), item('h-3', 'x'.repeat(300)), item('h-4', 'node-1')] }, 5000);
      assert.deepEqual(reply.items!.map((it) => it.errorCode ?? 'kept'), [ErrorCode.InvalidArgument, ErrorCode.InvalidArgument, 'kept']);
    } finally {
      peer.close();
    }
    assert.equal(await c.metric(0, 'ringkv_hints_stored_total'), storedBefore + 1, 'only the hint for node-1');
    const metrics = await (await fetch(`http://127.0.0.1:${c.nodes[0]!.port}/metrics`)).text();
    assert.doesNotMatch(metrics, /target="(no-such-node|x+|node-2)"/);
    assert.equal((await c.http(0, 'PUT', 'after-hints', { body: 'ok', consistency: 'ONE' })).status, 200);
  });
});

describe('4-node cluster, hints held by stand-ins', () => {
  // With four nodes a key's three replicas leave one node out, and that node is the stand-in that
  // keeps the hint for a down replica (the coordinator sends it there with hintFor). The stand-ins
  // are SIGKILLed and restarted before the replica comes back: their hints are on disk.
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 4, hintedHandoff: true, readRepairChance: 0, antiEntropyIntervalMs: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('stand-ins keep hints across a SIGKILL and deliver them when the replica is back', async () => {
    const keys = Array.from({ length: 120 }, (_, i) => `stand-in-${i}`);
    await c.kill(3);
    await c.waitStatus([0, 1, 2], 3, 'dead', 15_000);
    for (const [i, k] of keys.entries()) {
      const r = await c.http(0, 'PUT', k, { body: `v${i}`, consistency: 'QUORUM' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const queued = await Promise.all([0, 1, 2].map((n) => c.metric(n, 'ringkv_hints_queued')));
    // Roughly 3/4 of the keys have node-3 among their replicas; node-0 forwards the others' writes.
    assert.ok(queued[1]! + queued[2]! > 0, `hints held away from the coordinator: ${queued.join(', ')}`);
    for (const n of [1, 2]) {
      await c.kill(n);
      await c.spawn(n);
    }
    await c.waitStatus([0, 1, 2], 1, 'healthy', 15_000);
    await c.waitStatus([0, 1, 2], 2, 'healthy', 15_000);
    assert.deepEqual(await Promise.all([1, 2].map((n) => c.metric(n, 'ringkv_hints_recovered_total'))), [queued[1], queued[2]]);

    await c.spawn(3);
    await c.waitConverged(15_000);
    await waitFor('every hint delivered', async () => (await Promise.all([0, 1, 2].map((n) => c.metric(n, 'ringkv_hints_queued')))).every((q) => q === 0), 15_000);
    // node-3's own copy of every key it replicates (and a ONE read through it of the others).
    let replicated = 0;
    for (const [i, k] of keys.entries()) {
      const copy = await c.replica(3, k);
      if (copy.replicas.includes('node-3')) {
        replicated++;
        assert.deepEqual(copy.values, [`v${i}`], `${k} on node-3`);
      } else {
        assert.equal(base64Text((await c.http(3, 'GET', k, { consistency: 'ONE' })).body.value), `v${i}`, `${k} via node-3`);
      }
    }
    assert.ok(replicated > 0, 'node-3 replicates some of the keys');
  });

  test('a stand-in started with --hinted-handoff off still delivers the hints others hand it', async () => {
    // --hinted-handoff off stops a node making hints as a coordinator; as a stand-in it is handed
    // them all the same, and they are kept, replayed and expired as any node's are (while it
    // holds them, and gossips so, their target reads as behind).
    c.nodes[1]!.extraArgs = ['--hinted-handoff', 'off'];
    await c.kill(1);
    await c.spawn(1);
    await c.waitStatus([0, 2, 3], 1, 'healthy', 15_000);
    await c.kill(3);
    await c.waitStatus([0, 1, 2], 3, 'dead', 15_000);
    const keys = Array.from({ length: 60 }, (_, i) => `hh-off-${i}`);
    for (const [i, k] of keys.entries()) assert.equal((await c.http(0, 'PUT', k, { body: `o${i}`, consistency: 'QUORUM' })).status, 200, k);
    const held = await c.metric(1, 'ringkv_hints_queued');
    assert.ok(held > 0, 'node-1 is the stand-in for some of the keys');
    // On disk like any node's: a restart of the stand-in keeps them.
    await c.kill(1);
    await c.spawn(1);
    await c.waitStatus([0, 2], 1, 'healthy', 15_000);
    assert.equal(await c.metric(1, 'ringkv_hints_recovered_total'), held);
    await c.spawn(3);
    await c.waitStatus([0, 1, 2], 3, 'healthy', 15_000);
    await waitFor('node-1 delivering the hints it holds', async () => (await c.metric(1, 'ringkv_hints_queued')) === 0, 15_000);
    // The keys node-0 replicates with node-3 but not node-1: node-0 wrote them itself (it
    // forwards the others' writes to a replica, node-1 among them, which makes no hints) and
    // handed node-3's hint to node-1, the one node left out of their preference list.
    let viaOne = 0;
    for (const [i, k] of keys.entries()) {
      const copy = await c.replica(3, k);
      if (!(copy.replicas.includes('node-0') && copy.replicas.includes('node-3') && !copy.replicas.includes('node-1'))) continue;
      viaOne++;
      assert.deepEqual(copy.values, [`o${i}`], `${k} on node-3`);
    }
    assert.ok(viaOne > 0, 'node-1 was the stand-in for some keys');
  });

  test('a decommissioned stand-in passes its hints on before it goes', async () => {
    // node-1 replays slowly (64 KiB/s: its second batch of 256 waits seconds), so when node-3 is
    // back and node-1 is decommissioned and stopped right away, only the hand-over can have
    // brought node-3 the hints node-1 still held. node-1 holds no copy of those keys (it was their
    // stand-in because it is not their replica), so its range hand-over cannot bring them either.
    c.nodes[1]!.extraArgs = ['--hint-replay-bytes-per-second', '65536'];
    await c.kill(1);
    await c.spawn(1);
    await c.waitStatus([0, 2, 3], 1, 'healthy', 15_000);
    await c.kill(3);
    await c.waitStatus([0, 1, 2], 3, 'dead', 15_000);
    const keys = Array.from({ length: 1400 }, (_, i) => `leaving-${i}`);
    const body = (i: number): string => `v${i}-`.padEnd(1024, 'x');
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = next++; i < keys.length; i = next++) {
          const r = await c.http(w % 3, 'PUT', keys[i]!, { body: body(i), consistency: 'QUORUM' });
          assert.equal(r.status, 200, JSON.stringify(r.body));
        }
      }),
    );
    const held = await c.metric(1, 'ringkv_hints_queued');
    assert.ok(held > 256, `node-1 holds ${held} hints, more than one replay batch`);

    await c.spawn(3);
    await c.waitStatus([0, 1, 2], 3, 'healthy', 15_000);
    const left = await c.post(1, '/api/v1/admin/decommission');
    assert.equal(left.status, 200, JSON.stringify(left.body));
    assert.equal(left.body.hints_left, 0);
    assert.ok(Number(left.body.hints_handed_over) > 0, JSON.stringify(left.body));
    await c.kill(1);

    await waitFor('every hint delivered', async () => (await Promise.all([0, 2].map((n) => c.metric(n, 'ringkv_hints_queued')))).every((q) => q === 0), 15_000);
    // With node-1 gone, node-3 replicates every key: its own copy.
    const missing = [];
    for (const [i, k] of keys.entries()) if ((await c.replica(3, k)).values.join() !== body(i)) missing.push(k);
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${keys.length} keys missing on node-3`);
  });
});

describe('3-node cluster, a node restarted while its peers are away', () => {
  // node-0 is every node's seed, and its own: without its data dir's PEERS it would start knowing
  // nobody, count a ring of itself, and leave no hint for the nodes it had forgotten.
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: true, readRepairChance: 0, antiEntropyIntervalMs: 0 });
  });
  after(async () => {
    await c?.close();
  });

  test('it starts with the ring it left: QUORUM is refused, writes at ONE leave hints, delivered once the peers are back', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `remembered-${i}`);
    await c.kill(0);
    c.signal(1, 'SIGSTOP');
    c.signal(2, 'SIGSTOP');
    try {
      await c.spawn(0);
      const seen = await c.statuses(0);
      assert.deepEqual(seen, { 'node-0': 'healthy', 'node-1': 'dead', 'node-2': 'dead' });
      const q = await c.http(0, 'PUT', 'remembered-quorum', { body: 'x', consistency: 'QUORUM' });
      assert.equal(q.status, 503, JSON.stringify(q.body));
      for (const [i, k] of keys.entries()) assert.equal((await c.http(0, 'PUT', k, { body: `v${i}`, consistency: 'ONE' })).status, 200);
      assert.equal(await c.metric(0, 'ringkv_hints_queued'), 2 * keys.length);
    } finally {
      c.signal(1, 'SIGCONT');
      c.signal(2, 'SIGCONT');
    }
    await c.waitConverged(15_000);
    await waitFor('node-0 delivering its hints', async () => (await c.metric(0, 'ringkv_hints_queued')) === 0, 15_000);
    for (const n of [1, 2]) for (const [i, k] of keys.entries()) assert.deepEqual((await c.replica(n, k)).values, [`v${i}`], `${k} on node-${n}`);
  });
});

describe('3-node cluster, reads while hints wait for a replica', () => {
  // SUSPECT only after 60 s: the stopped node stays ALIVE in gossip for the whole test, so only
  // the hints its peers hold say that it is behind.
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: true, readRepairChance: 0, suspectAfterMs: 60_000, deadAfterMs: 120_000, requestTimeoutMs: 1000 });
  });
  after(async () => {
    await c?.close();
  });

  /** The nodes node i's cluster status shows behind (writes they missed wait as hints somewhere). */
  const behindOn = async (i: number): Promise<string[]> => {
    const s = (await c.getJson(i, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; behind?: boolean }> };
    return s.nodes.filter((n) => n.behind === true).map((n) => n.id);
  };

  test('a replica hints wait for is asked last by every coordinator, not only the one holding them, and has the writes once they are delivered', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `behind-${i}`);
    for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: 'v1', consistency: 'ALL' })).status, 200);
    c.signal(2, 'SIGSTOP');
    try {
      for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: 'v2', consistency: 'QUORUM' })).status, 200);
      // Each of node-2's writes times out (1 s) and becomes a hint on node-0, its coordinator.
      await waitFor('node-0 holding a hint for each key', async () => (await c.metric(0, 'ringkv_hints_queued')) === keys.length, 10_000);
      assert.deepEqual(await behindOn(0), ['node-2']);
      const asked = await c.metric(0, 'ringkv_replica_reads_asked_total');
      const speculative = await c.metric(0, 'ringkv_speculative_reads_total');
      for (const k of keys) {
        const got = await c.http(0, 'GET', k, { consistency: 'QUORUM' });
        assert.equal(got.status, 200, JSON.stringify(got.body));
        assert.equal(base64Text(got.body.value), 'v2');
      }
      // A read that asked the stopped node would have waited on it and asked a spare besides.
      assert.equal((await c.metric(0, 'ringkv_speculative_reads_total')) - speculative, 0, 'no read waited on node-2');
      assert.equal((await c.metric(0, 'ringkv_replica_reads_asked_total')) - asked, 2 * keys.length, 'each read asked node-0 and node-1 only');

      // node-1 holds no hints, but node-0's gossip says it holds some for node-2: node-1's reads
      // ask node-2 last too (before, they took turns over node-0 and node-2, half of them
      // waiting on the stopped node).
      assert.equal(await c.metric(1, 'ringkv_hints_queued'), 0);
      await waitFor('node-1 hearing from gossip that node-2 is behind', async () => (await behindOn(1)).includes('node-2'), 10_000);
      const asked1 = await c.metric(1, 'ringkv_replica_reads_asked_total');
      const speculative1 = await c.metric(1, 'ringkv_speculative_reads_total');
      for (const k of keys) assert.equal(base64Text((await c.http(1, 'GET', k, { consistency: 'QUORUM' })).body.value), 'v2');
      assert.equal((await c.metric(1, 'ringkv_speculative_reads_total')) - speculative1, 0, 'no read through node-1 waited on node-2');
      assert.equal((await c.metric(1, 'ringkv_replica_reads_asked_total')) - asked1, 2 * keys.length, 'each read through node-1 asked node-1 and node-0 only');
    } finally {
      c.signal(2, 'SIGCONT');
    }
    await waitFor('node-0 delivering its hints', async () => (await c.metric(0, 'ringkv_hints_queued')) === 0, 15_000);
    await waitFor('node-1 hearing that node-2 caught up', async () => (await behindOn(1)).length === 0, 10_000);
    for (const k of keys) assert.deepEqual((await c.replica(2, k)).values, ['v2'], `${k} on node-2`);
  });
});
