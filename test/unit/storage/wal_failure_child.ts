// Run by wal-failure.test.ts in a process whose file size limit (ulimit -f) is below a WAL
// segment's: a WAL write then fails with EFBIG, a real failure that is not a lack of space. It
// writes one key over and over (the WAL grows, the memtable does not) until a write fails, asks
// for a flush (the memtable switch that gives the engine a new segment), writes once more, and
// prints what each step answered as one JSON line.
import { openStorage } from '../../../src/storage';
import { put } from './helpers';

// The kernel signals a write past the limit; ignored, the write fails with EFBIG instead.
process.on('SIGXFSZ', () => undefined);

async function main(): Promise<void> {
  const dir = process.argv[2]!;
  const db = await openStorage({ dir, syncMode: 'none' });
  const value = Buffer.alloc(1024, 0x61);
  let failure: string | null = null;
  let writes = 0;
  for (; writes < 10_000 && failure === null; writes++) {
    try {
      await db.write([put('k', value)]);
    } catch (err) {
      failure = (err as Error).message;
    }
  }
  const step = async (f: () => Promise<unknown>): Promise<string> => {
    try {
      await f();
      return 'ok';
    } catch (err) {
      return (err as Error).message;
    }
  };
  const flush = await step(() => db.flush());
  const after = await step(() => db.write([put('after', 'v')]));
  const read = await step(async () => {
    if ((await db.get(Buffer.from('k'))) === null) throw new Error('k not found');
  });
  await db.close().catch(() => undefined);
  process.stdout.write(`${JSON.stringify({ writes, failure, flush, after, read })}\n`);
}

void main();
