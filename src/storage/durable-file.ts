// Small files a node keeps in its data dir (NODE_ID, CLUSTER_NAME, ZONE, SHARDS, REBUILDING): written
// whole to a temporary file, fsynced, renamed over the name, and the directory fsynced, so a
// crash leaves the old content or the new, and once this returns the new one survives one.
// Synchronous: these are written at start, before anything else runs, or once in a node's life.
// The storage engine's quarantine uses the directory fsync too (a rare, in-line move), and new
// data, shard and hint dirs are made with mkdirDurably.
import * as fs from 'node:fs';
import * as path from 'node:path';

export function writeFileDurably(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const bytes = Buffer.from(text);
  const fd = fs.openSync(tmp, 'w');
  try {
    // write(2) may take only part (a file system filling up): the rest goes on until it fails,
    // or the file would be installed cut short.
    for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  fsyncDirSync(path.dirname(file));
}

/**
 * mkdir -p whose new directories survive a crash: each one's name is fsynced in its parent (an
 * fsync of the directory itself covers only the names inside it, on some file systems).
 */
export function mkdirDurably(dir: string): void {
  const first = fs.mkdirSync(dir, { recursive: true });
  if (first === undefined) return;
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    fsyncDirSync(path.dirname(d));
    if (d === path.resolve(first)) return;
  }
}

/** fsync(2) of a directory, so that the names it holds (a rename, a new file) survive a crash. */
export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
