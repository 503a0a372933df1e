// One measured run: a YCSB workload against one target at one target rate, on the open-loop
// driver, plus the (unmeasured) load phase that fills the store first.
import { assert } from '../../src/errors';
import { realClock, type Clock } from './clock';
import { runOpenLoop, type IssuedOp, type OpenLoopResult } from './open_loop';
import type { LatencyTarget } from './target';
import { keyName, WorkloadState, type WorkloadSpec } from './workloads';

export interface RunParams {
  ratePerSec: number;
  durationMs: number;
  opsMax: number;
  outstandingMax: number;
  recordCount: number;
  seed: number;
  clock?: Clock;
  onProgress?: (dueSoFar: number, elapsedMs: number) => void;
}

/** Inserts records 0..recordCount-1 with at most `concurrency` writes in flight. Bounded by count. */
export async function loadRecords(target: LatencyTarget, spec: WorkloadSpec, recordCount: number, seed: number, concurrency = 64): Promise<void> {
  assert(concurrency >= 1, 'load concurrency must be positive');
  const w = new WorkloadState(spec, recordCount, 0, seed);
  let next = 0;
  let failed = 0;
  let lastError: unknown = null;
  const worker = async (): Promise<void> => {
    while (next < recordCount) {
      const i = next++;
      try {
        await target.write(keyName(i), w.loadValue(i));
      } catch (err) {
        failed++;
        lastError = err;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failed > 0) throw new Error(`load of ${target.name}: ${failed} of ${recordCount} inserts failed; last: ${String(lastError)}`);
}

export function issuerFor(target: LatencyTarget, w: WorkloadState): (index: number) => IssuedOp {
  return () => {
    const op = w.nextOperation();
    let done: Promise<void>;
    switch (op.kind) {
      case 'read':
        done = target.read(op.key);
        break;
      case 'update':
        done = target.write(op.key, op.value!);
        break;
      case 'insert': {
        const record = op.insertedRecord!;
        // Acknowledged either way: a failed insert just makes a later read of it a miss.
        done = target.write(op.key, op.value!).finally(() => w.acknowledgeInsert(record));
        break;
      }
      case 'rmw':
        done = target.readModifyWrite(op.key, op.value!);
        break;
    }
    return { kind: op.kind, done };
  };
}

export async function runWorkload(target: LatencyTarget, spec: WorkloadSpec, p: RunParams): Promise<OpenLoopResult> {
  const w = new WorkloadState(spec, p.recordCount, p.opsMax, p.seed);
  return runOpenLoop({
    clock: p.clock ?? realClock,
    ratePerSec: p.ratePerSec,
    opsMax: p.opsMax,
    durationMsMax: p.durationMs,
    outstandingMax: p.outstandingMax,
    drainMsMax: 10_000,
    issue: issuerFor(target, w),
    ...(p.onProgress !== undefined && { onProgress: p.onProgress }),
  });
}
