// Time for the load generator, behind an interface so the scheduler can run on a virtual clock
// in unit tests: an injected 200 ms stall then takes no real time, and the test's numbers do not
// depend on how busy the machine is.
import { performance } from 'node:perf_hooks';
import { assert } from '../../src/errors';

export interface Clock {
  /** Milliseconds (fractional) on a monotonic timeline. */
  now(): number;
  /** Resolves once now() >= atMs. */
  sleepUntil(atMs: number): Promise<void>;
  /** Lets other work run (completions) without letting time pass on purpose. */
  yield(): Promise<void>;
}

/**
 * Sleeps on timers only, never spinning: setTimeout is good to about a millisecond, and spinning
 * on setImmediate for the last one (as an earlier version did) kept the load generator busy for
 * up to a whole core, which on a 2-core machine it took from the servers under test. Waking up
 * to ~1 ms late only delays a send: latency is measured from the intended start, so the lateness
 * is charged to whichever target is measured (all alike, and counted as "late"), and the ops that
 * fell due meanwhile go out back to back.
 */
export const realClock: Clock = {
  now: () => performance.now(),
  async sleepUntil(atMs: number): Promise<void> {
    for (;;) {
      const gap = atMs - performance.now();
      if (gap <= 0) return;
      await new Promise<void>((r) => setTimeout(r, Math.ceil(gap)));
    }
  },
  yield: () => new Promise<void>((r) => setImmediate(r)),
};

interface Timer {
  atMs: number;
  seq: number;
  resolve: () => void;
}

/**
 * A discrete-event clock: time stands still while any promise chain can make progress, and jumps
 * to the earliest pending timer when every chain is waiting on one. Deterministic for a given
 * program, since ties resolve in the order the timers were set.
 */
export class VirtualClock implements Clock {
  private nowMs = 0;
  private seq = 0;
  private readonly timers: Timer[] = [];

  now(): number {
    return this.nowMs;
  }

  sleepUntil(atMs: number): Promise<void> {
    if (atMs <= this.nowMs) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.timers.push({ atMs, seq: this.seq++, resolve });
    });
  }

  yield(): Promise<void> {
    // A microtask hop: a macrotask here would race the driver's own turn in run().
    return Promise.resolve();
  }

  /** Drives time forward until `work` settles; fails if it waits on nothing (a deadlock). */
  async run<T>(work: Promise<T>, stepsMax = 10_000_000): Promise<T> {
    let settled = false;
    const guarded = work.finally(() => {
      settled = true;
    });
    for (let step = 0; step < stepsMax; step++) {
      // One macrotask turn lets every runnable microtask chain finish before time moves.
      await new Promise<void>((r) => setImmediate(r));
      if (settled) return guarded;
      assert(this.timers.length > 0, 'virtual clock: work is waiting but no timer is pending');
      let best = 0;
      for (let i = 1; i < this.timers.length; i++) {
        const t = this.timers[i]!;
        const b = this.timers[best]!;
        if (t.atMs < b.atMs || (t.atMs === b.atMs && t.seq < b.seq)) best = i;
      }
      const timer = this.timers.splice(best, 1)[0]!;
      this.nowMs = Math.max(this.nowMs, timer.atMs);
      timer.resolve();
    }
    throw new Error(`virtual clock: work did not settle within ${stepsMax} steps`);
  }
}
