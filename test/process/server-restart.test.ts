// Proves durability through the front end: everything acknowledged over HTTP is read back after
// a graceful SIGTERM (or SIGHUP) restart, and after a SIGKILL with sync mode `always` (every
// acknowledged write was fsynced before its 200). A second node given a running node's data dir
// stops before touching it, and a node killed with SIGKILL leaves no lock behind (the restart
// after it). A snapshot restores: a node started on a copy of one reads what was there at the
// snapshot. A shutdown that cannot finish exits 1 at its deadline instead of hanging.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { flipByte } from '../helpers/damage';
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

// SIGHUP too: the terminal a node was started from closing stops it as gracefully.
for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  test(`${signal}: a graceful stop exits 0 and a restart reads every write back`, async () => {
    const dir = tempDir(`restart-${signal.toLowerCase()}`);
    dirs.push(dir);
    const n = 300;
    const a = await startNode(dir);
    await writeAll(a.url, n);
    assert.equal(await a.stop(signal), 0);
    assert.match(a.stderr(), new RegExp(`${signal}: finishing in-flight requests, closing shards`));
    assert.match(a.stderr(), /stopped/);
    const b = await startNode(dir);
    await readAll(b.url, n);
    assert.equal(await b.stop('SIGTERM'), 0);
  });
}

test('--memtable-mib 1 --block-cache-mib 0: a shard flushes each MiB written to a table by itself, holds at most three memtables, and reads everything back with no cache, before and after a restart', async () => {
  const dir = tempDir('restart-memory');
  dirs.push(dir);
  const flags = ['--shards', '1', '--memtable-mib', '1', '--block-cache-mib', '0'];
  const a = await startNode(dir, flags);
  const value = 'v'.repeat(16 * 1024);
  // 4 MiB through one shard's 1 MiB memtable.
  for (let i = 0; i < 256; i += 8) {
    await Promise.all(Array.from({ length: 8 }, async (_, k) => assert.equal((await fetch(`${a.url}/api/v1/keys/mem-${i + k}`, { method: 'PUT', body: value })).status, 200)));
  }
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${a.url}/metrics`)).text();
    return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
  };
  assert.ok((await metric('ringkv_sstables')) >= 1, 'the memtable filled and was flushed without being asked');
  const memtableBytes = await metric('ringkv_memtable_bytes');
  // Each may pass its limit by the write that filled it and an arena chunk (a sixteenth of it).
  assert.ok(memtableBytes <= 3 * (1024 + 128) * 1024, `memtables hold ${memtableBytes} bytes`);
  for (let i = 0; i < 256; i += 32) {
    const body = (await (await fetch(`${a.url}/api/v1/keys/mem-${i}`)).json()) as { value: string };
    assert.equal(Buffer.from(body.value, 'base64').toString(), value);
  }
  assert.equal(await metric('ringkv_block_cache_hits_total'), 0, 'no cache: nothing is ever found in it');
  assert.equal(await a.stop('SIGTERM'), 0);
  const b = await startNode(dir, flags);
  for (let i = 0; i < 256; i += 16) {
    const body = (await (await fetch(`${b.url}/api/v1/keys/mem-${i}`)).json()) as { value: string };
    assert.equal(Buffer.from(body.value, 'base64').toString(), value);
  }
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

test('a snapshot restores: a node started on a copy of it reads what the node held at the snapshot', async () => {
  // Proves POST /api/v1/admin/snapshot through `ringkv snapshot` end to end: the snapshot is a
  // data dir of its own (node id, shard layout, each shard's tables and manifest), writes after
  // it are not in it, and a name is never reused.
  const dir = tempDir('snapshot');
  const restored = tempDir('snapshot-restored');
  dirs.push(dir, restored);
  const n = 120;
  const a = await startNode(dir);
  const node = a.url.replace('http://', '');
  await writeAll(a.url, n);
  const asked = Date.now();
  const made = await runCli(['snapshot', 'before-change', '--node', node, '--json']);
  assert.equal(made.code, 0, made.stderr);
  const s = JSON.parse(made.stdout) as { name: string; path: string; tables: number; bytes: number };
  assert.deepEqual([s.name, s.path], ['before-change', `${dir}/snapshots/before-change`]);
  // The moment a node restored from it goes back to (coordinator/last_run.ts), its own.
  const lastRun = Number(fs.readFileSync(path.join(s.path, 'LAST_RUN'), 'utf8'));
  assert.ok(lastRun >= asked && lastRun <= Date.now(), `LAST_RUN ${lastRun}`);
  assert.ok(s.tables >= 1 && s.bytes > 0, made.stdout);
  for (let i = 1; i < n; i += 2) assert.equal((await fetch(`${a.url}/api/v1/keys/${keyOf(i)}`, { method: 'PUT', body: 'changed after the snapshot' })).status, 200);
  const again = await runCli(['snapshot', 'before-change', '--node', node]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /snapshot before-change exists already .*\(HTTP 409 conflict\)/);
  const badName = await runCli(['snapshot', '../escape', '--node', node]);
  assert.equal(badName.code, 1);
  assert.match(badName.stderr, /\(HTTP 400 invalid_argument\)/);
  const id = /node (\S+) listening/.exec(a.stderr())![1];
  assert.equal(await a.stop('SIGTERM'), 0);

  fs.cpSync(s.path, restored, { recursive: true });
  const b = await startNode(restored);
  assert.match(b.stderr(), new RegExp(`node ${id} listening`), 'the same node');
  await readAll(b.url, n);
  assert.equal(await b.stop('SIGTERM'), 0);
});

test('a scheduled scrub runs at its interval and logs a damaged table of a single node, which it leaves in place', async () => {
  // Proves background scrubbing end to end (--scrub-interval-seconds): the node scrubs its
  // tables by itself, records when (LAST_SCRUB), and reports a table damaged on disk without
  // dropping it (a single node's tables are the only copy).
  const dir = tempDir('scrub-scheduled');
  dirs.push(dir);
  const a = await startNode(dir, ['--scrub-interval-seconds', '1', '--scrub-bytes-per-second', '1048576']);
  await writeAll(a.url, 80);
  assert.equal((await fetch(`${a.url}/api/v1/admin/flush`, { method: 'POST' })).status, 200);
  const until = async (re: RegExp, what: string): Promise<void> => {
    for (let i = 0; i < 200 && !re.test(a.stderr()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(a.stderr(), re, what);
  };
  await until(/storage: scheduled scrub: [1-9]\d* tables, [1-9]\d* entries, \d+ bytes read in \d+ ms; 0 quarantined, 0 corrupt left in place/, 'a clean scheduled scrub');
  assert.ok(fs.existsSync(`${dir}/LAST_SCRUB`));
  const shard = fs.readdirSync(dir).filter((n) => n.startsWith('shard-')).map((n) => `${dir}/${n}`).find((d) => fs.readdirSync(d).some((f) => f.endsWith('.sst')))!;
  const table = `${shard}/${fs.readdirSync(shard).find((f) => f.endsWith('.sst'))!}`;
  flipByte(table, 50, 0x01);
  await until(new RegExp(`storage: ERROR scrub: shard \\d+: ${table.replace(/[.]/g, '\\.')} \\(level \\d+, \\d+ entries\\) is corrupt, left in place \\(the only copy\\): .*checksum mismatch`), 'the damaged table reported');
  assert.ok(fs.existsSync(table), 'left where it is');
  assert.equal(await a.stop('SIGTERM'), 0);
});

test('scrub --salvage on a single node takes a damaged table out, keeping what still reads; the node goes on and restarts with it', async () => {
  // Proves the single node's way past a damaged table without a snapshot (Cassandra's nodetool
  // scrub): a plain scrub reports it and leaves it; with --salvage the table is rewritten
  // without its damaged block (whose entries had no other copy and are lost) and the rest reads.
  const dir = tempDir('scrub-salvage');
  dirs.push(dir);
  const n = 400;
  const a = await startNode(dir, ['--shards', '1']);
  const node = a.url.replace('http://', '');
  await writeAll(a.url, n);
  assert.equal((await fetch(`${a.url}/api/v1/admin/flush`, { method: 'POST' })).status, 200);
  const shard = `${dir}/shard-000`;
  const names = fs.readdirSync(shard).filter((f) => f.endsWith('.sst'));
  assert.equal(names.length, 1, names.join());
  flipByte(`${shard}/${names[0]!}`, 50, 0x01);

  const plain = await runCli(['scrub', '--node', node, '--json']);
  assert.equal(plain.code, 1, plain.stderr);
  const p = JSON.parse(plain.stdout) as { quarantined: unknown[]; corrupt: Array<{ file: string }> };
  assert.deepEqual([p.quarantined.length, p.corrupt.map((c) => c.file)], [0, [`${shard}/${names[0]!}`]]);

  const salvaged = await runCli(['scrub', '--salvage', '--node', node, '--json']);
  assert.equal(salvaged.code, 1, salvaged.stderr);
  const s = JSON.parse(salvaged.stdout) as { quarantined: Array<{ file: string; entries: number; salvaged_entries: number; blocks_lost: number }>; corrupt: unknown[] };
  assert.equal(s.corrupt.length, 0);
  const q = s.quarantined[0]!;
  assert.deepEqual([s.quarantined.length, q.file, q.blocks_lost], [1, `${shard}/quarantine/${names[0]!}`, 1]);
  assert.ok(q.salvaged_entries > 0 && q.salvaged_entries < q.entries, JSON.stringify(q));
  assert.match(a.stderr(), /storage: ERROR scrub: shard 0 quarantined .* \(level 0, \d+ entries, \d+ salvaged, 1 block\(s\) lost\): .*checksum mismatch/);

  // Every key reads as written, or (in the lost block) not at all; none fails.
  const check = async (url: string): Promise<number> => {
    let lost = 0;
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${url}/api/v1/keys/${keyOf(i)}`);
      if (res.status === 404 || i % 10 === 0) {
        assert.equal(res.status, 404, `key ${i}`);
        if (i % 10 !== 0) lost++;
        await res.arrayBuffer();
        continue;
      }
      assert.equal(res.status, 200, `key ${i}`);
      assert.equal(Buffer.from(((await res.json()) as { value: string }).value, 'base64').toString(), valueOf(i), `key ${i}`);
    }
    return lost;
  };
  const lost = await check(a.url);
  assert.ok(lost <= q.entries - q.salvaged_entries, `${lost} keys lost`);
  assert.equal((await fetch(`${a.url}/api/v1/keys/after-salvage`, { method: 'PUT', body: 'x' })).status, 200);
  assert.equal(await a.stop('SIGTERM'), 0);
  const b = await startNode(dir, ['--shards', '1']);
  assert.equal(await check(b.url), lost);
  const again = await runCli(['scrub', '--node', b.url.replace('http://', '')]);
  assert.equal(again.code, 0, `${again.stdout}${again.stderr}`);
  assert.equal(await b.stop('SIGTERM'), 0);
});

test('a first cluster node, alone with a new data dir, is not rebuilding: it has nothing to rebuild from', async () => {
  // Its seed is not up (as a node seeding only itself has no one to ask): it joins no running
  // cluster. Rebuilding there would never end (no pass can sync a range with nobody) and, once
  // other nodes joined, would refuse its writes whenever they were down.
  const dir = tempDir('first-node');
  dirs.push(dir);
  const a = await startNode(dir, ['--seeds', `127.0.0.1:${await freePort()}`, '--cluster-name', 'first']);
  assert.equal((await fetch(`${a.url}/api/v1/keys/${keyOf(1)}`, { method: 'PUT', body: valueOf(1), headers: { 'X-Consistency-Level': 'ONE' } })).status, 200);
  const got = await fetch(`${a.url}/api/v1/keys/${keyOf(1)}`, { headers: { 'X-Consistency-Level': 'ONE' } });
  assert.equal(got.status, 200);
  assert.equal(Buffer.from(((await got.json()) as { value: string }).value, 'base64').toString(), valueOf(1));
  assert.doesNotMatch(a.stderr(), /rebuilding:/);
  assert.equal(fs.existsSync(`${dir}/REBUILDING`), false);
  assert.equal(await a.stop('SIGTERM'), 0);
});

test('a shutdown that cannot finish (a shard whose close never runs) exits 1 at its deadline, saying so, instead of hanging', async () => {
  const dataDir = tempDir('hung-close');
  const child = spawn(process.execPath, [path.join(__dirname, 'helpers', 'hung-close-child.js'), dataDir, '1500'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    for (let i = 0; i < 300 && !stdout.includes('ready'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(stdout.includes('ready'), stderr);
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still running after 30 s'), 30_000)))]);
    clearTimeout(timer);
    assert.equal(code, 1, stderr);
    assert.match(stderr, /ringkv: WARN shutdown did not finish within 1500 ms/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
