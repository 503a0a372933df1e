// The cluster's read state machine on its own (quorum_reads.ts): real encoded sibling sets, and
// replicas played by a scripted context (which answers when, and what), so the counting,
// deadlines and read-repair timing can be driven exactly. The same machine runs against real
// nodes in test/cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type QuorumReadContext, quorumReads, type ReadSpec } from '../../../src/coordinator/quorum_reads';
import { recordOf, type ReplicaAnswer } from '../../../src/coordinator/read_repair';
import { ReplicaLatency } from '../../../src/coordinator/replica_latency';
import { waitFor } from '../../helpers/cluster';
import { replicaRoundTripSamples, slowReplicaAvoidMs, speculativeRetryBurst, speculativeRetryMsInitial, speculativeRetryMsMin } from '../../../src/constants';
import type { ConsistencyLevel } from '../../../src/coordinator/types';
import { ErrorCode, isRingkvError, RingkvError } from '../../../src/errors';
import type { AnswerCallback } from '../../../src/shards';
import type { ShardOp, WireRecord } from '../../../src/shards/messages';
import { coordinateWrite, type StoredSibling } from '../../../src/versioning';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const write = (stored: StoredSibling[], nodeId: string, value: string, nowMs: number) =>
  coordinateWrite(stored, { nodeId, nowMs, mode: 'vclock', value: Buffer.from(value), tombstone: false, ttlMs: 0, context: null }).siblings;
const key = (i: number) => new Uint8Array(Buffer.from(`k${i}`));
const values = (s: StoredSibling[]) => s.map((x) => Buffer.from(x.value).toString()).sort();

/** Replica behaviour per node: the record it holds for a key, after how long, or an error (at once or after a while) / silence. */
type Replica = (k: string) => { record: WireRecord | null; afterMs: number } | { failAfterMs: number } | 'fail' | 'silent';

interface Script {
  ctx: QuorumReadContext;
  localCalls: number[];
  asked: string[];
  /** Remote replicas' answers delivered so far, as node:key. */
  answered: string[];
  repairs: Array<{ key: string; answers: number }>;
}

function script(replicas: Record<string, Replica>, alive: string[], opts: { random?: number; zones?: Record<string, string>; dcs?: Record<string, string>; localFirst?: boolean; rebuilding?: string[]; behind?: string[] } = {}): Script {
  const localCalls: number[] = [];
  const asked: string[] = [];
  const answered: string[] = [];
  const repairs: Array<{ key: string; answers: number }> = [];
  const answerLater = (who: string, r: ReturnType<Replica>, done: (record: WireRecord | null, err: unknown) => void, timeoutMs: number) => {
    // A silent replica: the request times out, as the peer connection's own timer makes it do.
    if (r === 'silent') {
      setTimeout(() => done(null, new RingkvError(ErrorCode.Timeout, 'no answer')), timeoutMs);
      return;
    }
    if (r === 'fail') setImmediate(() => done(null, new RingkvError(ErrorCode.Unavailable, 'replica down')));
    else if ('failAfterMs' in r) setTimeout(() => done(null, new RingkvError(ErrorCode.Unavailable, 'replica lost')), r.failAfterMs);
    else
      setTimeout(() => {
        answered.push(who);
        done(r.record, null);
      }, r.afterMs);
  };
  const ctx: QuorumReadContext = {
    nodeId: 'a',
    replicationFactor: 3,
    conflictMode: 'vclock',
    readRepairChance: 0.5,
    random: () => opts.random ?? 0.99,
    preferenceList: () => (opts.dcs === undefined ? ['a', 'b', 'c'] : Object.keys(opts.dcs)),
    alive: (id) => alive.includes(id),
    local: {
      submitMany: (ops: readonly ShardOp[], _timeoutMs: number, onAnswer: AnswerCallback) => {
        localCalls.push(ops.length);
        ops.forEach((op, i) => {
          const r = replicas['a']!(Buffer.from(op.key).toString());
          if (r === 'silent') return;
          if (r === 'fail') onAnswer(i, null, new RingkvError(ErrorCode.Busy, 'full'));
          else if ('failAfterMs' in r) setTimeout(() => onAnswer(i, null, new RingkvError(ErrorCode.Busy, 'full')), r.failAfterMs);
          else setTimeout(() => onAnswer(i, { ok: true, op: 'get', record: r.record }, null), r.afterMs);
        });
      },
    },
    readReplica: (id, k, timeoutMs, done) => {
      const who = `${id}:${Buffer.from(k).toString()}`;
      asked.push(who);
      answerLater(who, replicas[id]!(Buffer.from(k).toString()), done, timeoutMs);
    },
    count: (e) => e,
    readRepair: (k: Uint8Array, answers: readonly ReplicaAnswer[]) => repairs.push({ key: Buffer.from(k).toString(), answers: answers.length }),
    replicaLatency: new ReplicaLatency(),
    localFirst: () => opts.localFirst ?? true,
    rebuildingPeer: () => {
      const r = opts.rebuilding;
      return r === undefined ? null : (id) => r.includes(id);
    },
    behindPeer: () => {
      const b = opts.behind;
      return b === undefined ? null : (id) => b.includes(id);
    },
    distance: () => {
      const zones = opts.zones;
      const dcs = opts.dcs;
      if (dcs !== undefined) return (id) => (dcs[id] === dcs['a'] ? 0 : 3);
      return zones === undefined ? null : (id) => (zones[id] === zones['a'] ? 0 : 1);
    },
    datacenters: () => {
      const dcs = opts.dcs;
      return dcs === undefined ? null : { local: dcs['a']!, names: [...new Set(Object.values(dcs))], of: (id) => dcs[id]! };
    },
    counters: { coordinatedReads: 0, replicaReadsAsked: 0, speculativeReads: 0 },
  };
  return { ctx, localCalls, asked, answered, repairs };
}

function run(s: Script, specs: ReadSpec[]): Promise<Map<number, { merged: StoredSibling[]; error: unknown }>> {
  return new Promise((resolve) => {
    const out = new Map<number, { merged: StoredSibling[]; error: unknown }>();
    quorumReads(s.ctx, specs, (at, merged, error) => {
      assert.ok(!out.has(at), `read ${at} finished twice`);
      out.set(at, { merged, error });
      if (out.size === specs.length) resolve(out);
    });
  });
}

const specs = (n: number, consistency: ConsistencyLevel, timeoutMs = 2000): ReadSpec[] => Array.from({ length: n }, (_, i) => ({ at: i, key: key(i), consistency, timeoutMs }));

test('a batch of QUORUM reads reads this node with one submission and one peer per key, and merges', async () => {
  // Proves the batching (one local submitMany for 32 reads, one remote ask each, the other
  // replicas in turn) and that a read answers with the reconciliation of what its replicas hold
  // (a newer remote version wins).
  const v1 = write([], 'a', 'one', 1000);
  const v2 = write(v1, 'b', 'two', 2000);
  const s = script({ a: () => ({ record: recordOf(v1), afterMs: 1 }), b: () => ({ record: recordOf(v2), afterMs: 2 }), c: () => ({ record: recordOf(v2), afterMs: 2 }) }, ['a', 'b', 'c']);
  const out = await run(s, specs(32, 'QUORUM'));
  assert.deepEqual(s.localCalls, [32]);
  assert.equal(s.asked.length, 32);
  assert.deepEqual(s.asked.slice(0, 4).map((a) => a[0]), ['b', 'c', 'b', 'c'], 'the other live replicas take turns');
  assert.equal(s.asked.filter((a) => a.startsWith('b:')).length, 16);
  assert.equal(s.asked.filter((a) => a.startsWith('c:')).length, 16);
  for (const [, r] of out) {
    assert.equal(r.error, null);
    assert.deepEqual(values(r.merged), ['two']);
  }
  assert.equal(s.ctx.counters.coordinatedReads, 32);
  assert.equal(s.ctx.counters.replicaReadsAsked, 64);
  assert.equal(s.ctx.counters.speculativeReads, 0, 'answers before the speculative retry ask no spare');
  // Read repair is offered each read once, after both its replicas answered.
  assert.equal(s.repairs.length, 32);
  assert.ok(s.repairs.every((r) => r.answers === 2));
});

test('with zones, a read asks the replicas of this node\'s zone before the others, and still the others when it must', async () => {
  // The preference list is a, b, c; b is in another zone than this node (a), c in the same one.
  const v = write([], 'a', 'x', 1000);
  const held = () => ({ record: recordOf(v), afterMs: 1 });
  const zones = { a: 'z1', b: 'z2', c: 'z1' };
  const s = script({ a: held, b: held, c: held }, ['a', 'b', 'c'], { zones });
  for (const [, r] of await run(s, specs(8, 'QUORUM'))) assert.deepEqual(values(r.merged), ['x']);
  assert.ok(s.asked.length === 8 && s.asked.every((a) => a.startsWith('c:')), `c, in this node's zone, before b: ${s.asked.join()}`);
  // Its own zone's replica failing, the read goes to the other zone.
  const s2 = script({ a: held, b: held, c: () => 'fail' }, ['a', 'b', 'c'], { zones });
  for (const [, r] of await run(s2, specs(4, 'QUORUM'))) assert.deepEqual(values(r.merged), ['x']);
  assert.equal(s2.asked.filter((a) => a.startsWith('b:')).length, 4);
  // No zones: b and c take turns, as the first test shows.
  const s3 = script({ a: held, b: held, c: held }, ['a', 'b', 'c']);
  await run(s3, specs(2, 'QUORUM'));
  assert.deepEqual(s3.asked.map((a) => a[0]), ['b', 'c']);
});

test('across datacenters: LOCAL_* asks and counts only this node\'s datacenter, EACH_QUORUM a quorum in each, QUORUM over all', async () => {
  // Proves design.md §8's per-datacenter quorums on the read side: a, b, c are in east (this node,
  // a, is there), d, e, f in west, N = 3 in each.
  const v = write([], 'a', 'x', 1000);
  const held = () => ({ record: recordOf(v), afterMs: 1 });
  const dcs = { a: 'east', b: 'east', c: 'east', d: 'west', e: 'west', f: 'west' };
  const all = { a: held, b: held, c: held, d: held, e: held, f: held };
  const local = script(all, Object.keys(dcs), { dcs });
  for (const [, r] of await run(local, specs(4, 'LOCAL_QUORUM'))) assert.deepEqual(values(r.merged), ['x']);
  assert.ok(local.asked.length === 4 && local.asked.every((a) => a[0] === 'b' || a[0] === 'c'), `east only: ${local.asked.join()}`);
  const one = script(all, Object.keys(dcs), { dcs });
  await run(one, specs(4, 'LOCAL_ONE'));
  assert.deepEqual([one.asked.length, one.localCalls], [0, [4]], 'LOCAL_ONE: this node alone');
  // West down whole: LOCAL_QUORUM still answers; EACH_QUORUM and QUORUM (4 of 6) fail at once.
  const westDown = script(all, ['a', 'b', 'c'], { dcs });
  for (const [, r] of await run(westDown, specs(2, 'LOCAL_QUORUM'))) assert.equal(r.error, null);
  for (const level of ['EACH_QUORUM', 'QUORUM'] as const) {
    const s = script(all, ['a', 'b', 'c'], { dcs });
    for (const [, r] of await run(s, specs(1, level))) {
      assert.ok(isRingkvError(r.error, ErrorCode.Unavailable), `${level}: ${String(r.error)}`);
      assert.match(String(r.error), level === 'EACH_QUORUM' ? /needs 2 of 3 replicas in datacenter west, only 0 alive/ : /needs 4 of 6 replicas, only 3 alive/);
    }
  }
  // East short of a quorum: LOCAL_QUORUM fails though west could answer.
  const eastShort = script(all, ['a', 'd', 'e', 'f'], { dcs });
  for (const [, r] of await run(eastShort, specs(1, 'LOCAL_QUORUM'))) assert.ok(isRingkvError(r.error, ErrorCode.Unavailable), String(r.error));
  // EACH_QUORUM: all asked; a silent west replica is made up by the other one, and two silent
  // ones time out however many east answered.
  const each = script({ ...all, e: () => 'silent' }, Object.keys(dcs), { dcs });
  for (const [, r] of await run(each, specs(1, 'EACH_QUORUM'))) assert.equal(r.error, null);
  assert.equal(each.asked.length, 5, 'every other live replica asked');
  const stuck = script({ ...all, e: () => 'silent', f: () => 'silent' }, Object.keys(dcs), { dcs });
  for (const [, r] of await run(stuck, specs(1, 'EACH_QUORUM', 200))) {
    assert.ok(isRingkvError(r.error, ErrorCode.Timeout), String(r.error));
    assert.match(String(r.error), /2 in datacenter west: 1 answered/);
  }
  // QUORUM: this datacenter's replicas before the other's.
  const q = script(all, Object.keys(dcs), { dcs });
  await run(q, specs(4, 'QUORUM'));
  for (let i = 0; i < 4; i++) {
    const mine = q.asked.filter((a) => a.endsWith(`:k${i}`)).map((a) => a[0]!);
    assert.equal(mine.length, 3);
    assert.deepEqual(mine.filter((id) => id === 'b' || id === 'c').sort(), ['b', 'c'], `east first: ${mine.join()}`);
  }
});

test('a replica that rebuilds is asked last, and this node\'s own replica last while it rebuilds', async () => {
  const v = write([], 'a', 'x', 1000);
  const held = () => ({ record: recordOf(v), afterMs: 1 });
  // b (first in the list after this node) rebuilds: QUORUM asks this node and c.
  const s = script({ a: held, b: held, c: held }, ['a', 'b', 'c'], { rebuilding: ['b'] });
  for (const [, r] of await run(s, specs(4, 'QUORUM'))) assert.deepEqual(values(r.merged), ['x']);
  assert.ok(s.asked.length === 4 && s.asked.every((a) => a.startsWith('c:')), s.asked.join());
  // This node rebuilds: a ONE read asks b or c, not its own replica.
  const s2 = script({ a: () => ({ record: null, afterMs: 1 }), b: held, c: held }, ['a', 'b', 'c'], { localFirst: false });
  for (const [, r] of await run(s2, specs(4, 'ONE'))) assert.deepEqual(values(r.merged), ['x'], 'not the empty local replica');
  assert.deepEqual(s2.localCalls, [], 'its own replica is not asked while another answers');
  assert.deepEqual(s2.asked.map((a) => a[0]), ['b', 'c', 'b', 'c']);
});

test('while this node is behind, its own replica is the spare: asked in a failed replica\'s place and by the speculative ask', async () => {
  // Its replica is ranked last then, so it can be a spare; asking it crashed the node on an
  // assertion that this node never was one (test/cluster/rolling_restart.test.ts, 2 runs of 12).
  const v = write([], 'a', 'x', 1000);
  const held = () => ({ record: recordOf(v), afterMs: 1 });
  const s1 = script({ a: held, b: () => 'fail', c: held }, ['a', 'b', 'c'], { localFirst: false });
  for (const [, r] of await run(s1, specs(4, 'QUORUM'))) {
    assert.equal(r.error, null);
    assert.deepEqual(values(r.merged), ['x']);
  }
  assert.deepEqual(s1.localCalls, [1, 1, 1, 1], 'each read asked b and c first; b failed');
  // A ONE read through two failed replicas ends at this node's own.
  const s2 = script({ a: held, b: () => 'fail', c: () => 'fail' }, ['a', 'b', 'c'], { localFirst: false });
  for (const [, r] of await run(s2, specs(2, 'ONE'))) assert.deepEqual([r.error, values(r.merged)], [null, ['x']]);
  assert.deepEqual(s2.localCalls, [1, 1]);
  // b silent: each read's speculative ask goes to this node's replica.
  const s3 = script({ a: held, b: () => 'silent', c: held }, ['a', 'b', 'c'], { localFirst: false });
  for (const [, r] of await run(s3, specs(4, 'QUORUM', 300))) assert.deepEqual([r.error, values(r.merged)], [null, ['x']]);
  assert.equal(s3.ctx.counters.speculativeReads, 4);
  assert.deepEqual(s3.localCalls, [1, 1, 1, 1]);
});

test('a replica that fails after its read was decided by a speculative ask is replaced by no spare', async () => {
  // This node is behind, so its replica is the last spare of a ONE read. Reads whose turn starts
  // at b (slow, then lost) are answered by the speculative ask to c; b's failure comes after that
  // and must not send a read to this node's replica, which nobody waits for.
  const v = write([], 'a', 'x', 1000);
  const s = script({ a: () => ({ record: recordOf(v), afterMs: 1 }), b: () => ({ failAfterMs: 150 }), c: () => ({ record: recordOf(v), afterMs: 1 }) }, ['a', 'b', 'c'], { localFirst: false });
  for (const [, r] of await run(s, specs(4, 'ONE'))) assert.deepEqual([r.error, values(r.merged)], [null, ['x']]);
  const fromB = s.asked.filter((a) => a.startsWith('b:')).length;
  assert.ok(fromB > 0 && s.ctx.counters.speculativeReads === fromB, `${fromB} reads started at b, ${s.ctx.counters.speculativeReads} speculative asks`);
  await sleep(250);
  assert.deepEqual(s.localCalls, [], 'b failed after the reads were answered: this node was not asked');
  assert.equal(s.ctx.counters.replicaReadsAsked, 4 + fromB);
});

test('a replica this node holds hints for is asked after the others, and still when it must', async () => {
  // b (first in the list after this node) missed writes this node hinted for it: its copy is the
  // old one. QUORUM asks this node and c, and the newer version is the answer; no repair to make.
  const v1 = write([], 'a', 'old', 1000);
  const v2 = write(v1, 'a', 'new', 2000);
  const s = script({ a: () => ({ record: recordOf(v2), afterMs: 1 }), b: () => ({ record: recordOf(v1), afterMs: 1 }), c: () => ({ record: recordOf(v2), afterMs: 1 }) }, ['a', 'b', 'c'], { behind: ['b'] });
  for (const [, r] of await run(s, specs(4, 'QUORUM'))) assert.deepEqual(values(r.merged), ['new']);
  assert.ok(s.asked.length === 4 && s.asked.every((a) => a.startsWith('c:')), s.asked.join());
  // c failing, b is still the spare: behind is better than no answer.
  const s2 = script({ a: () => ({ record: recordOf(v2), afterMs: 1 }), b: () => ({ record: recordOf(v1), afterMs: 1 }), c: () => 'fail' }, ['a', 'b', 'c'], { behind: ['b'] });
  for (const [, r] of await run(s2, specs(4, 'QUORUM'))) {
    assert.equal(r.error, null);
    assert.deepEqual(values(r.merged), ['new']);
  }
  assert.equal(s2.asked.filter((a) => a.startsWith('b:')).length, 4);
  // A zone's preference does not outweigh it: c in another zone still comes before b.
  const s3 = script({ a: () => ({ record: recordOf(v2), afterMs: 1 }), b: () => ({ record: recordOf(v1), afterMs: 1 }), c: () => ({ record: recordOf(v2), afterMs: 1 }) }, ['a', 'b', 'c'], { behind: ['b'], zones: { a: 'z1', b: 'z1', c: 'z2' } });
  await run(s3, specs(2, 'QUORUM'));
  assert.ok(s3.asked.every((a) => a.startsWith('c:')), s3.asked.join());
});

test('a failed replica is replaced by a spare; too few alive fails at once; silence times out alone', async () => {
  // Proves the spare ask, the fast Unavailable (nothing asked), and a deadline that decides only
  // the reads still waiting, each with its own needed/answered.
  const v = write([], 'a', 'x', 1000);
  const held = () => ({ record: recordOf(v), afterMs: 1 });
  const s1 = script({ a: held, b: () => 'fail', c: held }, ['a', 'b', 'c']);
  const r1 = await run(s1, specs(4, 'QUORUM'));
  for (const [, r] of r1) assert.deepEqual(values(r.merged), ['x']);
  assert.deepEqual(s1.asked.filter((a) => a.startsWith('c:')).length, 4, 'c asked for each read b failed');

  const s2 = script({ a: held, b: held, c: held }, ['a']);
  const r2 = await run(s2, specs(3, 'QUORUM'));
  for (const [, r] of r2) assert.ok(isRingkvError(r.error, ErrorCode.Unavailable) && r.error.details.needed === 2 && r.error.details.alive === 1);
  assert.deepEqual(s2.localCalls, []);
  assert.deepEqual(s2.asked, []);
  // A ring of one node (this one, restarted and not told of its peers yet): QUORUM is still 2 of N = 3.
  const s2b = script({ a: held }, ['a']);
  s2b.ctx.preferenceList = () => ['a'];
  const r2b = await run(s2b, specs(1, 'QUORUM'));
  assert.ok(isRingkvError(r2b.get(0)!.error, ErrorCode.Unavailable) && (r2b.get(0)!.error as RingkvError).details.replicas === 3, String(r2b.get(0)!.error));

  // k0 at ONE is answered by this node; k1 at QUORUM waits for b, which never answers.
  const s3 = script({ a: held, b: () => 'silent', c: () => 'silent' }, ['a', 'b', 'c']);
  const started = Date.now();
  const r3 = await run(s3, [
    { at: 0, key: key(0), consistency: 'ONE', timeoutMs: 150 },
    { at: 1, key: key(1), consistency: 'QUORUM', timeoutMs: 150 },
  ]);
  assert.equal(r3.get(0)!.error, null);
  const e = r3.get(1)!.error;
  assert.ok(isRingkvError(e, ErrorCode.Timeout) && e.details.needed === 2 && e.details.answered === 1, String(e));
  assert.ok(Date.now() - started >= 140, 'not before its deadline');
  await sleep(10);
  assert.deepEqual(
    s3.repairs.map((r) => r.key),
    ['k0'],
    'k0 (its one replica answered) is offered for repair; k1 is not while a replica asked has not answered',
  );
});

test('a replica that is ALIVE but never answers costs a speculative ask, then is asked last', async () => {
  // Proves speculative retry: b is silent, as a node whose inbound links are cut off while its
  // gossip still gets out; each QUORUM read whose turn starts at b asks c once it has waited the
  // p99 of replica round trips and is answered by a and c, long before its timeout. Once b's
  // asks have timed out, reads ask c rather than b: no speculative ask needed.
  const v = write([], 'a', 'x', 1000);
  const held = () => ({ record: recordOf(v), afterMs: 1 });
  const s = script({ a: held, b: () => 'silent', c: held }, ['a', 'b', 'c']);
  for (const round of [1, 2]) {
    const out = await run(s, specs(8, 'QUORUM', 300));
    for (const [, r] of out) {
      assert.equal(r.error, null, `round ${round}`);
      assert.deepEqual(values(r.merged), ['x']);
    }
    if (round === 1) {
      assert.equal(s.ctx.replicaLatency.avoided('b'), false, 'slower than the p99 is not enough');
      await waitFor('b to be asked last', () => s.ctx.replicaLatency.avoided('b'), 2000);
    }
  }
  assert.equal(s.ctx.counters.speculativeReads, 4, 'the first round\'s reads that started at b, only');
  assert.equal(s.asked.filter((a) => a.startsWith('b:')).length, 4);
  assert.equal(s.asked.filter((a) => a.startsWith('c:')).length, 16);
});

test('speculative asks stop when their budget is spent: an overloaded cluster is not sent more reads', async () => {
  const v = write([], 'a', 'x', 1000);
  const s = script({ a: () => ({ record: recordOf(v), afterMs: 1 }), b: () => 'silent', c: () => 'silent' }, ['a', 'b', 'c']);
  const out = await run(s, specs(speculativeRetryBurst + 20, 'QUORUM', 300));
  const timedOut = [...out.values()].filter((r) => isRingkvError(r.error, ErrorCode.Timeout)).length;
  assert.equal(timedOut, speculativeRetryBurst + 20, 'c is silent too: every read times out');
  assert.ok(s.ctx.counters.speculativeReads >= speculativeRetryBurst && s.ctx.counters.speculativeReads < speculativeRetryBurst + 5, `${s.ctx.counters.speculativeReads} speculative asks`);
});

test('the speculative retry waits the p99 of recent round trips, within its bounds', () => {
  const l = new ReplicaLatency();
  assert.equal(l.speculateAfterMs(5000), speculativeRetryMsInitial, 'before any sample');
  for (let i = 0; i < replicaRoundTripSamples; i++) l.record(i < replicaRoundTripSamples * 0.985 ? 1 : 40);
  assert.equal(l.speculateAfterMs(5000), 40, 'the slowest 1.5% set the p99');
  assert.equal(l.speculateAfterMs(50), 25, 'never past half the timeout');
  for (let i = 0; i < replicaRoundTripSamples; i++) l.record(0.1);
  assert.equal(l.speculateAfterMs(5000), speculativeRetryMsMin, 'never under the floor; old samples age out');
});

test('a replica a read gave up on is asked last for slowReplicaAvoidMs, then like the others', () => {
  let now = 1000;
  const l = new ReplicaLatency(() => now);
  assert.equal(l.avoiding, false);
  l.gaveUpOn('b');
  assert.equal(l.avoiding, true);
  assert.equal(l.avoided('b'), true);
  assert.equal(l.avoided('c'), false);
  now += slowReplicaAvoidMs - 1;
  assert.equal(l.avoided('b'), true);
  now += 1;
  assert.equal(l.avoiding, false);
  assert.equal(l.avoided('b'), false);
});

test('with read_repair_chance a read asks every live replica, answers at its level, and repairs after all answered', async () => {
  // Proves the read_repair_chance path: ONE is answered by the local replica at once, yet every
  // live replica is asked, and read repair sees all three answers once the slowest came.
  const v1 = write([], 'a', 'one', 1000);
  const v2 = write(v1, 'a', 'two', 2000);
  const s = script({ a: () => ({ record: recordOf(v2), afterMs: 1 }), b: () => ({ record: recordOf(v2), afterMs: 5 }), c: () => ({ record: recordOf(v1), afterMs: 60 }) }, ['a', 'b', 'c'], { random: 0 });
  const out = await run(s, specs(2, 'ONE'));
  assert.ok(!s.answered.some((a) => a.startsWith('c:')), 'ONE does not wait for the slow replica');
  for (const [, r] of out) assert.deepEqual(values(r.merged), ['two']);
  assert.equal(s.asked.length, 4);
  assert.equal(s.repairs.length, 0, 'not before the slowest replica answered');
  await sleep(100);
  assert.deepEqual(
    s.repairs.map((r) => [r.key, r.answers]),
    [
      ['k0', 3],
      ['k1', 3],
    ],
  );
});
