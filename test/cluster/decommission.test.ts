// A planned leave across real node processes: the leaving node hands its records to the nodes that
// replicate them without it, then leaves the ring; with hints, read repair and anti-entropy all
// off, only the hand-over can have put every key on every one of the three nodes that remain.
// And an unplanned one: a node killed for good is removed by an operator (DELETE
// /api/v1/cluster/nodes/{id}), every ring drops it, and a repair brings its ranges back to three
// copies, so reads at ALL succeed again. Neither node may start again on its old data dir; a node
// removed while only paused takes itself out of its own ring. Then the same operations through
// the `ringkv` admin commands (status, addnode, decommission, removenode, repair).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { recordOf } from '../../src/coordinator/read_repair';
import { PeerConnection } from '../../src/protocol/internode_connection';
import { Ring, keyToken } from '../../src/ring';
import { coordinateWrite } from '../../src/versioning';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';

describe('decommissioning one node of a loaded 4-node cluster', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 4, hintedHandoff: false, readRepairChance: 0, antiEntropyIntervalMs: 0, vnodes: 8 });
  });
  after(async () => {
    await c?.close();
  });

  test('hands its ranges over, leaves the ring, and the remaining nodes hold every key', async () => {
    const keys = Array.from({ length: 120 }, (_, i) => `leave-${i}`);
    for (const [i, k] of keys.entries()) {
      const put = await c.http(i % 4, 'PUT', k, { body: `v${i}`, consistency: 'ALL' });
      assert.equal(put.status, 200, JSON.stringify(put.body));
    }
    const versionBefore = ((await c.getJson(0, '/api/v1/cluster/status')) as { ring_version: number }).ring_version;
    const r = await c.post(3, '/api/v1/admin/decommission');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const b = r.body as { status: string; ranges: number; records: number; sent: number; changed: number; peers_told: number };
    assert.equal(b.status, 'left');
    assert.equal(b.peers_told, 3, 'every other node heard it from node-3 itself');
    // Each key was on 3 of 4 nodes; node-3 held about 3/4 of them and each of those had exactly one
    // node that lacked it: the one that replaces node-3 in its preference list.
    assert.ok(b.records >= keys.length / 2 && b.records <= keys.length, `records ${b.records}`);
    assert.equal(b.sent, b.records, 'one new replica per record');
    assert.equal(b.changed, b.sent, 'every copy sent was new to its receiver');

    // At once, not after gossip rounds: an operator stops the process as soon as the decommission
    // answers, and a node that had not heard LEFT by then would keep node-3 in its ring.
    assert.deepEqual((await Promise.all([0, 1, 2].map((i) => c.statuses(i)))).map((s) => s['node-3']), ['left', 'left', 'left']);
    const status = (await c.getJson(0, '/api/v1/cluster/status')) as { ring_version: number; nodes: Array<{ id: string; tokens: string[] }> };
    assert.ok(status.ring_version > versionBefore, 'the ring changed');
    assert.deepEqual(status.nodes.find((n) => n.id === 'node-3')!.tokens, [], 'a left node owns no tokens');

    // With three nodes and N = 3 every node replicates every key, and a ONE read coordinated by a
    // replica asks only its own copy (read_repair_chance 0).
    for (const i of [0, 1, 2]) {
      for (const [k, key] of keys.entries()) {
        const got = await c.http(i, 'GET', key, { consistency: 'ONE' });
        assert.equal(got.status, 200, `${key} on node-${i}: ${JSON.stringify(got.body)}`);
        assert.equal(base64Text(got.body.value), `v${k}`);
      }
    }
    // The key count is over the ring's members: node-3's last estimate, kept in the table while it
    // is remembered as left, is not in it (it made the count a third too high).
    await waitFor('total_keys to count the three that remain', async () => {
      const st = (await c.getJson(0, '/api/v1/cluster/status')) as { total_keys: number };
      return Math.abs(st.total_keys - keys.length) <= keys.length * 0.05;
    }, 15_000);
    // A second decommission of the same node is refused; so is leaving a single-member ring.
    const again = await c.post(3, '/api/v1/admin/decommission');
    assert.equal(again.status, 400, JSON.stringify(again.body));

    // A replica write that reaches node-3 after its hand-over, as from a coordinator that has not
    // heard LEFT yet (sent here over the peer protocol, to node-3 alone): node-3 passes it on to
    // the node that replicates the key without it, and to no one else.
    const members = (n: number) => Array.from({ length: n }, (_, i) => ({ nodeId: `node-${i}`, vnodes: c.spec.vnodes }));
    const withNode3 = Ring.build(members(4), 1);
    const without3 = Ring.build(members(3), 2);
    const peer = new PeerConnection({ host: '127.0.0.1', port: c.nodes[3]!.peerPort, hello: { clusterName: c.clusterName, fromNode: 'node-0', toNode: 'node-3' } });
    const late = Array.from({ length: 24 }, (_, i) => `late-${i}`);
    try {
      for (const key of late) {
        const record = recordOf(coordinateWrite([], { nodeId: 'node-0', nowMs: Date.now(), mode: 'vclock', value: Buffer.from(key), tombstone: false, ttlMs: 0, context: null }).siblings);
        await peer.request({ kind: 'replicaWrite', key: Buffer.from(key), record: record.versionVector, value: record.value, recordTombstone: false }, 5000);
      }
    } finally {
      peer.close();
    }
    let forwarded = 0;
    for (const key of late) {
      const token = keyToken(Buffer.from(key));
      const holders = withNode3.preferenceList(token, 3);
      const successors = holders.includes('node-3') ? without3.preferenceList(token, 3).filter((id) => !holders.includes(id)) : [];
      assert.ok(successors.length <= 1, 'one node takes node-3\'s place');
      forwarded += successors.length;
      const holds = async (i: number): Promise<boolean> => (await c.http(i, 'GET', key, { consistency: 'ONE' })).status === 200;
      if (successors.length === 1) await waitFor(`${key} on ${successors[0]}`, () => holds(Number(successors[0]!.slice(5))), 10_000);
      for (const i of [0, 1, 2]) assert.equal(await holds(i), successors.includes(`node-${i}`), `${key} on node-${i}`);
    }
    assert.ok(forwarded > 0, 'node-3 replicated some of the late keys');
    assert.equal(await c.metric(3, 'ringkv_handover_forwards_total'), forwarded);

    // Stopped and started again on its data dir, node-3 would take its ranges back without the
    // writes made since it left (none streamed to it): the start is refused, and says what to do.
    const n3 = c.nodes[3]!;
    const exited = new Promise((r) => n3.proc!.once('exit', r));
    c.signal(3, 'SIGTERM');
    await exited;
    n3.log.length = 0;
    await assert.rejects(c.spawn(3), /exited \(1\) while starting/);
    assert.ok(fs.existsSync(`${n3.dataDir}/DECOMMISSIONED`));
    assert.match(n3.log.join(''), /data dir .* is that of a node decommissioned at \d{4}-.*start it with a new, empty data dir/s);
    assert.deepEqual((await Promise.all([0, 1, 2].map((i) => c.statuses(i)))).map((s) => s['node-3']), ['left', 'left', 'left']);
  });

  test('a node gone for good is removed through any node: refused while it lives, then out of every ring, and a repair restores ALL', async () => {
    // After the decommission above: node-0..2 in the ring, node-3 left. Add node-4, load keys
    // at ALL, then kill node-4 for good.
    const k = await c.addNode();
    await c.waitStatus([0, 1, 2], k, 'healthy', 20_000);
    await waitFor(`node-${k} to finish its bootstrap`, async () => (await c.metric(k, 'ringkv_bootstrap_state')) === 2, 30_000);
    const keys = Array.from({ length: 60 }, (_, i) => `gone-${i}`);
    for (const [i, key] of keys.entries()) assert.equal((await c.http(i % 3, 'PUT', key, { body: `g${i}`, consistency: 'ALL' })).status, 200);
    const del = (i: number, id: string) => c.delete(i, `/api/v1/cluster/nodes/${id}`);
    const alive = await del(0, `node-${k}`);
    assert.equal(alive.status, 409, JSON.stringify(alive.body));
    assert.match(String(alive.body.message), /is healthy, not dead/);
    assert.equal((await del(0, 'nobody')).status, 404);
    assert.equal((await del(0, 'node-0')).status, 400, 'not this node itself');
    await c.kill(k);
    await c.waitStatus([0, 1, 2], k, 'dead', 20_000);
    // With node-4 dead, a key it replicates cannot be read at ALL.
    const allFails = (await Promise.all(keys.map((key) => c.http(0, 'GET', key, { consistency: 'ALL' })))).filter((r) => r.status !== 200).length;
    assert.ok(allFails > 0, 'some keys were on the dead node');
    const removed = await del(1, `node-${k}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.deepEqual([removed.body.status, removed.body.previous_status], ['left', 'dead']);
    await c.waitStatus([0, 1, 2], k, 'left', 20_000);
    const again = await del(2, `node-${k}`);
    assert.deepEqual([again.status, again.body.previous_status], [200, 'left'], 'removing again changes nothing');
    // Its machine back after all, on its old data dir: the hints for it were dropped and its
    // ranges served by others since, so the cluster's word that it left refuses the start.
    const nk = c.nodes[k]!;
    nk.log.length = 0;
    await assert.rejects(c.spawn(k), /exited \(1\) while starting/);
    assert.match(nk.log.join(''), new RegExp(`the cluster holds node node-${k} as left .*start it with a new, empty data dir`, 's'));
    for (const i of [0, 1, 2]) assert.equal((await c.post(i, '/api/v1/admin/repair')).status, 200);
    for (const [i, key] of keys.entries()) {
      const got = await c.http(i % 3, 'GET', key, { consistency: 'ALL' });
      assert.equal(got.status, 200, `${key}: ${JSON.stringify(got.body)}`);
      assert.equal(base64Text(got.body.value), `g${i}`);
    }
  });

  test('a node removed while it was only silent (stopped past deadAfterMs) leaves its own ring as well when it hears of it', async () => {
    // After the test above: node-0..2 in the ring. A node paused past deadAfterMs (a long GC, a
    // frozen VM) is DEAD to the others and an operator may remove it; once it runs again it hears
    // itself LEFT. Kept in its own ring, it would go on storing writes it coordinates where no
    // other node reads them.
    const k = await c.addNode();
    await c.waitStatus([0, 1, 2], k, 'healthy', 20_000);
    await waitFor(`node-${k} to finish its bootstrap`, async () => (await c.metric(k, 'ringkv_bootstrap_state')) === 2, 30_000);
    c.signal(k, 'SIGSTOP');
    try {
      await c.waitStatus([0, 1, 2], k, 'dead', 20_000);
      const removed = await c.delete(0, `/api/v1/cluster/nodes/node-${k}`);
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
    } finally {
      c.signal(k, 'SIGCONT');
    }
    await waitFor(`node-${k} to hold itself left`, async () => (await c.statuses(k))[`node-${k}`] === 'left', 20_000);
    const own = (await c.getJson(k, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; tokens: string[] }> };
    assert.deepEqual(own.nodes.find((x) => x.id === `node-${k}`)!.tokens, [], 'out of its own ring');
    assert.match(c.nodes[k]!.log.join(''), /ERROR the cluster has removed this node/);
    const leave = await c.post(k, '/api/v1/admin/decommission');
    assert.equal(leave.status, 400);
    assert.match(JSON.stringify(leave.body), /is not in the ring: the cluster removed it/, 'its decommission says why, not "the last node"');
    // Gossip brings the removal to node-1 and node-2 as well (node-k may have heard it first), and
    // then all four nodes route by one ring: the three others'.
    await c.waitStatus([0, 1, 2], k, 'left', 20_000);
    type StatusDoc = { ring_digest: string; nodes: Array<{ status: string; ring_digest?: string }> };
    await waitFor('every node to route by one ring', async () => {
      const s = (await c.getJson(0, '/api/v1/cluster/status')) as StatusDoc;
      const removed = (await c.getJson(k, '/api/v1/cluster/status')) as StatusDoc;
      return new Set([...s.nodes.filter((x) => x.status === 'healthy').map((x) => x.ring_digest), removed.ring_digest]).size === 1;
    }, 20_000);
    // Its writes now go to the three nodes that replicate the key.
    const put = await c.http(k, 'PUT', 'after-removal', { body: 'r', consistency: 'ALL' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    for (const i of [0, 1, 2]) assert.equal((await c.replica(i, 'after-removal')).values.join(), 'r', `on node-${i}`);
    await c.kill(k);
    // Its data dir says so itself, whatever the others still remember of it (they forget a left
    // node after the longest grace, and would then take it back with this data).
    const again = await c.startStray({ sameIdAs: k, dataDir: c.nodes[k]!.dataDir });
    assert.notEqual(again.code, 0, again.output);
    assert.match(again.output, /is that of a node the cluster removed \(DELETE \/api\/v1\/cluster\/nodes\) while it still ran/);
  });

  test('the admin commands: status shows each node\'s effective ownership; addnode, decommission, removenode and repair do what their endpoints do', async () => {
    // After the tests above: node-0..2 in the ring, node-3, node-4 and node-5 left.
    const at = (i: number) => ['--node', `127.0.0.1:${c.nodes[i]!.port}`];
    const status = await c.cli(['status', ...at(0)]);
    assert.equal(status.code, 0, status.stderr);
    const lines = status.stdout.trim().split('\n');
    assert.match(lines[0]!, new RegExp(`^cluster ${c.clusterName}, ring [0-9a-f]{8} \\(version \\d+ on this node\\), replication 3, about \\d+ keys$`));
    // The clock column: node-0 has measured its peers' clocks by now (gossip, long since).
    assert.match(lines[1]!, /^status\s+node\s+address\s+load\s+data\s+tokens\s+owns \(effective\)\s+disk used\s+clock$/);
    // Columns are two or more spaces apart (a cell such as "1.2 MiB" holds one).
    const row = (id: string) => lines.find((l) => l.split(/\s{2,}/)[1] === id)?.split(/\s{2,}/);
    for (const i of [0, 1, 2]) {
      const r = row(`node-${i}`);
      assert.deepEqual([r?.[0], r?.[5], r?.[6]], ['healthy', '8', '100.0%'], `node-${i}: every key on each of three nodes`);
      assert.match(r?.[4] ?? '', /^\d+(\.\d KiB| B|\.\d MiB)$/, `node-${i}'s data on disk`);
      assert.match(r?.[7] ?? '', /^\d{1,3}%$/, `node-${i}'s file system, used`);
    }
    assert.deepEqual([row('node-3')?.[0], row('node-3')?.[5], row('node-3')?.[6]], ['left', '0', '-']);

    type StatusDoc = { ring_digest: string; nodes: Array<{ status: string; ring_digest?: string }> };
    const ringOfThree = ((await c.getJson(0, '/api/v1/cluster/status')) as StatusDoc).ring_digest;
    const k = await c.addNode({ alone: true });
    const n = c.nodes[k]!;
    const added = await c.cli(['addnode', n.id, `127.0.0.1:${n.port}:${n.peerPort}`, '--vnodes', '8', ...at(1)]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, new RegExp(`^addnode: ${n.id} at 127\\.0\\.0\\.1:${n.port} is healthy with 8 vnodes; ring version \\d+\\n$`));
    await c.waitStatus([0, 1, 2], k, 'healthy', 20_000);
    await waitFor(`${n.id} to finish its bootstrap`, async () => (await c.metric(k, 'ringkv_bootstrap_state')) === 2, 30_000);
    // The join has reached every node once they all name one ring, each its own version of it;
    // each node's row carries the digest of its ring as its gossip says.
    let ringOfFour = '';
    await waitFor('every node to hold the ring of four', async () => {
      const views = (await Promise.all([0, 1, 2, k].map((i) => c.getJson(i, '/api/v1/cluster/status')))) as StatusDoc[];
      const digests = new Set(views.flatMap((v) => [v.ring_digest, ...v.nodes.filter((x) => x.status === 'healthy').map((x) => x.ring_digest)]));
      ringOfFour = views[0]!.ring_digest;
      return digests.size === 1 && !digests.has(undefined);
    }, 20_000);
    assert.notEqual(ringOfFour, ringOfThree);
    for (const i of [0, 1, 2, k]) assert.equal(await c.metric(i, 'ringkv_ring_digest'), Number.parseInt(ringOfFour, 16), `node ${i}'s ringkv_ring_digest`);
    const withFour = JSON.parse((await c.cli(['status', '--json', ...at(0)])).stdout) as { nodes: Array<{ id: string; status: string }> };
    assert.equal(withFour.nodes.filter((x) => x.status === 'healthy').length, 4);
    const owns = (await c.cli(['status', ...at(0)])).stdout.split('\n').filter((l) => l.startsWith('healthy '));
    const shares = owns.map((l) => Number(l.trim().split(/\s{2,}/)[6]!.replace('%', '')));
    assert.equal(shares.length, 4, owns.join('\n'));
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 300) < 0.5, `four nodes hold three copies: ${shares.join(', ')}`);

    const left = await c.cli(['decommission', ...at(k), '--json']);
    assert.equal(left.code, 0, left.stderr);
    assert.equal((JSON.parse(left.stdout) as { status: string }).status, 'left');
    await c.waitStatus([0, 1, 2], k, 'left', 20_000);
    const twice = await c.cli(['decommission', ...at(k)]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /^ringkv decommission: .*\(HTTP 400 invalid_argument\)\n$/);
    // Added again while its left process still runs: refused, not answered as a join.
    const readded = await c.cli(['addnode', n.id, `127.0.0.1:${n.port}:${n.peerPort}`, ...at(0)]);
    assert.equal(readded.code, 1, readded.stdout);
    assert.match(readded.stderr, new RegExp(`^ringkv addnode: ${n.id} at 127\\.0\\.0\\.1:${n.port}:${n.peerPort} has left this cluster .*start it on a new, empty data dir.*\\(HTTP 409 conflict\\)\\n$`));
    const nobody = await c.cli(['removenode', 'nobody', ...at(2)]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /\(HTTP 404 not_found\)/);
    const again = await c.cli(['removenode', n.id, ...at(2)]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`^removenode: ${n.id} is left \\(was left\\)`));
    const repair = await c.cli(['repair', ...at(0)]);
    assert.equal(repair.code, 0, repair.stderr);
    assert.match(repair.stdout, /^repair: (\d+) of \1 ranges synced, 0 without a live replica, 0 failed; \d+ records pulled, \d+ pushed in \d+ ms\n$/);
    assert.equal((await c.cli(['decommission'])).code, 2, 'decommission never goes to a default address');

    // --all: every member --node's status has up (those that left are no members).
    const snap = await c.cli(['snapshot', 'nightly', '--all', ...at(1)]);
    assert.equal(snap.code, 0, snap.stderr);
    const made = snap.stdout.trim().split('\n').sort();
    assert.deepEqual(made.map((l) => l.split(':')[0]), ['node-0', 'node-1', 'node-2']);
    for (const i of [0, 1, 2]) {
      assert.ok(made[i]!.startsWith(`node-${i}: snapshot: nightly at ${c.nodes[i]!.dataDir}/snapshots/nightly: `), made[i]);
      assert.ok(fs.existsSync(`${c.nodes[i]!.dataDir}/snapshots/nightly/NODE_ID`));
      // Its own time, and the time since which the node's ranges had been synced then: no later.
      const lastRun = Number(fs.readFileSync(`${c.nodes[i]!.dataDir}/snapshots/nightly/LAST_RUN`, 'utf8'));
      const syncedSince = Number(fs.readFileSync(`${c.nodes[i]!.dataDir}/snapshots/nightly/SYNCED_SINCE`, 'utf8'));
      assert.ok(syncedSince > 0 && syncedSince <= lastRun, `node-${i}: SYNCED_SINCE ${syncedSince}, LAST_RUN ${lastRun}`);
      // And the members it knew, with their graces: a node restored from it starts with its ring.
      const peers = JSON.parse(fs.readFileSync(`${c.nodes[i]!.dataDir}/snapshots/nightly/PEERS`, 'utf8')) as { peers: Array<{ node_id: string; tombstone_grace_ms?: number }> };
      assert.ok(['node-0', 'node-1', 'node-2'].every((id) => peers.peers.some((p) => p.node_id === id && p.tombstone_grace_ms === 864_000_000)), JSON.stringify(peers));
    }
    const scrubAll = await c.cli(['scrub', '--all', '--json', ...at(0)]);
    assert.equal(scrubAll.code, 0, scrubAll.stderr);
    assert.deepEqual(scrubAll.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { node: string }).node), ['node-0', 'node-1', 'node-2'], 'in turn, in status order');
    c.signal(2, 'SIGSTOP');
    try {
      await c.waitStatus([0], 2, 'suspect', 10_000);
      const partial = await c.cli(['flush', '--all', ...at(0)]);
      assert.equal(partial.code, 1, 'a member left out fails the run');
      assert.match(partial.stderr, new RegExp(`ringkv flush: node-2 at 127\\.0\\.0\\.1:${c.nodes[2]!.port} is suspect: left out`));
      assert.deepEqual(partial.stdout.trim().split('\n').map((l) => l.split(':')[0]).sort(), ['node-0', 'node-1']);
    } finally {
      c.signal(2, 'SIGCONT');
    }
  });
});
