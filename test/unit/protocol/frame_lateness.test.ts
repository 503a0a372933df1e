// How late a connection's frames arrive, from the client's stamps against this node's clock:
// measured against the quickest frames of the last one to two windows, so a frame held through
// a stall is seen as held, clock offsets cancel out, and an old baseline is let go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameLateness } from '../../../src/protocol/frame_lateness';

const windowMs = 30_000;
const quietMsMax = 600_000;

test('the offset between the two clocks cancels out; a frame held on the way is as late as it was held', () => {
  const l = new FrameLateness(windowMs, quietMsMax);
  // The client's clock is 7 s behind this node's; trips take 1 to 3 ms.
  assert.equal(l.of(1000, 8002), 0);
  assert.equal(l.of(1010, 8013), 1);
  assert.equal(l.of(1020, 8021), 0, 'a quicker frame becomes the baseline');
  assert.equal(l.of(1030, 8033), 2);
  assert.equal(l.of(1040, 10_041), 2000, 'held two seconds');
  assert.equal(l.of(0, 123_456), 0, 'a frame that says nothing is not measured');
});

test('a stall longer than a window is still measured against the frames from before it', () => {
  const l = new FrameLateness(windowMs, quietMsMax);
  for (let i = 0; i < 100; i++) assert.equal(l.of(100 * i, 100 * i + 5), 0);
  // The node was stopped for 45 s; the frame sent just before it is read when it resumes.
  assert.equal(l.of(10_000, 10_000 + 5 + 45_000), 45_000);
  // Frames keep the old baseline for one more window, then only newer frames count.
  assert.equal(l.of(55_010, 55_020), 5);
  assert.equal(l.of(90_000, 90_012), 2, 'against the window before (its quickest trip 10 ms); the 5 ms trips before the stall are forgotten');
});

test('after a quiet spell the baseline starts anew, so a drifted one does not mark frames late', () => {
  const l = new FrameLateness(windowMs, quietMsMax);
  assert.equal(l.of(1000, 1001), 0);
  // Eleven minutes later the clocks have drifted 40 ms apart.
  assert.equal(l.of(1000 + 660_000, 1001 + 660_000 + 40), 0);
  assert.equal(l.of(2000 + 660_000, 2001 + 660_000 + 40), 0);
});
