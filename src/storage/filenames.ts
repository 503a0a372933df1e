// Every file name the engine creates is built and parsed here (LevelDB's db/filename.h), so the
// directory layout is one screen: NNNNNN.wal segments, NNNNNN.sst tables, MANIFEST (+ .tmp while
// being replaced). Numbers come from one counter kept in the manifest and never repeat.
import * as path from 'node:path';

export const manifestName = 'MANIFEST';
export const manifestTempName = 'MANIFEST.tmp';
/** Where tables found corrupt are moved (db.ts quarantineTable); open() leaves the folder alone. */
export const quarantineDirName = 'quarantine';

function pad(n: number): string {
  return String(n).padStart(6, '0');
}

export function walPath(dir: string, n: number): string {
  return path.join(dir, `${pad(n)}.wal`);
}

export function tablePath(dir: string, n: number): string {
  return path.join(dir, `${pad(n)}.sst`);
}

export type FileKind = 'wal' | 'sst' | 'temp';

/** Parses a directory entry; null for names the engine does not own. */
export function parseFileName(name: string): { kind: FileKind; number: number } | null {
  const m = /^(\d{6,})\.(wal|sst|sst\.tmp)$/.exec(name);
  if (!m) return null;
  const kind: FileKind = m[2] === 'wal' ? 'wal' : m[2] === 'sst' ? 'sst' : 'temp';
  return { kind, number: Number(m[1]) };
}
