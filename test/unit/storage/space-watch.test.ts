// Proves how the engine tells a full disk from other failures (which errors resume by themselves
// and which stay sticky), and that the space watch calls back once enough is free and backs off
// for episodes that follow each other closely. The engine's out-of-space behaviour on a real small
// file system is in test/process/storage-full.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { spaceCheckMs } from '../../../src/constants';
import { ErrorCode, RingkvError } from '../../../src/errors';
import { fromWireError, toWireError } from '../../../src/storage/background-messages';
import { SpaceWatch, isNoSpaceError } from '../../../src/storage/space-watch';

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: failed, write`), { code });

test('a full disk is told apart from other failures, also across the background thread', () => {
  assert.equal(isNoSpaceError(errno('ENOSPC')), true);
  assert.equal(isNoSpaceError(errno('EDQUOT')), true);
  assert.equal(isNoSpaceError(errno('EIO')), false);
  assert.equal(isNoSpaceError(new Error('wrapped', { cause: errno('ENOSPC') })), true);
  assert.equal(isNoSpaceError(new RingkvError(ErrorCode.NoSpace, 'full')), true);
  // A background job's ENOSPC arrives as an Io error carrying the errno.
  assert.equal(isNoSpaceError(fromWireError(toWireError(errno('ENOSPC')), 'flush')), true);
  assert.equal(isNoSpaceError(fromWireError(toWireError(errno('EIO')), 'flush')), false);
  // A RingkvError has been classified: a sticky Io error caused by ENOSPC (a failed fsync, a
  // partial record that could not be cut off) stays sticky.
  assert.equal(isNoSpaceError(new RingkvError(ErrorCode.Io, 'WAL fdatasync failed', { cause: errno('ENOSPC') })), false);
  assert.equal(isNoSpaceError(null), false);
});

test('the space watch calls back once enough is free, and backs off for an episode right after another', async () => {
  let calls = 0;
  let wake: () => void = () => undefined;
  const watch = new SpaceWatch(os.tmpdir(), () => {
    calls++;
    wake();
  });
  watch.start(() => 0);
  assert.equal(watch.watching, true);
  assert.equal(watch.intervalMs, spaceCheckMs);
  // The watch's timer is unref'd (it must not keep a shard's thread alive): this one waits.
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('the watch never called back')), 10 * spaceCheckMs);
    wake = () => {
      clearTimeout(deadline);
      resolve();
    };
  });
  assert.equal(calls, 1);
  assert.equal(watch.watching, false);
  // The next episode starts at once: twice the interval, then it is stopped by hand.
  watch.start(() => Number.MAX_SAFE_INTEGER);
  assert.equal(watch.intervalMs, 2 * spaceCheckMs);
  watch.stop();
  watch.start(() => Number.MAX_SAFE_INTEGER);
  assert.equal(watch.intervalMs, 4 * spaceCheckMs);
  watch.stop();
  assert.equal(calls, 1);
});
