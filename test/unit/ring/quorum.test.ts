// Reply counting for quorum requests (src/coordinator/quorum.ts): levels, early success, early
// failure as soon as the level is out of reach, and the structured errors' details.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEnoughAlive, QuorumTally, replicasNeeded } from '../../../src/coordinator/quorum';
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
