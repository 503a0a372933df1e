// A cluster node's /metrics as Prometheus reads it (helpers/prometheus_lint.ts): after writes and
// reads through every node, with one node stopped for a while (hints stored and delivered), every
// family has its HELP and TYPE, the coordinator's, gossip's, the peer links' and the hints' counts
// are counters named _total, nothing the coordinator reports is left undescribed
// (server/metric_catalog.ts), and each node has the round trips of its replica writes to the
// others. The single node's exposition is checked in test/process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lintExposition } from '../helpers/prometheus_lint';
import { TestCluster, waitFor } from '../helpers/cluster';

describe('a 3-node cluster\'s /metrics', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3 });
  });
  after(async () => {
    await c?.close();
  });

  const scrape = async (i: number): Promise<string> => (await fetch(`http://127.0.0.1:${c.nodes[i]!.port}/metrics`, { signal: AbortSignal.timeout(5000) })).text();

  test('is well formed on every node, and counts events as counters', async () => {
    for (let i = 0; i < 12; i++) assert.equal((await c.http(i % 3, 'PUT', `m-${i}`, { body: `v${i}`, consistency: 'ALL' })).status, 200);
    c.signal(2, 'SIGSTOP');
    for (let i = 0; i < 6; i++) assert.equal((await c.http(i % 2, 'PUT', `h-${i}`, { body: `v${i}`, consistency: 'QUORUM' })).status, 200);
    // The stopped replica's writes time out (the cluster's request timeout) and become hints.
    await waitFor('hints stored', async () => (await c.metric(0, 'ringkv_hints_queued')) + (await c.metric(1, 'ringkv_hints_queued')) > 0, 15_000);
    c.signal(2, 'SIGCONT');
    await waitFor('hints delivered', async () => (await c.metric(0, 'ringkv_hints_queued')) + (await c.metric(1, 'ringkv_hints_queued')) === 0, 15_000);
    for (let i = 0; i < 12; i++) assert.equal((await c.http(i % 3, 'GET', `m-${i}`, { consistency: 'QUORUM' })).status, 200);

    for (const i of [0, 1, 2]) {
      const text = await scrape(i);
      assert.deepEqual(lintExposition(text), [], `node-${i}`);
      for (const name of ['coordinated_writes', 'coordinated_reads', 'gossip_rounds', 'internode_requests', 'replica_batches_sent']) {
        assert.match(text, new RegExp(`^# TYPE ringkv_${name}_total counter$`, 'm'), `node-${i} ${name}`);
        assert.ok((await c.metric(i, `ringkv_${name}_total`)) > 0, `node-${i} ${name}`);
      }
      // Every node coordinated writes at ALL: it has the round trips of its replica writes to each other node.
      for (const j of [0, 1, 2].filter((j) => j !== i)) {
        const trips = new RegExp(`^ringkv_internode_round_trip_seconds_count\\{peer="${c.nodes[j]!.id}",kind="replicaWriteBatch"\\} (\\d+)$`, 'm').exec(text);
        assert.ok(trips !== null && Number(trips[1]) > 0, `node-${i}'s round trips to node-${j}`);
      }
      assert.match(text, /^# TYPE ringkv_ring_version gauge$/m);
      assert.match(text, /^# TYPE ringkv_peer_connections gauge$/m);
    }
    const stored = (await c.metric(0, 'ringkv_hints_stored_total')) + (await c.metric(1, 'ringkv_hints_stored_total'));
    const delivered = (await c.metric(0, 'ringkv_hints_delivered_total')) + (await c.metric(1, 'ringkv_hints_delivered_total'));
    assert.ok(stored > 0 && delivered > 0, `hints stored ${stored}, delivered ${delivered}`);
  });
});
