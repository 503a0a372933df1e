// Shared helpers for the storage tests: temp dirs, a seeded PRNG, entry constructors, damage to
// a table's data block.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeBlock, newBlockScratch } from '../../../src/storage/iterators';
import { tokenBytes } from '../../../src/storage/sort-key';
import { Table } from '../../../src/storage/table';
import type { StorageEntry } from '../../../src/storage/types';
import { flipByte } from '../../helpers/damage';

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rkv-storage-${tag}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export { mulberry32 as prng } from '../../helpers/prng';

export function put(key: string, value: string | Uint8Array, opts: Partial<StorageEntry> = {}): StorageEntry {
  return {
    key: Buffer.from(key),
    value: typeof value === 'string' ? Buffer.from(value) : value,
    timestampMs: 1_000,
    versionVector: Buffer.from([1, 2, 3]),
    tombstone: false,
    expiresAtMs: 0,
    ...opts,
  };
}

export function del(key: string, opts: Partial<StorageEntry> = {}): StorageEntry {
  return { ...put(key, '', opts), tombstone: true, value: Buffer.alloc(0) };
}

/** The user keys in data block `i` of table `file` (read before it is damaged). */
export function keysOfBlock(file: string, i: number): Set<string> {
  const t = Table.open(file, Number(path.basename(file, '.sst')));
  try {
    const s = newBlockScratch();
    const n = decodeBlock(file, t.indexHandles[i]!.offset, t.readBlock(i, null), s);
    const out = new Set<string>();
    for (let j = 0; j < n; j++) out.add(s.keys.subarray(j === 0 ? 0 : s.offsets[3 * j - 3]!, s.offsets[3 * j]!).subarray(tokenBytes).toString());
    return out;
  } finally {
    t.close();
  }
}

/** Flips a byte inside data block `i` of `file`; returns the keys that block held. */
export function damageBlock(file: string, i: number): Set<string> {
  const lost = keysOfBlock(file, i);
  const t = Table.open(file, Number(path.basename(file, '.sst')));
  const offset = t.indexHandles[i]!.offset + 10;
  t.close();
  flipByte(file, offset);
  return lost;
}
