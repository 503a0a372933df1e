// The open-loop load driver. Operation i is due at t0 + i / rate whatever happened to earlier
// ones, and its latency is measured from that intended start, not from when it was sent: if the
// target stalls, the requests that should have been sent during the stall are charged the time
// they waited, which is what a closed-loop driver hides (Gil Tene's "coordinated omission"; the
// same method as wrk2). Bounded three ways: an op count, a duration, and a cap on requests in
// flight; an op due while the cap is reached is DROPPED and counted, never silently skipped,
// and any drop marks the run as not meeting its target rate.
import { assert } from '../../src/errors';
import type { Clock } from './clock';
import { LatencyRecorder } from './recorder';
import type { OpKind } from './workloads';

export interface IssuedOp {
  kind: OpKind;
  /** Settles when the target has answered; a rejection is counted as an error. */
  done: Promise<void>;
}

export interface OpenLoopOptions {
  clock: Clock;
  ratePerSec: number;
  opsMax: number;
  durationMsMax: number;
  outstandingMax: number;
  /** After the last op is due, how long to wait for stragglers before counting them unfinished. */
  drainMsMax: number;
  /** An op sent more than this after its intended start counts as late (the driver fell behind). */
  lateThresholdMs?: number;
  /** Called about once per progressIntervalMs with the ops due so far. */
  onProgress?: (dueSoFar: number, elapsedMs: number) => void;
  progressIntervalMs?: number;
  /** Starts the operation with sequence number `index`. Must not throw (reject instead). */
  issue: (index: number) => IssuedOp;
}

export interface OpenLoopResult {
  ratePerSec: number;
  /** Ops whose intended start fell inside the bounds. */
  due: number;
  sent: number;
  completed: number;
  errors: number;
  /** The first few error messages, for the report. */
  errorSamples: string[];
  dropped: number;
  late: number;
  unfinished: number;
  /** From t0 to the last completion (or the end of the drain). */
  elapsedMs: number;
  achievedOpsPerSec: number;
  recorder: LatencyRecorder;
}

const errorSamplesMax = 5;
/** When the driver is behind it sends due ops back to back; it yields this often so answers get read. */
const burstOpsMax = 64;

export async function runOpenLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  assert(opts.ratePerSec > 0 && Number.isFinite(opts.ratePerSec), 'ratePerSec must be positive');
  assert(Number.isSafeInteger(opts.opsMax) && opts.opsMax > 0, 'opsMax must be a positive integer');
  assert(opts.durationMsMax > 0, 'durationMsMax must be positive');
  assert(Number.isSafeInteger(opts.outstandingMax) && opts.outstandingMax > 0, 'outstandingMax must be a positive integer');
  assert(opts.drainMsMax >= 0, 'drainMsMax must not be negative');
  const clock = opts.clock;
  const lateThresholdMs = opts.lateThresholdMs ?? 1;
  const progressIntervalMs = opts.progressIntervalMs ?? 1000;
  const intervalMs = 1000 / opts.ratePerSec;
  const t0 = clock.now();
  const recorder = new LatencyRecorder(t0);
  let sent = 0;
  let completed = 0;
  let errors = 0;
  let dropped = 0;
  let late = 0;
  let outstanding = 0;
  let lastDoneMs = t0;
  let nextProgressMs = t0 + progressIntervalMs;
  const errorSamples: string[] = [];
  let idle: (() => void) | null = null;

  let due = 0;
  let burst = 0;
  for (let i = 0; i < opts.opsMax; i++) {
    const intendedMs = t0 + i * intervalMs;
    if (intendedMs - t0 >= opts.durationMsMax) break;
    if (clock.now() < intendedMs) {
      await clock.sleepUntil(intendedMs);
      burst = 0;
    } else if (++burst >= burstOpsMax) {
      await clock.yield();
      burst = 0;
    }
    due++;
    const sentMs = clock.now();
    if (sentMs >= nextProgressMs && opts.onProgress !== undefined) {
      opts.onProgress(due, sentMs - t0);
      nextProgressMs = sentMs + progressIntervalMs;
    }
    if (outstanding >= opts.outstandingMax) {
      dropped++;
      continue;
    }
    if (sentMs - intendedMs > lateThresholdMs) late++;
    outstanding++;
    sent++;
    const op = opts.issue(i);
    op.done.then(
      () => {
        const doneMs = clock.now();
        recorder.record(op.kind, intendedMs, sentMs, doneMs);
        completed++;
        lastDoneMs = Math.max(lastDoneMs, doneMs);
      },
      (err: unknown) => {
        errors++;
        lastDoneMs = Math.max(lastDoneMs, clock.now());
        if (errorSamples.length < errorSamplesMax) errorSamples.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      },
    ).finally(() => {
      outstanding--;
      if (outstanding === 0 && idle !== null) idle();
    });
  }

  if (outstanding > 0) {
    const drainEnd = clock.now() + opts.drainMsMax;
    await Promise.race([
      new Promise<void>((resolve) => {
        idle = resolve;
      }),
      clock.sleepUntil(drainEnd).then(() => {
        lastDoneMs = Math.max(lastDoneMs, clock.now());
      }),
    ]);
  }
  const unfinished = outstanding;
  const elapsedMs = Math.max(lastDoneMs - t0, intervalMs);
  assert(sent === completed + errors + unfinished, 'every sent op is completed, failed or unfinished');
  assert(due === sent + dropped, 'every due op is sent or dropped');
  return {
    ratePerSec: opts.ratePerSec,
    due,
    sent,
    completed,
    errors,
    errorSamples,
    dropped,
    late,
    unfinished,
    elapsedMs,
    achievedOpsPerSec: (completed * 1000) / elapsedMs,
    recorder,
  };
}
