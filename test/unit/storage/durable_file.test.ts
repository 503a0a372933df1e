// durable-file.ts: a new directory's name is fsynced in its parent, for every level mkdir -p made.
// A power loss cannot be staged here, so the test records which directories are opened for the
// fsync (fsyncDirSync opens each one) on the real file system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mkdirDurably } from '../../../src/storage/durable-file';
import { removeDir, tempDir } from './helpers';

test('mkdirDurably makes every missing level and fsyncs the parent of each one it made, and nothing when the dir is there', () => {
  const root = tempDir('mkdir');
  const nodeFs = require('node:fs') as typeof fs;
  const open = nodeFs.openSync;
  const opened: string[] = [];
  nodeFs.openSync = (...args: Parameters<typeof fs.openSync>): number => {
    opened.push(String(args[0]));
    return open(...args);
  };
  try {
    fs.mkdirSync(path.join(root, 'a'));
    const dir = path.join(root, 'a', 'b', 'c');
    mkdirDurably(dir);
    assert.ok(fs.statSync(dir).isDirectory());
    assert.deepEqual(opened, [path.join(root, 'a', 'b'), path.join(root, 'a')]);
    opened.length = 0;
    mkdirDurably(dir);
    assert.deepEqual(opened, [], 'an existing dir: nothing to make durable');
  } finally {
    nodeFs.openSync = open;
    removeDir(root);
  }
});
