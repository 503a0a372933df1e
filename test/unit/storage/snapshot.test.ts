// Proves LsmEngine.snapshot: after it, the snapshot folder opens as an engine of its own holding
// exactly what the engine held at the snapshot (its memtable flushed into it too), whatever the
// engine does next: overwrites, deletes, and a compaction that deletes the tables the snapshot
// links to. Those tables are larger than the delete scheduler's truncation step, so a deletion
// that truncated before unlinking would empty the snapshot's copies (it only unlinks a file
// with another link). A snapshot never overwrites another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileDeleteStepBytes } from '../../../src/constants';
import { openStorage } from '../../../src/storage';
import { del, put, removeDir, tempDir } from './helpers';

const value = (i: number, tag: string): string => `${tag}-${i}-`.padEnd(2048, String.fromCharCode(97 + (i % 26)));

test('a snapshot opens as the engine was at the snapshot, after overwrites, deletes and a compaction that deleted its tables here', async () => {
  const dir = tempDir('snap');
  const snap = path.join(dir, 'snap-1');
  const keys = 4000; // 4000 x 2 KiB: a table over one truncation step
  try {
    const db = await openStorage({ dir: path.join(dir, 'live'), syncMode: 'none', autoCompaction: false });
    try {
      for (let i = 0; i < keys; i += 500) await db.write(Array.from({ length: 500 }, (_, k) => put(`k${i + k}`, value(i + k, 'v1'))));
      await db.flush();
      await db.write([put('in-memtable', 'only in the memtable at the snapshot')]);
      const made = await db.snapshot(snap);
      assert.ok(made.tables >= 2 && made.bytes > fileDeleteStepBytes, JSON.stringify(made));
      await assert.rejects(db.snapshot(snap), /EEXIST/, 'a snapshot never overwrites another');

      for (let i = 0; i < keys; i += 500) await db.write(Array.from({ length: 500 }, (_, k) => ((i + k) % 3 === 0 ? del(`k${i + k}`) : put(`k${i + k}`, value(i + k, 'v2')))));
      await db.write([put('after', 'x')]);
      await db.compact(); // rewrites everything and deletes every table the snapshot links to
      const linked = fs.readdirSync(snap).filter((n) => n.endsWith('.sst'));
      assert.ok(linked.every((n) => !fs.existsSync(path.join(dir, 'live', n))), 'the live engine no longer has them');
    } finally {
      await db.close();
    }
    const back = await openStorage({ dir: snap, syncMode: 'none', autoCompaction: false });
    try {
      for (let i = 0; i < keys; i += 37) assert.equal(Buffer.from((await back.get(Buffer.from(`k${i}`)))!.value).toString(), value(i, 'v1'), `k${i}`);
      assert.equal(Buffer.from((await back.get(Buffer.from('in-memtable')))!.value).toString(), 'only in the memtable at the snapshot');
      assert.equal(await back.get(Buffer.from('after')), null);
      assert.deepEqual((await back.scrub()).corrupt, [], 'every linked table is whole');
    } finally {
      await back.close();
    }
  } finally {
    removeDir(dir); // whatever failed, nothing is left in /tmp
  }
});
