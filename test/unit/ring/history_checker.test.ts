// The read-your-writes history checker used by the cluster tests: it must flag stale reads,
// missing writes and phantom values, and accept concurrent or superseding answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkReadYourWrites, type HistoryEvent } from '../../helpers/cluster_history';

const put = (value: string, invokedAt: number, completedAt: number, ok = true): HistoryEvent => ({ kind: 'put', key: 'k', value, invokedAt, completedAt, ok });
const del = (invokedAt: number, completedAt: number, ok = true): HistoryEvent => ({ kind: 'delete', key: 'k', invokedAt, completedAt, ok });
const get = (values: string[], invokedAt: number, completedAt: number): HistoryEvent => ({ kind: 'get', key: 'k', values, invokedAt, completedAt, ok: true });

test('accepts a read of the latest acknowledged write, or of a concurrent or newer one', () => {
  // Proves the checker does not flag correct histories (no false alarms in the cluster test).
  assert.deepEqual(checkReadYourWrites([put('a', 0, 1), get(['a'], 2, 3)]), []);
  assert.deepEqual(checkReadYourWrites([put('a', 0, 1), put('b', 2, 5), get(['b'], 3, 4)]), []);
  assert.deepEqual(checkReadYourWrites([put('a', 0, 5), put('b', 1, 6), get(['a', 'b'], 7, 8)]), []);
  assert.deepEqual(checkReadYourWrites([put('a', 0, 5), put('b', 1, 6), get(['b'], 7, 8)]), []);
  assert.deepEqual(checkReadYourWrites([get([], 0, 1), put('a', 2, 3)]), []);
});

test('flags a stale read, a lost write and a phantom value', () => {
  // Proves the checker can fail: each broken history yields a violation naming why.
  const stale = checkReadYourWrites([put('a', 0, 1), put('b', 2, 3), get(['a'], 4, 5)]);
  assert.equal(stale.length, 1);
  assert.match(stale[0]!.why, /stale: b/);
  assert.match(checkReadYourWrites([put('a', 0, 1), get([], 2, 3)])[0]!.why, /not found/);
  assert.match(checkReadYourWrites([get(['zzz'], 0, 1)])[0]!.why, /no put/);
  assert.match(checkReadYourWrites([get(['a'], 0, 1), put('a', 2, 3)])[0]!.why, /before it was written/);
});

test('a failed put never demands to be read but may justify a value', () => {
  // Proves timeouts (applied or not) do not create false violations.
  assert.deepEqual(checkReadYourWrites([put('a', 0, 1), put('b', 2, 3, false), get(['a'], 4, 5)]), []);
  assert.deepEqual(checkReadYourWrites([put('b', 0, 1, false), put('a', 2, 3), get(['b'], 4, 5)]), []);
});

test('a delete excuses a missing write it may have superseded, and nothing older', () => {
  // Proves deletes neither hide a stale read nor raise a false one.
  assert.deepEqual(checkReadYourWrites([put('a', 0, 1), del(2, 3), get([], 4, 5)]), []);
  assert.deepEqual(checkReadYourWrites([put('a', 0, 1), put('b', 2, 3), del(4, 5), get(['a'], 6, 7)]), []);
  assert.deepEqual(checkReadYourWrites([put('a', 0, 5), del(1, 2, false), get([], 6, 7)]), []);
  // A delete that completed before the write began cannot have removed it.
  assert.match(checkReadYourWrites([del(0, 1), put('a', 2, 3), get([], 4, 5)])[0]!.why, /stale: a .*not found/);
  // Nor can one invoked after the read had its answer.
  assert.match(checkReadYourWrites([put('a', 0, 1), get([], 2, 3), del(4, 5)])[0]!.why, /stale: a/);
});
