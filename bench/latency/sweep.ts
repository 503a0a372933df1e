// The rate sweep: find the highest target rate at which a workload's p99 (measured from the
// intended start) stays under the target, 10 ms by default (design.md §11's read p99 alert).
// Doubling from a start rate until a step fails (halving first if the start rate fails), then bisecting between the last pass and the
// first fail. A step passes only if it also kept up: no drops, errors at most 0.1% (§11's error
// alert), nothing unfinished, and at least 90% of the target rate achieved.
import { assert } from '../../src/errors';
import type { OpenLoopResult } from './open_loop';

export const p99TargetMsDefault = 10;
const errorRateMax = 0.001;
const achievedFractionMin = 0.9;
const halvingStepsMax = 4;
/** p99 of fewer samples than this is one or two outliers, not a percentile: steps run longer. */
export const stepOpsMinDefault = 1000;
/** ...but no step runs longer than this, so a sweep that halves down to a few ops/s stays bounded. */
export const stepMsMax = 30_000;

/**
 * How long one step at `rate` runs: `stepMs`, stretched so it holds at least `opsMin` ops (a p99
 * from 3 s at 31 ops/s would be the worst of 93), but never past stepMsMax.
 */
export function stepDurationMs(rate: number, stepMs: number, opsMin: number): number {
  assert(rate > 0 && stepMs > 0 && opsMin >= 0, 'stepDurationMs needs a positive rate and step');
  return Math.min(Math.max(stepMs, Math.ceil((opsMin * 1000) / rate)), Math.max(stepMs, stepMsMax));
}

export interface SweepOptions {
  startRate: number;
  rateMax: number;
  bisectSteps: number;
  p99TargetMs: number;
  /** Runs one step at `rate`; the caller bounds it in ops and time. */
  step: (rate: number) => Promise<OpenLoopResult>;
  onStep?: (rate: number, r: OpenLoopResult, verdict: StepVerdict) => void;
}

export interface StepVerdict {
  pass: boolean;
  reason: string;
}

export interface SweepResult {
  /** The highest passing rate, or null when even the start rate failed. */
  bestRate: number | null;
  best: OpenLoopResult | null;
  steps: Array<{ rate: number; verdict: StepVerdict; p99Ms: number; achieved: number }>;
}

export function judge(r: OpenLoopResult, p99TargetMs: number): StepVerdict {
  const p99 = r.recorder.summary('latency', 'all').p99Ms;
  if (r.dropped > 0) return { pass: false, reason: `${r.dropped} ops dropped (in-flight cap reached)` };
  if (r.unfinished > 0) return { pass: false, reason: `${r.unfinished} ops never answered` };
  if (r.sent > 0 && r.errors / r.sent > errorRateMax) return { pass: false, reason: `${r.errors} errors of ${r.sent}` };
  if (r.achievedOpsPerSec < achievedFractionMin * r.ratePerSec) {
    return { pass: false, reason: `achieved ${r.achievedOpsPerSec.toFixed(0)}/s of ${r.ratePerSec}/s` };
  }
  if (p99 >= p99TargetMs) return { pass: false, reason: `p99 ${p99.toFixed(2)} ms >= ${p99TargetMs} ms` };
  return { pass: true, reason: `p99 ${p99.toFixed(2)} ms` };
}

export async function sweepRates(o: SweepOptions): Promise<SweepResult> {
  assert(o.startRate > 0 && o.rateMax >= o.startRate, 'sweep needs 0 < startRate <= rateMax');
  assert(Number.isInteger(o.bisectSteps) && o.bisectSteps >= 0 && o.bisectSteps <= 10, 'bisectSteps must be 0..10');
  const steps: SweepResult['steps'] = [];
  let best: OpenLoopResult | null = null;
  let bestRate: number | null = null;
  let failRate: number | null = null;
  const tryRate = async (rate: number): Promise<boolean> => {
    const r = await o.step(rate);
    const verdict = judge(r, o.p99TargetMs);
    steps.push({ rate, verdict, p99Ms: r.recorder.summary('latency', 'all').p99Ms, achieved: r.achievedOpsPerSec });
    o.onStep?.(rate, r, verdict);
    if (verdict.pass && (bestRate === null || rate > bestRate)) {
      bestRate = rate;
      best = r;
    }
    return verdict.pass;
  };
  // Doubling phase (bounded: at most log2(rateMax / startRate) + 1 steps).
  for (let rate = o.startRate; ; rate = Math.min(rate * 2, o.rateMax)) {
    if (!(await tryRate(rate))) {
      failRate = rate;
      break;
    }
    if (rate >= o.rateMax) break;
  }
  // The start rate already failed: halve (at most halvingStepsMax times) to find a passing floor.
  for (let i = 0, rate = o.startRate / 2; bestRate === null && i < halvingStepsMax && rate >= 1; i++, rate = Math.floor(rate / 2)) {
    if (!(await tryRate(Math.floor(rate)))) failRate = Math.floor(rate);
  }
  // Bisection between the last pass and the first fail, on whole rates.
  if (failRate !== null && bestRate !== null) {
    let lo: number = bestRate;
    let hi: number = failRate;
    for (let i = 0; i < o.bisectSteps && hi - lo > Math.max(1, lo * 0.05); i++) {
      const mid = Math.round((lo + hi) / 2);
      if (await tryRate(mid)) lo = mid;
      else hi = mid;
    }
  }
  return { bestRate, best, steps };
}
