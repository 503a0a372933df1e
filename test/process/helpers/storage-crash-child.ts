// Child process for test/process/storage-crash.test.ts: writes to a storage engine and prints
// "ACK <i>" on stdout once write i is acknowledged, until the parent SIGKILLs it. Key of write i
// is k<i % keys>, its value names i, so the parent can check that what survives is at least as
// new as the last acknowledged write of each key. In 'flush' and 'compaction' scenarios it forces
// that work continually and prints "BUSY flush|compaction" as it starts one (the job is posted to
// the engine's background thread before the next line runs) and "DONE <flushes> <compactions>"
// with the engine's counts of completed background jobs after each.
import { openStorage } from '../../../src/storage';
import type { SyncMode } from '../../../src/storage/types';

async function main(): Promise<void> {
  const [dir, syncMode, scenario, seedText] = process.argv.slice(2);
  const seed = Number(seedText);
  const db = await openStorage({
    dir: dir!,
    syncMode: syncMode as SyncMode,
    memtableBytes: 64 * 1024,
    sstableFileBytes: 32 * 1024,
    levelBaseBytes: 128 * 1024,
    compactionBytesPerSec: 0,
  });
  const keys = 400;
  const concurrency = 8;
  let next = 0;
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  out('READY');
  const writer = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const value = Buffer.from(`v${i}-${seed}-${'p'.repeat(50 + (i % 200))}`);
      await db.write([{ key: Buffer.from(`k${i % keys}`), value, timestampMs: i, versionVector: Buffer.from([i & 0xff]), tombstone: false, expiresAtMs: 0 }]);
      out(`ACK ${i}`);
    }
  };
  const forcer = async (): Promise<void> => {
    for (;;) {
      await new Promise((r) => setTimeout(r, 20));
      if (scenario === 'flush') {
        out('BUSY flush');
        await db.flush();
      } else if (scenario === 'compaction') {
        out('BUSY compaction');
        await db.compact();
      }
      const s = db.stats();
      out(`DONE ${s.flushes} ${s.compactions}`);
    }
  };
  const workers = Array.from({ length: concurrency }, writer);
  if (scenario !== 'writes') workers.push(forcer());
  await Promise.all(workers);
}

main().catch((err) => {
  process.stderr.write(`child failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
