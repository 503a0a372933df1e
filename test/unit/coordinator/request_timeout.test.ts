// A request's timeout from its requester's time left (request_checks.ts requestTimeoutMs,
// timeout_groups.ts answerWithinMs): under the time left by a margin, never past the coordinator's
// own, and few distinct values, so a frame's operations share a deadline group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCommon, requestTimeoutMs } from '../../../src/coordinator/request_checks';
import { answerWithinMs, groupByTimeout } from '../../../src/coordinator/timeout_groups';
import { ErrorCode, isRingkvError } from '../../../src/errors';

test('answerWithinMs is under the time left by a tenth to a fifth, at least 1 ms, and never goes down as the time left goes up', () => {
  let previous = 0;
  for (let leftMs = 0.5; leftMs < 700_000; leftMs = leftMs * 1.013 + 0.37) {
    const ms = answerWithinMs(leftMs);
    assert.ok(Number.isInteger(ms) && ms >= 1, `${leftMs} -> ${ms}`);
    assert.ok(ms >= previous, `monotone at ${leftMs}: ${previous} -> ${ms}`);
    if (leftMs >= 2) {
      assert.ok(ms <= leftMs * 0.9, `${leftMs} -> ${ms}: a tenth under at least`);
      // The tenth, then at most one eighth of the rest (one step), then the floor to whole ms.
      assert.ok(ms > leftMs * 0.9 * (7 / 8) - 1, `${leftMs} -> ${ms}: not much more under`);
    }
    previous = ms;
  }
});

test("a frame's operations whose times left differ by a few ms share one timeout group", () => {
  // As the client stamps them: each op's deadline minus the frame's send time, a few ms apart.
  for (const baseMs of [300, 1000, 2500, 5999]) {
    const lefts = Array.from({ length: 32 }, (_, i) => baseMs - i * 0.25);
    const groups = groupByTimeout(lefts, answerWithinMs);
    assert.ok(groups.size <= 2, `${baseMs}: ${[...groups.keys()].join(', ')}`);
  }
});

test("requestTimeoutMs: the coordinator's own when the requester says nothing or waits longer, else a little under its time left", () => {
  assert.equal(requestTimeoutMs(undefined, 5000), 5000);
  assert.equal(requestTimeoutMs(60_000, 5000), 5000);
  assert.equal(requestTimeoutMs(6000, 5000), 5000);
  assert.equal(requestTimeoutMs(300, 5000), answerWithinMs(300));
  assert.ok(requestTimeoutMs(300, 5000) < 300);
  const key = new Uint8Array([1]);
  assert.equal(checkCommon({ key, consistency: 'ONE' }, 1234), 1234);
  assert.equal(checkCommon({ key, consistency: 'ONE', timeoutMs: 4_000_000_000 }, 1234), 1234, 'any time left is taken, capped');
  assert.equal(checkCommon({ key, consistency: 'ONE', timeoutMs: 500 }, 1234), answerWithinMs(500));
  for (const bad of [0, -1, Number.NaN, Infinity, '100' as unknown as number]) {
    assert.throws(
      () => checkCommon({ key, consistency: 'ONE', timeoutMs: bad }, 1234),
      (e) => isRingkvError(e, ErrorCode.InvalidArgument) && /timeoutMs must be a positive number of ms/.test(e.message),
      String(bad),
    );
  }
});
