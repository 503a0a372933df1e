// The anti-entropy runner's full pass over real replicas (ShardRouters over real worker threads
// and engines, one per node id, reached in-process): a pass syncs every differing leaf, however
// many one round may repair, in trees sized by the larger of the two replicas (an empty joining
// node's own estimate would make one leaf of a whole range); a rebuilding node whose ranges have
// no other replica (N = 1) pulls each from the node that owned it before this one joined, pushing
// nothing, and a node that is not rebuilding skips such ranges; a pass can leave named ranges out;
// a rebuilding node's pass pulls every range whole, without trees, where a node that is not
// rebuilding compares trees and pushes what the peer lacks; a peer that rebuilds too is not the one
// a range is synced with while another replica is up.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { localRangeReplica, type RangeReplica } from '../../../src/antientropy';
import { antiEntropyLeavesPerSyncMax, tombstoneGraceMsDefault } from '../../../src/constants';
import { AntiEntropyRunner, rebuildSources, type VnodeRange } from '../../../src/coordinator/anti_entropy';
import { ErrorCode, RingkvError } from '../../../src/errors';
import { keyToken, Ring } from '../../../src/ring';
import { ShardRouter, type WriteOp } from '../../../src/shards';

const dirs: string[] = [];
const routers: ShardRouter[] = [];
after(async () => {
  for (const r of routers) await r.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
async function open(nodeId: string): Promise<ShardRouter> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-aer-'));
  dirs.push(dataDir);
  const r = await ShardRouter.open({ dataDir, nodeId, shardCount: 1, storage: { syncMode: 'none' } });
  routers.push(r);
  return r;
}
/** A replica per node id, each over its own router, reached in-process. */
async function openNodes(ids: string[]): Promise<{ nodes: Map<string, ShardRouter>; replicas: Map<string, RangeReplica> }> {
  const nodes = new Map<string, ShardRouter>();
  for (const id of ids) nodes.set(id, await open(id));
  return { nodes, replicas: new Map([...nodes].map(([id, r]) => [id, localRangeReplica(id, r, 10_000, () => tombstoneGraceMsDefault)])) };
}
const b = (s: string) => new Uint8Array(Buffer.from(s));
function put(key: string, value: string): WriteOp {
  return { op: 'put', key: b(key), value: b(value), ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: null, returnRecord: false, notAfterMs: 0 };
}
async function keysOf(r: ShardRouter): Promise<Set<string>> {
  const entries = await r.scanRange(0n, (1n << 64n) - 1n, { limit: 100_000 });
  return new Set(entries.map((e) => Buffer.from(e.key).toString()));
}

/** `rebuilding`: true for a node that joined; `rebuildingPeers`: peers that joined, `replacedPeers`: peers that replaced their data dirs, `joinedLater`: peers that joined after this node's rebuild began; `down`: nodes not alive. */
function runner(o: { nodeId: string; ring: Ring; n: number; replicas: Map<string, RangeReplica>; keyEstimate: number; peerKeyEstimate?: number; rebuilding: boolean | 'replaced'; rebuildingPeers?: string[]; replacedPeers?: string[]; joinedLater?: string[]; down?: string[]; log?: (line: string) => void; now?: () => number }): AntiEntropyRunner {
  return new AntiEntropyRunner({
    nodeId: o.nodeId,
    intervalMs: 0,
    replicationFactor: o.n,
    ring: () => o.ring,
    isAlive: (id) => !(o.down?.includes(id) ?? false),
    rebuilding: () => (o.rebuilding === false ? null : o.rebuilding === true ? 'joined' : o.rebuilding),
    peerRebuilding: (id) => (o.replacedPeers?.includes(id) === true ? 'replaced' : o.rebuildingPeers?.includes(id) === true ? 'joined' : null),
    joinedSinceRebuild: (id) => o.joinedLater?.includes(id) === true,
    local: o.replicas.get(o.nodeId)!,
    remote: (id) => o.replicas.get(id),
    keyEstimate: () => o.keyEstimate,
    peerKeyEstimate: () => o.peerKeyEstimate ?? 0,
    random: Math.random,
    log: o.log ?? (() => {}),
    tombstoneGraceMs: () => tombstoneGraceMsDefault,
    ...(o.now !== undefined && { now: o.now }),
  });
}

test('a full pass from an empty node syncs every differing leaf of trees sized by the peer, past the leaves one round repairs', async () => {
  const { nodes, replicas } = await openNodes(['A', 'B']);
  const a = nodes.get('A')!;
  const bb = nodes.get('B')!;
  const keys = Array.from({ length: 3000 }, (_, i) => `k-${i}`);
  for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((k) => bb.write(put(k, 'v'))));
  // Two nodes, one vnode each, N = 2: two ranges, both on both. A large key estimate makes the
  // trees 4096 leaves deep, so the 3000 keys differ in far more leaves than one sync repairs.
  const ring = Ring.build([{ nodeId: 'A', vnodes: 1 }, { nodeId: 'B', vnodes: 1 }], 1);
  // A is empty, as a joining node is: B's estimate sizes the trees.
  const r = runner({ nodeId: 'A', ring, n: 2, replicas, keyEstimate: 0, peerKeyEstimate: 100_000, rebuilding: false });
  const sum = await r.fullPass();
  assert.deepEqual({ ranges: sum.ranges, synced: sum.synced, skipped: sum.skipped, failed: sum.failed, pulled: sum.pulled, pushed: sum.pushed }, { ranges: 2, synced: 2, skipped: 0, failed: 0, pulled: keys.length, pushed: 0 });
  assert.ok(r.counters.antiEntropyLeavesDiffering > 2 * antiEntropyLeavesPerSyncMax, `${r.counters.antiEntropyLeavesDiffering} leaves differed`);
  assert.equal((await keysOf(a)).size, keys.length);
  await r.stop();
});

test('with N = 1, a rebuilding node pulls its ranges from their previous owners; one that is not rebuilding skips them', async () => {
  const { nodes, replicas } = await openNodes(['A', 'B', 'C']);
  // B and C ran a cluster of two; A joins and takes some of each one's ranges.
  const before = Ring.build([{ nodeId: 'B', vnodes: 16 }, { nodeId: 'C', vnodes: 16 }], 1);
  const ring = Ring.build([{ nodeId: 'A', vnodes: 16 }, { nodeId: 'B', vnodes: 16 }, { nodeId: 'C', vnodes: 16 }], 2);
  const ownerIn = (r: Ring, k: string) => r.preferenceList(keyToken(b(k)), 1)[0]!;
  const keys = Array.from({ length: 400 }, (_, i) => `one-${i}`);
  for (const k of keys) await nodes.get(ownerIn(before, k))!.write(put(k, `v-${k}`));
  const held = { B: await keysOf(nodes.get('B')!), C: await keysOf(nodes.get('C')!) };
  const taken = keys.filter((k) => ownerIn(ring, k) === 'A');
  assert.ok(taken.some((k) => ownerIn(before, k) === 'B') && taken.some((k) => ownerIn(before, k) === 'C'), 'A takes keys from both');

  // A write that reached A after it joined: a pull-only pass must not copy it to the previous owner.
  const late = Array.from({ length: 100 }, (_, i) => `late-${i}`).find((k) => ownerIn(ring, k) === 'A')!;
  await nodes.get('A')!.write(put(late, 'new'));

  const idle = runner({ nodeId: 'A', ring, n: 1, replicas, keyEstimate: 0, rebuilding: false });
  const skipped = await idle.fullPass();
  assert.deepEqual({ synced: skipped.synced, skipped: skipped.skipped, pulled: skipped.pulled }, { synced: 0, skipped: 16, pulled: 0 });

  const r = runner({ nodeId: 'A', ring, n: 1, replicas, keyEstimate: 0, rebuilding: true });
  const sum = await r.fullPass();
  assert.deepEqual({ ranges: sum.ranges, synced: sum.synced, skipped: sum.skipped, failed: sum.failed, pulled: sum.pulled, pushed: sum.pushed }, { ranges: 16, synced: 16, skipped: 0, failed: 0, pulled: taken.length, pushed: 0 });
  assert.deepEqual([...(await keysOf(nodes.get('A')!))].sort(), [...taken, late].sort());
  assert.deepEqual(await keysOf(nodes.get('B')!), held.B, 'nothing was pushed to B');
  assert.deepEqual(await keysOf(nodes.get('C')!), held.C, 'nothing was pushed to C');
  await Promise.all([idle.stop(), r.stop()]);
});

test('with N = 1, a node that joined after the rebuild began (and has finished its own) is not taken for a previous owner', async () => {
  const { nodes, replicas } = await openNodes(['A', 'B', 'C', 'D']);
  // B and C ran a cluster of two; A joined, and while it rebuilt D joined too and finished.
  const before = Ring.build([{ nodeId: 'B', vnodes: 16 }, { nodeId: 'C', vnodes: 16 }], 1);
  const withA = Ring.build(['A', 'B', 'C'].map((nodeId) => ({ nodeId, vnodes: 16 })), 2);
  const ring = Ring.build(['A', 'B', 'C', 'D'].map((nodeId) => ({ nodeId, vnodes: 16 })), 3);
  const ownerIn = (r: Ring, k: string) => r.preferenceList(keyToken(b(k)), 1)[0]!;
  const keys = Array.from({ length: 600 }, (_, i) => `later-${i}`);
  for (const k of keys) await nodes.get(ownerIn(before, k))!.write(put(k, `v-${k}`));
  // D's own rebuild pulled its ranges (from A's ring: none of A's).
  for (const k of keys) if (ownerIn(ring, k) === 'D') await nodes.get('D')!.write(put(k, `v-${k}`));
  const taken = keys.filter((k) => ownerIn(ring, k) === 'A');
  const withoutA = ring.without(['A']);
  assert.ok(taken.some((k) => withoutA.preferenceList(keyToken(b(k)), 1)[0] === 'D'), 'the ring without A names D for some of A\'s keys');
  assert.ok(taken.every((k) => ownerIn(withA, k) === 'A'), 'A took them when it joined');

  const r = runner({ nodeId: 'A', ring, n: 1, replicas, keyEstimate: 0, rebuilding: true, joinedLater: ['D'] });
  const sum = await r.fullPass();
  assert.deepEqual({ synced: sum.synced, skipped: sum.skipped, failed: sum.failed }, { synced: 16, skipped: 0, failed: 0 });
  const held = await keysOf(nodes.get('A')!);
  assert.deepEqual(taken.filter((k) => !held.has(k)), [], 'every key A took over, pulled from B or C');
  await r.stop();
});

test('a pass leaves out the ranges `skip` names and reports each range it synced whole', async () => {
  const { nodes, replicas } = await openNodes(['A', 'B']);
  const a = nodes.get('A')!;
  const bb = nodes.get('B')!;
  for (let i = 0; i < 200; i++) await bb.write(put(`s-${i}`, 'v'));
  const ring = Ring.build([{ nodeId: 'A', vnodes: 8 }, { nodeId: 'B', vnodes: 8 }], 1);
  const all = ring.replicatedRanges('A', 2);
  assert.equal(all.length, 16);
  const skipped = new Set(all.filter((_, i) => i % 2 === 0).map((r) => r.token));
  const heard: bigint[] = [];
  const r = runner({ nodeId: 'A', ring, n: 2, replicas, keyEstimate: 0, rebuilding: false });
  const sum = await r.fullPass({ skip: (x) => skipped.has(x.token), synced: (x) => heard.push(x.token) });
  assert.deepEqual({ ranges: sum.ranges, synced: sum.synced }, { ranges: 8, synced: 8 });
  assert.deepEqual(heard.sort(), all.filter((x) => !skipped.has(x.token)).map((x) => x.token).sort());
  // A holds exactly the keys of the ranges it synced.
  const inSynced = (k: string): boolean => {
    const t = keyToken(b(k));
    return all.some((x) => !skipped.has(x.token) && (x.previous < x.token ? t > x.previous && t <= x.token : t > x.previous || t <= x.token));
  };
  assert.equal((await keysOf(a)).size, Array.from({ length: 200 }, (_, i) => `s-${i}`).filter(inSynced).length);
  await r.stop();
});

test('with N = 1 and two nodes joining at once, a rebuilding node pulls from the owners before both joined', async () => {
  const { nodes, replicas } = await openNodes(['A', 'B', 'C', 'D']);
  const before = Ring.build([{ nodeId: 'C', vnodes: 16 }, { nodeId: 'D', vnodes: 16 }], 1);
  const ring = Ring.build([{ nodeId: 'A', vnodes: 16 }, { nodeId: 'B', vnodes: 16 }, { nodeId: 'C', vnodes: 16 }, { nodeId: 'D', vnodes: 16 }], 2);
  const ownerIn = (r: Ring, k: string) => r.preferenceList(keyToken(b(k)), 1)[0]!;
  const keys = Array.from({ length: 600 }, (_, i) => `two-${i}`);
  for (const k of keys) await nodes.get(ownerIn(before, k))!.write(put(k, `v-${k}`));
  const taken = keys.filter((k) => ownerIn(ring, k) === 'A');
  // Some of A's keys lie where the ring without A alone puts B, which joined too and holds nothing.
  assert.ok(taken.some((k) => ownerIn(ring.without(['A']), k) === 'B'), 'a range of A was B\'s in the ring without A');
  const r = runner({ nodeId: 'A', ring, n: 1, replicas, keyEstimate: 0, rebuilding: true, rebuildingPeers: ['B'] });
  const sum = await r.fullPass();
  assert.equal(sum.failed + sum.skipped, 0);
  assert.deepEqual([...(await keysOf(nodes.get('A')!))].sort(), taken.sort());
  await r.stop();
});

test('a rebuilding node\'s pass pulls each range whole without Merkle trees and pushes nothing; otherwise trees are compared both ways', async () => {
  const { nodes, replicas } = await openNodes(['A', 'B']);
  const a = nodes.get('A')!;
  const bb = nodes.get('B')!;
  const keys = Array.from({ length: 500 }, (_, i) => `r-${i}`);
  for (let i = 0; i < keys.length; i += 250) await Promise.all(keys.slice(i, i + 250).map((k) => bb.write(put(k, 'v'))));
  // Live writes that reached the rebuilding node as a replica.
  for (let i = 0; i < 5; i++) await a.write(put(`live-${i}`, 'a'));
  const merkleCalls = new Map<string, number>();
  const counted = new Map(
    [...replicas].map(([id, r]): [string, RangeReplica] => [id, { ...r, merkleLeaves: (range, depth) => (merkleCalls.set(id, (merkleCalls.get(id) ?? 0) + 1), r.merkleLeaves(range, depth)) }]),
  );
  const ring = Ring.build([{ nodeId: 'A', vnodes: 4 }, { nodeId: 'B', vnodes: 4 }], 1);

  const rebuilding = runner({ nodeId: 'A', ring, n: 2, replicas: counted, keyEstimate: 0, peerKeyEstimate: 500, rebuilding: true });
  const sum = await rebuilding.fullPass();
  assert.deepEqual({ ranges: sum.ranges, synced: sum.synced, failed: sum.failed, pulled: sum.pulled, pushed: sum.pushed }, { ranges: 8, synced: 8, failed: 0, pulled: keys.length, pushed: 0 });
  assert.equal(merkleCalls.size, 0, 'no tree was asked for');
  assert.equal((await keysOf(a)).size, keys.length + 5);
  assert.equal((await keysOf(bb)).size, keys.length, 'the live writes were not pushed');
  await rebuilding.stop();

  const settled = runner({ nodeId: 'A', ring, n: 2, replicas: counted, keyEstimate: 505, peerKeyEstimate: 500, rebuilding: false });
  const again = await settled.fullPass();
  assert.deepEqual({ synced: again.synced, pulled: again.pulled, pushed: again.pushed }, { synced: 8, pulled: 0, pushed: 5 });
  assert.ok((merkleCalls.get('A') ?? 0) > 0 && (merkleCalls.get('B') ?? 0) > 0, 'both sides hashed their ranges');
  assert.equal((await keysOf(bb)).size, keys.length + 5);
  await settled.stop();
});

test('with two nodes joining at once, each range is pulled from the replica that is not rebuilding', async () => {
  const { nodes, replicas } = await openNodes(['A', 'B', 'C']);
  const c = nodes.get('C')!;
  const keys = Array.from({ length: 300 }, (_, i) => `j-${i}`);
  await Promise.all(keys.map((k) => c.write(put(k, 'v'))));
  // N = 3 over three nodes: every range is on A, B and C. B joined with A and holds nothing yet.
  const ring = Ring.build([{ nodeId: 'A', vnodes: 8 }, { nodeId: 'B', vnodes: 8 }, { nodeId: 'C', vnodes: 8 }], 2);
  const r = runner({ nodeId: 'A', ring, n: 3, replicas, keyEstimate: 0, peerKeyEstimate: 300, rebuilding: true, rebuildingPeers: ['B'] });
  const sum = await r.fullPass();
  assert.deepEqual({ ranges: sum.ranges, synced: sum.synced, failed: sum.failed, pulled: sum.pulled }, { ranges: 24, synced: 24, failed: 0, pulled: keys.length });
  assert.equal((await keysOf(nodes.get('A')!)).size, keys.length);
  await r.stop();
});

test('a rebuilding node whose range\'s other replicas all joined with it pulls that range from its owners before the join', async () => {
  const { nodes, replicas } = await openNodes(['A', 'B', 'C']);
  const c = nodes.get('C')!;
  // C ran alone with N = 2 (so it held every key); A and B joined together, and with N = 2 some
  // ranges are now on A and B only.
  const ring = Ring.build([{ nodeId: 'A', vnodes: 8 }, { nodeId: 'B', vnodes: 8 }, { nodeId: 'C', vnodes: 8 }], 2);
  const keys = Array.from({ length: 300 }, (_, i) => `o-${i}`);
  await Promise.all(keys.map((k) => c.write(put(k, 'v'))));
  const onA = keys.filter((k) => ring.preferenceList(keyToken(b(k)), 2).includes('A'));
  assert.ok(onA.some((k) => !ring.preferenceList(keyToken(b(k)), 2).includes('C')), 'some of A\'s keys are on A and B only');
  const r = runner({ nodeId: 'A', ring, n: 2, replicas, keyEstimate: 0, peerKeyEstimate: 300, rebuilding: true, rebuildingPeers: ['B'] });
  const sum = await r.fullPass();
  assert.equal(sum.failed + sum.skipped, 0);
  assert.deepEqual([...(await keysOf(nodes.get('A')!))].sort(), onA.sort());
  await r.stop();
});

test('a node replaced under its id whose range\'s co-replicas are all down leaves the range for later: the ring without it names nodes that never held it', async () => {
  const { nodes, replicas } = await openNodes(['A', 'B', 'C']);
  // N = 2 over three nodes: each of A's ranges has one co-replica, B or C. A's data dir was
  // lost; B (and its copies) is down.
  const ring = Ring.build([{ nodeId: 'A', vnodes: 8 }, { nodeId: 'B', vnodes: 8 }, { nodeId: 'C', vnodes: 8 }], 3);
  const ranges = ring.replicatedRanges('A', 2);
  const withB = ranges.filter((x) => x.replicas.includes('B'));
  const withC = ranges.filter((x) => x.replicas.includes('C'));
  assert.ok(withB.length > 0 && withC.length > 0, 'A shares ranges with both');
  for (let i = 0; i < 300; i++) {
    const k = `r-${i}`;
    for (const id of ring.preferenceList(keyToken(b(k)), 2)) if (id !== 'A') await nodes.get(id)!.write(put(k, 'v'));
  }
  const synced: bigint[] = [];
  const r = runner({ nodeId: 'A', ring, n: 2, replicas, keyEstimate: 0, rebuilding: 'replaced', down: ['B'] });
  const sum = await r.fullPass({ synced: (x) => synced.push(x.token) });
  assert.deepEqual(synced.sort(), withC.map((x) => x.token).sort(), 'only the ranges whose co-replica (C) is up were synced');
  assert.equal(sum.skipped, withB.length);
  // A node that joined pulls such a range from its owners before the join: C, where it holds the range's keys.
  const joined = runner({ nodeId: 'A', ring, n: 2, replicas, keyEstimate: 0, rebuilding: true, down: ['B'] });
  const all: bigint[] = [];
  await joined.fullPass({ synced: (x) => all.push(x.token) });
  assert.ok(withB.some((x) => all.includes(x.token)), 'a joined node takes the ring without it as the previous owners');
  await Promise.all([r.stop(), joined.stop()]);
});

test('nodes that replaced their data dirs together sync the ranges only they replicate with each other; not while the other joined or is down', async () => {
  const { nodes, replicas } = await openNodes(['A', 'B', 'C']);
  // N = 2 over three nodes. A and B both lost their data dirs and came back under their ids: the
  // ranges they alone replicate kept nothing from before, and B has been written to since.
  const ring = Ring.build([{ nodeId: 'A', vnodes: 8 }, { nodeId: 'B', vnodes: 8 }, { nodeId: 'C', vnodes: 8 }], 5);
  const ranges = ring.replicatedRanges('A', 2);
  const withB = ranges.filter((x) => x.replicas.includes('B'));
  assert.ok(withB.length > 0 && withB.length < ranges.length, 'A shares ranges with B and with C');
  const keys = Array.from({ length: 300 }, (_, i) => `o-${i}`);
  const onA = keys.filter((k) => ring.preferenceList(keyToken(b(k)), 2).includes('A'));
  for (const k of onA) for (const id of ring.preferenceList(keyToken(b(k)), 2)) if (id !== 'A') await nodes.get(id)!.write(put(k, `v-${k}`));
  const onAandB = onA.filter((k) => ring.preferenceList(keyToken(b(k)), 2).includes('B'));
  assert.ok(onAandB.length > 0 && onAandB.length < onA.length);
  const pass = async (o: { replacedPeers?: string[]; rebuildingPeers?: string[]; down?: string[] }) => {
    const lines: string[] = [];
    const r = runner({ nodeId: 'A', ring, n: 2, replicas, keyEstimate: 0, rebuilding: 'replaced', ...o, log: (l) => lines.push(l) });
    const sum = await r.fullPass();
    await r.stop();
    return { sum, lines };
  };

  // B joined (it is still pulling these ranges from their previous owner): A waits for it to settle.
  const whileJoining = await pass({ rebuildingPeers: ['B'] });
  assert.equal(whileJoining.sum.skipped, withB.length);
  assert.ok(!(await keysOf(nodes.get('A')!)).has(onAandB[0]!), 'nothing was pulled from a co-replica that joined');
  // B replaced its data dir too but is down: it may come back with the ranges.
  assert.equal((await pass({ replacedPeers: ['B'], down: ['B'] })).sum.skipped, withB.length);

  const both = await pass({ replacedPeers: ['B'] });
  assert.deepEqual({ synced: both.sum.synced, skipped: both.sum.skipped, failed: both.sum.failed }, { synced: ranges.length, skipped: 0, failed: 0 });
  assert.deepEqual([...(await keysOf(nodes.get('A')!))].sort(), onA.sort(), 'what B was written since, and every key C holds');
  assert.ok(both.lines.some((l) => l.startsWith(`rebuilding: WARN ${withB.length} ranges have no replica left that kept its data dir`)), both.lines.join('\n'));
});

test('a range counts as synced from when its sync began: a pass brings the oldest sync up to date, a range it left out keeps its age', async () => {
  const { replicas } = await openNodes(['A', 'B']);
  const ring = Ring.build([{ nodeId: 'A', vnodes: 8 }, { nodeId: 'B', vnodes: 8 }], 1);
  const dayMs = 86_400_000;
  let now = 1_700_000_000_000;
  const started = now;
  const r = runner({ nodeId: 'A', ring, n: 2, replicas, keyEstimate: 0, rebuilding: false, now: () => now });
  now += 3 * dayMs;
  assert.equal(r.coverage.syncedSinceMs(), started, 'never synced: counted from the start');
  const first = ring.replicatedRanges('A', 2)[0]!;
  const passAt = now;
  assert.equal((await r.fullPass({ skip: (x) => x.token === first.token })).synced, 15);
  now += 1000;
  assert.equal(r.coverage.ageMs(), 3 * dayMs + 1000, 'the range left out is as old as before');
  assert.equal((await r.fullPass({ skip: (x) => x.token !== first.token })).synced, 1);
  now += 1000;
  assert.equal(r.coverage.syncedSinceMs(), passAt, 'the oldest sync is now the first pass\'s');
  assert.equal(r.coverage.ageMs(), 2000);
  await r.stop();

  // A sync that fails (the peer stops answering mid-range) leaves the range as old as it was.
  const down = new Map(replicas);
  down.set('B', { ...replicas.get('B')!, merkleLeaves: () => Promise.reject(new RingkvError(ErrorCode.Unavailable, 'B stopped answering')) });
  const failing = runner({ nodeId: 'A', ring, n: 2, replicas: down, keyEstimate: 0, rebuilding: false, now: () => now });
  now += dayMs;
  assert.equal((await failing.fullPass()).failed, 16);
  assert.equal(failing.coverage.ageMs(), dayMs);
  await failing.stop();
});

test('a full pass asked for while one runs is the next one, run after it, so it covers what changed in ranges the running one had passed', async () => {
  const { nodes, replicas } = await openNodes(['A', 'B']);
  const a = nodes.get('A')!;
  const bb = nodes.get('B')!;
  const ring = Ring.build([{ nodeId: 'A', vnodes: 1 }, { nodeId: 'B', vnodes: 1 }], 1);
  const r = runner({ nodeId: 'A', ring, n: 2, replicas, keyEstimate: 100, peerKeyEstimate: 100, rebuilding: false });
  const within = (x: VnodeRange, t: bigint): boolean => (x.previous < x.token ? t > x.previous && t <= x.token : t > x.previous || t <= x.token);
  const asked: { second?: ReturnType<typeof r.fullPass>; written?: Promise<unknown> } = {};
  let late = '';
  const first = r.fullPass({
    synced: (x) => {
      if (asked.second !== undefined) return;
      // The first range is synced: a write reaches B in it (B's shard takes it before the scans
      // of any later sync), and a repair is asked for while the pass still runs.
      for (let i = 0; late === ''; i++) if (within(x, keyToken(b(`late-${i}`)))) late = `late-${i}`;
      asked.written = bb.write(put(late, 'v'));
      asked.second = r.fullPass();
    },
  });
  const firstSum = await first;
  assert.equal(firstSum.synced, 2);
  assert.ok(asked.second !== undefined && asked.written !== undefined);
  await asked.written;
  const secondSum = await asked.second;
  assert.notEqual(secondSum, firstSum, 'a pass of its own');
  assert.equal(secondSum.synced, 2);
  assert.ok((await keysOf(a)).has(late), `${late}, written after the running pass had synced its range, reached A`);
  // Calls while a pass runs share the next one; options merge (any full pass wins over skips).
  const p1 = r.fullPass({ skip: () => true });
  const p2 = r.fullPass({ skip: () => true });
  const p3 = r.fullPass();
  assert.equal(p2, p3);
  assert.equal((await p1).synced, 0);
  assert.equal((await p3).synced, 2);
});

test("a rebuilding node reads a key from its previous owners where every other replica of it is rebuilding too, from the owners its join displaced (not required) where a settled one is up, and says 'down' where the holders are", () => {
  // N = 2; c and d joined together: a key whose new replicas are c and d is on neither yet, so
  // their reads must not be answered from their empty copies (each took the other for a holder).
  const ring = Ring.build(['a', 'b', 'c', 'd'].map((nodeId) => ({ nodeId, vnodes: 16 })), 2);
  const before = Ring.build(['a', 'b'].map((nodeId) => ({ nodeId, vnodes: 16 })), 1);
  const rebuilding = new Set(['c', 'd']);
  const deps = { isAlive: () => true, isRebuilding: (id: string) => rebuilding.has(id) };
  let both = 0;
  let mixed = 0;
  let withDisplaced = 0;
  for (let i = 0; i < 400; i++) {
    const token = keyToken(Buffer.from(`k${i}`));
    const pref = ring.preferenceList(token, 2);
    if (!pref.includes('c')) continue;
    const sources = rebuildSources(ring, 'c', token, 2, 'joined', deps);
    assert.notEqual(sources, 'down');
    if (sources === 'down') continue;
    if (pref.includes('d')) {
      both++;
      assert.equal(sources.required, true);
      for (const owner of before.preferenceList(token, 2)) assert.ok(sources.nodes.includes(owner), `k${i}: ${owner}, an owner before the join, is among ${sources.nodes.join(',')}`);
      // The owners before the join down: c's copy cannot tell that a key is absent.
      assert.equal(rebuildSources(ring, 'c', token, 2, 'joined', { ...deps, isAlive: (id) => id === 'c' || id === 'd' }), 'down');
    } else {
      mixed++;
      // A settled replica answers; the owner c took the key from (out of its preference list now) is read too, as a best effort.
      const displaced = before.preferenceList(token, 2).filter((id) => !pref.includes(id));
      assert.deepEqual(sources, { nodes: displaced, required: false }, `k${i}`);
      if (displaced.length > 0) withDisplaced++;
    }
    if (!pref.includes('d')) {
      assert.deepEqual(rebuildSources(ring, 'c', token, 2, 'replaced', deps), { nodes: [], required: false }, 'a replaced node reads its co-replicas, as any read does');
      assert.equal(rebuildSources(ring, 'c', token, 2, 'replaced', { ...deps, isAlive: (id) => id === 'c' }), 'down', 'its co-replicas down');
    }
  }
  assert.ok(both > 0 && mixed > 0 && withDisplaced > 0, `${both} keys on c and d, ${mixed} on c and a settled node (${withDisplaced} of them taken from a node out of their preference list now)`);
});

test('with datacenters, a replica in another datacenter does not answer for a rebuilding node: a LOCAL_* read asks its own', () => {
  // N = 1 in each datacenter; e2 joined east and took ranges from e1. w1 holds every key too,
  // but a LOCAL_ONE read in east asks e2 alone: e2 reads the key from its holders first.
  const members = [
    { nodeId: 'e1', vnodes: 16, datacenter: 'east' },
    { nodeId: 'e2', vnodes: 16, datacenter: 'east' },
    { nodeId: 'w1', vnodes: 16, datacenter: 'west' },
  ];
  const ring = Ring.build(members, 2);
  const deps = { isAlive: () => true, isRebuilding: (id: string) => id === 'e2' };
  let moved = 0;
  for (let i = 0; i < 200; i++) {
    const token = keyToken(Buffer.from(`dc${i}`));
    if (!ring.preferenceList(token, 1).includes('e2')) continue;
    moved++;
    const joined = rebuildSources(ring, 'e2', token, 1, 'joined', deps);
    assert.ok(joined !== 'down' && joined.required && joined.nodes.includes('e1'), `dc${i}: ${JSON.stringify(joined)}`);
    // Replaced under its id, its co-replica in east gone: the one in west has the key.
    assert.deepEqual(rebuildSources(ring, 'e2', token, 1, 'replaced', deps), { nodes: ['w1'], required: true });
    assert.equal(rebuildSources(ring, 'e2', token, 1, 'replaced', { ...deps, isAlive: (id) => id === 'e2' }), 'down');
  }
  assert.ok(moved > 0);
});
