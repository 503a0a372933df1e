// A client workload for cluster tests while the cluster changes under it (restarts, a join, a
// leave): one writer of `value-i` to keyOf(i) and one reader of keys already acknowledged, both
// at QUORUM over HTTP, through whichever nodes `via()` names at that moment, every operation
// recorded for the read-your-writes checker (cluster_history.ts). Bounded by `writesMax` each.
import assert from 'node:assert/strict';
import { base64Text, sleep, type TestCluster } from './cluster';
import { checkReadYourWrites, type HistoryEvent } from './cluster_history';

export const workloadValue = (i: number): string => `value-${i}`;

/** The values an answer holds: its siblings', or its one value; none for anything but 200. */
export function valuesOf(r: { status: number; body: Record<string, unknown> }): string[] {
  if (r.status !== 200) return [];
  const sibs = r.body.siblings as Array<{ value: string }> | undefined;
  return sibs !== undefined ? sibs.map((s) => base64Text(s.value)) : [base64Text(r.body.value)];
}

export interface QuorumWorkload {
  /** Indices of the writes acknowledged, in order. */
  readonly acked: number[];
  /** Per key, its writes in order: index and whether it was acknowledged. */
  readonly writes: Map<string, Array<{ i: number; ok: boolean }>>;
  /**
   * Stops both loops once each has done more than `opsMin` operations (or run out of them), then
   * checks that they did and that no read missed its write. A count, not a rate: a slow machine
   * takes longer to get there (at most finishWaitMsMax), it does not fail.
   */
  finish(opsMin: number): Promise<void>;
}

const finishWaitMsMax = 60_000;

export function startQuorumWorkload(c: TestCluster, o: { keyOf: (i: number) => string; via: () => number[]; writesMax: number }): QuorumWorkload {
  const history: HistoryEvent[] = [];
  const acked: number[] = [];
  const writes = new Map<string, Array<{ i: number; ok: boolean }>>();
  let stop = false;
  let failed = 0;
  let reads = 0;
  let loopsDone = 0;
  const t0 = performance.now();
  const writer = (async () => {
    for (let i = 0; i < o.writesMax && !stop; i++) {
      const nodes = o.via();
      const key = o.keyOf(i);
      const invokedAt = performance.now() - t0;
      const r = await c.http(nodes[i % nodes.length]!, 'PUT', key, { body: workloadValue(i), consistency: 'QUORUM' }).catch(() => ({ status: 0 }));
      history.push({ kind: 'put', key, value: workloadValue(i), invokedAt, completedAt: performance.now() - t0, ok: r.status === 200 });
      const list = writes.get(key) ?? [];
      list.push({ i, ok: r.status === 200 });
      writes.set(key, list);
      if (r.status === 200) acked.push(i);
      else failed++;
    }
  })().finally(() => loopsDone++);
  const reader = (async () => {
    for (let j = 0; j < o.writesMax && !stop; j++) {
      if (acked.length === 0) {
        await sleep(10);
        continue;
      }
      const key = o.keyOf(acked[(j * 7919) % acked.length]!);
      const nodes = o.via();
      const invokedAt = performance.now() - t0;
      const r = await c.http(nodes[(j * 31) % nodes.length]!, 'GET', key, { consistency: 'QUORUM' }).catch(() => ({ status: 0, body: {} as Record<string, unknown> }));
      const ok = r.status === 200 || r.status === 404;
      if (ok) reads++;
      history.push({ kind: 'get', key, values: valuesOf(r), invokedAt, completedAt: performance.now() - t0, ok });
    }
  })().finally(() => loopsDone++);
  return {
    acked,
    writes,
    async finish(opsMin: number): Promise<void> {
      const deadline = performance.now() + finishWaitMsMax;
      while ((acked.length <= opsMin || reads <= opsMin) && loopsDone === 0 && performance.now() < deadline) await sleep(20);
      stop = true;
      await Promise.all([writer, reader]);
      assert.ok(acked.length > opsMin, `${acked.length} writes acknowledged (${failed} failed)`);
      assert.ok(reads > opsMin, `${reads} reads answered`);
      const violations = checkReadYourWrites(history);
      assert.deepEqual(violations.slice(0, 5).map((v) => `${v.read.key}: ${v.why}`), []);
    },
  };
}
