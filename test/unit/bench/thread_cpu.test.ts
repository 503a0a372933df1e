// Proves the benches' run-queue figure reads the wait, not the run time: four processes that
// never sleep, pinned to one core, each get about a quarter of it and wait the rest, so each must
// show more wait than CPU. Swapping schedstat's fields (run_ns, wait_ns) fails this. Linux only;
// the bound holds however busy the machine is, since more load on that core only adds wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { threadCpu } from '../../../bench/harness';

const spinners = 4;
const windowMs = 600;

function spinOnCore0(): ChildProcess {
  return spawn('taskset', ['-c', '0', process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' });
}

test('threads sharing one core show their run-queue wait apart from their CPU time', async () => {
  const children = Array.from({ length: spinners }, spinOnCore0);
  try {
    // taskset execs node in place, so each child's pid is the spinning process; let them start.
    await sleep(300);
    const pids = children.map((c) => c.pid!);
    const per = pids.map((pid) => threadCpu([pid]));
    await sleep(windowMs);
    const after = pids.map((pid) => threadCpu([pid]));
    for (let i = 0; i < spinners; i++) {
      const b = per[i];
      const a = after[i];
      assert.ok(a !== null && b !== null, `process ${pids[i]} readable`);
      const ranS = a.mainS - b.mainS;
      const waitedS = a.mainWaitS - b.mainWaitS;
      assert.ok(Number.isFinite(waitedS), 'schedstat readable');
      assert.ok(waitedS > ranS, `spinner ${i}: waited ${waitedS.toFixed(3)} s, ran ${ranS.toFixed(3)} s; a quarter of a core each should wait more than it runs`);
      // Never sleeping, each is always either running or waiting (CPU ticks are coarse: 10 ms).
      assert.ok(ranS + waitedS > (0.7 * windowMs) / 1000, `spinner ${i}: ran + waited = ${(ranS + waitedS).toFixed(3)} s of a ${windowMs} ms window`);
    }
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
});
