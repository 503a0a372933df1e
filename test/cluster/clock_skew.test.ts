// Wall clocks that disagree. Gossip orders a node's processes by incarnation, the wall-clock ms
// at which each started (membership/types.ts), so a node restarted while its clock reads earlier
// than at its previous start (a clock that ran fast and was corrected, a VM booted before its
// clock was synced) must still be heard as the newer process. The node here is stopped and
// started again with its clock an hour behind (helpers/clock_skew.ts sets Date in its process),
// then with its clock 11 days ahead: to it, it has been away longer than the tombstone grace
// (10 days; given 12 it is still refused, since the others keep 10; allowed, it starts). With 12
// days among nodes of 10 it says so, and its deletes report the others' shorter grace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sleep, TestCluster, waitFor } from '../helpers/cluster';

const hourMs = 3_600_000;

describe('3-node cluster, a node restarted with its clock off: an hour behind, then 11 days ahead', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3 });
    assert.equal((await c.http(0, 'PUT', 'before-restart', { body: 'v0', consistency: 'ALL' })).status, 200);
    const proc = c.nodes[2]!.proc!;
    const exited = new Promise((r) => proc.once('exit', r));
    c.signal(2, 'SIGTERM');
    await exited;
    c.nodes[2]!.clockSkewMs = -hourMs;
    await c.spawn(2);
  });
  after(async () => {
    await c?.close();
  });

  test('the others hear it as the newer process: healthy again, writes at ALL reach it', async () => {
    // Past deadAfterMs: a process the others do not hear from is DEAD to them by then, even one
    // that answers replica requests at its address.
    await sleep(c.spec.deadAfterMs + 1000);
    await c.waitStatus([0, 1], 2, 'healthy', 5000);
    assert.equal((await c.http(0, 'PUT', 'after-restart', { body: 'v1', consistency: 'ALL' })).status, 200);
    assert.deepEqual((await c.replica(2, 'after-restart')).values, ['v1']);
    assert.deepEqual((await c.replica(2, 'before-restart')).values, ['v0']);
    // Nothing mistook its own earlier process for another node with its id; it said what it did.
    assert.equal(await c.metric(2, 'ringkv_membership_id_conflicts_total'), 0);
    assert.match(c.nodes[2]!.log.join(''), /WARN gossip knows this node from an earlier process at this address .* is the clock behind\?/);
  });

  test('every node measures the others\' clocks: node-2 an hour behind, the rest together; each says so', async () => {
    const offsets = async (i: number): Promise<Record<string, number | undefined>> => {
      const s = (await c.getJson(i, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; clock_offset_ms?: number }> };
      return Object.fromEntries(s.nodes.map((n) => [n.id, n.clock_offset_ms]));
    };
    // Gossip picks peers at random: wait until each node has exchanged with both others.
    await waitFor('every node measuring both others', async () => (await Promise.all([0, 1, 2].map(offsets))).every((o) => Object.values(o).filter((v) => v !== undefined).length === 2), 15_000);
    const near = (actual: number | undefined, expected: number): boolean => actual !== undefined && Math.abs(actual - expected) < 2000;
    const [o0, o1, o2] = await Promise.all([0, 1, 2].map(offsets));
    assert.equal(o0!['node-0'], undefined, 'a node does not measure itself');
    assert.ok(near(o0!['node-2'], -hourMs) && near(o1!['node-2'], -hourMs), `node-2 an hour behind on node-0 and node-1: ${JSON.stringify([o0, o1])}`);
    assert.ok(near(o2!['node-0'], hourMs) && near(o2!['node-1'], hourMs), `node-0 and node-1 an hour ahead on node-2: ${JSON.stringify(o2)}`);
    assert.ok(near(o0!['node-1'], 0) && near(o1!['node-0'], 0), `node-0 and node-1 together: ${JSON.stringify([o0, o1])}`);

    const text = await (await fetch(`http://127.0.0.1:${c.nodes[0]!.port}/metrics`)).text();
    const gauge = (name: string, node: string): number => Number(new RegExp(`^${name}\\{node="${node}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.ok(Math.abs(gauge('ringkv_peer_clock_offset_seconds', 'node-2') + 3600) < 2, text);
    assert.ok(Math.abs(gauge('ringkv_peer_clock_offset_seconds', 'node-1')) < 2, text);
    assert.ok(gauge('ringkv_peer_clock_uncertainty_seconds', 'node-2') >= 0, text);

    // Warned of once per peer, by the nodes that see it off; never of the pair that agrees.
    const warnings = (i: number): string[] => c.nodes[i]!.log.join('').split('\n').filter((l) => l.includes('clock: WARN'));
    assert.equal(warnings(0).length, 1, warnings(0).join('\n'));
    assert.match(warnings(0)[0]!, /node-2's clock is \d+ ms behind this node's/);
    assert.match(warnings(1).join('\n'), /node-2's clock is \d+ ms behind/);
    assert.ok(warnings(1).every((l) => l.includes('node-2')), warnings(1).join('\n'));
    assert.deepEqual(warnings(2).map((l) => /(node-\d)'s clock is \d+ ms ahead/.exec(l)?.[1]).sort(), ['node-0', 'node-1']);
  });

  test('started again 11 days after it last ran, past the tombstone grace: refused, the data dir untouched; a 12-day grace of its own is not enough; allowed, it starts and says whose grace decides', async () => {
    // Its clock says 11 days have passed since its LAST_RUN (coordinator/last_run.ts): deletes
    // made meanwhile may be purged on the others, and its copies of their keys would come back.
    const n = c.nodes[2]!;
    const lastRunFile = path.join(n.dataDir, 'LAST_RUN');
    const stop = async (): Promise<void> => {
      const proc = n.proc!;
      const exited = new Promise((r) => proc.once('exit', r));
      c.signal(2, 'SIGTERM');
      await exited;
    };
    await stop();
    const recorded = fs.readFileSync(lastRunFile, 'utf8');
    n.clockSkewMs = 11 * 24 * hourMs;
    n.log.length = 0;
    await assert.rejects(c.spawn(2), /exited \(1\) while starting/);
    assert.match(n.log.join(''), /last ran in the cluster at .*, 11\.0 days ago, longer than the tombstone grace \(10\.0 days, --tombstone-grace-seconds\).*--allow-stale-data on/s);
    assert.equal(fs.readFileSync(lastRunFile, 'utf8'), recorded, 'a refused start records no run');

    // 12 days for it alone does not let it in: the others keep 10 (its PEERS recorded theirs), and
    // the first replica to purge a tombstone is the one that matters (last_run.ts startGrace).
    n.extraArgs = [...n.extraArgs, '--tombstone-grace-seconds', String(12 * 24 * 3600)];
    n.log.length = 0;
    await assert.rejects(c.spawn(2), /exited \(1\) while starting/);
    assert.match(n.log.join(''), /11\.0 days ago, longer than the tombstone grace \(10\.0 days, node-[01]'s --tombstone-grace-seconds as this node last knew it, shorter than its own\)/);
    assert.equal(fs.readFileSync(lastRunFile, 'utf8'), recorded, 'a refused start records no run');

    // Allowed, it starts and says so. Its deletes say when their tombstones may go: after the
    // others' 10 days, the shortest, which it warns of.
    n.extraArgs = [...n.extraArgs, '--allow-stale-data', 'on'];
    n.log.length = 0;
    await c.spawn(2);
    assert.match(n.log.join(''), /WARN data dir .* 11\.0 days ago.*starting as --allow-stale-data says/);
    await c.waitStatus([0, 1], 2, 'healthy', 15_000);
    await waitFor("node-2 hearing the others' grace", async () => (await c.metric(2, 'ringkv_tombstone_grace_seconds')) === 10 * 24 * 3600, 15_000);
    const deleted = await c.http(2, 'DELETE', 'before-restart', { consistency: 'ALL' });
    assert.equal(deleted.status, 200);
    assert.equal(Number(deleted.body['tombstone_expiry']) - Number(deleted.body['timestamp']), 10 * 24 * hourMs);
    const graceLines = (i: number): string[] => c.nodes[i]!.log.join('').split('\n').filter((l) => l.includes('tombstone grace: '));
    assert.equal(graceLines(2).length, 1, graceLines(2).join('\n'));
    assert.match(graceLines(2)[0]!, /WARN tombstone grace: node node-[01] purges tombstones 10\.0 days after their deletes, this node 12\.0 days after/);
    assert.deepEqual([...graceLines(0), ...graceLines(1)], [], 'the nodes with the shortest grace have nothing to say');
    const graces = async (): Promise<Record<string, number | undefined>> => {
      const s = (await c.getJson(0, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; tombstone_grace_seconds?: number }> };
      return Object.fromEntries(s.nodes.map((x) => [x.id, x.tombstone_grace_seconds]));
    };
    // node-0 may still hold node-2's entry from before the restart: wait for the new one.
    await waitFor("node-0 hearing node-2's grace", async () => (await graces())['node-2'] === 12 * 24 * 3600, 15_000);
    assert.deepEqual(await graces(), { 'node-0': 864_000, 'node-1': 864_000, 'node-2': 12 * 24 * 3600 });
    assert.ok(Number(fs.readFileSync(lastRunFile, 'utf8')) > Date.now() + 10 * 24 * hourMs, 'this run recorded, by its clock');
  });
});
