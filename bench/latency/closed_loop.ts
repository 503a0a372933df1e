// A closed-loop driver, kept only as the counter-example: one request at a time, paced at the
// target rate, latency measured from when each request was actually sent. When the target
// stalls, the driver stops sending for the whole stall and so records ONE slow request where a
// real user population would have seen hundreds (coordinated omission). The unit tests run it
// beside the open-loop driver to show the difference; the benchmark itself never uses it.
import { assert } from '../../src/errors';
import type { Clock } from './clock';
import type { IssuedOp } from './open_loop';
import { LatencyRecorder } from './recorder';

export interface ClosedLoopOptions {
  clock: Clock;
  ratePerSec: number;
  opsMax: number;
  durationMsMax: number;
  issue: (index: number) => IssuedOp;
}

export async function runClosedLoop(opts: ClosedLoopOptions): Promise<{ completed: number; errors: number; recorder: LatencyRecorder }> {
  assert(opts.ratePerSec > 0, 'ratePerSec must be positive');
  assert(Number.isSafeInteger(opts.opsMax) && opts.opsMax > 0, 'opsMax must be a positive integer');
  const clock = opts.clock;
  const intervalMs = 1000 / opts.ratePerSec;
  const t0 = clock.now();
  const recorder = new LatencyRecorder(t0);
  let completed = 0;
  let errors = 0;
  let next = t0;
  for (let i = 0; i < opts.opsMax && next - t0 < opts.durationMsMax; i++) {
    if (clock.now() < next) await clock.sleepUntil(next);
    const sentMs = clock.now();
    const op = opts.issue(i);
    try {
      await op.done;
      completed++;
      // The naive measure: from the actual send, which is exactly what hides the stall.
      recorder.record(op.kind, sentMs, sentMs, clock.now());
    } catch {
      errors++;
    }
    next = Math.max(next + intervalMs, clock.now());
  }
  return { completed, errors, recorder };
}
