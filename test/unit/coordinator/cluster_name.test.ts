// The name a new cluster node takes when given none (cluster_name.ts), against real sockets: its
// seed's, asked with a Hello the seed refuses with its name; none to ask when its only seed is
// itself; and a clear refusal, within the wait, when no seed answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterNameFromSeeds, newClusterName } from '../../../src/coordinator/cluster_name';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { InternodeServer } from '../../../src/protocol/internode_server';
import { freePort } from '../../helpers/ports';
import * as net from 'node:net';

test('a new node takes the name of the cluster its seed is in', async () => {
  const told: string[] = [];
  const seed = new InternodeServer({ host: '127.0.0.1', port: 0, clusterName: 'prod-eu', nodeId: 'n1', handler: async (req) => ({ kind: req.kind }), log: (l) => told.push(l) });
  const port = await seed.listen();
  try {
    const lines: string[] = [];
    const name = await clusterNameFromSeeds([{ host: '127.0.0.1', peerPort: port }], { host: '127.0.0.1', peerPort: port + 1 }, 'n2', (l) => lines.push(l), 5_000);
    assert.equal(name, 'prod-eu');
    assert.deepEqual(lines, [`cluster name: prod-eu, from seed 127.0.0.1:${port} (recorded in the data dir)`]);
    assert.equal(seed.stats.connectionsRefused, 0, 'asking is not counted as a refusal');
    assert.ok(told.some((l) => l.includes("told node n2 at 127.0.0.1:") && l.includes("this node's cluster name")), told.join('\n'));
  } finally {
    await seed.close();
  }
});

test('a first node, seeding only itself, has no one to ask; a made-up name is ringkv- and 8 hex digits', async () => {
  assert.equal(await clusterNameFromSeeds([{ host: '127.0.0.1', peerPort: 9 }], { host: '127.0.0.1', peerPort: 9 }, 'n1', () => {}), null);
  assert.equal(await clusterNameFromSeeds([], { host: '127.0.0.1', peerPort: 9 }, 'n1', () => {}), null);
  const a = newClusterName();
  assert.match(a, /^ringkv-[0-9a-f]{8}$/);
  assert.notEqual(newClusterName(), a);
});

test('no seed answering within the wait is a refusal that says what to do', async () => {
  const port = await freePort(); // nothing listens there
  await assert.rejects(
    clusterNameFromSeeds([{ host: '127.0.0.1', peerPort: port }], { host: '127.0.0.1', peerPort: port + 1 }, 'n2', () => {}, 300),
    (e: unknown) => isRingkvError(e, ErrorCode.Unavailable) && /no seed \(127\.0\.0\.1:\d+\) answered within 300 ms .*--cluster-name/.test((e as Error).message),
  );
});

test('the wait is elapsed time: the wall clock stepped an hour ahead while no seed answers does not end it at once', async () => {
  // A machine's clock is often stepped at its first start, when this wait runs.
  let asked = 0;
  const silent = net.createServer((sock) => {
    asked++;
    sock.destroy();
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as net.AddressInfo).port;
  const wallNow = Date.now;
  let calls = 0;
  Date.now = () => wallNow() + (calls++ > 0 ? 3_600_000 : 0);
  try {
    await assert.rejects(clusterNameFromSeeds([{ host: '127.0.0.1', peerPort: port }], { host: '127.0.0.1', peerPort: port + 1 }, 'n2', () => {}, 1_000), (e: unknown) => isRingkvError(e, ErrorCode.Unavailable));
  } finally {
    Date.now = wallNow;
    await new Promise<void>((r) => silent.close(() => r()));
  }
  assert.ok(asked >= 2, `the seed was asked again within the wait, not once (${asked})`);
});
