// Proves the client's routing table: built from a cluster status with src/ring (so the client's
// preference lists are the nodes' own), rebuilt only when the members change (not on a ring
// version, which is each node's own count), deaf to a partial view, failed or dead
// nodes moved behind the live replicas, and a status whose tokens src/ring would not derive
// refused rather than routed by.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSpreadRead, Topology } from '../../../src/client/topology';
import { parseClusterStatus } from '../../../src/client/cluster_status';
import { keyToken, nodeTokens, Ring, tokenToString } from '../../../src/ring';
import type { ClusterNodeInfo, ClusterStatus, NodeStatus } from '../../../src/coordinator/types';
import { isRingkvError, ErrorCode } from '../../../src/errors';

function status(ids: string[], version: number, statuses: Record<string, NodeStatus> = {}): ClusterStatus {
  return {
    nodes: ids.map((id, i) => ({ id, address: `127.0.0.1:${9000 + i}`, status: statuses[id] ?? 'healthy', load: 0, tokens: nodeTokens(id, 16).map(tokenToString) })),
    ring_version: version,
    total_keys: 0,
    replication_factor: 3,
  };
}

const key = (s: string): Uint8Array => new TextEncoder().encode(s);

test('preference lists equal src/ring\'s for the same members', () => {
  const t = new Topology(['127.0.0.1:9000'], 1000);
  assert.equal(t.apply(status(['a', 'b', 'c', 'd'], 7)), true);
  const ring = Ring.build(['a', 'b', 'c', 'd'].map((nodeId) => ({ nodeId, vnodes: 16 })), 7);
  for (let i = 0; i < 200; i++) {
    const k = key(`k${i}`);
    assert.deepEqual(t.preferenceList(k), ring.preferenceList(keyToken(k), 3));
    assert.deepEqual(t.candidates(k, 0).slice(0, 3).map((n) => n.id), ring.preferenceList(keyToken(k), 3));
  }
  assert.equal(t.ringVersion, 7);
});

test('the ring is rebuilt only when its members change, whatever version a node reports', () => {
  const t = new Topology(['127.0.0.1:9000'], 1000);
  assert.equal(t.apply(status(['a', 'b', 'c'], 1)), true);
  assert.equal(t.apply(status(['a', 'b', 'c'], 1)), false);
  assert.equal(t.apply(status(['a', 'b', 'c'], 9)), false, 'another node counts its ring changes differently');
  assert.equal(t.apply(status(['a', 'b', 'c', 'd'], 2)), true);
  const k = key('x');
  assert.ok(['a', 'b', 'c', 'd'].includes(t.preferenceList(k)[0]!));
  assert.equal(t.ringVersion, 2);
});

test('a status that leaves out a known member is a partial view and is not routed by, unless it persists', () => {
  // A node just restarted knows only itself: routing every key to it made it the only replica of
  // what it took. A member that left is listed as left, so its absence is never how a leave looks.
  const t = new Topology(['127.0.0.1:9000'], 1000);
  t.apply(status(['a', 'b', 'c'], 5));
  const k = key('partial');
  const full = t.preferenceList(k);
  assert.equal(full.length, 3);
  const alone = status(['a'], 1);
  assert.equal(t.apply(alone), false);
  assert.equal(t.apply(alone), false);
  assert.deepEqual(t.preferenceList(k), full);
  assert.equal(t.apply(status(['a', 'b', 'c'], 2)), false, 'a full view again resets the count');
  assert.equal(t.apply(alone), false);
  assert.equal(t.apply(alone), false);
  assert.equal(t.apply(alone), true, 'three partial views in a row are believed');
  assert.deepEqual(t.preferenceList(k), ['a']);
  // A node that left is listed, without tokens: taken at once.
  const u = new Topology(['127.0.0.1:9000'], 1000);
  u.apply(status(['a', 'b', 'c', 'd'], 5));
  const left = status(['a', 'b', 'c', 'd'], 6, { d: 'left' });
  left.nodes[3]!.tokens = [];
  assert.equal(u.apply(left), true);
  assert.ok(!u.preferenceList(k).includes('d'));
});

test('down-marked and dead nodes go behind the live replicas; marks expire', () => {
  const t = new Topology(['127.0.0.1:9000'], 1000);
  t.apply(status(['a', 'b', 'c'], 1));
  const k = key('some-key');
  const pref = t.preferenceList(k);
  const primary = t.candidates(k, 0)[0]!;
  t.markDown(primary.address, 0);
  const during = t.candidates(k, 500).map((n) => n.id);
  assert.deepEqual(during, [pref[1], pref[2], pref[0]]);
  assert.deepEqual(t.candidates(k, 1500).map((n) => n.id), pref, 'the mark expired');
  t.apply(status(['a', 'b', 'c'], 1, { [pref[1]!]: 'dead' }));
  assert.deepEqual(t.candidates(k, 1500).map((n) => n.id), [pref[0], pref[2], pref[1]]);
});

test('a caller that tries `count` nodes gets the first `count` of the full order, the ring walked past the replicas only when some are unusable', () => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  const t = new Topology(['127.0.0.1:9000'], 1000);
  t.apply(status(ids, 1));
  const ring = Ring.build(ids.map((nodeId) => ({ nodeId, vnodes: 16 })), 1);
  for (let i = 0; i < 50; i++) {
    const k = key(`count${i}`);
    const pref = t.preferenceList(k);
    // All replicas usable: three tries are the three replicas, nothing of the walk.
    assert.deepEqual(t.candidates(k, 0, false, 3).map((n) => n.id), pref);
    // The primary down: the next node clockwise takes its turn before it.
    const next = ring.walk(keyToken(k)).find((id) => !pref.includes(id))!;
    t.markDown(`127.0.0.1:${9000 + ids.indexOf(pref[0]!)}`, 0);
    const tries = t.candidates(k, 10, false, 3).map((n) => n.id);
    assert.deepEqual(tries.slice(0, 3), [pref[1], pref[2], next]);
    assert.deepEqual(tries.slice(0, 3), t.candidates(k, 10).slice(0, 3).map((n) => n.id), 'the same first three as the full order');
    t.markUp(`127.0.0.1:${9000 + ids.indexOf(pref[0]!)}`);
  }
});

test('a single node without tokens routes to the known nodes; bad statuses are refused', () => {
  const t = new Topology(['127.0.0.1:9000'], 1000);
  t.apply({ nodes: [{ id: 'solo', address: '127.0.0.1:9000', status: 'healthy', load: 0, tokens: [] }], ring_version: 0, total_keys: 0, replication_factor: 1 });
  assert.equal(t.hasRing, false);
  assert.deepEqual(t.candidates(key('k')).map((n) => n.id), ['solo']);
  const forged = status(['a', 'b', 'c'], 3);
  forged.nodes[0]!.tokens[0] = '12345';
  assert.throws(() => new Topology(['x:1'], 1000).apply(forged), (e) => isRingkvError(e, ErrorCode.Internal));
  assert.throws(() => parseClusterStatus('x:1', { nodes: [{ id: 'a', address: 'nope', status: 'healthy' }], ring_version: 1 }), (e) => isRingkvError(e, ErrorCode.MalformedFrame));
  // Addresses a node's own parser takes but a ws:// URL would read otherwise (or throw on).
  for (const address of ['bad#host:7000', 'a/b:7000', 'user@host:7000', 'h?x:7000', 'host:0', 'host:70000']) {
    assert.throws(() => parseClusterStatus('x:1', { nodes: [{ id: 'a', address, status: 'healthy' }], ring_version: 1 }), (e) => isRingkvError(e, ErrorCode.MalformedFrame) && /nodes\[0\]\.address/.test(e.message), address);
  }
  assert.throws(() => parseClusterStatus('x:1', { nodes: 'x' }), (e) => isRingkvError(e));
  // A degraded node (up, storage refusing writes) is a known status with its reason, and still a candidate.
  const degraded = parseClusterStatus('x:1', { nodes: [{ id: 'solo', address: '127.0.0.1:9000', status: 'degraded', reason: 'storage_full', tokens: [] }], ring_version: 0 });
  assert.deepEqual(degraded.nodes[0], { id: 'solo', address: '127.0.0.1:9000', status: 'degraded', reason: 'storage_full', load: 0, tokens: [] });
  // The figures `ringkv status` shows are kept, and a bad one refused.
  const figures = { id: 'solo', address: '127.0.0.1:9000', status: 'healthy', rebuilding: true, rebuild_ranges_left: 3, behind: true, load: 0, data_bytes: 10, disk_size_bytes: 100, disk_free_bytes: 40, tokens: [] };
  assert.deepEqual(parseClusterStatus('x:1', { nodes: [figures], ring_version: 0 }).nodes[0], figures);
  assert.throws(() => parseClusterStatus('x:1', { nodes: [{ ...figures, disk_free_bytes: -1 }], ring_version: 0 }), (e) => isRingkvError(e, ErrorCode.MalformedFrame) && /disk_free_bytes/.test(e.message));
  assert.throws(() => parseClusterStatus('x:1', { nodes: [{ ...figures, behind: 'yes' }], ring_version: 0 }), (e) => isRingkvError(e, ErrorCode.MalformedFrame) && /behind/.test(e.message));
  assert.throws(() => parseClusterStatus('x:1', { nodes: [{ id: 'a', address: 'a:1', status: 'degraded', reason: 7 }], ring_version: 1 }), (e) => isRingkvError(e, ErrorCode.MalformedFrame));
});

test('every field of a node\'s cluster status survives parsing, so `ringkv status` shows what the node said', () => {
  // Typed Required<>: a field added to ClusterNodeInfo fails to compile here until it is listed,
  // and then this fails until parseClusterStatus keeps it (it once dropped clock_offset_ms and
  // tombstone_grace_seconds, and `ringkv status` never showed its clock or grace columns).
  const full: Required<ClusterNodeInfo> = {
    id: 'b',
    address: '127.0.0.1:9001',
    zone: 'z1',
    datacenter: 'dc1',
    status: 'degraded',
    reason: 'storage_full',
    rebuilding: true,
    rebuild_ranges_left: 3,
    behind: true,
    load: 0.25,
    clock_offset_ms: -120,
    tombstone_grace_seconds: 21_600,
    data_bytes: 10,
    disk_size_bytes: 100,
    disk_free_bytes: 40,
    ring_digest: '0a1b2c3d',
    tokens: ['1', '18446744073709551615'],
  };
  const doc: Required<ClusterStatus> = { cluster_name: 'prod', nodes: [full], ring_version: 7, ring_digest: 'ffffffff', total_keys: 12, replication_factor: 3 };
  assert.deepEqual(parseClusterStatus('x:1', JSON.parse(JSON.stringify(doc))), doc);
  assert.throws(() => parseClusterStatus('x:1', { nodes: [{ ...full, clock_offset_ms: 1.5 }], ring_version: 0 }), (e) => isRingkvError(e, ErrorCode.MalformedFrame) && /clock_offset_ms/.test(e.message));
  assert.throws(() => parseClusterStatus('x:1', { nodes: [{ ...full, tombstone_grace_seconds: '1' }], ring_version: 0 }), (e) => isRingkvError(e, ErrorCode.MalformedFrame) && /tombstone_grace_seconds/.test(e.message));
  assert.throws(() => parseClusterStatus('x:1', { nodes: [{ ...full, ring_digest: 'A1B2C3D4' }], ring_version: 0 }), (e) => isRingkvError(e, ErrorCode.MalformedFrame) && /ring_digest/.test(e.message));
  assert.throws(() => parseClusterStatus('x:1', { ...doc, ring_digest: 12 }), (e) => isRingkvError(e, ErrorCode.MalformedFrame) && /ring_digest/.test(e.message));
});

test('a status from a node of another cluster is refused and changes nothing; the first status that names a cluster fixes it', () => {
  // Proves the client follows one cluster: an address reused by another cluster's node must not
  // turn the client's ring into that cluster's.
  const named = (ids: string[], name: string): ClusterStatus => ({ ...status(ids, 1), cluster_name: name });
  const t = new Topology(['127.0.0.1:9000'], 1000);
  assert.equal(t.apply(named(['a', 'b', 'c'], 'prod')), true);
  const before = t.preferenceList(key('k'));
  assert.throws(() => t.apply(named(['x', 'y', 'z'], 'staging')), (e: unknown) => isRingkvError(e, ErrorCode.WrongPeer) && /cluster staging answered; this client follows cluster prod/.test((e as Error).message));
  assert.deepEqual(t.preferenceList(key('k')), before, 'the ring is still prod\'s');
  assert.equal(t.apply(named(['a', 'b', 'c', 'd'], 'prod')), true);

  const pinned = new Topology(['127.0.0.1:9000'], 1000, 'prod');
  assert.throws(() => pinned.apply(named(['x', 'y', 'z'], 'staging')), (e: unknown) => isRingkvError(e, ErrorCode.WrongPeer));
  assert.equal(pinned.hasRing, false);
  assert.equal(parseClusterStatus('127.0.0.1:9000', JSON.parse(JSON.stringify(named(['a'], 'prod')))).cluster_name, 'prod', 'the field survives parsing');
});

/** Nodes a, b, c in east and d, e, f in west, N = 2 in each; a client in west that has their status. */
function westClient(): { dcs: Record<string, string>; s: ClusterStatus; t: Topology } {
  const dcs: Record<string, string> = { a: 'east', b: 'east', c: 'east', d: 'west', e: 'west', f: 'west' };
  const s = status(Object.keys(dcs), 4);
  s.nodes = s.nodes.map((n) => ({ ...n, datacenter: dcs[n.id]! }));
  s.replication_factor = 2;
  const t = new Topology(['127.0.0.1:9000'], 1000, undefined, undefined, 'west');
  t.apply(parseClusterStatus('127.0.0.1:9000', JSON.parse(JSON.stringify(s))));
  return { dcs, s, t };
}

test('with datacenters the client\'s preference lists are the ring\'s (N in each), and a client in one tries its replicas first', () => {
  // Proves the client routes by the same per-datacenter lists as the nodes (not a prefix of the
  // walk) and, given its datacenter, tries that datacenter's replicas before the other's.
  const { dcs, s, t } = westClient();
  const ring = Ring.build(s.nodes.map((n) => ({ nodeId: n.id, vnodes: 16, datacenter: n.datacenter! })), 4);
  for (let i = 0; i < 100; i++) {
    const k = key(`dc${i}`);
    const pref = ring.preferenceList(keyToken(k), 2);
    assert.equal(pref.length, 4);
    assert.deepEqual(t.preferenceList(k), pref);
    const tried = t.candidates(k, 0).map((n) => n.id);
    assert.deepEqual(tried.slice(0, 4), [...pref.filter((id) => dcs[id] === 'west'), ...pref.filter((id) => dcs[id] !== 'west')], 'west first, each part in list order');
    assert.deepEqual([...tried].sort(), Object.keys(dcs), 'then every other node, once');
  }
});

test('a client in a zone tries the key\'s replicas in its zone first, a behind replica after the others and a rebuilding one last', () => {
  const zones: Record<string, string> = { a: 'z1', b: 'z2', c: 'z1', d: 'z2' };
  const s = status(['a', 'b', 'c', 'd'], 3);
  s.nodes = s.nodes.map((n) => ({ ...n, zone: zones[n.id]! }));
  const t = new Topology(['127.0.0.1:9000'], 1000, undefined, 'z2');
  t.apply(s);
  const ring = Ring.build(s.nodes.map((n) => ({ nodeId: n.id, vnodes: 16, zone: n.zone! })), 3);
  for (let i = 0; i < 100; i++) {
    const k = key(`z${i}`);
    const pref = ring.preferenceList(keyToken(k), 3);
    const tried = t.candidates(k, 0).slice(0, 3).map((n) => n.id);
    assert.deepEqual([...tried].sort(), [...pref].sort(), 'the same replicas');
    assert.deepEqual(tried, [...pref.filter((id) => zones[id] === 'z2'), ...pref.filter((id) => zones[id] !== 'z2')], 'its zone first, each part in list order');
  }
  // d rebuilds: after every other replica, even in the client's zone.
  t.apply({ ...s, nodes: s.nodes.map((n) => (n.id === 'd' ? { ...n, rebuilding: true } : n)) });
  for (let i = 0; i < 100; i++) {
    const k = key(`z${i}`);
    const tried = t.candidates(k, 0).slice(0, 3).map((n) => n.id);
    if (tried.includes('d')) assert.equal(tried[2], 'd', tried.join());
  }
  // b is behind (hints wait for it), d still rebuilds: b before d, both after the others.
  t.apply({ ...s, nodes: s.nodes.map((n) => (n.id === 'd' ? { ...n, rebuilding: true } : n.id === 'b' ? { ...n, behind: true } : n)) });
  let both = 0;
  for (let i = 0; i < 100; i++) {
    const k = key(`z${i}`);
    const tried = t.candidates(k, 0).slice(0, 3).map((n) => n.id);
    if (tried.includes('b') && tried.includes('d')) {
      both++;
      assert.deepEqual(tried.slice(1), ['b', 'd'], tried.join());
    } else if (tried.includes('b')) {
      assert.equal(tried[2], 'b', tried.join());
    }
  }
  assert.ok(both > 0, 'some keys have b and d as replicas');
  // Without a zone and with nobody rebuilding: the list's own order, as before.
  const plain = new Topology(['127.0.0.1:9000'], 1000);
  plain.apply(s);
  const k = key('plain');
  assert.deepEqual(plain.candidates(k, 0).slice(0, 3).map((n) => n.id), [...ring.preferenceList(keyToken(k), 3)]);
});

test('spread reads: GETs that ask more than one replica (the default QUORUM too); not ONE or LOCAL_ONE, not writes', () => {
  for (const c of [undefined, 'QUORUM', 'ALL', 'LOCAL_QUORUM', 'EACH_QUORUM'] as const) assert.equal(isSpreadRead('get', c), true, String(c));
  for (const c of ['ONE', 'LOCAL_ONE'] as const) assert.equal(isSpreadRead('get', c), false, c);
  for (const op of ['put', 'delete'] as const) assert.equal(isSpreadRead(op, 'QUORUM'), false, op);
});

test('a spread read starts at each of the key\'s best replicas in turn; writes and the rest keep the list\'s order', () => {
  const s = status(['a', 'b', 'c', 'd'], 3);
  const t = new Topology(['127.0.0.1:9000'], 1000);
  t.apply(s);
  const k = key('hot');
  const pref = t.preferenceList(k);
  const plain = t.candidates(k, 0).map((n) => n.id);
  assert.deepEqual(plain.slice(0, 3), pref);
  const firsts: string[] = [];
  for (let i = 0; i < 6; i++) {
    const tried = t.candidates(k, 0, true).map((n) => n.id);
    firsts.push(tried[0]!);
    assert.deepEqual([...tried.slice(0, 3)].sort(), [...pref].sort(), 'the replicas first, whatever the start');
    assert.deepEqual(tried.slice(3), plain.slice(3), 'then the rest of the ring as before');
    // A rotation of the list: the replicas after the start in list order, then those before it.
    const at = pref.indexOf(tried[0]!);
    assert.deepEqual(tried.slice(0, 3), [...pref.slice(at), ...pref.slice(0, at)]);
  }
  assert.deepEqual(firsts, [...pref, ...pref], 'each replica in turn');
  assert.deepEqual(t.candidates(k, 0).map((n) => n.id), plain, 'an unspread request still starts at the first');
  // A replica marked down is never a start; the turns go round the live ones.
  t.markDown(s.nodes.find((n) => n.id === pref[1])!.address, 0);
  const live = new Set(Array.from({ length: 4 }, () => t.candidates(k, 0, true)[0]!.id));
  assert.deepEqual([...live].sort(), [pref[0]!, pref[2]!].sort());
  // In a zone: only the replicas of the client's zone take turns at the start.
  const zones: Record<string, string> = { a: 'z1', b: 'z2', c: 'z1', d: 'z2' };
  const zs = { ...s, nodes: s.nodes.map((n) => ({ ...n, zone: zones[n.id]! })) };
  const zt = new Topology(['127.0.0.1:9000'], 1000, undefined, 'z1');
  zt.apply(zs);
  for (let i = 0; i < 20; i++) {
    const zk = key(`zone-${i}`);
    const inZone = zt.preferenceList(zk).filter((id) => zones[id] === 'z1');
    const starts = new Set(Array.from({ length: 4 }, () => zt.candidates(zk, 0, true)[0]!.id));
    assert.deepEqual([...starts].sort(), [...inZone].sort(), `key zone-${i}: starts ${[...starts].join()} of ${inZone.join()}`);
  }
});

test("a LOCAL_* request is tried on the client's datacenter's nodes only, even with them down; others may go anywhere", () => {
  // A retry in another datacenter would have that datacenter's quorum answer a LOCAL_QUORUM the
  // caller meant for its own (and hide the 503 that names it).
  const { dcs, t } = westClient();
  for (let i = 0; i < 50; i++) {
    const k = key(`local${i}`);
    const local = t.candidates(k, 0, false, 3, true).map((n) => n.id);
    assert.ok(local.length > 0 && local.every((id) => dcs[id] === 'west'), `${local}`);
    assert.ok(t.candidates(k, 0, false, 8).some((n) => dcs[n.id] === 'east'), 'a QUORUM request may go anywhere');
  }
  // Every west node down: still west (they fail, and the caller hears so), never east.
  for (const id of ['d', 'e', 'f']) t.markDown(`127.0.0.1:${9000 + Object.keys(dcs).indexOf(id)}`, 0);
  const downHome = t.candidates(key('local-down'), 10, false, 3, true).map((n) => n.id);
  assert.ok(downHome.length > 0 && downHome.every((id) => dcs[id] === 'west'), `${downHome}`);
});
