// Child process for test/process/durable-file.test.ts, run inside a private mount namespace on a
// small tmpfs (argv[2]) with about one page free: writes a small state file there with
// writeFileDurably, larger than what is free, and prints as one JSON line what it threw and what
// the file system then held under the file's name.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileDurably } from '../../../src/storage/durable-file';

const mount = process.argv[2]!;
const file = path.join(mount, 'PEERS');
const textBytes = 3 * 4096;
let thrown: string | null = null;
try {
  writeFileDurably(file, 'p'.repeat(textBytes));
} catch (err) {
  thrown = (err as NodeJS.ErrnoException).code ?? String(err);
}
const installedBytes = fs.existsSync(file) ? fs.statSync(file).size : null;
process.stdout.write(`${JSON.stringify({ thrown, installedBytes, textBytes, leftovers: fs.readdirSync(mount).filter((n) => n !== 'ballast') })}\n`);
