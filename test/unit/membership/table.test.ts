// The membership table's merge rule and failure detector, driven with explicit times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MembershipTable, classify, type MemberInfo } from '../../../src/membership';
import { clusterNodesMax, incarnationMax, tombstoneGraceMsDefault } from '../../../src/constants';

const fd = { suspectAfterMs: 300, deadAfterMs: 600 };
const info = (nodeId: string, incarnation: number, heartbeat: number, status: MemberInfo['status'] = 'ALIVE'): MemberInfo => ({
  nodeId,
  host: '127.0.0.1',
  httpPort: 7000,
  peerPort: 8000,
  vnodes: 8,
  incarnation,
  heartbeat,
  status,
  keyEstimate: 0,
  load: 0,
});

test('classify: ALIVE, then SUSPECT at suspectAfterMs, then DEAD at deadAfterMs', () => {
  // Proves the detector's thresholds are inclusive and ordered.
  assert.equal(classify(299, fd), 'ALIVE');
  assert.equal(classify(300, fd), 'SUSPECT');
  assert.equal(classify(599, fd), 'SUSPECT');
  assert.equal(classify(600, fd), 'DEAD');
});

test('merge: a higher (incarnation, heartbeat) wins; an older one is ignored; self is never overwritten', () => {
  // Proves the version order of gossip entries and that stale gossip cannot roll a node back.
  const t = new MembershipTable(info('a', 1, 0), fd, 0);
  assert.deepEqual(t.merge([info('b', 5, 10)], 0).map((c) => `${c.nodeId}:${c.from}->${c.to}`), ['b:UNKNOWN->ALIVE']);
  t.merge([info('b', 5, 9)], 100);
  assert.equal(t.info('b')!.heartbeat, 10);
  t.merge([info('b', 5, 11)], 100);
  assert.equal(t.info('b')!.heartbeat, 11);
  t.merge([info('b', 6, 0)], 100);
  assert.equal(t.info('b')!.incarnation, 6);
  assert.equal(t.info('b')!.heartbeat, 0);
  // Our id at another address (another process with it): reported as a claim, never taken in.
  t.merge([{ ...info('a', 99, 99), host: '127.0.0.2' }], 100);
  assert.equal(t.self.incarnation, 1);
  assert.equal(t.self.heartbeat, 0);
});

test('detect: silence makes a node SUSPECT then DEAD; progress brings it back ALIVE', () => {
  // Proves each transition is reported once, and that heartbeat progress heals any status.
  const t = new MembershipTable(info('a', 1, 0), fd, 0);
  t.merge([info('b', 1, 1)], 0);
  assert.deepEqual(t.detect(299), []);
  assert.deepEqual(t.detect(300).map((c) => c.to), ['SUSPECT']);
  assert.deepEqual(t.detect(400), []);
  assert.deepEqual(t.detect(650).map((c) => `${c.from}->${c.to}`), ['SUSPECT->DEAD']);
  const back = t.merge([info('b', 2, 0)], 700);
  assert.deepEqual(back.map((c) => `${c.from}->${c.to}`), ['DEAD->ALIVE']);
  assert.equal(t.status('b'), 'ALIVE');
  assert.deepEqual(t.detect(900), []);
});

test('a node first heard of as DEAD is adopted as DEAD, not as freshly ALIVE', () => {
  // Proves a joining node does not believe a long-dead node is alive for suspectAfterMs.
  const t = new MembershipTable(info('a', 1, 0), fd, 1000);
  t.merge([info('z', 1, 3, 'DEAD')], 1000);
  assert.equal(t.status('z'), 'DEAD');
  assert.deepEqual(t.detect(1001), []);
});

test('a node remembered from an earlier run (incarnation 0) takes the first word gossip has of it, DEAD, SUSPECT or ALIVE', () => {
  // Proves a restarted node does not believe a peer ALIVE, replaying hints to it and routing to
  // it, because a seed mentioned it as DEAD.
  const t = new MembershipTable(info('a', 1, 0), fd, 1000);
  t.merge(['y', 'z', 'x'].map((id) => info(id, 0, 0, 'DEAD')), 1000);
  assert.deepEqual(t.merge([info('z', 5, 3, 'DEAD'), info('y', 5, 9, 'SUSPECT'), info('x', 7, 2)], 2000), [
    { nodeId: 'y', from: 'DEAD', to: 'SUSPECT', atMs: 2000 },
    { nodeId: 'x', from: 'DEAD', to: 'ALIVE', atMs: 2000 },
  ]);
  assert.equal(t.status('z'), 'DEAD');
  assert.deepEqual(t.detect(2001), []);
  // y was said SUSPECT (silent for suspectAfterMs already): DEAD suspectAfterMs later, as x goes SUSPECT.
  const at = 2000 + fd.deadAfterMs - fd.suspectAfterMs;
  assert.deepEqual(t.detect(at), [
    { nodeId: 'y', from: 'SUSPECT', to: 'DEAD', atMs: at },
    { nodeId: 'x', from: 'ALIVE', to: 'SUSPECT', atMs: at },
  ]);
  // Heard from itself (its heartbeat goes on): ALIVE, as for any node.
  assert.deepEqual(t.merge([info('z', 5, 4)], 2500), [{ nodeId: 'z', from: 'DEAD', to: 'ALIVE', atMs: 2500 }]);
});

test('beat advances only our own heartbeat and carries our load figures', () => {
  // Proves the digest advertises the refreshed self entry.
  const t = new MembershipTable(info('a', 1, 0), fd, 0);
  t.beat(10, { keyEstimate: 42, load: 0.5 });
  const self = t.digest().find((m) => m.nodeId === 'a')!;
  assert.equal(self.heartbeat, 1);
  assert.equal(self.keyEstimate, 42);
  assert.equal(self.load, 0.5);
  // Storage trouble is advertised while it lasts and gone from the entry once it clears.
  t.beat(20, { keyEstimate: 42, load: 0.5, storage: 'full' });
  assert.equal(t.digest().find((m) => m.nodeId === 'a')!.storage, 'full');
  t.beat(30, { keyEstimate: 42, load: 0.5, storage: undefined });
  assert.ok(!('storage' in t.digest().find((m) => m.nodeId === 'a')!));
});

test('LEFT: announced by the node itself, sticky for its incarnation, never detected away; a restart rejoins', () => {
  // Proves a decommissioned node stays out whatever stale gossip says, and that a new process is welcome.
  const leaving = new MembershipTable(info('b', 5, 0), fd, 0);
  leaving.leave(10);
  assert.equal(leaving.status('b'), 'LEFT');
  const announced = leaving.digest().find((m) => m.nodeId === 'b')!;
  assert.equal(announced.status, 'LEFT');

  const t = new MembershipTable(info('a', 1, 0), fd, 0);
  t.merge([info('b', 5, 3)], 0);
  assert.deepEqual(t.merge([announced], 20).map((c) => `${c.from}->${c.to}`), ['ALIVE->LEFT']);
  // A peer that has not heard yet still gossips b ALIVE with a newer heartbeat: b stays LEFT.
  assert.deepEqual(t.merge([info('b', 5, 9)], 30), []);
  assert.equal(t.status('b'), 'LEFT');
  // Silence does not turn LEFT into SUSPECT or DEAD.
  assert.deepEqual(t.detect(10_000), []);
  assert.equal(t.status('b'), 'LEFT');
  // A node that never knew b learns LEFT from gossip too.
  const u = new MembershipTable(info('c', 1, 0), fd, 0);
  assert.deepEqual(u.merge(t.digest(), 0).filter((c) => c.nodeId === 'b').map((c) => c.to), ['LEFT']);
  // b started again on the data dir it left with: not taken back, and our digest still says LEFT.
  assert.deepEqual(t.merge([info('b', 6, 0)], 40), []);
  assert.equal(t.status('b'), 'LEFT');
  assert.deepEqual(t.digest().filter((m) => m.nodeId === 'b').map((m) => [m.incarnation, m.status]), [[5, 'LEFT']]);
  // b started again on a new data dir: a higher incarnation is a new member, ALIVE.
  assert.deepEqual(t.merge([{ ...info('b', 7, 0), freshDataDir: true }], 50).map((c) => `${c.from}->${c.to}`), ['LEFT->ALIVE']);
  assert.equal(t.status('b'), 'ALIVE');
});

test('our own id gossiped LEFT: reported once when it is this process, removed by another node; not for an earlier process, nor after our own leave', () => {
  // Proves a node learns that an operator removed it while it was silent (and only then), so it can leave its own ring too.
  const t = new MembershipTable(info('a', 5, 3), fd, 0);
  t.merge([info('a', 4, 9, 'LEFT')], 10);
  assert.equal(t.takeRemoved(), false, 'an earlier process of ours was removed: not this one');
  assert.deepEqual(t.takeLeftBefore()?.incarnation, 4, 'but this one runs on its data dir: it must take itself out');
  assert.equal(t.takeLeftBefore(), null, 'taken once');
  const onNewDir = new MembershipTable({ ...info('a', 5, 3), freshDataDir: true }, fd, 0);
  onNewDir.merge([info('a', 4, 9, 'LEFT')], 10);
  assert.equal(onNewDir.takeLeftBefore(), null, 'a new data dir may join again');
  t.merge([info('a', 5, 2, 'LEFT')], 20);
  assert.equal(t.takeRemoved(), true);
  assert.equal(t.takeRemoved(), false, 'taken once');
  assert.equal(t.status('a'), 'ALIVE', 'merge never changes our own entry: Membership acts on it');
  t.leave(30);
  t.merge([info('a', 5, 2, 'LEFT')], 40);
  t.merge([info('a', 4, 9, 'LEFT')], 50);
  assert.equal(t.takeRemoved(), false, 'our own leave, gossiped back');
  assert.equal(t.takeLeftBefore(), null, 'nor the earlier process\'s, once this one has left');
});

test('holdingOtherRing: the live nodes whose last heartbeat carried another ring digest', () => {
  // Proves a joining node can tell whether every live coordinator routes by the ring it joined (bootstrap waits for that).
  const t = new MembershipTable(info('a', 1, 0), fd, 0);
  t.beat(0, { ringDigest: 7 });
  t.merge([{ ...info('b', 1, 1), ringDigest: 7 }, { ...info('c', 1, 1), ringDigest: 5 }, info('d', 1, 1), { ...info('e', 1, 1), ringDigest: 5 }], 0);
  const all = ['a', 'b', 'c', 'd', 'e'];
  assert.deepEqual(t.holdingOtherRing(all, 7), ['c', 'e'], 'd gossips no digest; a is this node');
  assert.deepEqual(t.holdingOtherRing(all, 5), ['b']);
  // c's next heartbeat carries the new ring.
  t.merge([{ ...info('c', 1, 2), ringDigest: 7 }], 10);
  assert.deepEqual(t.holdingOtherRing(all, 7), ['e']);
  // e falls silent: a node that is not ALIVE here does not hold the join back.
  t.merge([info('b', 1, 50), info('c', 1, 50), info('d', 1, 50)].map((m) => ({ ...m, ringDigest: 7 })), 400);
  t.detect(400);
  assert.equal(t.status('e'), 'SUSPECT');
  assert.deepEqual(t.holdingOtherRing(all, 7), []);
});

test('LEFT at a later incarnation over LEFT at an earlier one: the node stays LEFT, never ALIVE between', () => {
  // Proves that a node that restarted and left again while we held its earlier leave is not taken
  // for a rejoined member, not even for one merge (a ring with it would route writes to it).
  const t = new MembershipTable(info('a', 1, 0), fd, 0);
  t.merge([info('b', 5, 3, 'LEFT')], 0);
  assert.equal(t.status('b'), 'LEFT');
  assert.deepEqual(t.merge([info('b', 6, 2, 'LEFT')], 10), [], 'no status change');
  assert.equal(t.status('b'), 'LEFT');
  assert.equal(t.info('b')!.incarnation, 6, 'the later incarnation is taken');
  // Its later heartbeats at the new incarnation, gossiped ALIVE by a peer that had not heard, change nothing.
  assert.deepEqual(t.merge([info('b', 6, 9)], 20), []);
  assert.equal(t.status('b'), 'LEFT');
});

test('merge: our id from a later incarnation is taken as a claim, once per incarnation; our own past is not, and is noted', () => {
  // Proves the twin report: a process started with our id after us shows up as a claim, and the
  // stale entries peers keep of our own earlier run (lower incarnations) never do.
  const t = new MembershipTable(info('a', 100, 0), fd, 0);
  t.merge([info('a', 100, 3)], 5);
  assert.equal(t.earlierSelfSeen, false, 'our own echo says nothing of an earlier run');
  t.merge([info('a', 50, 7), info('a', 100, 3)], 10);
  assert.deepEqual(t.takeClaims(), [], 'our earlier run and our own echo are not claims');
  assert.equal(t.earlierSelfSeen, true, 'but the earlier run shows the id was known');
  t.merge([{ ...info('a', 150, 1), peerPort: 8100 }], 20);
  t.merge([{ ...info('a', 150, 2), peerPort: 8100 }], 30);
  const claims = t.takeClaims();
  assert.deepEqual(claims.map((c) => [c.incarnation, c.peerPort]), [[150, 8100]]);
  assert.deepEqual(t.takeClaims(), [], 'taken once');
  t.merge([{ ...info('a', 160, 0), host: '127.0.0.2' }], 40);
  assert.deepEqual(t.takeClaims().map((c) => c.incarnation), [160], 'a newer claimant is reported again');
  assert.equal(t.self.incarnation, 100, 'a claim never overwrites our own entry');
  assert.deepEqual(t.takeOutrun(), [], 'claims at other addresses are not our own past');
});

test('merge: our id from a later incarnation at our own address is our earlier process: we go past it', () => {
  // A restart while the clock reads earlier than at the previous start: peers still hold the
  // earlier process's entry (incarnation 500) over ours (100) and would never hear us advance.
  const t = new MembershipTable(info('a', 100, 0), fd, 0);
  t.beat(1);
  t.merge([info('a', 500, 42, 'DEAD'), info('b', 7, 1)], 10);
  assert.deepEqual(t.takeClaims(), [], 'not another process with our id');
  assert.deepEqual(t.takeOutrun(), [{ was: 100, earlier: 500 }]);
  assert.deepEqual(t.takeOutrun(), [], 'taken once');
  assert.equal(t.self.incarnation, 501);
  assert.equal(t.self.heartbeat, 1, 'our heartbeat goes on');
  assert.equal(t.earlierSelfSeen, true, 'the cluster knew this id');
  // What we gossip now is newer than what a peer holds, so the peer takes it: we are ALIVE there.
  const peer = new MembershipTable(info('b', 7, 1), fd, 0);
  peer.merge([info('a', 500, 42)], 10);
  peer.detect(700);
  assert.equal(peer.status('a'), 'DEAD');
  peer.merge(t.digest(), 710);
  assert.equal(peer.status('a'), 'ALIVE');
  // The same entry again (an echo of the one we went past) changes nothing.
  t.merge([info('a', 500, 42)], 20);
  assert.equal(t.self.incarnation, 501);
  assert.deepEqual(t.takeOutrun(), []);
});

test('merge: an incarnation past incarnationMax is not taken in, for another node or to go past; ours stays a safe integer', () => {
  // A peer sending our id at 2^53 - 1 (a clock wildly ahead at some start, or a crafted message)
  // took our incarnation to 2^53, and every digest we encoded after that failed its assert.
  const t = new MembershipTable(info('a', 100, 0), fd, 0);
  t.merge([info('a', 2 ** 53 - 1, 1), info('b', 2 ** 53 - 1, 1), info('c', 7, 1)], 10);
  assert.equal(t.self.incarnation, 100);
  assert.deepEqual(t.takeOutrun(), []);
  assert.equal(t.info('b'), undefined, 'another node at such an incarnation is not taken in');
  assert.equal(t.info('c')!.incarnation, 7, 'the rest of the message is');
  // Just under the bound we still go past our earlier process; at the bound we cannot, so it
  // is reported like another process with our id.
  t.merge([info('a', incarnationMax - 1, 1)], 20);
  assert.equal(t.self.incarnation, incarnationMax);
  const u = new MembershipTable(info('a', 100, 0), fd, 0);
  u.merge([info('a', incarnationMax, 1)], 10);
  assert.equal(u.self.incarnation, 100);
  assert.deepEqual(u.takeClaims().map((c) => c.incarnation), [incarnationMax]);
  for (const d of [t.digest(), u.digest()]) for (const m of d) assert.ok(Number.isSafeInteger(m.incarnation) && m.incarnation <= incarnationMax);
});

test('merge: a node with other cluster settings is reported once per settings; one that says none is not', () => {
  // Proves the settings check: replication factor and conflict mode must agree across a cluster,
  // and a node too old to say its settings is no conflict.
  const mine = 'replication=3 conflict-mode=vclock';
  const t = new MembershipTable({ ...info('a', 1, 0), settings: mine }, fd, 0);
  t.merge([{ ...info('b', 1, 1), settings: mine }, info('c', 1, 1)], 10);
  assert.deepEqual(t.takeMismatches(), []);
  t.merge([{ ...info('d', 1, 1), settings: 'replication=2 conflict-mode=vclock' }], 20);
  t.merge([{ ...info('d', 1, 2), settings: 'replication=2 conflict-mode=vclock' }], 30);
  assert.deepEqual(t.takeMismatches().map((m) => [m.nodeId, m.settings]), [['d', 'replication=2 conflict-mode=vclock']]);
  t.merge([{ ...info('d', 2, 0), settings: 'replication=3 conflict-mode=lww' }], 40);
  assert.deepEqual(t.takeMismatches().map((m) => m.settings), ['replication=3 conflict-mode=lww'], 'new settings, reported again');
  assert.equal(t.differs({ ...info('e', 1, 1), settings: mine }), false);
});

test('hints held: another live node naming a node among those it holds hints for makes it behind; our own word, a silent node and an empty list do not', () => {
  const t = new MembershipTable(info('a', 1, 0), fd, 0);
  t.merge([info('b', 1, 1), info('c', 1, 1), info('d', 1, 1)], 0);
  assert.equal(t.anyHintsHeld(), false);
  t.merge([{ ...info('b', 1, 2), hintsFor: ['c', 'a'] }], 100);
  assert.equal(t.anyHintsHeld(), true);
  assert.deepEqual(['a', 'b', 'c', 'd'].map((id) => t.hintsHeldFor(id)), [true, false, true, false]);
  // What this node holds it knows itself (its hint store); its own gossip entry does not count.
  t.beat(100, { hintsFor: ['d'] });
  assert.deepEqual(t.self.hintsFor, ['d']);
  assert.equal(t.hintsHeldFor('d'), false);
  t.beat(150, { hintsFor: [] });
  assert.equal(t.self.hintsFor, undefined, 'an empty list is no list');
  // A holder gone silent (SUSPECT here) may hold its hints for a long while: its targets are read as usual meanwhile.
  t.merge([info('c', 1, 5), info('d', 1, 5)], 450);
  assert.equal(t.hintsHeldFor('c'), true, 'b not yet found silent');
  t.detect(450);
  assert.equal(t.status('b'), 'SUSPECT');
  assert.equal(t.hintsHeldFor('c'), false);
  assert.equal(t.anyHintsHeld(), false);
  // Its next heartbeat without the list: it has delivered them.
  t.merge([info('b', 1, 3)], 500);
  assert.equal(t.status('b'), 'ALIVE');
  assert.equal(t.hintsHeldFor('c'), false);
});

test('the shortest tombstone grace: of every node not LEFT that says one, DEAD ones too; ours on a tie; worked out again after a merge or a removal', () => {
  const day = 86_400_000;
  const t = new MembershipTable({ ...info('b', 1, 0), tombstoneGraceMs: 10 * day }, fd, 0);
  assert.deepEqual(t.shortestTombstoneGrace(), { nodeId: 'b', ms: 10 * day });
  t.merge([{ ...info('aa', 1, 1), tombstoneGraceMs: 10 * day }, info('d', 1, 1)], 0);
  assert.deepEqual(t.shortestTombstoneGrace(), { nodeId: 'b', ms: 10 * day }, 'a tie is ours; a node that does not say does not count');
  t.merge([{ ...info('e', 1, 1), tombstoneGraceMs: 2 * day }, { ...info('a', 1, 1), tombstoneGraceMs: 2 * day }], 10);
  assert.deepEqual(t.shortestTombstoneGrace(), { nodeId: 'a', ms: 2 * day }, 'of two others, the lower id');
  t.detect(1_000);
  assert.equal(t.status('a'), 'DEAD');
  assert.deepEqual(t.shortestTombstoneGrace(), { nodeId: 'a', ms: 2 * day }, 'a DEAD node purges by its grace once back');
  t.merge([{ ...info('a', 2, 0), tombstoneGraceMs: 20 * day }], 1_010);
  assert.deepEqual(t.shortestTombstoneGrace(), { nodeId: 'e', ms: 2 * day }, 'restarted with another grace');
  t.detect(2_000);
  t.markLeft('e', 2_000);
  assert.deepEqual(t.shortestTombstoneGrace(), { nodeId: 'b', ms: 10 * day }, 'a LEFT node purges nothing of ours any more');
});

test('a LEFT node is forgotten after the longest tombstone grace a node keeps; gossip of that incarnation cannot bring it back, a restart can', () => {
  const day = 86_400_000;
  const t = new MembershipTable({ ...info('a', 1, 0), tombstoneGraceMs: 2 * day }, fd, 0);
  t.merge([{ ...info('b', 1, 4), tombstoneGraceMs: 5 * day }, info('c', 3, 2)], 0);
  assert.equal(t.leftKeptMs(), 5 * day, 'the longest grace any node says');
  t.merge([info('c', 3, 3, 'LEFT')], 100);
  assert.equal(t.status('c'), 'LEFT');
  assert.deepEqual(t.forgetLeft(100 + 5 * day - 1), [], 'kept until the grace has passed');
  assert.equal(t.status('c'), 'LEFT');
  assert.deepEqual(t.forgetLeft(100 + 5 * day), ['c']);
  assert.equal(t.status('c'), undefined);
  assert.deepEqual(t.members().map((m) => m.nodeId), ['a', 'b']);
  // A peer that heard the leave later still gossips c LEFT, or ALIVE from before: neither comes back.
  assert.deepEqual(t.merge([info('c', 3, 3, 'LEFT'), info('c', 2, 9)], 100 + 5 * day + 1), []);
  assert.equal(t.status('c'), undefined);
  // c started again (a new incarnation): a new member.
  assert.deepEqual(t.merge([info('c', 4, 0)], 100 + 6 * day).map((m) => `${m.nodeId} ${m.from}->${m.to}`), ['c UNKNOWN->ALIVE']);
  // Our own LEFT entry, and one removed by an operator, follow the same clock; ours is never forgotten.
  t.markLeft('b', 200 + 6 * day);
  t.leave(200 + 6 * day);
  assert.equal(t.leftKeptMs(), 5 * day, 'a LEFT node\'s grace still counts');
  assert.deepEqual(t.forgetLeft(200 + 11 * day), ['b']);
  assert.equal(t.status('a'), 'LEFT');
});

test('a LEFT node first heard of as LEFT is forgotten a grace after we heard; with no grace said, after the default', () => {
  const t = new MembershipTable(info('a', 1, 0), fd, 0);
  t.merge([info('z', 7, 1, 'LEFT')], 50);
  assert.equal(t.leftKeptMs(), tombstoneGraceMsDefault);
  assert.deepEqual(t.forgetLeft(50 + tombstoneGraceMsDefault - 1), []);
  assert.deepEqual(t.forgetLeft(50 + tombstoneGraceMsDefault), ['z']);
  // A node LEFT and started again (on a new data dir) is not LEFT: it stays.
  t.merge([info('y', 1, 1, 'LEFT')], 60);
  t.merge([{ ...info('y', 2, 0), freshDataDir: true }], 70);
  assert.deepEqual(t.forgetLeft(60 + 2 * tombstoneGraceMsDefault), []);
  assert.equal(t.status('y'), 'ALIVE');
});

test('a full table refuses new nodes and says which; forgetting LEFT ones makes room', () => {
  const t = new MembershipTable(info('self', 1, 0), fd, 0);
  const others = Array.from({ length: clusterNodesMax - 1 }, (_, i) => info(`n${i}`, 1, 1));
  t.merge(others, 0);
  assert.equal(t.size, clusterNodesMax);
  assert.deepEqual(t.takeRefused(), []);
  assert.deepEqual(t.merge([info('late', 1, 1)], 1), []);
  assert.deepEqual(t.takeRefused(), ['late']);
  assert.deepEqual(t.takeRefused(), [], 'each refusal is said once');
  t.merge([info('n0', 1, 2, 'LEFT')], 2);
  assert.deepEqual(t.forgetLeft(2 + tombstoneGraceMsDefault), ['n0']);
  assert.deepEqual(t.merge([info('late', 1, 1)], 3).map((c) => c.nodeId), ['late']);
  assert.equal(t.size, clusterNodesMax);
});

test('a forgotten node gossiped as not LEFT is sent back LEFT in our digests for deadAfterMs, then no more', () => {
  const t = new MembershipTable(info('a', 1, 0), fd, 0);
  t.merge([info('c', 3, 3, 'LEFT')], 0);
  t.forgetLeft(tombstoneGraceMsDefault);
  assert.equal(t.digest().some((m) => m.nodeId === 'c'), false, 'not gossiped once forgotten');
  // Gossiped LEFT by a peer that forgets later: nothing to tell it.
  t.merge([info('c', 3, 3, 'LEFT')], tombstoneGraceMsDefault + 1);
  assert.equal(t.digest().some((m) => m.nodeId === 'c'), false);
  // Gossiped DEAD by a peer that never heard: told LEFT, and a node that merges that drops c.
  t.merge([info('c', 3, 1, 'DEAD')], tombstoneGraceMsDefault + 2);
  const told = t.digest().find((m) => m.nodeId === 'c');
  assert.equal(told?.status, 'LEFT');
  assert.equal(t.members().some((m) => m.nodeId === 'c'), false, 'members() lists only what the table holds');
  const u = new MembershipTable(info('b', 1, 0), fd, 0);
  u.merge([info('c', 3, 1)], 0);
  assert.deepEqual(u.merge(t.digest(), 1).map((c) => `${c.nodeId} ${c.from}->${c.to}`), ['a UNKNOWN->ALIVE', 'c ALIVE->LEFT']);
  t.forgetLeft(tombstoneGraceMsDefault + 1 + fd.deadAfterMs);
  assert.equal(t.digest().some((m) => m.nodeId === 'c'), true, 'still told within deadAfterMs');
  t.forgetLeft(tombstoneGraceMsDefault + 2 + fd.deadAfterMs);
  assert.equal(t.digest().some((m) => m.nodeId === 'c'), false, 'no longer told');
});
