// removeGradually (src/storage/delete-scheduler.ts) on real files: a large file shrinks step by
// step before it is unlinked; a small one goes at once; a missing one is not an error;
// one with another link (a snapshot's) is only unlinked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeGradually } from '../../../src/storage/delete-scheduler';

const MiB = 1024 * 1024;

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-delete-'));
    try {
      await fn(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'a file larger than a step is truncated from the end, step by step, then unlinked',
  withDir(async (dir) => {
    const file = path.join(dir, '000007.sst');
    fs.writeFileSync(file, Buffer.alloc(2.5 * MiB, 1));
    const sizes = new Set<number>();
    let finished = false;
    const done = removeGradually(file, MiB, 200).then(() => void (finished = true));
    // Watch the sizes it passes through (each held for the 200 ms pause), bounded in time.
    const until = Date.now() + 10_000;
    while (!finished && Date.now() < until) {
      try {
        sizes.add(fs.statSync(file).size);
      } catch {
        /* unlinked between the check and the stat */
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await done;
    assert.equal(fs.existsSync(file), false);
    assert.ok(sizes.has(1.5 * MiB) && sizes.has(0.5 * MiB), `sizes seen: ${[...sizes].join(', ')}`);
    assert.ok([...sizes].every((s) => s === 2.5 * MiB || s === 1.5 * MiB || s === 0.5 * MiB), `only whole steps: ${[...sizes].join(', ')}`);
  }),
);

test(
  'a file of at most one step is unlinked at once, and a missing file is not an error',
  withDir(async (dir) => {
    const file = path.join(dir, '000008.wal');
    fs.writeFileSync(file, Buffer.alloc(MiB, 1));
    await removeGradually(file, MiB, 60_000); // a pause this long would time the test out
    assert.equal(fs.existsSync(file), false);
    await removeGradually(file, MiB, 0);
    await removeGradually(path.join(dir, 'never-there'));
  }),
);

test(
  'a file with another link (a snapshot\'s) is only unlinked: the other name keeps every byte',
  withDir(async (dir) => {
    const file = path.join(dir, '000009.sst');
    const content = Buffer.alloc(2.5 * MiB);
    for (let i = 0; i < content.length; i++) content[i] = i % 251;
    fs.writeFileSync(file, content);
    const snapshot = path.join(dir, 'snapshot-000009.sst');
    fs.linkSync(file, snapshot);
    await removeGradually(file, MiB, 60_000); // a truncation step would pause a minute: the test would time out
    assert.equal(fs.existsSync(file), false);
    assert.ok(fs.readFileSync(snapshot).equals(content), 'the snapshot\'s copy is whole');
  }),
);
