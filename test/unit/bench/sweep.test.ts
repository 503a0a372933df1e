// Proves the rate sweep finds the knee of a target with a known capacity: a FIFO server doing
// 3000 ops/s keeps p99 at its service time up to 3000/s and falls behind without bound above,
// so the highest rate with p99 under 10 ms must come out at (or just under) 3000/s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../../bench/latency/clock';
import { runOpenLoop } from '../../../bench/latency/open_loop';
import { judge, stepDurationMs, stepMsMax, sweepRates } from '../../../bench/latency/sweep';

function fifoStep(capacityPerSec: number) {
  return async (rate: number) => {
    const clock = new VirtualClock();
    const serviceMs = 1000 / capacityPerSec;
    let busyUntil = 0;
    return clock.run(
      runOpenLoop({
        clock,
        ratePerSec: rate,
        opsMax: 1_000_000,
        durationMsMax: 500,
        outstandingMax: 100_000,
        drainMsMax: 60_000,
        issue: () => {
          busyUntil = Math.max(clock.now(), busyUntil) + serviceMs;
          return { kind: 'read', done: clock.sleepUntil(busyUntil) };
        },
      }),
    );
  };
}

test('the sweep doubles, then bisects to the highest rate with p99 under the target', async () => {
  const seen: number[] = [];
  const r = await sweepRates({
    startRate: 500,
    rateMax: 64_000,
    bisectSteps: 4,
    p99TargetMs: 10,
    step: fifoStep(3000),
    onStep: (rate) => seen.push(rate),
  });
  assert.deepEqual(seen.slice(0, 4), [500, 1000, 2000, 4000]);
  assert.ok(r.bestRate !== null && r.bestRate >= 2800 && r.bestRate <= 3000, `best ${r.bestRate}`);
  assert.ok(r.best !== null && r.best.recorder.summary('latency', 'all').p99Ms < 10);
  const failed = r.steps.filter((s) => !s.verdict.pass);
  assert.ok(failed.length >= 1 && failed.every((s) => s.rate > 3000));
});

test('a step that drops ops or falls short of its rate fails even with a good p99', async () => {
  const clock = new VirtualClock();
  const r = await clock.run(
    runOpenLoop({
      clock,
      ratePerSec: 1000,
      opsMax: 100,
      durationMsMax: 10_000,
      outstandingMax: 1,
      drainMsMax: 1000,
      issue: () => ({ kind: 'read', done: clock.sleepUntil(clock.now() + 1.5) }),
    }),
  );
  assert.ok(r.dropped > 0);
  assert.equal(judge(r, 10).pass, false);
  assert.match(judge(r, 10).reason, /dropped/);
});

test('a step lasts long enough to hold the minimum op count, within the cap', () => {
  // Fast rates keep the configured length; slow ones stretch so p99 is a percentile, not the max.
  assert.equal(stepDurationMs(5000, 3000, 1000), 3000);
  assert.equal(stepDurationMs(250, 3000, 1000), 4000);
  assert.equal(stepDurationMs(62, 3000, 1000), 16130);
  assert.equal(stepDurationMs(31, 3000, 1000), stepMsMax);
  assert.equal(stepDurationMs(1, 60_000, 1000), 60_000, 'an explicitly longer step is never cut');
  assert.equal(stepDurationMs(100, 3000, 0), 3000);
});
