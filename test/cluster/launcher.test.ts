// `ringkv cluster` end to end: real node processes on 127.0.0.1 (ports P.., peers P+1000..), up
// and holding one ring when it says so, the zones given with --zones in turn, one cluster name
// made up for all of them and kept on a rerun over the same data dir, and every node stopped on
// SIGINT: sent to the launcher (twice, as an impatient Ctrl-C), or to its whole process group as
// a terminal's Ctrl-C is, after which every node still finishes its shutdown.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitFor } from '../helpers/cluster';
import { freeBasePort } from '../helpers/ports';

const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'ringkv.js');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-cluster-launcher-'));
const running: ChildProcess[] = [];
after(async () => {
  // SIGINT first: the launcher stops its nodes (SIGKILLing what outlives 30 s); a SIGKILLed
  // launcher would leave them running.
  for (const p of running.filter((x) => x.exitCode === null && x.signalCode === null)) {
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGINT');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 35_000))]);
    p.kill('SIGKILL');
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** `shards` absent: no --shards, so each node's data dir decides (a new one gets the launcher's default). */
async function launch(basePort: number, shards?: string): Promise<{ proc: ChildProcess; output: () => string }> {
  const proc = spawn(process.execPath, [bin, 'cluster', '--nodes', '3', '--base-port', String(basePort), '--data-dir', dataDir, ...(shards !== undefined ? ['--shards', shards] : []), '--sync-mode', 'none', '--zones', 'a,b,c', '--gossip-interval-ms', '100', '--suspect-after-ms', '1000', '--dead-after-ms', '2500'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // A group of its own, as a shell gives a job: stop() can signal it as a terminal would.
    detached: true,
  });
  running.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // The report's last line: the node lines come after "nodes up", in writes of their own.
  await waitFor('the launcher to report its nodes up', () => /ringkv cluster: 3 nodes up[^]*Ctrl-C stops every node\./.test(out), 30_000);
  return { proc, output: () => out };
}

/**
 * SIGINT to the launcher, or to its process group (a terminal's Ctrl-C reaches every process of
 * the job), or to the launcher twice: again once a node has begun its shutdown (an impatient Ctrl-C).
 */
async function stop(proc: ChildProcess, to: 'launcher' | 'group' | 'launcher twice', output: () => string): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  if (to === 'group') process.kill(-proc.pid!, 'SIGINT');
  else proc.kill('SIGINT');
  if (to === 'launcher twice') {
    await waitFor('a node to begin its shutdown', () => /^ringkv: SIGTERM: finishing in-flight requests/m.test(output()), 15_000);
    proc.kill('SIGINT');
  }
  return exited;
}

test('ringkv cluster --zones: three nodes, one zone each, one made-up name and the shard count kept on a rerun, all stopped on SIGINT', async () => {
  const base = await freeBasePort([0, 1, 2, 1000, 1001, 1002]);
  const first = await launch(base, '1');
  for (const [i, zone] of ['a', 'b', 'c'].entries()) assert.match(first.output(), new RegExp(`node-${i}  http://127\\.0\\.0\\.1:${base + i}  peer 127\\.0\\.0\\.1:${base + 1000 + i}  zone ${zone}  data `));
  const status = (await (await fetch(`http://127.0.0.1:${base + 2}/api/v1/cluster/status`)).json()) as { cluster_name: string; nodes: Array<{ id: string; zone?: string; status: string }> };
  assert.match(status.cluster_name, /^ringkv-[0-9a-f]{8}$/);
  assert.deepEqual(status.nodes.map((n) => [n.id, n.zone, n.status]), [['node-0', 'a', 'healthy'], ['node-1', 'b', 'healthy'], ['node-2', 'c', 'healthy']]);
  // Converged means one ring: every node holds it, and says so of every other.
  const digests = new Set<string | undefined>();
  for (let i = 0; i < 3; i++) {
    const s = (await (await fetch(`http://127.0.0.1:${base + i}/api/v1/cluster/status`)).json()) as { ring_digest?: string; nodes: Array<{ ring_digest?: string }> };
    digests.add(s.ring_digest);
    for (const n of s.nodes) digests.add(n.ring_digest);
  }
  assert.equal(digests.size, 1, [...digests].join(', '));
  assert.match([...digests][0] ?? '', /^[0-9a-f]{8}$/);
  assert.equal(await stop(first.proc, 'launcher twice', first.output), 0);
  // The second SIGINT sent the nodes nothing more: each finished its shutdown.
  assert.match(first.output(), /ringkv cluster: still stopping the nodes/);
  assert.equal(first.output().match(/^ringkv: stopped$/gm)?.length, 3, first.output());
  assert.doesNotMatch(first.output(), /again; exiting without finishing shutdown/);
  for (let i = 0; i < 3; i++) await waitFor(`node-${i} to stop`, async () => !(await fetch(`http://127.0.0.1:${base + i}/health`).then(() => true, () => false)), 15_000);

  // Without --shards the rerun keeps the count the data dirs were made with (1): the launcher's
  // default of 2 was passed on, and every node refused to start on it.
  const second = await launch(base);
  const again = (await (await fetch(`http://127.0.0.1:${base}/api/v1/cluster/status`)).json()) as { cluster_name: string };
  assert.equal(again.cluster_name, status.cluster_name, 'the data dir keeps its name');
  assert.equal(await stop(second.proc, 'group', second.output), 0);
  // Each node heard the launcher's SIGTERM alone and finished its shutdown; in the terminal's
  // group they took it as a second signal and exited at once.
  assert.equal(second.output().match(/^ringkv: stopped$/gm)?.length, 3, second.output());
  assert.doesNotMatch(second.output(), /again; exiting without finishing shutdown/);
});
