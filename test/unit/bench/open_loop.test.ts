// Proves the open-loop driver sends on the intended timeline, charges latency from the intended
// start, and therefore shows an injected 200 ms stall in p99, where a closed-loop driver measuring
// the same stalling target reports a clean p99 (coordinated omission). Runs on a virtual clock, so
// no assertion depends on the speed of the machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../../../bench/latency/clock';
import { runOpenLoop, type IssuedOp } from '../../../bench/latency/open_loop';
import { runClosedLoop } from '../../../bench/latency/closed_loop';

/**
 * A single-server FIFO target on the virtual clock: each request takes serviceMs after the ones
 * before it, and the first request at or after stallAtMs finds the server frozen for stallMs
 * (a GC pause, an fsync, a compaction stall).
 */
class StallingTarget {
  private busyUntilMs = 0;
  private stalled = false;
  readonly sentAtMs: number[] = [];

  constructor(
    private readonly clock: VirtualClock,
    private readonly serviceMs: number,
    private readonly stallAtMs: number,
    private readonly stallMs: number,
  ) {}

  issue = (): IssuedOp => {
    const now = this.clock.now();
    this.sentAtMs.push(now);
    let start = Math.max(now, this.busyUntilMs);
    if (!this.stalled && now >= this.stallAtMs) {
      this.stalled = true;
      start += this.stallMs;
    }
    this.busyUntilMs = start + this.serviceMs;
    return { kind: 'read', done: this.clock.sleepUntil(this.busyUntilMs) };
  };
}

test('ops are sent at t0 + i/rate and the run stops at its op and duration bounds', async () => {
  const clock = new VirtualClock();
  const target = new StallingTarget(clock, 0.1, Infinity, 0);
  const r = await clock.run(
    runOpenLoop({ clock, ratePerSec: 500, opsMax: 100, durationMsMax: 10_000, outstandingMax: 10, drainMsMax: 1000, issue: target.issue }),
  );
  assert.equal(r.due, 100);
  assert.equal(r.completed, 100);
  target.sentAtMs.forEach((t, i) => assert.equal(t, i * 2, `op ${i} sent at ${t}`));
  assert.equal(r.dropped + r.late + r.errors + r.unfinished, 0);
  // The duration bound cuts first here: 50 ms at 500/s is 25 ops.
  const clock2 = new VirtualClock();
  const t2 = new StallingTarget(clock2, 0.1, Infinity, 0);
  const r2 = await clock2.run(
    runOpenLoop({ clock: clock2, ratePerSec: 500, opsMax: 100, durationMsMax: 50, outstandingMax: 10, drainMsMax: 1000, issue: t2.issue }),
  );
  assert.equal(r2.due, 25);
  // Achieved throughput is completions over elapsed time: 25 ops in 48.1 ms.
  assert.ok(Math.abs(r2.achievedOpsPerSec - 25 / 0.0481) < 1, `achieved ${r2.achievedOpsPerSec}`);
});

test('an injected 200 ms stall shows in the open-loop p99 but a closed-loop driver hides it', async () => {
  const rate = 1000;
  const ops = 2000;
  const clockOpen = new VirtualClock();
  const open = new StallingTarget(clockOpen, 0.2, 1000, 200);
  const ro = await clockOpen.run(
    runOpenLoop({ clock: clockOpen, ratePerSec: rate, opsMax: ops, durationMsMax: 10_000, outstandingMax: 1000, drainMsMax: 5000, issue: open.issue }),
  );
  const lat = ro.recorder.summary('latency', 'all');
  const svc = ro.recorder.summary('service', 'all');
  assert.equal(ro.completed, ops);
  // About 200 of the 2000 ops were due during the stall and waited 0..200 ms: 10% of the run, so
  // p99 sits deep in the stall (~180 ms) and p90 at its edge; p50 stays at the service time.
  assert.ok(lat.p99Ms > 150, `open-loop p99 ${lat.p99Ms} ms should show the stall`);
  assert.ok(lat.maxMs >= 199 && lat.maxMs <= 202, `max ${lat.maxMs}`);
  assert.ok(lat.p50Ms < 1, `p50 ${lat.p50Ms}`);
  // Sent on time throughout, so measured-from-send is the same here; the point is the timeline.
  assert.ok(svc.p99Ms > 150);
  assert.equal(ro.dropped, 0);

  const clockClosed = new VirtualClock();
  const closed = new StallingTarget(clockClosed, 0.2, 1000, 200);
  const rc = await clockClosed.run(runClosedLoop({ clock: clockClosed, ratePerSec: rate, opsMax: ops, durationMsMax: 10_000, issue: closed.issue }));
  const cl = rc.recorder.summary('latency', 'all');
  // The same stall is one sample out of 2000 for the closed loop: invisible at p99, only in max.
  assert.ok(cl.p99Ms < 1, `closed-loop p99 ${cl.p99Ms} ms hides the stall`);
  assert.ok(cl.maxMs >= 199);
  assert.ok(cl.count === ops);
});

test('ops due while the in-flight cap is reached are counted as dropped, not silently skipped', async () => {
  const clock = new VirtualClock();
  const target = new StallingTarget(clock, 0.1, 100, 100);
  const r = await clock.run(
    runOpenLoop({ clock, ratePerSec: 1000, opsMax: 400, durationMsMax: 10_000, outstandingMax: 20, drainMsMax: 1000, issue: target.issue }),
  );
  assert.ok(r.dropped >= 70, `dropped ${r.dropped}`);
  assert.equal(r.due, 400);
  assert.equal(r.sent + r.dropped, r.due);
  assert.equal(r.completed, r.sent);
});

test('failed ops are errors with samples, and ops that never answer are unfinished after the drain', async () => {
  const clock = new VirtualClock();
  const r = await clock.run(
    runOpenLoop({
      clock,
      ratePerSec: 100,
      opsMax: 10,
      durationMsMax: 10_000,
      outstandingMax: 100,
      drainMsMax: 50,
      issue: (i) =>
        i % 2 === 0
          ? { kind: 'update', done: Promise.reject(new Error(`boom ${i}`)) }
          : { kind: 'read', done: i === 9 ? new Promise<void>(() => {}) : clock.sleepUntil(clock.now() + 1) },
    }),
  );
  assert.equal(r.errors, 5);
  assert.equal(r.unfinished, 1);
  assert.equal(r.completed, 4);
  assert.deepEqual(r.errorSamples.slice(0, 2), ['Error: boom 0', 'Error: boom 2']);
});
