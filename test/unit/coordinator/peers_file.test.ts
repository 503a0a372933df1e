// The remembered peers of a cluster node (src/coordinator/peers_file.ts) on a real temp dir, and
// what Membership does with them: a restart begins with the ring it left, those peers DEAD (not
// counted for a quorum, written to only as hints) until gossip hears from them.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPeers, savePeers } from '../../../src/coordinator/peers_file';
import { Membership, type MembershipOptions } from '../../../src/membership';

let dir: string;
let lines: string[];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-peers-'));
  lines = [];
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const peer = (id: string, port: number) => ({ nodeId: id, host: '127.0.0.1', httpPort: port, peerPort: port + 1000, vnodes: 16 });

/** Node n0 with no seeds, on a clock the test moves, whose network reaches nobody unless `options` says otherwise. */
function nodeZero(now: () => number, options: Partial<MembershipOptions>, self: Partial<MembershipOptions['self']> = {}): Membership {
  return new Membership({
    self: { nodeId: 'n0', host: '127.0.0.1', httpPort: 7000, peerPort: 8000, vnodes: 16, incarnation: now(), keyEstimate: 0, load: 0, ...self },
    seeds: [],
    gossipIntervalMs: 100,
    suspectAfterMs: 1000,
    deadAfterMs: 2000,
    monotonicNow: now,
    wallClock: now,
    log: () => undefined,
    network: { exchange: () => Promise.reject(new Error('no network in this test')) },
    ...options,
  });
}

test('peers round-trip through the file; a missing file is no peers; a damaged one is reported and ignored', () => {
  const file = path.join(dir, 'PEERS');
  assert.deepEqual(loadPeers(file, (l) => lines.push(l)), []);
  assert.deepEqual(lines, []);
  const saved = [peer('n1', 7001), { ...peer('n2', 7002), zone: 'rack-2' }, { ...peer('n3', 7003), datacenter: 'west', tombstoneGraceMs: 21_600_000 }, { ...peer('n4', 7004), leftIncarnation: 1_234_567 }];
  savePeers(file, saved, (l) => lines.push(l));
  assert.deepEqual(loadPeers(file, (l) => lines.push(l)), saved, 'a zone, datacenter or grace only where a node has one');
  assert.ok(!fs.existsSync(`${file}.tmp`), 'written through a temporary file renamed over it');
  const badZone = JSON.stringify({ format: 1, peers: [{ node_id: 'n1', host: 'h', http_port: 1, peer_port: 2, vnodes: 3, zone: 'a b' }] });
  const badDc = badZone.replace('"zone"', '"datacenter"');
  const badGraces = [-1, 1.5, 365 * 86_400_000 + 1].map((g) => badZone.replace('"zone":"a b"', `"tombstone_grace_ms":${g}`));
  const badLeft = [0, -3, 2.5].map((n) => badZone.replace('"zone":"a b"', `"left_incarnation":${n}`));
  for (const bad of ['{"format":1,"peers":[{"node_id":"n1"}]}', 'not json', '{"format":2,"peers":[]}', badZone, badDc, ...badGraces, ...badLeft]) {
    fs.writeFileSync(file, bad);
    assert.deepEqual(loadPeers(file, (l) => lines.push(l)), []);
  }
  assert.equal(lines.filter((l) => /WARN peers: .* is damaged/.test(l)).length, 11);
});

test('remembered peers are in the ring from the start, DEAD and probed by node id, and ALIVE once gossip hears from them', async () => {
  let now = 1_000_000;
  const rings: string[][] = [];
  const contacted: number[] = [];
  const meant: Array<string | undefined> = [];
  const m = nodeZero(() => now, {
    network: {
      exchange: (to) => {
        contacted.push(to.peerPort);
        meant.push(to.nodeId);
        return Promise.reject(new Error('no network in this test'));
      },
    },
    onPeersChange: (members) => rings.push(members.map((x) => x.nodeId)),
  });
  assert.deepEqual(m.ring.members.map((x) => x.nodeId), ['n0']);
  m.remember([peer('n0', 7000), peer('n1', 7001), peer('n2', 7002)]);
  assert.deepEqual(m.ring.members.map((x) => x.nodeId).sort(), ['n0', 'n1', 'n2']);
  assert.equal(m.status('n1'), 'DEAD');
  assert.equal(m.isAlive('n1'), false);
  assert.deepEqual(rings.at(-1), ['n0', 'n1', 'n2'], 'the ring change is reported (and saved by the coordinator)');
  // Gossip probes them as DEAD nodes, by node id (the Hello refuses any other node at an
  // address of an earlier run): after a whole-cluster restart with the seeds down, the others
  // find each other so.
  for (let i = 0; i < 20; i++) m.round();
  assert.deepEqual([...new Set(contacted)].sort(), [8001, 8002]);
  assert.deepEqual(
    contacted.map((port, i) => [port, meant[i]]).filter(([port, id]) => id !== `n${Number(port) - 8000}`),
    [],
    'each probe names the node it means to reach',
  );
  now += 50;
  m.handleGossip([{ ...peer('n1', 7001), incarnation: now - 10, heartbeat: 3, status: 'ALIVE', keyEstimate: 0, load: 0 }]);
  assert.equal(m.status('n1'), 'ALIVE');
  assert.equal(m.status('n2'), 'DEAD');
  await new Promise((r) => setImmediate(r)); // the probes' failures are taken: none is in flight
  contacted.length = 0;
  m.round();
  assert.equal(contacted[0], 8001, 'a peer heard from in this run is gossiped with');
});

test('remembered peers\' tombstone graces count toward the shortest until gossip says otherwise; each change of it is saved', () => {
  const day = 86_400_000;
  let now = 1_000_000;
  const heard: Array<{ nodeId: string; ms: number }> = [];
  const saved: Array<Array<[string, number | undefined]>> = [];
  const m = nodeZero(() => now, { onTombstoneGrace: (g) => heard.push(g), onPeersChange: (ms) => saved.push(ms.map((x) => [x.nodeId, x.tombstoneGraceMs])) }, { tombstoneGraceMs: 10 * day });
  for (let i = 0; i < 5; i++) m.round();
  assert.deepEqual(heard, [{ nodeId: 'n0', ms: 10 * day }], 'its own grace, as soon as it knows it');
  assert.deepEqual(saved, [], 'nothing saved while it knows no other node');
  m.remember([{ ...peer('n0', 7000), tombstoneGraceMs: day }, { ...peer('n1', 7001), tombstoneGraceMs: 2 * day }, peer('n2', 7002)]);
  assert.deepEqual(heard.at(-1), { nodeId: 'n1', ms: 2 * day }, 'our own earlier entry is not remembered');
  assert.equal(saved.length, 1, 'the ring change and the new shortest grace, saved once');
  now += 50;
  m.handleGossip([{ ...peer('n1', 7001), incarnation: now, heartbeat: 1, status: 'ALIVE', keyEstimate: 0, load: 0, tombstoneGraceMs: 10 * day }]);
  assert.deepEqual(heard.at(-1), { nodeId: 'n0', ms: 10 * day });
  // The same ring, but n1 no longer keeps the shortest grace: saved, so that a restart does not judge by the old one.
  assert.equal(saved.length, 2);
  assert.deepEqual(new Map(saved.at(-1)).get('n1'), 10 * day);
  m.handleGossip([{ ...peer('n1', 7001), incarnation: now, heartbeat: 2, status: 'ALIVE', keyEstimate: 0, load: 0, tombstoneGraceMs: 10 * day }]);
  assert.equal(saved.length, 2, 'a heartbeat changes nothing worth saving');
});
