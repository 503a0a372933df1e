// Whole clusters of Membership instances in simulation: a fake clock, a seeded PRNG and an
// in-memory network, so gossip convergence, SIGKILL-style failure detection and restart can be
// checked round by round. A failing run prints its seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Membership, type GossipNetwork, type MemberInfo, type MemberLoad, type PeerAddress, type TombstoneGraceHolder } from '../../../src/membership';
import { mulberry32, testSeed } from '../../helpers/prng';
import { loadPeers, peersOf, savePeers } from '../../../src/coordinator/peers_file';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const intervalMs = 100;
const suspectAfterMs = 1000;
const deadAfterMs = 2000;

interface SimNodeOptions {
  log?: (line: string) => void;
  settings?: string;
  datacenter?: string;
  clockSkewMs?: number;
  tombstoneGraceMs?: number;
  freshDataDir?: boolean;
  onTombstoneGrace?: (shortest: TombstoneGraceHolder) => void;
  localLoad?: () => MemberLoad;
  onPeersChange?: (members: readonly MemberInfo[]) => void;
}

class Sim {
  now = 1_000_000;
  /** How far each node's wall clock has been stepped since it started (by node id). */
  readonly wallStepsMs = new Map<string, number>();
  readonly random: () => number;
  readonly nodes = new Map<number, Membership>(); // by peer port
  readonly down = new Set<number>();
  readonly network: GossipNetwork;

  constructor(readonly seed: number) {
    this.random = mulberry32(seed);
    this.network = {
      exchange: async (to: PeerAddress, digest: MemberInfo[]) => {
        await Promise.resolve();
        const peer = this.nodes.get(to.peerPort);
        if (peer === undefined || this.down.has(to.peerPort)) throw new Error('unreachable');
        return peer.handleGossip(digest);
      },
    };
  }

  /** A node n<i> at port 800<i>, seeded with the given nodes, in the simulation from now on. */
  add(i: number, seeds: number[], opts: SimNodeOptions = {}): Membership {
    const m = this.outsider({ nodeId: `n${i}`, port: i, seeds, ...opts });
    this.nodes.set(8000 + i, m);
    this.down.delete(8000 + i);
    return m;
  }

  /**
   * A node at port 800<port> (seeded with n0 unless told) that is not part of the simulation:
   * not stepped, not reachable. What a process that has just started, and not gossiped, is.
   */
  outsider(o: SimNodeOptions & { nodeId: string; port: number; seeds?: number[] }): Membership {
    // Its wall clock: the simulation's, `clockSkewMs` off (and stepped by wallStepsMs).
    const skewMs = o.clockSkewMs ?? 0;
    return new Membership({
      self: { nodeId: o.nodeId, host: 'sim', httpPort: 7000 + o.port, peerPort: 8000 + o.port, vnodes: 16, incarnation: this.now + skewMs, keyEstimate: o.port, load: 0, ...(o.settings !== undefined && { settings: o.settings }), ...(o.datacenter !== undefined && { datacenter: o.datacenter }), ...(o.tombstoneGraceMs !== undefined && { tombstoneGraceMs: o.tombstoneGraceMs }), ...(o.freshDataDir === true && { freshDataDir: true }) },
      seeds: (o.seeds ?? [0]).map((s) => ({ host: 'sim', peerPort: 8000 + s })),
      gossipIntervalMs: intervalMs,
      suspectAfterMs,
      deadAfterMs,
      network: this.network,
      monotonicNow: () => this.now,
      wallClock: () => this.now + skewMs + (this.wallStepsMs.get(o.nodeId) ?? 0),
      random: this.random,
      log: o.log ?? (() => {}),
      ...(o.onTombstoneGrace !== undefined && { onTombstoneGrace: o.onTombstoneGrace }),
      ...(o.localLoad !== undefined && { localLoad: o.localLoad }),
      ...(o.onPeersChange !== undefined && { onPeersChange: o.onPeersChange }),
    });
  }

  async step(rounds = 1): Promise<void> {
    for (let r = 0; r < rounds; r++) {
      this.now += intervalMs;
      for (const [port, m] of this.nodes) if (!this.down.has(port)) m.round();
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Node n<i> stops; once the others hold it DEAD, n0 removes it (removenode), and every other node holds it LEFT. */
  async remove(i: number): Promise<void> {
    const id = `n${i}`;
    this.down.add(8000 + i);
    for (let r = 0; r < 100 && this.statusesOf(id).some((st) => st !== 'DEAD'); r++) await this.step();
    assert.equal(this.nodes.get(8000)!.removeDead(id), 'DEAD');
    for (let r = 0; r < 30 && this.statusesOf(id).some((st) => st !== 'LEFT'); r++) await this.step();
    assert.ok(this.statusesOf(id).length > 0 && this.statusesOf(id).every((st) => st === 'LEFT'), `${id}: ${this.statusesOf(id).join(',')} (seed ${this.seed})`);
  }

  statusesOf(nodeId: string): string[] {
    return [...this.nodes.entries()].filter(([p, m]) => !this.down.has(p) && m.selfId !== nodeId).map(([, m]) => m.status(nodeId) ?? 'UNKNOWN');
  }
}

const seed = testSeed();

test(`gossip converges, detects a killed node SUSPECT then DEAD everywhere, and sees it ALIVE after restart (seed ${seed})`, async () => {
  // Proves §7.5 end to end in simulation: join through one seed, convergence in a few rounds,
  // the detector's timing bounds, and recovery through a higher incarnation.
  const sim = new Sim(seed);
  const n = 8;
  for (let i = 0; i < n; i++) sim.add(i, [0]);
  let rounds = 0;
  while ([...sim.nodes.values()].some((m) => m.table.size < n || m.ring.size < n)) {
    await sim.step();
    rounds++;
    assert.ok(rounds <= 30, `not converged after 30 rounds (seed ${seed})`);
  }
  for (const m of sim.nodes.values()) {
    assert.equal(m.ring.size, n);
    assert.ok(m.table.members().every((x) => x.status === 'ALIVE'), `seed ${seed}`);
  }

  // Kill n5: silent from now on.
  sim.down.add(8005);
  const killedAt = sim.now;
  while (sim.now < killedAt + suspectAfterMs - 4 * intervalMs) await sim.step();
  assert.ok(sim.statusesOf('n5').every((s) => s === 'ALIVE'), `suspected too early (seed ${seed})`);
  // The last heartbeat n5 sent still spreads for a few rounds after it died, and each node counts
  // silence from when it heard that heartbeat; allow that dissemination lag (O(log n) rounds).
  const lagMs = 8 * intervalMs;
  while (sim.now < killedAt + suspectAfterMs + lagMs) await sim.step();
  assert.deepEqual(sim.statusesOf('n5'), Array(n - 1).fill('SUSPECT'), `seed ${seed}`);
  while (sim.now < killedAt + deadAfterMs + lagMs) await sim.step();
  assert.deepEqual(sim.statusesOf('n5'), Array(n - 1).fill('DEAD'), `seed ${seed}`);
  const ringVersion = sim.nodes.get(8000)!.ring.version;
  assert.equal(sim.nodes.get(8000)!.ring.size, n, 'a DEAD node keeps its tokens: only membership changes move data');

  // Restart n5 with a new incarnation; it knows only the seed.
  const back = sim.add(5, [0]);
  assert.ok(back.table.self.incarnation > killedAt);
  for (let r = 0; r < 30 && sim.statusesOf('n5').some((s) => s !== 'ALIVE'); r++) await sim.step();
  assert.deepEqual(sim.statusesOf('n5'), Array(n - 1).fill('ALIVE'), `seed ${seed}`);
  assert.equal(sim.nodes.get(8000)!.ring.version, ringVersion, 'status changes do not bump the ring version');
  const st = sim.nodes.get(8001)!.stats();
  assert.equal(st.membershipToSuspect, 1);
  assert.equal(st.membershipToDead, 1);
  assert.equal(st.membershipToAlive, 1);
  assert.equal(st.membershipNodesJoined, n - 1);
});

test(`a wall clock stepped back does not make a DEAD node ALIVE, nor an ALIVE one SUSPECT when it steps forward (seed ${seed})`, async () => {
  // Proves the failure detector runs on the monotonic clock: NTP stepping a clock, or a VM
  // restored from a snapshot, moves only the wall clock.
  const sim = new Sim(seed + 4);
  for (let i = 0; i < 4; i++) sim.add(i, [0]);
  await sim.step(20);
  sim.down.add(8003);
  for (let r = 0; r < 100 && sim.statusesOf('n3').some((st) => st !== 'DEAD'); r++) await sim.step();
  assert.deepEqual(sim.statusesOf('n3'), ['DEAD', 'DEAD', 'DEAD'], `seed ${seed}`);
  for (const id of ['n0', 'n1', 'n2']) sim.wallStepsMs.set(id, -2 * deadAfterMs);
  await sim.step(5);
  assert.deepEqual(sim.statusesOf('n3'), ['DEAD', 'DEAD', 'DEAD'], `seed ${seed}`);
  for (const id of ['n0', 'n1', 'n2']) sim.wallStepsMs.set(id, 2 * deadAfterMs);
  await sim.step(1);
  assert.deepEqual(sim.statusesOf('n0'), ['ALIVE', 'ALIVE'], `seed ${seed}`);
  assert.equal(sim.nodes.get(8000)!.stats().membershipToAlive, 0);
});

test(`a node restarted with its clock behind its last start goes past its old incarnation and is ALIVE again; clocks are measured (seed ${seed})`, async () => {
  // Proves the refutation (table.ts merge) end to end, and that each exchange measures the
  // answering node's clock against the asking node's.
  const sim = new Sim(seed + 2);
  for (let i = 0; i < 4; i++) sim.add(i, [0]);
  await sim.step(20);
  const earlier = sim.nodes.get(8003)!.table.self.incarnation;
  sim.down.add(8003);
  for (let r = 0; r < 100 && sim.statusesOf('n3').some((st) => st !== 'DEAD'); r++) await sim.step();
  assert.deepEqual(sim.statusesOf('n3'), ['DEAD', 'DEAD', 'DEAD'], `seed ${seed}`);
  // The same node (id and address) again, its clock a minute behind: a lower incarnation.
  const lines: string[] = [];
  const back = sim.add(3, [0], { clockSkewMs: -60_000, log: (l) => lines.push(l) });
  assert.ok(back.table.self.incarnation < earlier);
  for (let r = 0; r < 30 && sim.statusesOf('n3').some((st) => st !== 'ALIVE'); r++) await sim.step();
  assert.deepEqual(sim.statusesOf('n3'), ['ALIVE', 'ALIVE', 'ALIVE'], `seed ${seed}`);
  assert.equal(back.table.self.incarnation, earlier + 1);
  assert.equal(back.stats().membershipIdConflicts, 0, 'its own earlier process is no twin');
  assert.ok(lines.some((l) => l.includes('is the clock behind?')), lines.join('\n'));

  // The exchanges are instant here: offsets are exact, with no uncertainty. Each node's samples
  // from after the restart (an older one of n3 was of its earlier process, clock right).
  const skewOf = (m: Membership): number => (m === back ? -60_000 : 0);
  const restartedAt = sim.now;
  const pairs = [...sim.nodes.values()].flatMap((m) => [...sim.nodes.values()].filter((o) => o !== m).map((o) => [m, o] as const));
  for (let r = 0; r < 60 && pairs.some(([m, o]) => !((m.clockOffsets.of(o.selfId)?.atMs ?? -Infinity) > restartedAt + skewOf(m))); r++) await sim.step();
  for (const [m, other] of pairs) {
    const measured = m.clockOffsets.of(other.selfId);
    assert.deepEqual([measured?.offsetMs, measured?.uncertaintyMs], [skewOf(other) - skewOf(m), 0], `${m.selfId} measuring ${other.selfId}`);
  }
  assert.ok(lines.some((l) => /clock: WARN n0's clock is 60000 ms ahead of this node's/.test(l)), lines.join('\n'));
});

test(`a node joining later bumps every ring version and learns everyone (seed ${seed})`, async () => {
  // Proves joins propagate through any seed and the ring changes only on membership changes.
  const sim = new Sim(seed + 1);
  for (let i = 0; i < 4; i++) sim.add(i, [0]);
  await sim.step(20);
  const before = [...sim.nodes.values()].map((m) => m.ring.version);
  sim.add(4, [2]);
  await sim.step(20);
  for (const [i, m] of [...sim.nodes.values()].entries()) {
    assert.equal(m.table.size, 5);
    if (i < 4) assert.equal(m.ring.version, before[i]! + 1, `seed ${seed}`);
  }
});

test(`every node gossips the digest of the ring it holds: the same everywhere once a join has spread, whatever each ring's version (seed ${seed})`, async () => {
  // Proves what `ringkv status` compares: ring versions count each node's own changes, digests
  // name the ring, and each node's entry in every table carries the digest of its ring.
  const sim = new Sim(seed + 3);
  for (let i = 0; i < 4; i++) sim.add(i, [0]);
  await sim.step(20);
  const digestsSeen = (): Set<number | undefined> => new Set([...sim.nodes.values()].flatMap((m) => m.table.members().map((x) => x.ringDigest)));
  const four = sim.nodes.get(8000)!.ring.digest;
  assert.deepEqual(digestsSeen(), new Set([four]), `seed ${seed}`);
  sim.add(4, [2]);
  await sim.step(1);
  // The new node holds a ring of everyone its seed knew after one exchange; its entry says so
  // from its next heartbeat (a digest is "as of the node's last heartbeat"), while the others'
  // entries still name the ring of four.
  const five = sim.nodes.get(8004)!.ring.digest;
  assert.notEqual(five, four);
  await sim.step(1);
  assert.equal(sim.nodes.get(8004)!.table.self.ringDigest, five);
  assert.ok(digestsSeen().size > 1, 'right after the join, the nodes hold different rings');
  await sim.step(20);
  assert.deepEqual(digestsSeen(), new Set([five]), `seed ${seed}`);
  assert.deepEqual(new Set([...sim.nodes.values()].map((m) => m.ring.digest)), new Set([five]));
});

test('preflight finds a process with a running node\'s id before it gossips, and one that gossips anyway is reported by the original', async () => {
  // Proves the twin guards: preflight asks a seed and then the claimed address, without the
  // seed merging anything; it ignores our own earlier run at an address now silent; and the
  // original node logs and counts a later process gossiping its id.
  const sim = new Sim(seed);
  const lines: string[] = [];
  const original = sim.add(1, [0], { log: (l) => lines.push(l) });
  sim.add(0, [0]);
  for (let r = 0; r < 30 && sim.nodes.get(8000)!.status('n1') !== 'ALIVE'; r++) await sim.step();
  assert.equal(sim.nodes.get(8000)!.status('n1'), 'ALIVE');
  sim.now += 10;
  const twin = sim.outsider({ nodeId: 'n1', port: 9 });
  const found = await twin.preflight();
  assert.deepEqual(found?.reason === 'twin' && [found.reason, found.member.nodeId, found.member.peerPort], ['twin', 'n1', 8001]);
  assert.equal(sim.nodes.get(8000)!.table.info('n1')!.peerPort, 8001, 'the seed merged nothing from the probe');
  // The original at its address stopped: what the seed remembers is an earlier run, not a twin.
  sim.down.add(8001);
  assert.equal(await twin.preflight(), null);
  sim.down.delete(8001);
  // Gossiping regardless, the twin's later incarnation wins at the seed; the original hears of it.
  sim.nodes.set(8009, twin);
  for (let r = 0; r < 20 && original.stats().membershipIdConflicts === 0; r++) await sim.step();
  assert.equal(original.stats().membershipIdConflicts, 1, `seed ${seed}`);
  assert.ok(lines.some((l) => l.includes('another node runs with this node\'s id, at sim:8009')), lines.join('\n'));
});

test('preflight refuses a cluster whose nodes run with other settings, and a node that gossips anyway is reported', async () => {
  // Proves the settings guard end to end in simulation: a seed's ALIVE members with settings
  // other than ours stop the join before anything is merged; a node that joins regardless is
  // logged and counted by the nodes that meet it.
  const sim = new Sim(seed);
  const lines: string[] = [];
  const settings = 'replication=3 conflict-mode=vclock';
  const a = sim.add(0, [0], { log: (l) => lines.push(l), settings });
  sim.add(1, [0], { settings });
  for (let r = 0; r < 30 && a.status('n1') !== 'ALIVE'; r++) await sim.step();
  assert.equal(a.stats().membershipSettingsConflicts, 0, 'nodes that agree are no conflict');
  const odd = sim.outsider({ nodeId: 'n7', port: 7, settings: 'replication=2 conflict-mode=vclock' });
  const refusal = await odd.preflight();
  assert.deepEqual(refusal?.reason === 'settings' && [refusal.reason, refusal.member.settings], ['settings', 'replication=3 conflict-mode=vclock']);
  assert.equal(a.status('n7'), undefined, 'the seed merged nothing from the probe');
  sim.nodes.set(8007, odd);
  for (let r = 0; r < 20 && a.stats().membershipSettingsConflicts === 0; r++) await sim.step();
  assert.equal(a.stats().membershipSettingsConflicts, 1, `seed ${seed}`);
  assert.ok(lines.some((l) => l.includes('ERROR node n7 at sim:8007 runs with replication=2 conflict-mode=vclock')), lines.join('\n'));
});

test('a node that is its own only seed, restarted with other settings, is refused by the nodes its PEERS remembers; with the same settings it starts', async () => {
  // The first node of `ringkv cluster` seeds itself: with no other seed to ask, only the nodes of
  // its last run can say that the cluster runs with other settings (a restart with --replication
  // 1 would otherwise serve QUORUM writes from one replica, and only log the conflict).
  const sim = new Sim(seed);
  const settings = 'replication=3 conflict-mode=vclock';
  let peers: ReturnType<typeof peersOf> = [];
  sim.add(0, [0], { settings, onPeersChange: (members) => (peers = peersOf(members)) });
  for (const i of [1, 2]) sim.add(i, [0], { settings });
  await sim.step(20);
  assert.deepEqual(peers.map((p) => p.nodeId).sort(), ['n0', 'n1', 'n2']);
  sim.down.add(8000);
  sim.now += 10;
  const odd = sim.outsider({ nodeId: 'n0', port: 0, seeds: [0], settings: 'replication=1 conflict-mode=vclock' });
  odd.remember(peers);
  const refusal = await odd.preflight();
  assert.deepEqual(refusal?.reason === 'settings' && [refusal.reason, refusal.member.settings], ['settings', settings]);
  const same = sim.outsider({ nodeId: 'n0', port: 0, seeds: [0], settings });
  same.remember(peers);
  assert.equal(await same.preflight(), null);
});

test(`after a whole-cluster restart with the only seed still down, the other nodes find each other through the members their PEERS files remember (seed ${seed})`, async () => {
  // With only seeds and live nodes to gossip with, each held all the others DEAD until the seed
  // came back: every QUORUM request refused, every write a hint (3 h to live).
  const sim = new Sim(seed);
  const peers = new Map<string, ReturnType<typeof peersOf>>();
  for (const i of [0, 1, 2, 3]) sim.add(i, [0], { onPeersChange: (members) => peers.set(`n${i}`, peersOf(members)) });
  await sim.step(20);
  for (const i of [1, 2, 3]) assert.equal(peers.get(`n${i}`)?.length, 4, `n${i}'s PEERS holds the cluster`);
  // A power loss: every node stops. n1..n3 come back a minute later; n0, their seed, does not.
  sim.nodes.clear();
  sim.now += 60_000;
  const back = [1, 2, 3].map((i) => {
    const m = sim.add(i, [0]);
    m.remember(peers.get(`n${i}`)!);
    return m;
  });
  const allSeen = (): boolean => back.every((m) => [1, 2, 3].every((j) => m.selfId === `n${j}` || m.status(`n${j}`) === 'ALIVE'));
  for (let r = 0; r < 60 && !allSeen(); r++) await sim.step();
  for (const m of back) {
    assert.deepEqual(
      [1, 2, 3].filter((j) => m.selfId !== `n${j}`).map((j) => m.status(`n${j}`)),
      ['ALIVE', 'ALIVE'],
      `${m.selfId} sees the others (seed ${seed})`,
    );
    assert.equal(m.status('n0'), 'DEAD', `${m.selfId} still holds the seed down`);
  }
});

test(`a node restarted at another address is recorded there in the others' PEERS files, though the ring does not change (seed ${seed})`, async () => {
  // PEERS was rewritten only on ring and grace changes: a moved node kept its old address there,
  // which the next start's preflight and gossip probes then asked in vain.
  const sim = new Sim(seed);
  let peers: ReturnType<typeof peersOf> = [];
  sim.add(0, [0]);
  const n1 = sim.add(1, [0], { onPeersChange: (members) => (peers = peersOf(members)) });
  sim.add(2, [0]);
  for (let r = 0; r < 30 && n1.status('n2') !== 'ALIVE'; r++) await sim.step();
  assert.equal(peers.find((p) => p.nodeId === 'n2')?.peerPort, 8002);
  sim.down.add(8002);
  sim.now += 10;
  const ringBefore = n1.ring.version;
  sim.nodes.set(8007, sim.outsider({ nodeId: 'n2', port: 7 }));
  for (let r = 0; r < 30 && n1.table.info('n2')?.peerPort !== 8007; r++) await sim.step();
  assert.equal(n1.status('n2'), 'ALIVE');
  assert.equal(n1.ring.version, ringBefore, 'the same ring');
  assert.deepEqual([peers.find((p) => p.nodeId === 'n2')?.peerPort, peers.find((p) => p.nodeId === 'n2')?.httpPort], [8007, 7007]);
});

test('a node that passes preflight starts from its seed\'s table: its ring holds the cluster before it gossips', async () => {
  // A node that took requests with a ring of itself alone would answer for every key; with
  // N = 1, alone (test/cluster/ring_change_under_writes.test.ts read not found after a join).
  const sim = new Sim(seed);
  const a = sim.add(0, [0]);
  sim.add(1, [0]);
  for (let r = 0; r < 30 && a.status('n1') !== 'ALIVE'; r++) await sim.step();
  const fresh = sim.outsider({ nodeId: 'n5', port: 5 });
  assert.deepEqual(fresh.ring.members.map((m) => m.nodeId), ['n5']);
  assert.equal(await fresh.preflight(), null);
  assert.deepEqual(fresh.ring.members.map((m) => m.nodeId), ['n0', 'n1', 'n5']);
  assert.deepEqual([fresh.status('n0'), fresh.status('n1')], ['ALIVE', 'ALIVE']);
  assert.equal(a.status('n5'), undefined, 'the seed merged nothing from the probe');
});

test('a node without a datacenter among nodes with one is warned of on every node, naming it', async () => {
  const sim = new Sim(seed);
  const logs = new Map<string, string[]>();
  const log = (id: string) => (l: string) => logs.set(id, [...(logs.get(id) ?? []), l]);
  const a = sim.add(0, [0], { datacenter: 'east', log: log('n0') });
  sim.add(1, [0], { datacenter: 'west', log: log('n1') });
  for (let r = 0; r < 30 && a.status('n1') !== 'ALIVE'; r++) await sim.step();
  assert.equal(a.ring.datacenters, 2);
  const warned = (id: string): string[] => (logs.get(id) ?? []).filter((l) => l.includes('WARNING') && l.includes('no datacenter'));
  assert.deepEqual([warned('n0'), warned('n1')], [[], []], 'every node has a datacenter: nothing to warn of');
  sim.add(2, [1], { log: log('n2') });
  for (let r = 0; r < 30 && (a.status('n2') !== 'ALIVE' || sim.nodes.get(8002)!.status('n0') !== 'ALIVE'); r++) await sim.step();
  assert.deepEqual(a.ring.datacenterNames.slice().sort(), ['', 'east', 'west']);
  for (const id of ['n0', 'n1', 'n2']) {
    assert.ok(warned(id).length >= 1, `${id}: ${(logs.get(id) ?? []).join('\n')}`);
    assert.match(warned(id)[0]!, /WARNING: n2 has no datacenter while other nodes do/);
  }
});

test(`every node hears of the shortest tombstone grace once gossip spreads it, and again when its node restarts with another (seed ${seed})`, async () => {
  const sim = new Sim(seed);
  const day = 86_400_000;
  const heard = new Map<number, TombstoneGraceHolder[]>();
  const add = (i: number, graceDays: number) => {
    heard.set(i, []);
    return sim.add(i, [0], { tombstoneGraceMs: graceDays * day, onTombstoneGrace: (g) => heard.get(i)!.push(g) });
  };
  add(0, 10);
  add(1, 10);
  await sim.step(10);
  assert.deepEqual(heard.get(0), [{ nodeId: 'n0', ms: 10 * day }], 'its own, once');
  add(2, 3);
  await sim.step(20);
  for (const i of [0, 1]) assert.deepEqual(heard.get(i)!.at(-1), { nodeId: 'n2', ms: 3 * day }, `n${i}`);
  assert.deepEqual(heard.get(2), [{ nodeId: 'n2', ms: 3 * day }]);
  const before = heard.get(0)!.length;
  await sim.step(10);
  assert.equal(heard.get(0)!.length, before, 'no news, no call');
  // n2 restarts with the others' grace: the shortest is n0's again (ours on a tie).
  sim.now += 10;
  add(2, 10);
  await sim.step(20);
  assert.deepEqual(heard.get(0)!.at(-1), { nodeId: 'n0', ms: 10 * day });
  assert.deepEqual(heard.get(1)!.at(-1), { nodeId: 'n1', ms: 10 * day });
});

test(`a removed node is forgotten everywhere a grace later, and a node cut off while it was removed hears LEFT instead of gossiping it back (seed ${seed})`, async () => {
  const sim = new Sim(seed);
  const day = 86_400_000;
  const lines: string[] = [];
  for (const i of [0, 1, 2, 3]) sim.add(i, [0], { tombstoneGraceMs: day, log: (l) => lines.push(l) });
  await sim.step(30);
  for (const id of ['n1', 'n2', 'n3']) assert.deepEqual(sim.statusesOf(id), ['ALIVE', 'ALIVE', 'ALIVE'], id);
  // n3 is lost; n2 is cut off from the others while n0's operator removes n3.
  sim.down.add(8003);
  await sim.step(30);
  assert.deepEqual(sim.statusesOf('n3'), ['DEAD', 'DEAD', 'DEAD']);
  sim.down.add(8002);
  assert.equal(sim.nodes.get(8000)!.removeDead('n3'), 'DEAD');
  await sim.step(20);
  assert.equal(sim.nodes.get(8001)!.status('n3'), 'LEFT');
  sim.now += day;
  await sim.step(5);
  for (const p of [8000, 8001]) assert.equal(sim.nodes.get(p)!.status('n3'), undefined, `${p} forgot n3`);
  assert.equal(sim.nodes.get(8000)!.stats().membershipNodesForgotten, 1);
  assert.ok(lines.some((l) => l === 'membership n0: n3 LEFT longer than the longest tombstone grace; forgotten'));
  // n2 comes back still holding n3 DEAD: the others do not take it back, and tell n2 it left.
  sim.down.delete(8002);
  assert.equal(sim.nodes.get(8002)!.status('n3'), 'DEAD');
  await sim.step(30);
  assert.equal(sim.nodes.get(8002)!.status('n3'), 'LEFT');
  for (const p of [8000, 8001]) assert.equal(sim.nodes.get(p)!.status('n3'), undefined, `${p} still without n3`);
  assert.ok(!sim.nodes.get(8002)!.ring.has('n3'), 'out of n2\'s ring');
  // n2 forgets it a grace after it heard, and nobody gossips it again.
  sim.now += day;
  await sim.step(30);
  for (const p of [8000, 8001, 8002]) assert.equal(sim.nodes.get(p)!.status('n3'), undefined, `${p} without n3`);
});

test(`a removed node started again on its old data dir, whose preflight reached no seed, is not taken back and takes itself out; on a new data dir it is taken back (seed ${seed})`, async () => {
  // The start preflight refuses when a seed answers (ClusterCoordinator.start); here only gossip
  // can tell: its seed n0 was down at its start (the simulation runs no preflight), and is up now.
  const sim = new Sim(seed + 5);
  for (const i of [0, 1, 2]) sim.add(i, [0]);
  await sim.step(20);
  await sim.remove(2);

  sim.now += 10;
  const lines: string[] = [];
  const stale = sim.add(2, [0], { log: (l) => lines.push(l) });
  for (let r = 0; r < 60 && stale.status('n2') !== 'LEFT'; r++) await sim.step();
  assert.equal(stale.status('n2'), 'LEFT', `it took itself out (seed ${seed})`);
  assert.ok(!stale.ring.has('n2'));
  assert.ok(lines.some((l) => l.includes('ERROR the cluster holds this node as left') && l.includes('since before this process started')), lines.join('\n'));
  await sim.step(10);
  for (const p of [8000, 8001]) {
    assert.equal(sim.nodes.get(p)!.status('n2'), 'LEFT', `${p} did not take it back (seed ${seed})`);
    assert.ok(!sim.nodes.get(p)!.ring.has('n2'));
  }

  sim.down.add(8002);
  sim.now += 10;
  const fresh = sim.add(2, [0], { freshDataDir: true });
  for (let r = 0; r < 60 && sim.statusesOf('n2').some((st) => st !== 'ALIVE'); r++) await sim.step();
  assert.deepEqual(sim.statusesOf('n2'), ['ALIVE', 'ALIVE'], `seed ${seed}`);
  assert.equal(fresh.status('n2'), 'ALIVE');
  for (const p of [8000, 8001]) assert.ok(sim.nodes.get(p)!.ring.has('n2'));
});

test(`a seed restarted after a removal remembers it from its PEERS file: a removed node started again on its old data dir is not taken back by it (seed ${seed})`, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-sim-peers-'));
  const file = path.join(dir, 'PEERS');
  try {
    const sim = new Sim(seed + 7);
    const keep = { onPeersChange: (members: readonly MemberInfo[]) => savePeers(file, peersOf(members), () => undefined) };
    sim.add(0, [0], keep);
    for (const i of [1, 2]) sim.add(i, [0]);
    await sim.step(20);
    await sim.remove(2);
    assert.ok(loadPeers(file, () => undefined).some((p) => p.nodeId === 'n2' && p.leftIncarnation !== undefined), 'PEERS keeps the removal');

    // The seed restarts from its PEERS file while n1 is down; the removed node comes back on its old data dir.
    sim.down.add(8001);
    sim.now += 10;
    const seedAgain = sim.add(0, [0], keep);
    seedAgain.remember(loadPeers(file, () => undefined));
    assert.equal(seedAgain.status('n2'), 'LEFT');
    sim.now += 10;
    const stale = sim.add(2, [0]);
    for (let r = 0; r < 60 && stale.status('n2') !== 'LEFT'; r++) await sim.step();
    assert.equal(stale.status('n2'), 'LEFT', `it took itself out (seed ${seed})`);
    await sim.step(10);
    assert.equal(seedAgain.status('n2'), 'LEFT', `the restarted seed did not take it back (seed ${seed})`);
    assert.ok(!seedAgain.ring.has('n2'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(`announce: every peer has the node's word when it resolves, and the node has theirs, with no gossip round between; a peer that does not answer is named (seed ${seed})`, async () => {
  // What a decommission relies on to keep cleanups off the ranges it streams: it says it is
  // leaving and learns in the same exchanges whether a cleanup already runs somewhere.
  const sim = new Sim(seed);
  const says = new Map<number, MemberLoad>();
  const load = (i: number) => () => ({ keyEstimate: 0, load: 0, ...says.get(i) });
  for (let i = 0; i < 4; i++) sim.add(i, [0], { localLoad: load(i) });
  for (let r = 0; r < 30 && [...sim.nodes.values()].some((m) => m.table.size < 4); r++) await sim.step();
  const [n0, n1, n2] = [sim.nodes.get(8000)!, sim.nodes.get(8001)!, sim.nodes.get(8002)!];
  assert.ok([...sim.nodes.values()].every((m) => m.table.size === 4), `not converged (seed ${seed})`);

  says.set(2, { keyEstimate: 0, load: 0, cleaningUp: true });
  n2.refreshSelf();
  says.set(0, { keyEstimate: 0, load: 0, leaving: true });
  assert.equal(n0.isCleaningUp('n2'), false);
  const told = await n0.announce();
  assert.deepEqual(told, { told: 3, peers: 3, silent: [] });
  assert.equal(n0.isCleaningUp('n2'), true, 'n2\'s answer carried its cleanup');
  assert.equal(n0.isCleaningUp('n1'), false);
  for (const m of [n1, n2]) assert.equal(m.isLeaving('n0'), true, `${m.selfId} heard n0 is leaving`);

  // The flags go once their node says false (as ClusterCoordinator's localLoad does), at its next beat.
  says.set(2, { keyEstimate: 0, load: 0, cleaningUp: false });
  says.set(0, { keyEstimate: 0, load: 0, leaving: false });
  sim.down.add(8003);
  const again = await n0.announce();
  assert.deepEqual(again, { told: 2, peers: 3, silent: ['n3'] });
  assert.equal(n1.isLeaving('n0'), false);
  assert.equal(n0.isCleaningUp('n2'), true, 'n2 has not beaten since');
  n2.refreshSelf();
  await n0.announce();
  assert.equal(n0.isCleaningUp('n2'), false);
});

test(`a node remembered from an earlier run is not removed through a node that has not heard of it in this run; it is once that node has heard it is DEAD (seed ${seed})`, async () => {
  const sim = new Sim(seed);
  for (const i of [0, 1]) sim.add(i, [0]);
  await sim.step(20);
  // n1 restarts knowing only itself as its seed, remembering n0 and n2 (n2 long gone) from its PEERS.
  const n1 = sim.add(1, [1]);
  n1.remember([0, 2].map((i) => ({ nodeId: `n${i}`, host: 'sim', httpPort: 7000 + i, peerPort: 8000 + i, vnodes: 16 })));
  assert.equal(n1.status('n0'), 'DEAD');
  assert.equal(n1.removeDead('n0'), 'UNHEARD', 'n0 runs: n1 only has not heard of it yet');
  assert.equal(n1.status('n0'), 'DEAD', 'not marked LEFT');
  assert.equal(n1.ring.has('n0'), true);
  // n0 gossips to n1 (it still knows n1): ALIVE again, as it was all along.
  await sim.step(20);
  assert.equal(n1.status('n0'), 'ALIVE');
  // A node this run has heard is DEAD is removed as before.
  sim.add(2, [0]);
  await sim.step(20);
  sim.down.add(8002);
  await sim.step(30);
  assert.equal(n1.status('n2'), 'DEAD');
  assert.equal(n1.removeDead('n2'), 'DEAD');
  assert.equal(n1.status('n2'), 'LEFT');
});
