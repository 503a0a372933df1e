// Shared helpers for the storage tests: temp dirs, a seeded PRNG, entry constructors.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StorageEntry } from '../../../src/storage/types';

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
