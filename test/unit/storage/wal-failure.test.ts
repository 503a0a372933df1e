// A WAL write that fails for good (not for lack of space) stops the engine's writes until it is
// reopened, as its message says: the next memtable switch (a flush) starts a new segment, which
// took writes again while those the failed one had refused stayed in the memtable. The failure is
// real: the engine runs in a process whose file size limit a WAL segment outgrows (EFBIG).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { removeDir, tempDir } from './helpers';

test('after a WAL write fails for good, no write is taken until the engine is reopened, not even after a flush; reads go on', () => {
  const dir = tempDir('walfail');
  try {
    const child = path.join(__dirname, 'wal_failure_child.js');
    // 256 KiB per file: the WAL of ~250 writes of 1 KiB; every other file stays far below it.
    const r = spawnSync('bash', ['-c', `ulimit -f 256 && exec "${process.execPath}" "${child}" "${dir}"`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { writes: number; failure: string | null; flush: string; after: string; read: string };
    assert.ok(out.failure !== null && /WAL write failed .*takes no more writes until the node restarts/.test(out.failure), JSON.stringify(out));
    assert.ok(out.writes > 100, `the limit was reached by the WAL, after ${out.writes} writes`);
    assert.notEqual(out.after, 'ok', `a write after the flush was taken: ${JSON.stringify(out)}`);
    assert.match(out.after, /WAL write failed/);
    assert.equal(out.read, 'ok');
  } finally {
    removeDir(dir);
  }
});
