// One process at a time per data directory (LevelDB's LOCK file, db_impl.cc LockFile). Two nodes
// started on the same directory (`ringkv start` run twice, or a second node given the first one's
// --data-dir) would both recover and append to the same WAL segments, recycle and delete each
// other's files and rewrite the same manifest: the data would be lost or corrupt before either
// noticed. The second one must stop before it reads or writes anything there, with a message
// that names the directory and the holder.
//
// The lock is flock on <dir>/LOCK (native/src/file_lock.rs): the kernel drops it when the holder
// exits, however it exits, so a node killed with SIGKILL leaves nothing stale for the next start
// to clean up. The file holds the holder's pid for the message, nothing the lock relies on.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, RingkvError } from '../errors';
import { lockFile } from '../native';
import { mkdirDurably } from './durable-file';

export const dirLockFileName = 'LOCK';

export interface DirLock {
  readonly file: string;
  /** Drops the lock (closes the file); a second call does nothing. */
  release(): void;
}

/**
 * Takes `dir`'s lock, creating the directory and its LOCK file if needed. RKV_ERR_BUSY when
 * another open of that file holds it: another process, or this one through another DirLock;
 * RKV_ERR_IO when `dir` cannot be a directory (a file is there, or no permission).
 */
export function lockDir(dir: string): DirLock {
  try {
    // Durably: every later mkdirDurably of the data dir finds it there and syncs nothing, and a
    // new node's acknowledged writes are in it.
    mkdirDurably(dir);
  } catch (err) {
    // The usual operator slip: --data-dir names a file. Say so, not with a stack trace.
    throw new RingkvError(ErrorCode.Io, `data dir ${dir} cannot be used: ${(err as Error).message}`, { cause: err });
  }
  const file = path.join(dir, dirLockFileName);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  } catch (err) {
    throw new RingkvError(ErrorCode.Io, `cannot open ${file}: ${(err as Error).message}`, { cause: err });
  }
  let locked = false;
  try {
    locked = lockFile(fd);
    if (!locked) {
      const holder = holderOf(fd);
      throw new RingkvError(ErrorCode.Busy, `data dir ${dir} is in use by another ringkv node${holder === null ? '' : ` (pid ${holder})`}: ${file} is locked`, {
        details: { data_dir: dir, holder_pid: holder },
      });
    }
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, `${process.pid}\n`, 0);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  let open = true;
  return {
    file,
    release: () => {
      if (!open) return;
      open = false;
      fs.closeSync(fd);
    },
  };
}

/** The pid the holder wrote into the file, or null if it wrote none (yet). */
function holderOf(fd: number): number | null {
  const buf = Buffer.alloc(32);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  const pid = Number.parseInt(buf.subarray(0, n).toString('latin1').trim(), 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}
