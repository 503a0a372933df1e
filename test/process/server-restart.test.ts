// Proves durability through the front end: everything acknowledged over HTTP is read back after
// a graceful SIGTERM restart, and after a SIGKILL with sync mode `always` (every acknowledged
// write was fsynced before its 200). A second node given a running node's data dir stops before
// touching it, and a node killed with SIGKILL leaves no lock behind (the restart after it).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { freePort } from '../helpers/ports';
import { killAll, runCli, startNode, tempDir } from './server-harness';

const dirs: string[] = [];
after(async () => {
  await killAll();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const valueOf = (i: number): string => `value-${i}-${'x'.repeat(i % 97)}`;
const keyOf = (i: number): string => `restart%2F${i}%20k`;

async function writeAll(url: string, n: number, extra: Record<string, string> = {}): Promise<void> {
  // 8 writers at a time: enough to exercise group commit without flooding a 2-core box.
  for (let i = 0; i < n; i += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, n - i) }, async (_, k) => {
        const res = await fetch(`${url}/api/v1/keys/${keyOf(i + k)}`, { method: 'PUT', body: valueOf(i + k), headers: extra });
        assert.equal(res.status, 200);
      }),
    );
  }
  // Some deletes, so tombstones must survive too.
  for (let i = 0; i < n; i += 10) assert.equal((await fetch(`${url}/api/v1/keys/${keyOf(i)}`, { method: 'DELETE' })).status, 200);
}

async function readAll(url: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${url}/api/v1/keys/${keyOf(i)}`);
    if (i % 10 === 0) {
      assert.equal(res.status, 404, `deleted key ${i} stays deleted`);
      await res.arrayBuffer();
      continue;
    }
    assert.equal(res.status, 200, `key ${i}`);
    const body = (await res.json()) as { value: string; key: string };
    assert.equal(Buffer.from(body.value, 'base64').toString(), valueOf(i), `key ${i}`);
    assert.equal(body.key, `restart/${i} k`);
  }
}

test('SIGTERM: a graceful stop exits 0 and a restart reads every write back', async () => {
  const dir = tempDir('restart-term');
  dirs.push(dir);
  const n = 300;
  const a = await startNode(dir);
  await writeAll(a.url, n);
  assert.equal(await a.stop('SIGTERM'), 0);
  assert.match(a.stderr(), /stopped/);
  const b = await startNode(dir);
  await readAll(b.url, n);
  assert.equal(await b.stop('SIGTERM'), 0);
});

test('SIGKILL with sync mode always: every acknowledged write survives', async () => {
  const dir = tempDir('restart-kill');
  dirs.push(dir);
  const n = 200;
  const a = await startNode(dir, ['--sync-mode', 'always']);
  await writeAll(a.url, n);
  assert.equal(await a.stop('SIGKILL'), 'SIGKILL');
  const b = await startNode(dir, ['--sync-mode', 'always']);
  await readAll(b.url, n);
  assert.equal(await b.stop('SIGTERM'), 0);
});

test('a second node on a running node\'s data dir refuses to start, and the first serves on unharmed', async () => {
  const dir = tempDir('restart-locked');
  dirs.push(dir);
  const n = 60;
  const a = await startNode(dir);
  await writeAll(a.url, n);
  const second = await runCli(['start', '--port', String(await freePort()), '--data-dir', dir, '--shards', '2']);
  assert.notEqual(second.code, 0);
  const refusal = `data dir ${dir} is in use by another ringkv node (pid ${a.proc.pid})`;
  assert.ok(second.stderr.includes(refusal), `stderr says "${refusal}": ${second.stderr}`);
  assert.doesNotMatch(second.stderr, /listening on/);
  await readAll(a.url, n);
  assert.equal((await fetch(`${a.url}/api/v1/keys/after-refusal`, { method: 'PUT', body: 'v' })).status, 200);
  assert.equal(await a.stop('SIGTERM'), 0);
  // Nothing the refused node did survives in the directory: a restart reads every write back.
  const b = await startNode(dir);
  await readAll(b.url, n);
  assert.equal((await fetch(`${b.url}/api/v1/keys/after-refusal`)).status, 200);
  assert.equal(await b.stop('SIGTERM'), 0);
});

test('SIGTERM while requests are in flight: every answered write is there after restart', async () => {
  const dir = tempDir('restart-inflight');
  dirs.push(dir);
  const a = await startNode(dir);
  const answered: number[] = [];
  const writes = Array.from({ length: 64 }, async (_, i) => {
    try {
      const res = await fetch(`${a.url}/api/v1/keys/${keyOf(i)}`, { method: 'PUT', body: valueOf(i) });
      if (res.status === 200) answered.push(i);
      else await res.arrayBuffer();
    } catch {
      // The connection may be cut by the shutdown: such a write was never acknowledged.
    }
  });
  const stopped = a.stop('SIGTERM');
  await Promise.all(writes);
  assert.equal(await stopped, 0);
  const b = await startNode(dir);
  for (const i of answered) {
    const res = await fetch(`${b.url}/api/v1/keys/${keyOf(i)}`);
    assert.equal(res.status, 200, `acknowledged key ${i}`);
    await res.arrayBuffer();
  }
  assert.equal(await b.stop('SIGTERM'), 0);
});
