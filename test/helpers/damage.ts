// Damage on disk, as bit rot leaves it: one byte of a file changed in place (XOR with `mask`),
// for the tests that check what CRCs, scrubs and quarantines make of it.
import * as fs from 'node:fs';

export function flipByte(file: string, offset: number, mask = 0x10): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    if (fs.readSync(fd, b, 0, 1, offset) !== 1) throw new Error(`${file} has no byte at ${offset}`);
    b[0] = b[0]! ^ mask;
    fs.writeSync(fd, b, 0, 1, offset);
  } finally {
    fs.closeSync(fd);
  }
}
