// Proves a full disk costs writes, not data: a node whose data dir sits on a small file system
// (a tmpfs mounted in a private mount namespace, so the test needs no privilege and leaves no
// mount behind) answers the writes that no longer fit with an error that says why, reports
// itself on /health (503 storage_failed) and /metrics, keeps every write it acknowledged
// readable, and still stops cleanly. (That a restart reads them all back
// was checked by hand on a tmpfs: this namespace ends with the node.)
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/ports';

const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'ringkv.js');
const fsBytes = 4 * 1024 * 1024;
const valueBytes = 40 * 1024;
const attemptsMax = 200;
const failuresWanted = 5;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('writes that do not fit fail with a reason and /health says so; every acknowledged one stays readable', async () => {
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-full-'));
  dirs.push(mountPoint);
  const port = await freePort();
  const script = `mount -t tmpfs -o size=${fsBytes} tmpfs '${mountPoint}' && exec '${process.execPath}' '${bin}' start --port ${port} --data-dir '${mountPoint}/d' --shards 1`;
  const proc = spawn('unshare', ['-r', '-m', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node did not start:\n${log}`)), 20_000);
      const check = (): void => {
        if (!log.includes('listening on')) return;
        clearTimeout(timer);
        resolve();
      };
      proc.stderr!.on('data', check);
      void exited.then(() => reject(new Error(`node exited while starting:\n${log}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const url = `${base}/api/v1/keys`;
    assert.equal((await fetch(`${base}/health`)).status, 200);
    const valueOf = (i: number): string => String(i % 10).repeat(valueBytes);
    const acknowledged: number[] = [];
    const failures: Array<{ status: number; body: { error: string; message: string } }> = [];
    for (let i = 0; i < attemptsMax && failures.length < failuresWanted; i++) {
      const res = await fetch(`${url}/full-${i}`, { method: 'PUT', body: valueOf(i) });
      if (res.status === 200) {
        await res.arrayBuffer();
        acknowledged.push(i);
      } else {
        failures.push({ status: res.status, body: (await res.json()) as { error: string; message: string } });
      }
    }
    assert.ok(acknowledged.length > 10, `${acknowledged.length} writes fitted on ${fsBytes} bytes`);
    assert.equal(failures.length, failuresWanted, `${attemptsMax} writes of ${valueBytes} bytes never filled ${fsBytes} bytes`);
    for (const f of failures) {
      assert.equal(f.status, 500);
      assert.equal(f.body.error, 'internal');
      assert.match(f.body.message, /no space left on device/i);
      assert.match(f.body.message, /takes no more writes until the node restarts/);
    }
    // Whatever routes writes here should stop: /health and /metrics say so.
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 503);
    const h = (await health.json()) as { status: string; message: string };
    assert.equal(h.status, 'storage_failed');
    assert.match(h.message, /^1 of 1 shards refuse writes/);
    assert.match(await (await fetch(`${base}/metrics`)).text(), /^ringkv_shards_refusing_writes 1$/m);
    for (const i of acknowledged) {
      const res = await fetch(`${url}/full-${i}`);
      assert.equal(res.status, 200, `acknowledged key full-${i}`);
      const body = (await res.json()) as { value: string };
      assert.equal(Buffer.from(body.value, 'base64').toString(), valueOf(i), `full-${i}`);
    }
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, log);
  } finally {
    proc.kill('SIGKILL');
    await exited;
  }
});
