// Proves a full disk costs writes, not data, and needs no restart: a node whose data dir sits on
// a small file system (a tmpfs mounted in a private mount namespace, so the test needs no
// privilege and leaves no mount behind) answers the writes that no longer fit with 507 and an
// error that says why, reports itself on /health (503 storage_full) and /metrics, keeps every
// write it acknowledged readable, and takes writes again by itself once space is freed. The
// storage engine's own test (a child on its own tmpfs) covers three ways to run out, a flush, a
// WAL write and a compaction, and a reopen after them.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runChildOnTmpfs } from '../helpers/tmpfs_child';
import { freePort } from '../helpers/ports';

const engineChild = path.join(__dirname, 'helpers', 'storage-full-child.js');

const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'ringkv.js');
const fsBytes = 4 * 1024 * 1024;
/** Taken by a file made before the node starts; deleting it is how the test frees space. */
const ballastBytes = 1024 * 1024;
const waitForSpaceMs = 20_000;
const valueBytes = 40 * 1024;
const attemptsMax = 200;
const failuresWanted = 5;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('writes that do not fit fail with 507 and a reason, /health says so, every acknowledged one stays readable, and freed space ends it', async () => {
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-full-'));
  dirs.push(mountPoint);
  const port = await freePort();
  const script = `mount -t tmpfs -o size=${fsBytes} tmpfs '${mountPoint}' && head -c ${ballastBytes} /dev/zero > '${mountPoint}/ballast' && exec '${process.execPath}' '${bin}' start --port ${port} --data-dir '${mountPoint}/d' --shards 1`;
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
      assert.equal(f.status, 507);
      assert.equal(f.body.error, 'insufficient_storage');
      assert.match(f.body.message, /no space left on device/i);
      assert.match(f.body.message, /refuses writes \(reads still work\) until \d+\.\d MiB are free/);
    }
    // Whatever routes writes here should stop: /health and /metrics say so.
    const health = await fetch(`${base}/health`);
    assert.equal(health.status, 503);
    const h = (await health.json()) as { status: string; message: string };
    assert.equal(h.status, 'storage_full');
    assert.match(h.message, /^1 of 1 shards refuse writes: the data dir's file system is full/);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^ringkv_shards_refusing_writes 1$/m);
    assert.match(metrics, /^ringkv_shards_out_of_space 1$/m);
    const readAll = async (): Promise<void> => {
      for (const i of acknowledged) {
        const res = await fetch(`${url}/full-${i}`);
        assert.equal(res.status, 200, `acknowledged key full-${i}`);
        const body = (await res.json()) as { value: string };
        assert.equal(Buffer.from(body.value, 'base64').toString(), valueOf(i), `full-${i}`);
      }
    };
    await readAll();
    // Free space inside the node's mount namespace (its root as /proc shows it): no restart.
    fs.rmSync(`/proc/${proc.pid}/root${mountPoint}/ballast`);
    const deadline = Date.now() + waitForSpaceMs;
    let status = 0;
    while ((status = (await fetch(`${base}/health`).then(async (r) => (await r.arrayBuffer(), r.status)))) !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, `/health after freeing ${ballastBytes} bytes`);
    assert.match(await (await fetch(`${base}/metrics`)).text(), /^ringkv_shards_out_of_space 0$/m);
    const again = await fetch(`${url}/after-space`, { method: 'PUT', body: valueOf(7) });
    assert.equal(again.status, 200, await again.text());
    acknowledged.push(7);
    await readAll();
    assert.equal(Buffer.from(((await (await fetch(`${url}/after-space`)).json()) as { value: string }).value, 'base64').toString(), valueOf(7));
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, log);
  } finally {
    proc.kill('SIGKILL');
    await exited;
  }
});

test('the storage engine refuses writes while a flush or a WAL write does not fit, holds back a compaction that does not fit while writes go on, resumes once space is freed, and loses nothing', async () => {
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-full-engine-'));
  dirs.push(mountPoint);
  const run = await runChildOnTmpfs(engineChild, mountPoint, fsBytes);
  assert.equal(run.code, 0, `child failed:\n${run.stderr}`);
  const r = JSON.parse(run.stdout) as {
    acked: number;
    flushStats: { writesRefused: number; outOfSpace: number; flushes: number };
    flushRefusal: { code: string; message: string; readBack: string | null };
    afterFlush: { writesRefused: number; outOfSpace: number; flushes: number };
    walRefusal: { code: string; message: string; readBack: string | null };
    walBytesBefore: number;
    walBytesAfter: number;
    walStats: { writesRefused: number; outOfSpace: number };
    missing: string[];
    refusedPresent: string[];
    tornTails: number;
    compactionError: string;
    heldStats: { writesRefused: number; outOfSpace: number; compactionsHeldForSpace: number };
    deletedTablesOpen: number;
    compactedLevel0: number;
  };
  // A flush that did not fit: refused (not applied), then retried and done once space was back.
  assert.deepEqual(r.flushStats, { writesRefused: 1, outOfSpace: 1, flushes: 0 });
  assert.equal(r.flushRefusal.code, 'RKV_ERR_NO_SPACE');
  assert.match(r.flushRefusal.message, /^storage engine \S+: flush of WAL segment \d+: ENOSPC: no space left on device.*; it refuses writes \(reads still work\) until 1\.\d MiB are free/);
  assert.equal(r.flushRefusal.readBack, null);
  assert.deepEqual(r.afterFlush, { writesRefused: 0, outOfSpace: 0, flushes: 1 });
  // A WAL write that did not fit: refused, not applied, and cut off the segment.
  assert.equal(r.walRefusal.code, 'RKV_ERR_NO_SPACE');
  assert.match(r.walRefusal.message, /^storage engine \S+: WAL write failed on \S+ at offset \d+: ENOSPC: no space left on device.*; it refuses writes/);
  assert.equal(r.walRefusal.readBack, null);
  assert.deepEqual(r.walStats, { writesRefused: 1, outOfSpace: 1 });
  assert.equal(r.walBytesAfter, r.walBytesBefore);
  // Reopened: every acknowledged write, no refused one, no torn record.
  assert.ok(r.acked > 60, `${r.acked} writes acknowledged`);
  assert.deepEqual(r.missing, []);
  assert.deepEqual(r.refusedPresent, []);
  assert.equal(r.tornTails, 0);
  // A compaction that did not fit failed as out of space, held no removed table open, held
  // compactions back while writes went on (writes refused until its room was free made them
  // flap, the same compaction filling the disk each time they resumed), and a compaction with
  // space back emptied level 0 (the engine went on working without a restart).
  assert.equal(r.compactionError, 'RKV_ERR_NO_SPACE');
  assert.deepEqual(r.heldStats, { writesRefused: 0, outOfSpace: 0, compactionsHeldForSpace: 1 });
  assert.equal(r.deletedTablesOpen, 0);
  assert.equal(r.compactedLevel0, 0);
});
