// The last sync of a WAL segment happens at its close: at the engine's close for the current
// segment (what makes a 'none' segment's writes durable at a clean shutdown), and after a memtable
// switch for the one left behind. Its failure was ignored, so a shutdown whose final sync failed
// ended as if every write were safe. The failures are real: the segment's name is a symlink to
// /dev/null, where write(2) succeeds and fdatasync(2) fails with EINVAL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { openStorage, type StorageEngine } from '../../../src/storage';
import { walPath } from '../../../src/storage/filenames';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { put, removeDir, tempDir } from './helpers';

/** Makes the engine's next WAL segment (the next file number after its current one) /dev/null. */
function nextSegmentIsDevNull(dir: string): void {
  const numbers = fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .map((n) => Number(n.slice(0, -4)));
  assert.equal(numbers.length, 1, 'one WAL segment after open');
  fs.symlinkSync('/dev/null', walPath(dir, numbers[0]! + 1));
}

const failedAtClose = (err: unknown): boolean => isRingkvError(err, ErrorCode.Io) && /WAL fdatasync at close failed/.test(err.message);

test("a failed final sync of the current WAL segment fails the engine's close", async () => {
  const dir = tempDir('walclose');
  try {
    const db = await openStorage({ dir, syncMode: 'none' });
    await db.write([put('a', 'before')]);
    nextSegmentIsDevNull(dir);
    await db.flush(); // the memtable switch opens the next segment: /dev/null
    await db.write([put('b', 'unsynced')]);
    await assert.rejects(db.close(), failedAtClose);
  } finally {
    removeDir(dir);
  }
});

test('a failed final sync of a segment a memtable switch left behind fails the engine for writes, as a failed sync does; reads go on', async () => {
  // LevelDB's MakeRoomForWrite records a failed close of the old log as a background error too.
  const dir = tempDir('walswitch');
  let db: StorageEngine | null = null;
  try {
    db = await openStorage({ dir, syncMode: 'none' });
    await db.write([put('a', 'before')]);
    nextSegmentIsDevNull(dir);
    await db.flush(); // the memtable switch opens the next segment: /dev/null
    await db.write([put('k', 'in the failed segment')]);
    // Leaves the /dev/null segment behind, closing in the background: the flush waiting on the
    // engine, or a write after it, meets the failure.
    let refusal = await db.flush().then(
      () => null,
      (err: unknown) => err,
    );
    for (let i = 0; i < 200 && refusal === null; i++) {
      try {
        await db.write([put(`after-${i}`, 'v')]);
        await new Promise((r) => setTimeout(r, 5));
      } catch (err) {
        refusal = err;
      }
    }
    assert.ok(failedAtClose(refusal), `the failed close is reported: ${String(refusal)}`);
    await assert.rejects(db.write([put('later', 'v')]), failedAtClose);
    assert.equal(Buffer.from((await db.get(Buffer.from('k')))!.value).toString(), 'in the failed segment');
    await db.close(); // the current segment is a real file: its own close succeeds
    db = null;
  } finally {
    await db?.close().catch(() => undefined);
    removeDir(dir);
  }
});
