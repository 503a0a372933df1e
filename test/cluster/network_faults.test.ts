// A real 3-node cluster whose inter-node links run through fault proxies (test/helpers/
// fault_proxy.ts; each node advertises its proxy with --advertise), for the network faults a
// SIGSTOP cannot show: a node that nobody can reach while it still reaches everyone (its inbound
// links cut off, without resets, so gossip keeps hearing from it and it never looks down), and
// links that keep resetting under load. What must hold: QUORUM goes on, ALL fails within its
// timeout with a clear error, nothing hangs, replies that arrive after their request gave up
// harm nothing, acknowledged writes stay readable, and the cut-off replica gets the writes it
// missed from hints once it can be reached (gossip never had it down), with no repair. Meanwhile
// gossip tells it that it is behind: its reads ask the others first, and a write it coordinates
// reads the key from them first, so it replaces a write it missed instead of standing beside it
// as a sibling.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { base64Text, sleep, TestCluster, waitFor } from '../helpers/cluster';
import { runCli } from '../helpers/cli';

describe('3-node cluster with its peer links behind fault proxies', () => {
  let c: TestCluster;
  before(async () => {
    // Read repair and anti-entropy off: only what a test causes moves data.
    c = await TestCluster.start({ nodes: 3, peerProxies: true, readRepairChance: 0, requestTimeoutMs: 1000 });
  });
  after(async () => {
    await c?.close();
  });

  test('a node nobody can reach, while it still reaches them: QUORUM works, ALL fails in time, hints heal it', async () => {
    const proxy = c.nodes[2]!.proxy!;
    for (let i = 0; i < 10; i++) assert.equal((await c.http(0, 'PUT', `before-${i}`, { body: `b${i}`, consistency: 'ALL' })).status, 200);

    proxy.cutOff();
    try {
      for (let i = 0; i < 20; i++) {
        const put = await c.http(i % 2, 'PUT', `cut-${i}`, { body: `c${i}`, consistency: 'QUORUM' });
        assert.equal(put.status, 200, JSON.stringify(put.body));
      }
      // node-2 still coordinates: its own links out work, and the answers come back on them.
      const through2 = await c.http(2, 'PUT', 'cut-via-2', { body: 'v2', consistency: 'QUORUM' });
      assert.equal(through2.status, 200, JSON.stringify(through2.body));
      // ALL needs node-2's answer, which cannot come: an error within the request timeout, not a hang.
      for (const [method, key] of [['PUT', 'cut-all'], ['GET', 'before-0']] as const) {
        const all = await c.http(0, method, key, { body: method === 'PUT' ? 'x' : undefined, consistency: 'ALL' });
        assert.ok(all.status === 504 || all.status === 503, `${method} at ALL: ${all.status} ${JSON.stringify(all.body)}`);
        assert.match(String(all.body.message), /needs 3 (of 3 )?replicas/);
      }
      // A client that waits less than the node's own 1 s says so: the node answers before its time
      // is up, naming how many replicas answered.
      const quick = await c.http(0, 'GET', 'before-0', { consistency: 'ALL', headers: { 'X-Timeout-Ms': '300' } });
      assert.equal(quick.status, 504, JSON.stringify(quick.body));
      const withinMs = Number(/needs 3 replicas, 2 answered within (\d+) ms/.exec(String(quick.body.message))?.[1]);
      assert.ok(withinMs > 200 && withinMs < 300, String(quick.body.message));
      for (let i = 0; i < 20; i++) {
        const got = await c.http(1, 'GET', `cut-${i}`, { consistency: 'QUORUM' });
        assert.equal(got.status, 200);
        assert.equal(base64Text(got.body.value), `c${i}`);
      }
      // node-2 stays ALIVE everywhere: its own gossip gets out. Its missed writes became hints.
      for (const i of [0, 1]) assert.equal((await c.statuses(i))['node-2'], 'healthy');
      assert.ok((await c.metric(0, 'ringkv_hints_queued')) + (await c.metric(1, 'ringkv_hints_queued')) > 0, 'hints kept for node-2');

      // node-2 hears through gossip that it is behind. A write it coordinates now reads the key
      // from the others first, so it replaces the write acknowledged before it instead of
      // standing beside it as a sibling (its stale copy would have given it a concurrent clock).
      assert.equal((await c.http(0, 'PUT', 'overwritten-via-2', { body: 'first', consistency: 'QUORUM' })).status, 200);
      assert.deepEqual((await c.replica(2, 'overwritten-via-2')).values, [], 'node-2 missed the first write');
      await waitFor('node-2 seeing itself behind', async () => ((await c.getJson(2, '/api/v1/cluster/status')) as { nodes: Array<{ id: string; behind?: boolean }> }).nodes.some((n) => n.id === 'node-2' && n.behind === true), 10_000);
      // Its reads ask the others first: a ONE read of a write it missed finds it.
      assert.deepEqual((await c.replica(2, 'cut-0')).values, []);
      // What an operator sees: `ringkv replica --all` shows which copy lacks the write.
      const copies = await runCli(['replica', 'cut-0', '--all', '--node', `127.0.0.1:${c.nodes[0]!.port}`]);
      assert.equal(copies.code, 0, copies.stderr);
      const heads = copies.stdout.split('\n').filter((l) => / replica: /.test(l)).sort();
      assert.deepEqual(heads.map((l) => l.replace(/; the key's replicas: .*/, '')), ['node-0: replica: 1 version here', 'node-1: replica: 1 version here', 'node-2: replica: no version here']);
      assert.equal(base64Text((await c.http(2, 'GET', 'cut-0', { consistency: 'ONE' })).body.value), 'c0');
      const pulls = await c.metric(2, 'ringkv_behind_pulls_total');
      assert.equal((await c.http(2, 'PUT', 'overwritten-via-2', { body: 'second', consistency: 'QUORUM' })).status, 200);
      assert.equal((await c.metric(2, 'ringkv_behind_pulls_total')) - pulls, 1);
      const after = await c.http(1, 'GET', 'overwritten-via-2', { consistency: 'QUORUM' });
      assert.equal(base64Text(after.body.value), 'second');
      assert.equal(after.body.siblings, undefined, `one version, not siblings: ${JSON.stringify(after.body)}`);
      // The held requests are dropped, as if TCP had given up on them: node-2 never gets them.
      proxy.resetAll();
    } finally {
      proxy.heal();
    }

    // node-2's copy, read alone (a read it coordinates asks the others first while it is behind).
    const missing = async (): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < 20; i++) if ((await c.replica(2, `cut-${i}`)).values.join() !== `c${i}`) out.push(`cut-${i}`);
      return out;
    };
    // Links back: the hints are delivered (the replay timer retries them), and ALL works again.
    await waitFor('node-2 to hold every write it missed', async () => (await missing()).length === 0, 15_000);
    assert.ok((await c.metric(0, 'ringkv_hints_delivered_total')) + (await c.metric(1, 'ringkv_hints_delivered_total')) >= 20);
    await waitFor('an ALL write through node-0', async () => (await c.http(0, 'PUT', 'healed', { body: 'h', consistency: 'ALL' })).status === 200, 15_000);
    for (let i = 0; i < 20; i++) assert.equal(base64Text((await c.http(2, 'GET', `cut-${i}`, { consistency: 'ONE' })).body.value), `c${i}`);
    for (let i = 0; i < 10; i++) assert.equal(base64Text((await c.http(0, 'GET', `before-${i}`, { consistency: 'ALL' })).body.value), `b${i}`);
    await c.waitConverged(10_000);
  });

  test('links that keep resetting under load: only unavailable or timeout errors, every acknowledged write readable, links reconnect', async () => {
    const proxies = c.nodes.map((n) => n.proxy!);
    const acceptedBefore = proxies.map((p) => p.accepted);
    for (const p of proxies) p.delayMs = 5; // requests in flight when a reset lands
    let resets = 0;
    const flapping = setInterval(() => {
      resets++;
      for (const p of proxies) p.resetAll();
    }, 150);
    const acked = new Map<string, string>();
    const errors = new Map<string, number>();
    try {
      const deadline = Date.now() + 4000;
      for (let i = 0; i < 400 && Date.now() < deadline; i++) {
        const key = `flap-${i % 40}`;
        const body = `f${i}`;
        const put = await c.http(i % 3, 'PUT', key, { body, consistency: 'QUORUM' });
        if (put.status === 200) acked.set(key, body);
        else errors.set(`${put.status} ${String(put.body.error)}`, (errors.get(`${put.status} ${String(put.body.error)}`) ?? 0) + 1);
      }
    } finally {
      clearInterval(flapping);
      for (const p of proxies) p.delayMs = 0;
    }
    assert.ok(resets >= 10, `${resets} rounds of resets`);
    assert.ok(acked.size >= 20, `${acked.size} keys written: ${JSON.stringify([...errors])}`);
    for (const e of errors.keys()) assert.match(e, /^(503 unavailable|504 timeout)$/, JSON.stringify([...errors]));
    // Every node's links were opened again after being reset.
    proxies.forEach((p, i) => assert.ok(p.accepted - acceptedBefore[i]! >= 5, `node-${i}'s proxy accepted ${p.accepted - acceptedBefore[i]!} new connections`));
    await sleep(200);
    await c.waitConverged(15_000);
    // A later write to a key may have failed after reaching some replicas (it may have applied),
    // so the read returns the last acknowledged value or a later attempt at the same key.
    for (const [key, body] of acked) {
      const got = await c.http(Number(key.slice(5)) % 3, 'GET', key, { consistency: 'QUORUM' });
      assert.equal(got.status, 200, key);
      const n = (s: string): number => Number(s.slice(1));
      assert.ok(n(base64Text(got.body.value)) >= n(body), `${key}: read ${base64Text(got.body.value)}, last acknowledged ${body}`);
    }
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`http://127.0.0.1:${c.nodes[i]!.port}/health`)).status, 200);
  });
});
