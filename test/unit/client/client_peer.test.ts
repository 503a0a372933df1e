// Proves the client's mechanics against a scripted protocol peer: operations of one tick share a
// frame, results are matched by id when answered out of order, wire errors become typed
// RingkvErrors, timeouts fire, and retries move to the next node reusing the write's idempotency
// key (so the node can apply it once). With a read cache, a hot key's reads within the TTL send
// nothing, and the client's own writes are never hidden by it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RingkvClient, ErrorCode, isRingkvError } from '../../../src/client';
import { waitFor } from '../../helpers/cluster';
import { ProtocolPeer, memoryHandler } from './protocol_peer';
import type { ClusterStatus } from '../../../src/coordinator/types';

test('put/get/delete round trip with typed results; 50 ops in one tick travel in one frame', async () => {
  const peer = await ProtocolPeer.start(memoryHandler());
  const c = await RingkvClient.connect({ nodes: [peer.address], ringAware: false });
  try {
    const p = await c.put('k', 'v1', { ttlSeconds: 60, consistency: 'ALL' });
    assert.equal(p.version, 'v1');
    assert.equal(peer.requests[0]!.ttlSeconds, 60);
    assert.equal(peer.requests[0]!.consistency, 'ALL');
    assert.match(peer.requests[0]!.idempotencyKey ?? '', /^[0-9a-f]{16}-/);
    const g = await c.get('k');
    assert.ok(g.found);
    assert.equal(Buffer.from(g.value).toString(), 'v1');
    assert.deepEqual(g.siblings.map((s) => s.version), ['v1']);
    assert.equal((await c.delete('k')).tombstoneExpiryMs, 2);
    assert.equal((await c.get('k')).found, false);

    const before = peer.framesReceived;
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => c.put(`b${i}`, `${i}`)));
    assert.equal(results.length, 50);
    assert.equal(peer.framesReceived - before, 1, 'one frame for 50 ops issued in one tick');
    const batch = await c.batch([
      { op: 'get', key: 'b7' },
      { op: 'put', key: 'b8', value: 'x', expectedVersion: 'v5_1_nope' },
      { op: 'delete', key: 'b9' },
    ]);
    assert.equal(peer.framesReceived - before, 2);
    assert.ok(batch[0]!.ok && 'found' in batch[0]!.result && batch[0]!.result.found);
    assert.ok(!batch[1]!.ok && isRingkvError(batch[1]!.error, ErrorCode.Conflict));
    const conflict = batch[1]!.ok ? null : batch[1]!.error;
    assert.ok(isRingkvError(conflict) && /^v[0-9]+$/.test(String(conflict.details['current_version'])));
    assert.ok(batch[2]!.ok);
    assert.equal(c.stats().framesSent, peer.framesReceived);
  } finally {
    c.close();
    await peer.close();
  }
});

test('results answered out of order are matched to their requests by id', async () => {
  const peer = await ProtocolPeer.start(async (req) => {
    const n = Number(Buffer.from(req.key).toString().slice(1));
    await new Promise((r) => setTimeout(r, (10 - n) * 3)); // later keys answer first
    return { id: req.id, status: 'ok', value: req.key, version: `v${n}`, timestampMs: n };
  });
  const c = await RingkvClient.connect({ nodes: [peer.address], ringAware: false });
  try {
    const got = await Promise.all(Array.from({ length: 10 }, (_, i) => c.get(`k${i}`)));
    got.forEach((g, i) => {
      assert.ok(g.found);
      assert.equal(Buffer.from(g.value).toString(), `k${i}`);
    });
  } finally {
    c.close();
    await peer.close();
  }
});

test('client-side validation and wire errors are typed RingkvErrors', async () => {
  const peer = await ProtocolPeer.start((req) => ({ id: req.id, status: 'error', error: 5, message: 'not enough replicas' }));
  const c = await RingkvClient.connect({ nodes: [peer.address], ringAware: false, retries: 0 });
  try {
    await assert.rejects(c.get(''), (e) => isRingkvError(e, ErrorCode.InvalidArgument));
    await assert.rejects(c.get('x'.repeat(300)), (e) => isRingkvError(e, ErrorCode.KeyTooLarge));
    await assert.rejects(c.put('k', 'v', { ttlSeconds: -1 }), (e) => isRingkvError(e, ErrorCode.InvalidArgument));
    await assert.rejects(c.get('k'), (e) => isRingkvError(e, ErrorCode.Unavailable) && e.details['wire_error'] === 'Unavailable');
  } finally {
    c.close();
    await peer.close();
  }
});

test('a bad argument fails only its own call, before anything is sent: the good operations of the same tick go out and succeed', async () => {
  // JavaScript callers and config files do not keep to the types. Such an operation once went
  // into its tick's frame (the node refused the whole frame as malformed), and a non-string
  // expectedVersion threw while the frame was built, outside any call, ending the process.
  const peer = await ProtocolPeer.start(memoryHandler());
  const c = await RingkvClient.connect({ nodes: [peer.address], ringAware: false, retries: 0 });
  const untyped = <T>(v: unknown): T => v as T;
  try {
    // Each settled at once (an unawaited rejection would fail the test run): what it threw, or null.
    const caught = (p: Promise<unknown>): Promise<unknown> => p.then(() => null, (e: unknown) => e);
    const bad = ([
      ['consistency one', c.get('k', { consistency: untyped('one') })],
      ['timeoutMs 0', c.get('k', { timeoutMs: 0 })],
      ['timeoutMs Infinity', c.get('k', { timeoutMs: Infinity })],
      ['timeoutMs past a timer', c.get('k', { timeoutMs: 2 ** 31 })],
      ['timeoutMs 1.5', c.get('k', { timeoutMs: 1.5 })],
      ['a number key', c.get(untyped(42))],
      ['a null key', c.delete(untyped(null))],
      ['an object value', c.put('k', untyped({ a: 1 }))],
      ['a number expectedVersion', c.put('k', 'v', { expectedVersion: untyped(42) })],
      ['a long expectedVersion', c.put('k', 'v', { expectedVersion: 'v'.repeat(129) })],
      ['an expectedVersion that is no version string', c.put('k', 'v', { expectedVersion: 'nope' })],
      ['an empty idempotencyKey', c.put('k', 'v', { idempotencyKey: '' })],
      ['a string context', c.delete('k', { context: untyped('abc') })],
      ['a context that is no clock', c.delete('k', { context: new Uint8Array([1, 2, 3]) })],
    ] as Array<[string, Promise<unknown>]>).map(([what, p]): [string, Promise<unknown>] => [what, caught(p)]);
    const good = Array.from({ length: 5 }, (_, i) => c.put(`g${i}`, `${i}`));
    const entries = await c.batch([untyped({ op: 'patch', key: 'b' }), { op: 'get', key: 'g0' }]);
    for (const [what, p] of bad) assert.ok(isRingkvError(await p, ErrorCode.InvalidArgument), what);
    assert.deepEqual((await Promise.all(good)).map((r) => Buffer.from(r.key).toString()), ['g0', 'g1', 'g2', 'g3', 'g4']);
    assert.equal(entries[0]!.ok, false);
    assert.ok(!entries[0]!.ok && isRingkvError(entries[0]!.error, ErrorCode.InvalidArgument));
    assert.equal(entries[1]!.ok, true);
    assert.deepEqual(peer.requests.map((r) => Buffer.from(r.key).toString()).sort(), ['g0', 'g0', 'g1', 'g2', 'g3', 'g4'], 'only the good operations were sent');
  } finally {
    c.close();
    await peer.close();
  }
});

test('bad client options are a typed error from connect', async () => {
  const untyped = <T>(v: unknown): T => v as T;
  const badNodes = [['10.0.0.5:70000'], ['a b:7000'], ['127.0.0.1'], ['host%2f:7000'], ['127.0.0.1:7000', untyped<string>(7000)], ['http://127.0.0.1:7000']].map((nodes) => ({ nodes }));
  for (const o of [{ timeoutMs: Infinity }, { timeoutMs: 0 }, { connectTimeoutMs: -1 }, { nodeDownMs: 1.5 }, { ringRefreshMs: -1 }, { consistency: untyped<'ONE'>('quorum') }, { retries: 11 }, ...badNodes]) {
    await assert.rejects(RingkvClient.connect({ nodes: ['127.0.0.1:1'], ringAware: false, ...o }), (e) => isRingkvError(e, ErrorCode.InvalidArgument), JSON.stringify(o));
  }
});

test('a write that times out is retried on the next node with the same idempotency key', async () => {
  // Node A swallows requests (a coordinator that died mid-write); node B answers.
  const a = await ProtocolPeer.start(() => null);
  const b = await ProtocolPeer.start(memoryHandler());
  const c = await RingkvClient.connect({ nodes: [a.address, b.address], ringAware: false, timeoutMs: 100, retries: 2 });
  try {
    // Without a ring the client rotates its starting node; pin the first attempt to A.
    let r;
    for (;;) {
      r = await c.put('k', 'v');
      if (a.requests.length > 0) break;
    }
    assert.equal(r.node, b.address);
    const first = a.requests[a.requests.length - 1]!;
    const retried = b.requests[b.requests.length - 1]!;
    assert.equal(retried.idempotencyKey, first.idempotencyKey);
    assert.ok(c.stats().timeouts >= 1 && c.stats().retries >= 1);
  } finally {
    c.close();
    await a.close();
    await b.close();
  }
});

test('a node that keeps its connection but answers nothing is marked down: later operations start elsewhere', async () => {
  const a = await ProtocolPeer.start(() => null);
  const b = await ProtocolPeer.start(memoryHandler());
  const c = await RingkvClient.connect({ nodes: [a.address, b.address], ringAware: false, timeoutMs: 100, retries: 1, nodeDownMs: 60_000 });
  try {
    for (let i = 0; i < 10; i++) assert.equal((await c.put(`silent-${i}`, 'v')).node, b.address);
    assert.equal(a.requests.length, 1, 'A was tried once, then passed over while marked down');
  } finally {
    c.close();
    await a.close();
    await b.close();
  }
});

test('a connection to an address no node has any more is closed at the next status, once nothing waits on it', async () => {
  // The seed names one node, n1, first at A, then (restarted elsewhere) at B.
  const seed = await ProtocolPeer.start(memoryHandler());
  const a = await ProtocolPeer.start(memoryHandler());
  const b = await ProtocolPeer.start(memoryHandler());
  const at = (address: string): ClusterStatus => ({ nodes: [{ id: 'n1', address, status: 'healthy', load: 0, tokens: [] }], ring_version: 1, total_keys: 0, replication_factor: 1 });
  seed.status = at(a.address);
  const c = await RingkvClient.connect({ nodes: [seed.address], ringAware: true });
  try {
    assert.equal((await c.put('moved', 'v')).node, 'n1');
    assert.equal(a.connectionCount, 1);
    seed.status = at(b.address);
    await c.refreshRing();
    await waitFor('the connection to the old address closed', () => a.connectionCount === 0, 5000);
    assert.equal((await c.put('moved', 'w')).node, 'n1');
    assert.equal(b.requests.length, 1, 'the node is reached at its new address');
  } finally {
    c.close();
    for (const p of [seed, a, b]) await p.close();
  }
});

test('a node that drops connections fails the attempt as Unavailable and the client fails over', async () => {
  const a = await ProtocolPeer.start((_req, peer) => {
    peer.dropConnections();
    return null;
  });
  const b = await ProtocolPeer.start(memoryHandler());
  const c = await RingkvClient.connect({ nodes: [a.address, b.address], ringAware: false, retries: 1 });
  try {
    for (let i = 0; i < 4; i++) {
      const r = await c.put(`k${i}`, 'v');
      assert.equal(r.node, b.address);
    }
    assert.ok(a.requests.length >= 1, 'A was tried');
    // With no retries left the same failure surfaces as a typed, transport-level Unavailable.
    const c0 = await RingkvClient.connect({ nodes: [a.address], ringAware: false, retries: 0 });
    await assert.rejects(c0.get('k'), (e) => isRingkvError(e, ErrorCode.Unavailable) && e.details['transport'] === true);
    c0.close();
  } finally {
    c.close();
    await a.close();
    await b.close();
  }
});

test('an unreachable node fails fast with Unavailable; a closed client refuses work', async () => {
  const c = await RingkvClient.connect({ nodes: ['127.0.0.1:1'], retries: 0, ringRefreshMs: 0 });
  await assert.rejects(c.get('k'), (e) => isRingkvError(e, ErrorCode.Unavailable));
  c.close();
  await assert.rejects(c.get('k'), (e) => isRingkvError(e, ErrorCode.Closed));
});

test('readCache: a hot key is read once per TTL; writes through the client are seen at once, and a read in flight across one is not kept', async () => {
  const store = memoryHandler();
  let holdGets: Array<() => void> | null = null;
  const peer = await ProtocolPeer.start(async (req, p) => {
    if (req.op === 'get' && holdGets !== null) await new Promise<void>((release) => holdGets!.push(release));
    const answer = await store(req, p);
    assert.ok(answer !== null);
    return answer;
  });
  const c = await RingkvClient.connect({ nodes: [peer.address], ringAware: false, readCache: { ttlMs: 60_000 } });
  const gets = (): number => peer.requests.filter((r) => r.op === 'get').length;
  const value = (r: Awaited<ReturnType<typeof c.get>>): string => (r.found ? Buffer.from(r.value).toString() : 'not found');
  try {
    await c.put('hot', 'v1');
    const first = await c.get('hot');
    assert.equal(first.cached, undefined);
    const again = await Promise.all(Array.from({ length: 20 }, () => c.get('hot', { consistency: 'ONE' })));
    assert.ok(again.every((r) => r.cached === true && value(r) === 'v1'));
    assert.equal(gets(), 1, 'one request for 21 reads');
    assert.equal((await c.get('hot', { consistency: 'ALL' })).cached, undefined, 'a QUORUM answer does not stand in for ALL');

    await c.put('hot', 'v2');
    assert.equal(value(await c.get('hot')), 'v2', "the client's own write is seen at once");
    await c.delete('hot');
    assert.equal(value(await c.get('hot')), 'not found');
    assert.equal((await c.get('hot')).cached, true, 'not found is kept too');

    // A read answered after a write of its key began may hold the value from before it.
    await c.put('race', 'old');
    holdGets = [];
    const inFlight = c.get('race');
    await waitFor('the read at the node', () => holdGets!.length === 1, 5_000);
    await c.put('race', 'new');
    for (const release of holdGets) release();
    holdGets = null;
    await inFlight;
    const after = await c.get('race');
    assert.equal(after.cached, undefined, 'the read that overlapped the write was not kept');
    assert.equal(value(after), 'new');
    const s = c.stats();
    assert.deepEqual([s.readCacheHits, s.readCacheEntries, s.readCacheJoined], [21, 2, 0]);

    // An expired (here: never read) key read by many at once: one request, the rest join it.
    const before = gets();
    holdGets = [];
    const leader = c.get('race2');
    await waitFor('the read at the node', () => holdGets!.length === 1, 5_000);
    const joiners = Array.from({ length: 5 }, () => c.get('race2', { consistency: 'ONE' }));
    const stronger = c.get('race2', { consistency: 'ALL' });
    await waitFor('the ALL read at the node', () => holdGets!.length === 2, 5_000);
    for (const release of holdGets) release();
    holdGets = null;
    const joined = await Promise.all(joiners);
    assert.deepEqual([(await leader).cached, (await stronger).cached, joined.every((r) => r.cached === true && r.found === false)], [undefined, undefined, true]);
    assert.equal(gets() - before, 2, 'the leader and the ALL read went out; the 5 ONE reads joined the leader');
    assert.equal(c.stats().readCacheJoined, 5);
    c.close();
    await assert.rejects(c.get('race'), (e) => isRingkvError(e, ErrorCode.Closed), 'a closed client answers nothing from its cache either');
  } finally {
    c.close();
    await peer.close();
  }
});
