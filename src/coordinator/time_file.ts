// A data-dir file that holds one time, ms since the Unix epoch on one line (LAST_RUN,
// SYNCED_SINCE): written whole and durably (a crash leaves the old time or the new), and read
// back strictly, so a damaged file is told apart from a missing one.
import * as fs from 'node:fs';
import { writeFileDurably } from '../storage/durable-file';

export function writeTimeFile(file: string, ms: number): void {
  writeFileDurably(file, `${Math.floor(ms)}\n`);
}

/**
 * The time in `file`, or null when there is no such file, or when it does not hold one (then
 * `onMalformed` hears the start of what it holds). Other read errors are thrown as they come.
 */
export function readTimeFile(file: string, onMalformed: (text: string) => void): number | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const ms = Number(text.trim());
  if (!/^\d{1,16}\n?$/.test(text) || !Number.isSafeInteger(ms)) {
    onMalformed(JSON.stringify(text.slice(0, 40)));
    return null;
  }
  return ms;
}
