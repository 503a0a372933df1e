// The cluster's write state machine on its own (quorum_writes.ts): real encoded records, with this
// node's shards and the other replicas played by a scripted context (which answers when, and
// what), so acknowledgements, deadlines, refusals, hints and back-pressure can be driven exactly.
// The same machine runs against real nodes in test/cluster.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordOf } from '../../../src/coordinator/read_repair';
import { type QuorumWriteContext, quorumWrites, type WriteAnswer, type WriteSpec } from '../../../src/coordinator/quorum_writes';
import type { PartitionMode } from '../../../src/coordinator/quorum';
import type { ConsistencyLevel } from '../../../src/coordinator/types';
import { ErrorCode, isRingkvError, RingkvError } from '../../../src/errors';
import type { AnswerCallback, AppliedCallback } from '../../../src/shards';
import type { ShardOp, WireRecord, WriteDone, WriteOp } from '../../../src/shards/messages';
import { coordinateWrite } from '../../../src/versioning';
import { waitFor } from '../../helpers/cluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const record = (value: string): WireRecord => recordOf(coordinateWrite([], { nodeId: 'a', nowMs: 1000, mode: 'vclock', value: Buffer.from(value), tombstone: false, ttlMs: 0, context: null }).siblings);

/** How this node's shard answers a write: applied after `appliedMs`, durable after `durableMs`; or refused; or never. */
/** This node's replica: applies and makes durable after so long (or fails to, with `lost`), refuses, or never answers. */
type Local = { appliedMs: number; durableMs: number; lost?: boolean } | 'refuse' | 'silent';
/** How a peer answers a replica write: after `ms`, or with an error (unavailable, or a refusal of the request), or never. */
type Peer = number | 'fail' | 'refuse' | 'silent';

interface Script {
  ctx: QuorumWriteContext;
  submissions: number[];
  /** The ops this node's shard was given, in order. */
  ops: WriteOp[];
  /** This node's writes told durable so far. */
  durable: { count: number };
  sent: string[];
  hints: string[];
}

function script(local: Local, peers: Record<string, Peer>, alive: string[], inflight = 0, partitionMode: PartitionMode = 'ap', dcs?: Record<string, string>): Script {
  const submissions: number[] = [];
  const submitted: WriteOp[] = [];
  const durable = { count: 0 };
  const sent: string[] = [];
  const hints: string[] = [];
  const ctx: QuorumWriteContext = {
    nodeId: 'a',
    replicationFactor: 3,
    datacenters: () => (dcs === undefined ? null : { local: dcs['a']!, names: [...new Set(Object.values(dcs))], of: (id) => dcs[id]! }),
    partitionMode,
    hintedHandoff: true,
    alive: (id) => alive.includes(id),
    local: {
      submitMany: (ops: readonly ShardOp[], _timeoutMs: number, onAnswer: AnswerCallback, onApplied?: AppliedCallback) => {
        submissions.push(ops.length);
        ops.forEach((op, i) => {
          const w = op as WriteOp;
          submitted.push(w);
          if (local === 'silent') return;
          if (local === 'refuse') {
            setImmediate(() => onAnswer(i, { ok: false, error: { code: ErrorCode.Conflict, message: 'version mismatch', details: {} } }, null));
            return;
          }
          const done: WriteDone = { ok: true, op: 'put', version: `v1_1000_a_${Buffer.from(w.key).toString()}`, timestampMs: 1000, record: record(Buffer.from(w.value).toString()), replayed: false };
          setTimeout(() => onApplied?.(i, done), local.appliedMs);
          setTimeout(() => {
            if (local.lost === true) {
              onAnswer(i, null, new RingkvError(ErrorCode.NoSpace, 'disk full'));
              return;
            }
            durable.count++;
            onAnswer(i, done, null);
          }, local.durableMs);
        });
      },
    },
    applyReplica: (id, key, _record, _timeoutMs, done) => {
      sent.push(`${id}:${Buffer.from(key).toString()}`);
      const p = peers[id]!;
      if (p === 'silent') return;
      if (p === 'fail') setImmediate(() => done(new RingkvError(ErrorCode.Unavailable, 'peer down')));
      else if (p === 'refuse') setImmediate(() => done(new RingkvError(ErrorCode.InvalidArgument, 'bad record')));
      else setTimeout(() => done(null), p);
    },
    applied: () => undefined,
    hint: (target, key) => hints.push(`${target}:${Buffer.from(key).toString()}`),
    count: (e) => e,
    replicaWrites: { inflight, inflightMax: 100, bytes: 0, bytesMax: 1024 * 1024 },
    counters: { coordinatedWrites: 0, replicaWriteFailures: 0, replicationBackPressure: 0 },
  };
  return { ctx, submissions, ops: submitted, durable, sent, hints };
}

const specs = (n: number, consistency: ConsistencyLevel, timeoutMs = 2000): WriteSpec[] =>
  Array.from({ length: n }, (_, i) => ({
    at: i,
    op: { op: 'put', key: new Uint8Array(Buffer.from(`k${i}`)), value: new Uint8Array(Buffer.from(`v${i}`)), ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: null, returnRecord: true, notAfterMs: 0 },
    pref: ['a', 'b', 'c'],
    consistency,
    timeoutMs,
  }));

function run(s: Script, list: WriteSpec[]): Promise<Map<number, { answer: WriteAnswer | null; error: unknown }>> {
  return new Promise((resolve) => {
    const out = new Map<number, { answer: WriteAnswer | null; error: unknown }>();
    quorumWrites(s.ctx, list, (at, answer, error) => {
      assert.ok(!out.has(at), `write ${at} finished twice`);
      out.set(at, { answer, error });
      if (out.size === list.length) resolve(out);
    });
  });
}

test("a batch of QUORUM writes goes to this node's shards as one submission, replicates once applied, and answers at W", async () => {
  // Proves the batching (one submitMany for 32 writes), replication to both other replicas on the
  // early answer, and the answer at W: the local copy is slow to sync, so the two peers make W=2.
  const s = script({ appliedMs: 1, durableMs: 400 }, { b: 5, c: 10 }, ['a', 'b', 'c']);
  const out = await run(s, specs(32, 'QUORUM'));
  assert.equal(s.durable.count, 0, 'answered before the local sync: W came from the peers');
  assert.deepEqual(s.submissions, [32]);
  assert.equal(s.sent.length, 64);
  for (const [i, r] of out) {
    assert.equal(r.error, null);
    assert.equal(r.answer!.version, `v1_1000_a_k${i}`);
    assert.equal(r.answer!.acks, 2);
  }
  assert.equal(s.ctx.counters.coordinatedWrites, 32);
  await sleep(450);
  assert.equal(s.ctx.replicaWrites.inflight, 0, 'every replica write counted back');
});

test("this node's replica issues no version after the coordinator answers: its op's notAfterMs is the write's deadline where the client's is later or none", async () => {
  // A version issued after the Timeout answer would be sent to no replica (its early answer is
  // no longer heard) and live on this node alone, beside the one the client's retry makes.
  const s = script({ appliedMs: 1, durableMs: 2 }, { b: 1, c: 1 }, ['a', 'b', 'c']);
  const list = specs(3, 'QUORUM', 2000);
  const before = Date.now();
  list[1]!.op.notAfterMs = before + 60_000; // the client waits longer than this coordinator
  list[2]!.op.notAfterMs = before + 500; // the client gives up first: its time stands
  await run(s, list);
  const after = Date.now();
  assert.equal(s.ops.length, 3);
  for (const op of s.ops.slice(0, 2)) assert.ok(op.notAfterMs >= before + 2000 && op.notAfterMs <= after + 2000, `notAfterMs ${op.notAfterMs - before} ms after the start`);
  assert.equal(s.ops[2]!.notAfterMs, before + 500);
  assert.equal(list[0]!.op.notAfterMs, 0, "the caller's op is not changed");
});

test('a replica that comes back between the start of a write and its local apply still gets it, as a hint', async () => {
  // Proves the replicas left out when the write started (down then) are the ones hinted, whatever
  // gossip says by the time this node's replica applied it. Found by test/cluster/rolling_restart:
  // a write coordinated as a node came back reached it neither way.
  const alive = ['a', 'b'];
  const s = script({ appliedMs: 20, durableMs: 30 }, { b: 1, c: 1 }, alive);
  const done = run(s, specs(1, 'QUORUM'));
  alive.push('c');
  const out = await done;
  assert.equal(out.get(0)!.error, null);
  assert.deepEqual(s.sent, ['b:k0']);
  assert.deepEqual(s.hints, ['c:k0']);
});

test('QUORUM counts over N, not over a preference list cut short by a ring that lacks nodes', async () => {
  // Proves a node that knows only itself (restarted, its peers not heard from yet) refuses a
  // QUORUM write instead of taking its one copy for 2 of 3. Found by a rolling restart through the
  // TypeScript client: writes acknowledged at QUORUM were on one node only.
  const alone = script({ appliedMs: 1, durableMs: 2 }, {}, ['a']);
  const ring1 = specs(1, 'QUORUM').map((s) => ({ ...s, pref: ['a'] }));
  const r = await run(alone, ring1);
  const e = r.get(0)!.error;
  assert.ok(isRingkvError(e, ErrorCode.Unavailable) && e.details.needed === 2 && e.details.replicas === 3, String(e));
  assert.match(String((e as Error).message), /needs 2 of 3 replicas, only 1 alive/);
  assert.deepEqual(alone.submissions, []);
  const one = await run(alone, ring1.map((s) => ({ ...s, consistency: 'ONE' as const })));
  assert.equal(one.get(0)!.error, null, 'ONE is one copy, whatever N is');
});

test('a refused write is answered with its error and replicated nowhere; too few alive fails before any submission', async () => {
  // Proves the refusal path (a conflict before the write applied) and the fast Unavailable.
  const refused = script('refuse', { b: 1, c: 1 }, ['a', 'b', 'c']);
  const r1 = await run(refused, specs(3, 'QUORUM'));
  for (const [, r] of r1) assert.ok(isRingkvError(r.error, ErrorCode.Conflict));
  assert.deepEqual(refused.sent, []);

  const lonely = script({ appliedMs: 1, durableMs: 2 }, { b: 1, c: 1 }, ['a']);
  const r2 = await run(lonely, specs(2, 'QUORUM'));
  for (const [, r] of r2) assert.ok(isRingkvError(r.error, ErrorCode.Unavailable) && r.error.details.needed === 2 && r.error.details.alive === 1);
  assert.deepEqual(lonely.submissions, []);
});

test('at its deadline a write times out with what answered; a down replica gets a hint; failures beyond reach fail at once', async () => {
  // Proves the timeout after the local apply (needed/answered), hints for the replica gossip has
  // down and for a live one whose write failed, and that ALL with a failing peer is Unavailable
  // as soon as the failure comes.
  const slow = script({ appliedMs: 1, durableMs: 5 }, { b: 'silent', c: 'silent' }, ['a', 'b', 'c']);
  const r1 = await run(slow, specs(1, 'QUORUM', 100));
  const e = r1.get(0)!.error;
  assert.ok(isRingkvError(e, ErrorCode.Timeout) && e.details.needed === 2 && e.details.answered === 1, String(e));

  const hinted = script({ appliedMs: 1, durableMs: 2 }, { b: 3, c: 3 }, ['a', 'b']);
  const r2 = await run(hinted, specs(2, 'QUORUM'));
  for (const [, r] of r2) assert.equal(r.error, null);
  assert.deepEqual(hinted.hints.sort(), ['c:k0', 'c:k1']);
  assert.ok(hinted.sent.every((x) => x.startsWith('b:')));

  const all = script({ appliedMs: 1, durableMs: 2 }, { b: 'fail', c: 'silent' }, ['a', 'b', 'c']);
  const r3 = await run(all, specs(1, 'ALL', 5000));
  assert.ok(isRingkvError(r3.get(0)!.error, ErrorCode.Unavailable));
  assert.equal(all.ctx.counters.replicaWriteFailures, 1);
  // b is ALIVE but its write failed: it gets a hint all the same, so the write reaches it later.
  assert.deepEqual(all.hints, ['b:k0']);
  // This node applied the write and sent it on, but could not make it durable (a full disk): the
  // others meet QUORUM, and this node keeps a hint for itself.
  const lost = script({ appliedMs: 1, durableMs: 5, lost: true }, { b: 2, c: 2 }, ['a', 'b', 'c']);
  const r5 = await run(lost, specs(1, 'QUORUM'));
  assert.equal(r5.get(0)!.error, null);
  assert.equal(r5.get(0)!.answer!.acks, 2);
  await sleep(30); // the local failure comes after the answer
  assert.deepEqual(lost.hints, ['a:k0']);
  // A replica that refused the request itself would refuse its replay too: no hint.
  const refused = script({ appliedMs: 1, durableMs: 2 }, { b: 'refuse', c: 3 }, ['a', 'b', 'c']);
  const r4 = await run(refused, specs(1, 'QUORUM'));
  assert.equal(r4.get(0)!.error, null);
  assert.deepEqual(refused.hints, []);
});

test('past the bound on replica writes in flight, a write is answered only once all its replicas have', async () => {
  // Proves back-pressure: W is met early (local and b), but the answer waits for the slow c.
  const s = script({ appliedMs: 1, durableMs: 2 }, { b: 2, c: 60 }, ['a', 'b', 'c'], 100);
  const out = await run(s, specs(1, 'QUORUM'));
  assert.equal(out.get(0)!.error, null);
  assert.equal(out.get(0)!.answer!.acks, 3, 'the answer left after c acknowledged too');
  assert.equal(s.ctx.counters.replicationBackPressure, 1);
});

test('past the bound on replica write bytes in flight, a write is answered only once all its replicas have; the bytes come back as they answer', async () => {
  // Proves the bound by bytes, the count far from its own: c is slow, so the first write leaves
  // its record in flight to c after its answer at W, over a bound of one byte.
  const s = script({ appliedMs: 1, durableMs: 2 }, { b: 2, c: 150 }, ['a', 'b', 'c']);
  s.ctx.replicaWrites = { inflight: 0, inflightMax: 100, bytes: 0, bytesMax: 1 };
  const first = await run(s, specs(1, 'QUORUM'));
  assert.equal(first.get(0)!.answer!.acks, 2, 'answered at W, c still running');
  assert.ok(s.ctx.replicaWrites.bytes > 0, "c's record is counted while it runs");
  assert.equal(s.ctx.replicaWrites.inflight, 1);
  const second = await run(s, specs(1, 'QUORUM'));
  assert.equal(second.get(0)!.answer!.acks, 3, 'the answer left after c acknowledged too');
  assert.equal(s.ctx.counters.replicationBackPressure, 1);
  await waitFor('the first write to c done', () => s.ctx.replicaWrites.inflight === 0, 5000);
  assert.equal(s.ctx.replicaWrites.bytes, 0);
});

test('partition mode cp: a ONE write waits for a majority, and with only a minority up it is refused before anything is written', async () => {
  // Proves the cp floor (design.md §10 scenario 2) in the machine: acks 2 for a ONE write (this
  // node durable, one peer) where ap answers after this node alone, and no submission, replica
  // write or hint when a majority is not up, with an error that says why.
  const ap = script({ appliedMs: 1, durableMs: 5 }, { b: 300, c: 300 }, ['a', 'b', 'c']);
  for (const r of (await run(ap, specs(2, 'ONE'))).values()) assert.equal(r.answer!.acks, 1, 'ap: this node alone');
  const cp = script({ appliedMs: 1, durableMs: 5 }, { b: 30, c: 300 }, ['a', 'b', 'c'], 0, 'cp');
  for (const r of (await run(cp, specs(2, 'ONE'))).values()) assert.equal(r.answer!.acks, 2, 'cp: this node and a peer');

  const minority = script({ appliedMs: 1, durableMs: 5 }, { b: 'fail', c: 'fail' }, ['a'], 0, 'cp');
  const out = await run(minority, specs(3, 'ONE'));
  for (const r of out.values()) {
    assert.ok(isRingkvError(r.error, ErrorCode.Unavailable), String(r.error));
    assert.match((r.error as Error).message, /put at ONE needs 2 of 3 replicas, only 1 alive \(partition mode cp: a write needs a majority of its replicas\)/);
  }
  assert.deepEqual([minority.submissions, minority.sent, minority.hints], [[], [], []], 'nothing written anywhere, no hint');
  const apMinority = script({ appliedMs: 1, durableMs: 5 }, { b: 'fail', c: 'fail' }, ['a']);
  for (const r of (await run(apMinority, specs(1, 'ONE'))).values()) assert.equal(r.error, null, 'ap takes it');
});

test('across datacenters: a LOCAL_QUORUM write answers on its datacenter\'s acks and still goes to the others; EACH_QUORUM needs each', async () => {
  // Proves design.md §8's asynchronous replication between datacenters: a, b, c in east (this
  // node is a), d, e, f in west, N = 3 in each.
  const dcs = { a: 'east', b: 'east', c: 'east', d: 'west', e: 'west', f: 'west' };
  const pref = Object.keys(dcs);
  const six = (level: ConsistencyLevel, timeoutMs = 2000) => specs(1, level, timeoutMs).map((x) => ({ ...x, pref }));
  // West is slow (300 ms): LOCAL_QUORUM answers on east's two acks, before west has it.
  const slowWest = script({ appliedMs: 1, durableMs: 2 }, { b: 5, c: 5, d: 300, e: 300, f: 300 }, pref, 0, 'ap', dcs);
  const started = Date.now();
  const local = await run(slowWest, six('LOCAL_QUORUM'));
  assert.equal(local.get(0)!.error, null);
  assert.ok(Date.now() - started < 250, 'did not wait for west');
  assert.ok(local.get(0)!.answer!.acks >= 2 && local.get(0)!.answer!.acks <= 3, 'acks counted in east only');
  assert.deepEqual(slowWest.sent.map((x) => x[0]).sort(), ['b', 'c', 'd', 'e', 'f'], 'written to every live replica');
  // West down: LOCAL_QUORUM and LOCAL_ONE still succeed, with hints for west; EACH_QUORUM and
  // QUORUM (4 of 6) are refused before anything is written.
  const westDown = script({ appliedMs: 1, durableMs: 2 }, { b: 1, c: 1 }, ['a', 'b', 'c'], 0, 'ap', dcs);
  for (const level of ['LOCAL_QUORUM', 'LOCAL_ONE'] as const) assert.equal((await run(westDown, six(level))).get(0)!.error, null);
  assert.deepEqual(westDown.hints.map((h) => h[0]).sort(), ['d', 'd', 'e', 'e', 'f', 'f']);
  for (const level of ['EACH_QUORUM', 'QUORUM'] as const) {
    const s = script({ appliedMs: 1, durableMs: 2 }, { b: 1, c: 1 }, ['a', 'b', 'c'], 0, 'ap', dcs);
    const e = (await run(s, six(level))).get(0)!.error;
    assert.ok(isRingkvError(e, ErrorCode.Unavailable), `${level}: ${String(e)}`);
    assert.deepEqual(s.submissions, []);
  }
  // EACH_QUORUM: east's acks are not enough while west has one; a west failure past reach fails it.
  const westFailing = script({ appliedMs: 1, durableMs: 2 }, { b: 1, c: 1, d: 1, e: 'fail', f: 'fail' }, pref, 0, 'ap', dcs);
  const e = (await run(westFailing, six('EACH_QUORUM'))).get(0)!.error;
  assert.ok(isRingkvError(e, ErrorCode.Unavailable), String(e));
  assert.match(String(e), /2 in datacenter west: 0 answered\).*\(2 failed/);
  const each = script({ appliedMs: 1, durableMs: 2 }, { b: 1, c: 1, d: 1, e: 1, f: 'silent' }, pref, 0, 'ap', dcs);
  const ok = (await run(each, six('EACH_QUORUM'))).get(0)!;
  assert.equal(ok.error, null);
  assert.ok(ok.answer!.acks >= 4);
  // cp mode: a LOCAL_ONE write needs a quorum of its own datacenter.
  const cp = script({ appliedMs: 1, durableMs: 2 }, { d: 1, e: 1, f: 1 }, ['a', 'd', 'e', 'f'], 0, 'cp', dcs);
  const cpErr = (await run(cp, six('LOCAL_ONE'))).get(0)!.error;
  assert.ok(isRingkvError(cpErr, ErrorCode.Unavailable) && cpErr.details.needed === 2, String(cpErr));
});
