// writeFileDurably on a file system that fills during the write (a real tmpfs in a private mount
// namespace, helpers/tmpfs_child.ts): write(2) then writes part of the text and says so, rather
// than fail. The file must not be installed under its name cut short (a PEERS or REBUILDING read
// back damaged at the next start); the write fails, and the old content, here none, stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runChildOnTmpfs } from '../helpers/tmpfs_child';

const child = path.join(__dirname, 'helpers', 'durable-file-child.js');
const fsBytes = 64 * 1024;
/** Leaves one 4 KiB page free. */
const ballastBytes = fsBytes - 4096;

test('a state file that does not fit whole is not installed cut short: the write fails with ENOSPC', async () => {
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-durable-file-'));
  try {
    const run = await runChildOnTmpfs(child, mountPoint, fsBytes, ballastBytes);
    assert.equal(run.code, 0, `child failed:\n${run.stderr}`);
    const r = JSON.parse(run.stdout) as { thrown: string | null; installedBytes: number | null; textBytes: number; leftovers: string[] };
    assert.deepEqual({ thrown: r.thrown, installedBytes: r.installedBytes }, { thrown: 'ENOSPC', installedBytes: null }, `the file system held ${JSON.stringify(r.leftovers)}`);
  } finally {
    fs.rmSync(mountPoint, { recursive: true, force: true });
  }
});
