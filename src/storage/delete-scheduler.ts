// Deletes an obsolete file a few MiB at a time (RocksDB's DeleteScheduler, bytes_max_delete_chunk).
// Unlinking a large file frees all its blocks in one journal commit (and, on a file system mounted
// with `discard`, trims them there), and every WAL fdatasync of every shard on that file system
// waits behind that commit. Truncating it from the end in fileDeleteStepBytes steps, a pause
// between, spreads that work over many small commits. An ad-hoc probe on this machine's disk
// (WAL fdatasyncs every 2.5 ms while 64 MiB files were deleted every 1.5 s): unlink at once p999
// 15-38 ms, max 18-47 ms; 4 MiB steps 20 ms apart p999 7 ms, max 9-10 ms. bench/table-io.bench.ts
// measures it beside table writes.
//
// Only obsolete files come here (never named by a live manifest), so a crash midway leaves a
// shorter orphan that open() removes like any other. A file with another link (a snapshot's,
// LsmEngine.snapshot, or an operator's hard-link backup) is only unlinked: truncating it would
// empty the other name too, since both are one inode, and unlinking it frees no blocks anyway.
import * as fs from 'node:fs';
import { fileDeletePauseMs, fileDeleteStepBytes } from '../constants';

/** Truncates `file` in steps, then unlinks it. A file that is already gone is not an error. */
export async function removeGradually(file: string, stepBytes: number = fileDeleteStepBytes, pauseMs: number = fileDeletePauseMs): Promise<void> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    const st = await handle.stat();
    let size = st.nlink > 1 ? 0 : st.size;
    while (stepBytes > 0 && size > stepBytes) {
      size -= stepBytes;
      await handle.truncate(size);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  } finally {
    await handle.close();
  }
  await fs.promises.rm(file, { force: true });
}
