// The cluster helper itself: a node that exits once it serves, without the test stopping it, fails
// the test at close() with the node's last output (the failures it causes elsewhere, timeouts and
// refused connections, do not say why); a node the test stopped does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from '../helpers/cluster';

test('close() reports a node that exited on its own, with its output', async () => {
  const c = await TestCluster.start({ nodes: 1 });
  const proc = c.nodes[0]!.proc!;
  const exited = new Promise((r) => proc.once('exit', r));
  // Not through c.signal(): as a crash would, from outside the test's own stop calls.
  process.kill(proc.pid!, 'SIGKILL');
  await exited;
  await assert.rejects(c.close(), (err: Error) => {
    assert.match(err.message, /node-0 \(pid \d+\) exited \(SIGKILL\) without the test stopping it/);
    assert.match(err.message, /listening on/, 'the node output is in the report');
    return true;
  });
});

test('close() passes when the test stopped its nodes itself (SIGKILL, SIGTERM)', async () => {
  const c = await TestCluster.start({ nodes: 2 });
  await c.kill(0);
  const proc = c.nodes[1]!.proc!;
  const exited = new Promise((r) => proc.once('exit', r));
  c.signal(1, 'SIGTERM');
  await exited;
  await c.close();
  assert.equal(proc.exitCode, 0, 'SIGTERM is a graceful stop');
});
