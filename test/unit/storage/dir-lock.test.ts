// Proves a data directory has one owner at a time: a second lock on it fails with RKV_ERR_BUSY
// naming the holder, whether the holder is this process or another one, and the lock of a
// process killed with SIGKILL is gone at once (the kernel drops it), so a restart never finds a
// stale lock. A data dir that names a file is a clear RKV_ERR_IO.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { lockDir } from '../../../src/storage/dir-lock';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-dir-lock-'));
}

const busyWith = (dir: string, pid: number) => (err: unknown) =>
  isRingkvError(err, ErrorCode.Busy) && err.details['holder_pid'] === pid && err.message.includes(`data dir ${dir} is in use`);

test('a second lock in the same process is refused until the first is released', () => {
  const dir = tempDir();
  try {
    const first = lockDir(dir);
    assert.throws(() => lockDir(dir), busyWith(dir, process.pid));
    first.release();
    first.release(); // a second release does nothing
    lockDir(dir).release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock held by another process is refused, and gone once that process is killed', async () => {
  const dir = tempDir();
  const script = `require(${JSON.stringify(require.resolve('../../../src/storage/dir-lock'))}).lockDir(${JSON.stringify(dir)}); process.stdout.write('locked\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('locked')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
    });
    assert.throws(() => lockDir(dir), busyWith(dir, child.pid!));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    lockDir(dir).release();
  } finally {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a data dir that is a file is refused with a message that says so', () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'not-a-dir');
    fs.writeFileSync(file, 'x');
    assert.throws(() => lockDir(file), (err: unknown) => isRingkvError(err, ErrorCode.Io) && err.message.startsWith(`data dir ${file} cannot be used: EEXIST`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
