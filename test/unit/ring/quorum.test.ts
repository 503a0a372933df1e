// Reply counting for quorum requests (src/coordinator/quorum.ts): levels, early success, early
// failure as soon as the level is out of reach, and the structured errors' details.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEnoughAlive, conditionalReadLevel, QuorumTally, replicasNeeded, tallyFor, writeReplicasNeeded } from '../../../src/coordinator/quorum';
import { ErrorCode, RingkvError } from '../../../src/errors';

test('replicasNeeded follows design.md §7.2 for N = 1..5', () => {
  // Proves ONE=1, QUORUM=floor(N/2)+1, ALL=N, so W+R>N holds for QUORUM/QUORUM.
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => replicasNeeded('QUORUM', n)), [1, 2, 2, 3, 3]);
  assert.deepEqual([1, 2, 3].map((n) => replicasNeeded('ALL', n)), [1, 2, 3]);
  assert.deepEqual([1, 2, 3].map((n) => replicasNeeded('ONE', n)), [1, 1, 1]);
  for (let n = 1; n <= 7; n++) assert.ok(2 * replicasNeeded('QUORUM', n) > n);
});

test('a tally is met at W oks and fails as soon as W is out of reach', () => {
  // Proves the coordinator can answer early both ways instead of waiting for every replica.
  const t = new QuorumTally(2, 3);
  assert.equal(t.state, 'waiting');
  assert.equal(t.fail(), 'waiting');
  assert.equal(t.ok(), 'waiting');
  assert.equal(t.ok(), 'met');
  const f = new QuorumTally(3, 3);
  assert.equal(f.ok(), 'waiting');
  assert.equal(f.fail(), 'failed');
  const e = f.unavailable('ALL', 'put');
  assert.equal(e.code, ErrorCode.Unavailable);
  assert.deepEqual({ needed: e.details.needed, answered: e.details.answered }, { needed: 3, answered: 1 });
  const to = f.timeout('ALL', 'put', 500);
  assert.equal(to.code, ErrorCode.Timeout);
  assert.equal(to.details.timeout_ms, 500);
});

test('more replies than replicas asked is a programmer error', () => {
  // Proves the counting invariant is asserted.
  const t = new QuorumTally(1, 1);
  t.ok();
  assert.throws(() => t.ok(), /more replies/);
});

test('checkEnoughAlive fails fast with {needed, answered: 0, alive}', () => {
  // Proves ALL with a replica down is refused at once with a structured error.
  checkEnoughAlive('QUORUM', 2, 2, 3, 'get');
  assert.throws(
    () => checkEnoughAlive('ALL', 3, 2, 3, 'put'),
    (e: unknown) => e instanceof RingkvError && e.code === ErrorCode.Unavailable && e.details.needed === 3 && e.details.alive === 2 && e.details.answered === 0,
  );
});

test('a level out of reach says why the first replica failed, and a full disk in its code when every failure was one', () => {
  const full = new QuorumTally(3, 3);
  full.ok();
  assert.equal(full.fail(new RingkvError(ErrorCode.NoSpace, 'node-2: no space left on device')), 'failed');
  const e1 = full.unavailable('ALL', 'put');
  assert.equal(e1.code, ErrorCode.NoSpace);
  assert.match(e1.message, /needs 3 replicas, 1 answered \(1 failed, 3 reachable\); first failure: node-2: no space left on device$/);
  const mixed = new QuorumTally(2, 3);
  mixed.fail(new RingkvError(ErrorCode.Timeout, 'node-1 did not answer'));
  mixed.fail(new RingkvError(ErrorCode.NoSpace, 'node-2: full'));
  const e2 = mixed.unavailable('QUORUM', 'put');
  assert.equal(e2.code, ErrorCode.Unavailable);
  assert.match(e2.message, /first failure: node-1 did not answer$/);
  const silent = new QuorumTally(1, 1);
  silent.fail();
  assert.equal(silent.unavailable('ONE', 'get').code, ErrorCode.Unavailable);
});

test('with one datacenter (or none) the datacenter levels are ONE, QUORUM and QUORUM; across two they count by datacenter', () => {
  const up = ['a', 'b', 'c'];
  for (const [level, needed] of [['LOCAL_ONE', 1], ['LOCAL_QUORUM', 2], ['EACH_QUORUM', 2], ['QUORUM', 2], ['ALL', 3]] as const) {
    const t = tallyFor(level, 3, null, up, null, 'get');
    assert.equal(t.needed, needed, level);
    assert.ok(!t.perDatacenter && t.counts('zz'), 'one group of every replica');
  }
  assert.equal(tallyFor('LOCAL_ONE', 3, 'cp', up, null, 'put').needed, 2, 'cp floor');
  const dcs = { local: 'east', names: ['east', 'west'], of: (id: string) => (id < 'd' ? 'east' : 'west') };
  const six = ['a', 'b', 'c', 'd', 'e', 'f'];
  assert.equal(tallyFor('QUORUM', 3, null, six, dcs, 'get').needed, 4, 'a majority of all six');
  assert.equal(tallyFor('ALL', 3, null, six, dcs, 'get').needed, 6);
  const local = tallyFor('LOCAL_QUORUM', 3, null, six, dcs, 'get');
  assert.deepEqual([local.needed, local.asked, local.counts('b'), local.counts('e'), local.perDatacenter], [2, 3, true, false, false]);
  assert.equal(local.ok('e'), 'waiting', 'another datacenter\'s answer does not count');
  assert.equal(local.fail(new Error('x'), 'f'), 'waiting');
  assert.equal(local.ok('a'), 'waiting');
  assert.equal(local.ok('b'), 'met');
  const each = tallyFor('EACH_QUORUM', 3, null, six, dcs, 'get');
  assert.ok(each.perDatacenter);
  each.ok('a');
  each.ok('b');
  assert.equal(each.ok('c'), 'waiting', 'east alone is not enough');
  each.fail(undefined, 'd');
  assert.equal(each.fail(undefined, 'e'), 'failed', 'west out of reach');
  assert.throws(() => tallyFor('EACH_QUORUM', 3, null, ['a', 'b', 'c', 'd'], dcs, 'get'), (e: unknown) => e instanceof RingkvError && e.code === ErrorCode.Unavailable && e.details.datacenter === 'west');
});

test('a conditional write reads at its level, and in cp at least at the floor its write takes, so the check meets every acknowledged write', () => {
  // Proves R + W > N for the If-Match check in cp whatever the level asked for (a ONE read there
  // checked one replica's copy); ap keeps the level asked for.
  const levels = ['ONE', 'QUORUM', 'ALL', 'LOCAL_ONE', 'LOCAL_QUORUM', 'EACH_QUORUM'] as const;
  assert.deepEqual(levels.map((l) => conditionalReadLevel(l, 'cp')), ['QUORUM', 'QUORUM', 'ALL', 'LOCAL_QUORUM', 'LOCAL_QUORUM', 'EACH_QUORUM']);
  assert.deepEqual(levels.map((l) => conditionalReadLevel(l, 'ap')), [...levels]);
  for (let n = 1; n <= 5; n++) {
    for (const l of ['ONE', 'QUORUM', 'ALL'] as const) assert.ok(replicasNeeded(conditionalReadLevel(l, 'cp'), n) + writeReplicasNeeded(l, n, 'cp') > n, `${l} at N = ${n}`);
  }
});
