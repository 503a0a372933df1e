// Clusters started without --cluster-name (cluster_name.ts): each gets a name of its own, made up
// by the node that seeds itself and taken from the seed by the nodes that join through it, so two
// such clusters are still two: a node of one started with the other's seed is refused, where a
// shared default name let them merge.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../helpers/cli';
import { advertisedPeerPort, TestCluster } from '../helpers/cluster';
import { freePort } from '../helpers/ports';

describe('two 2-node clusters, neither given a name', () => {
  let a: TestCluster;
  let b: TestCluster;
  before(async () => {
    a = await TestCluster.start({ nodes: 2, unnamed: true });
    b = await TestCluster.start({ nodes: 2, unnamed: true });
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  const nameOf = (c: TestCluster, i: number): string => fs.readFileSync(path.join(c.nodes[i]!.dataDir, 'CLUSTER_NAME'), 'utf8').trim();

  test('each has a name of its own: its first node made it up, the other took it from its seed', async () => {
    for (const c of [a, b]) {
      assert.match(nameOf(c, 0), /^ringkv-[0-9a-f]{8}$/);
      assert.equal(nameOf(c, 1), nameOf(c, 0));
      assert.ok(c.nodes[1]!.log.some((l) => l.includes(`cluster name: ${nameOf(c, 0)}, from seed 127.0.0.1:${advertisedPeerPort(c.nodes[0]!)}`)), c.nodes[1]!.log.join('\n'));
      assert.equal(((await c.getJson(1, '/api/v1/cluster/status')) as { cluster_name: string }).cluster_name, nameOf(c, 0));
      assert.ok(c.nodes[0]!.log.some((l) => l.includes("internode: told node node-1 at 127.0.0.1:") && l.includes("this node's cluster name")), c.nodes[0]!.log.join('\n'));
      assert.equal(await c.metric(0, 'ringkv_internode_connections_refused_total'), 0, 'asking is not a refusal');
    }
    assert.notEqual(nameOf(a, 0), nameOf(b, 0));
  });

  test("a node of one started with the other's seed refuses to start: the clusters do not merge", async () => {
    const n = b.nodes[1]!;
    await b.kill(1);
    const seed = a.nodes[0]!;
    const r = await runCli(
      ['start', '--port', String(await freePort()), '--peer-port', String(await freePort()), '--data-dir', n.dataDir, '--shards', '1', '--sync-mode', 'none', '--seeds', `127.0.0.1:${seed.port}:${advertisedPeerPort(seed)}`],
      {},
      20_000,
    );
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`is in another cluster than this node's \\(${nameOf(b, 0)}\\)`));
    const status = (await a.getJson(0, '/api/v1/cluster/status')) as { nodes: Array<{ id: string }> };
    assert.equal(status.nodes.length, 2, 'cluster a took no node of b');
  });
});
