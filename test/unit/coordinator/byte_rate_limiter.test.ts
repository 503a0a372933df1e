// The hint replay throttle's token bucket, on a stepped clock: a second's worth may go at once,
// a batch may overdraw it, and the next waits exactly until the debt is paid back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteRateLimiter } from '../../../src/coordinator/byte_rate_limiter';

test('a full bucket lets a second of bytes through, then waits for the refill', () => {
  let now = 0;
  const b = new ByteRateLimiter(1000, () => now);
  assert.equal(b.waitMs(), 0);
  assert.ok(b.tryTake(600));
  assert.ok(b.tryTake(600), 'a batch may overdraw what is left');
  assert.equal(b.tryTake(1), false);
  // 200 bytes of debt (plus the one that must be left) at 1000 bytes/s: 201 ms.
  assert.equal(b.waitMs(), 201);
  now += 200;
  assert.equal(b.tryTake(1), false);
  now += 1;
  assert.equal(b.waitMs(), 0);
  assert.ok(b.tryTake(1));
});

test('an idle bucket refills to one second of bytes, no more', () => {
  let now = 0;
  const b = new ByteRateLimiter(1000, () => now);
  assert.ok(b.tryTake(1000));
  now += 60_000;
  assert.ok(b.tryTake(1000));
  assert.equal(b.tryTake(1), false, 'a minute idle did not bank a minute of bytes');
});
