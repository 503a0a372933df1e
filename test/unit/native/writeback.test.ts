// syncFileRange (native/src/writeback.rs) on real files: it writes a range out without changing
// the file, refuses what is not an open descriptor with RKV_ERR_IO and bad numbers with
// RKV_ERR_INVALID_ARGUMENT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { syncFileRange } from '../../../src/native';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { prng, randomBytes, throwsCode } from './helpers';

test('syncFileRange writes a range of a file out and leaves its bytes as they were', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-writeback-'));
  try {
    const file = path.join(dir, 'f');
    const bytes = randomBytes(prng(7), 3 * 1024 * 1024 + 123);
    const fd = fs.openSync(file, 'w');
    try {
      fs.writeSync(fd, bytes);
      const linux = process.platform === 'linux';
      assert.equal(syncFileRange(fd, 0, 1024 * 1024), linux);
      assert.equal(syncFileRange(fd, 1024 * 1024, bytes.length - 1024 * 1024), linux);
      // Past the end of the file there is nothing to write, which is not an error.
      assert.equal(syncFileRange(fd, 2 ** 40, 4096), linux);
    } finally {
      fs.closeSync(fd);
    }
    assert.deepEqual(fs.readFileSync(file), bytes);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('syncFileRange refuses a closed descriptor (where it exists) and out-of-range numbers', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-writeback-'));
  try {
    const fd = fs.openSync(path.join(dir, 'f'), 'w');
    fs.closeSync(fd);
    if (process.platform === 'linux') {
      throwsCode(() => syncFileRange(fd, 0, 4096), ErrorCode.Io);
      // The errno travels by name, as Node's own I/O errors carry it (ENOSPC must read as a full disk).
      assert.throws(() => syncFileRange(fd, 0, 4096), (e: unknown) => isRingkvError(e, ErrorCode.Io) && e.details['errno'] === 'EBADF');
    }
    else assert.equal(syncFileRange(fd, 0, 4096), false);
    throwsCode(() => syncFileRange(-1, 0, 4096), ErrorCode.InvalidArgument);
    throwsCode(() => syncFileRange(0, 1.5, 4096), ErrorCode.InvalidArgument);
    throwsCode(() => syncFileRange(0, 0, 2 ** 53), ErrorCode.InvalidArgument);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
