// Proves hint files on a full disk lose nothing that was written and never leave a torn record:
// a hint whose write fails stays queued in memory (the node still delivers it while it runs), the
// file is cut back to its last whole record, and a restart while the disk is still full keeps the
// files it could not rewrite, so a later start with room finds every hint that was written; a
// clean stop whose compaction cannot rewrite the live hints keeps the files they are in, and one
// with room again writes down the hints held in memory only. Runs a child
// (helpers/hints-full-child.ts) on a small tmpfs in a private mount namespace.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runChildOnTmpfs } from '../helpers/tmpfs_child';

const child = path.join(__dirname, 'helpers', 'hints-full-child.js');
const fsBytes = 512 * 1024;
const ballastBytes = 320 * 1024;
const valueBytes = 8 * 1024; // as the child writes

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('hints on a full disk: failed writes stay in memory, no torn record, a full restart or a clean stop keeps the files, and a stop with room again writes what was held in memory', async () => {
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-hints-full-'));
  dirs.push(mountPoint);
  const run = await runChildOnTmpfs(child, mountPoint, fsBytes, ballastBytes);
  assert.equal(run.code, 0, `child failed:\n${run.stderr}`);
  const r = JSON.parse(run.stdout) as {
    added: number;
    queuedAfterFailure: number;
    writeFailures: number;
    torn: Array<unknown>;
    filesAfterFirst: string[];
    recoveredWhileFull: number;
    filesAfterFullReopen: string[];
    keys: string[];
    freeBeforeStop: number;
    keysAfterFullStop: string[];
    memoryKeys: string[];
    memoryWriteFailures: number;
    keysAfterRoom: string[];
    lines: string[];
  };
  assert.ok(r.writeFailures >= 1 && r.added > 5, `${r.added} hints added before a write failed`);
  assert.equal(r.queuedAfterFailure, r.added, 'the hint whose write failed is still queued');
  assert.ok(r.torn.every((t) => t === null), `no torn record: ${JSON.stringify(r.torn)}`);
  const written = r.added - 1;
  assert.equal(r.recoveredWhileFull, written, 'every written hint read back while the disk is full');
  for (const f of r.filesAfterFirst) assert.ok(r.filesAfterFullReopen.includes(f), `${f} kept by a restart that could not rewrite it`);
  assert.match(r.lines.join('\n'), /could not rewrite the recovered hints; keeping \d+ old files/);
  assert.deepEqual(r.keys, Array.from({ length: written }, (_, i) => `k${i}`));
  // The stop's compaction (k0 delivered) could not write the other hints again: before, it
  // deleted the file they were in all the same, and the next start found none.
  assert.ok(r.freeBeforeStop < valueBytes * (written - 1), `the disk was full at the stop: ${r.freeBeforeStop} bytes free`);
  for (let i = 1; i < written; i++) assert.ok(r.keysAfterFullStop.includes(`k${i}`), `k${i} kept through a stop on a full disk: ${r.keysAfterFullStop.join(',')}`);
  assert.match(r.lines.join('\n'), /could not rewrite the hints of 1 files; keeping them/);
  // Hints whose writes failed: once there is room, the clean stop writes them down too.
  assert.ok(r.memoryWriteFailures >= 2, `${r.memoryWriteFailures} writes failed`);
  for (const k of r.memoryKeys) assert.ok(r.keysAfterRoom.includes(k), `${k}, held in memory only, written by the stop: ${r.keysAfterRoom.join(',')}`);
});
