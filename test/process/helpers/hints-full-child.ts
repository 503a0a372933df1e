// Child process for test/process/hints-full.test.ts, run inside a private mount namespace on a
// small tmpfs (argv[2]) that a ballast file (argv[2]/ballast) mostly fills. Takes a hint store
// with files through a full disk and prints what it saw as one JSON line:
//  1. hints are added until their writes fail: the failed ones stay queued in memory, the file
//     keeps only whole records;
//  2. a reopen while the disk is still full cannot rewrite the recovered hints, so it keeps the
//     old files instead of deleting them;
//  3. with the ballast gone, a reopen finds every hint that was written;
//  4. a clean stop on a full disk whose files hold a delivered hint: the compaction cannot
//     rewrite the live hints, so it keeps the files they are in; a reopen with room finds them;
//  5. hints whose writes failed (in memory only) are written by a clean stop once there is room.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HintStore } from '../../../src/coordinator/hinted_handoff';
import { readWalSegment } from '../../../src/storage/log-reader';

const valueBytes = 8 * 1024;
const hintsMax = 200;
const mount = process.argv[2]!;
const dir = path.join(mount, 'hints');
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const record = (i: number) => ({ versionVector: Buffer.from([1, i & 0xff]), value: Buffer.alloc(valueBytes, i & 0xff), tombstone: false });
const lines: string[] = [];
const open = (): HintStore => HintStore.open({ merge: (_older, newer) => newer }, { dir, log: (l) => lines.push(l) });
const segments = (): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort();

async function main(): Promise<void> {
  const s = open();
  let added = 0;
  while (added < hintsMax && s.stats().hintWriteFailures === 0) {
    s.add('n1', Buffer.from(`k${added}`), record(added));
    added++;
    await turn();
  }
  const failed = s.stats();
  const torn = segments().map((f) => readWalSegment(path.join(dir, f), false).tornTail);
  await s.close();
  const filesAfterFirst = segments();

  const full = open();
  const recoveredWhileFull = full.size();
  await full.close();
  const filesAfterFullReopen = segments();

  fs.rmSync(path.join(mount, 'ballast'));
  const roomy = open();
  const keys = roomy.peek('n1', hintsMax).map((h) => Buffer.from(h.key).toString());
  const free = (): number => {
    const st = fs.statfsSync(mount);
    return st.bavail * st.bsize;
  };
  fs.writeFileSync(path.join(mount, 'ballast'), Buffer.alloc(Math.max(0, free() - 8192)));
  const freeBeforeStop = free();
  roomy.delivered('n1', roomy.peek('n1', 1)[0]!);
  await roomy.close();
  fs.rmSync(path.join(mount, 'ballast'));
  const afterStop = open();
  const keysAfterFullStop = afterStop.peek('n1', hintsMax).map((h) => Buffer.from(h.key).toString());
  await afterStop.close();

  fs.writeFileSync(path.join(mount, 'ballast'), Buffer.alloc(Math.max(0, free() - 8192)));
  const memory = open();
  const failuresBefore = memory.stats().hintWriteFailures;
  const memoryKeys: string[] = [];
  // Until two writes have failed: the hints of both stay in memory only.
  while (memoryKeys.length < hintsMax && memory.stats().hintWriteFailures < failuresBefore + 2) {
    const k = `m${memoryKeys.length}`;
    memory.add('n1', Buffer.from(k), record(memoryKeys.length));
    memoryKeys.push(k);
    await turn();
  }
  const memoryWriteFailures = memory.stats().hintWriteFailures - failuresBefore;
  fs.rmSync(path.join(mount, 'ballast'));
  await memory.close();
  const afterRoom = open();
  const keysAfterRoom = afterRoom.peek('n1', 2 * hintsMax).map((h) => Buffer.from(h.key).toString());
  await afterRoom.close();
  process.stdout.write(
    JSON.stringify({ added, queuedAfterFailure: failed.hintsQueued, writeFailures: failed.hintWriteFailures, torn, filesAfterFirst, recoveredWhileFull, filesAfterFullReopen, keys, freeBeforeStop, keysAfterFullStop, memoryKeys, memoryWriteFailures, keysAfterRoom, lines }) + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
