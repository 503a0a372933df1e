// Proves the WAL writer's sync scheduling against a real file and real fdatasyncs: with room for
// two syncs, a write that arrives while one runs starts its own at once (with room for one, it
// waits); the first sync of a segment (which also syncs the directory) never overlaps another;
// every write resolves only after a sync that started after it; each sync's duration is recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Histogram } from '../../../src/histogram';
import { LogWriter } from '../../../src/storage/log-writer';
import { removeDir, tempDir } from './helpers';

const record = (n: number): Buffer => Buffer.alloc(4096, n);

async function withWriter(syncsInFlightMax: number, run: (w: LogWriter, h: Histogram, file: string) => Promise<void>): Promise<void> {
  const dir = tempDir('logwriter');
  const file = path.join(dir, '000001.wal');
  const h = new Histogram();
  const w = new LogWriter(file, 1, 'batch', 0, h, syncsInFlightMax);
  try {
    await run(w, h, file);
  } finally {
    await w.close();
    removeDir(dir);
  }
}

for (const max of [1, 2]) {
  test(`room for ${max} sync(s): a write arriving during a sync ${max === 2 ? 'starts its own at once' : 'waits for it'}`, async () => {
    await withWriter(max, async (w, h, file) => {
      await w.append(record(0)); // the segment's first sync, with the directory's
      assert.equal(h.count, 1);
      const a = w.append(record(1));
      assert.equal(w.syncsRunning, 1);
      const b = w.append(record(2));
      assert.equal(w.syncsRunning, max, 'the second write did not wait for the first sync');
      await Promise.all([a, b]);
      assert.equal(w.syncsRunning, 0);
      assert.equal(h.count, 3, 'one sync per write here: each came while the other sync ran');
      assert.equal(fs.statSync(file).size, 3 * 4096);
    });
  });
}

test('the first sync of a segment runs alone, even with room for more', async () => {
  await withWriter(2, async (w, h) => {
    const writes = [w.append(record(1)), w.append(record(2)), w.append(record(3))];
    assert.equal(w.syncsRunning, 1, 'the directory sync is not overlapped');
    await Promise.all(writes);
    // The writes that came during the first sync shared the next one.
    assert.equal(h.count, 2);
  });
});

test('many concurrent writers with room for two syncs all resolve, sharing syncs', async () => {
  await withWriter(2, async (w, h, file) => {
    await w.append(record(0));
    let running = 0;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      writes.push(w.append(record(i % 256)));
      running = Math.max(running, w.syncsRunning);
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(writes);
    assert.equal(running, 2, 'two syncs overlapped at some point');
    assert.ok(h.count >= 2 && h.count <= 201, `${h.count} syncs for 201 writes`);
    assert.equal(fs.statSync(file).size, 201 * 4096);
  });
});
