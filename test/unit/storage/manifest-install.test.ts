// Proves what the engine does when installing a new manifest fails (manifest.ts writeManifest,
// db.ts abandonOutput), with real failures from the file system: an immutable file (chattr +i)
// makes the rename over MANIFEST, or the open of MANIFEST.tmp, fail with EPERM, even for root.
// From the rename on, the new manifest may be the one in place (a directory sync failing after
// a good rename looks the same to the engine), so the tables it names must stay; before the
// rename the old one certainly is, and a flushed table is deleted and no longer held open.
// Either way the data comes back whole after a reopen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStorage, type StorageEngine } from '../../../src/storage';
import { put, removeDir, tempDir } from './helpers';

const immutable = (file: string, on: boolean): void => void execFileSync('chattr', [on ? '+i' : '-i', file]);
const tables = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.sst')).sort();
/** Tables this process holds open that are gone from the directory (their space is not freed). */
const deletedTablesHeldOpen = (): string[] =>
  fs.readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      return target.includes('.sst') && target.endsWith('(deleted)') ? [target] : [];
    } catch {
      return []; // closed meanwhile
    }
  });

async function readsAll(db: StorageEngine, n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const e = await db.get(Buffer.from(`k-${i}`));
    assert.equal(e === null ? null : Buffer.from(e.value).toString(), `${tag}-${i}`, `k-${i}`);
  }
}

test('a flush and a compaction whose manifest rename fails keep the tables it names; a reopen reads everything and drops them', async () => {
  const dir = tempDir('manifest-rename');
  const manifest = path.join(dir, 'MANIFEST');
  let db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
  try {
    const n = 300;
    await db.write(Array.from({ length: n }, (_, i) => put(`k-${i}`, `a-${i}`)));
    await db.flush();
    await db.write(Array.from({ length: n }, (_, i) => put(`k-${i}`, `b-${i}`)));
    const before = tables(dir);
    immutable(manifest, true);
    try {
      await assert.rejects(db.flush(), /MANIFEST/);
      const made = tables(dir).filter((t) => !before.includes(t));
      assert.equal(made.length, 1, `the flushed table stays: ${tables(dir).join(' ')}`);
      await db.close().catch(() => undefined);
    } finally {
      immutable(manifest, false);
    }
    db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
    await readsAll(db, n, 'b');

    // Two tables in level 0, and a compaction of them whose install fails at the rename.
    await db.flush();
    const inputs = tables(dir);
    assert.ok(inputs.length >= 2, inputs.join(' '));
    immutable(manifest, true);
    try {
      await db.compact().catch(() => undefined);
      await assert.rejects(db.write([put('k-0', 'c-0')]), /MANIFEST/, 'the engine stops taking writes');
      const now = tables(dir);
      for (const t of inputs) assert.ok(now.includes(t), `input ${t} stays`);
      assert.ok(now.length > inputs.length, `the compaction's output stays: ${now.join(' ')}`);
      await db.close().catch(() => undefined);
    } finally {
      immutable(manifest, false);
    }
    db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
    await readsAll(db, n, 'b');
    assert.deepEqual(tables(dir), inputs, 'the tables the old manifest does not name are gone');
  } finally {
    await db.close().catch(() => undefined);
    removeDir(dir);
  }
});

test('a flush whose manifest cannot be written at all deletes its table and holds no descriptor to it', async () => {
  const dir = tempDir('manifest-tmp');
  const tmp = path.join(dir, 'MANIFEST.tmp');
  let db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
  try {
    const n = 300;
    await db.write(Array.from({ length: n }, (_, i) => put(`k-${i}`, `a-${i}`)));
    fs.writeFileSync(tmp, '');
    immutable(tmp, true);
    try {
      await assert.rejects(db.flush(), /MANIFEST|EPERM|not permitted/);
      assert.deepEqual(tables(dir), [], 'the table no manifest names is deleted');
      assert.deepEqual(deletedTablesHeldOpen(), [], 'and not held open');
      await db.close().catch(() => undefined);
    } finally {
      immutable(tmp, false);
    }
    db = await openStorage({ dir, syncMode: 'none', autoCompaction: false });
    await readsAll(db, n, 'a');
  } finally {
    await db.close().catch(() => undefined);
    removeDir(dir);
  }
});
