// The manifest: the list of live SSTables by level, the oldest WAL segment still needed, and the
// next file number. It is rewritten whole on every change (it is small: one line per file) and
// replaced atomically: write MANIFEST.tmp, fsync it, rename over MANIFEST, fsync the directory.
// A crash at any moment leaves either the old or the new manifest, both complete and consistent
// with files on disk (new files are written and synced before the manifest names them; old
// files are deleted only after a manifest no longer names them).
//
// Layout: "RKVMAN01" (8 bytes) | u32 LE length | u32 LE crc32c(json) | JSON (utf-8) of
//   { formatVersion: 1, nextFileNumber, logNumber, levels: [[{ number, fileBytes, smallest,
//     largest, entryCount, tombstoneCount, l0Rank? }]] } with smallest/largest as hex sort keys.
// l0Rank is written only for a salvaged table (version.ts), and a manifest that has one says
// formatVersion 2, so that a build from before salvaging refuses it rather than misorder
// level 0; every other manifest stays version 1.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { levelsMax } from '../constants';
import { ErrorCode, isRingkvError, RingkvError } from '../errors';
import { crc32c } from './checksum';
import { manifestName, manifestTempName } from './filenames';
import { Version, type FileMeta } from './version';

const magic = Buffer.from('RKVMAN01', 'latin1');

export interface ManifestState {
  nextFileNumber: number;
  /** WAL segments numbered below this are no longer needed (their data is in SSTables). */
  logNumber: number;
  version: Version;
}

interface ManifestJson {
  formatVersion: number;
  nextFileNumber: number;
  logNumber: number;
  levels: { number: number; fileBytes: number; smallest: string; largest: string; entryCount: number; tombstoneCount: number; l0Rank?: number }[][];
}

export function encodeManifest(s: ManifestState): Buffer {
  const ranked = s.version.levels.some((l) => l.some((f) => f.l0Rank !== undefined));
  const json: ManifestJson = {
    formatVersion: ranked ? 2 : 1,
    nextFileNumber: s.nextFileNumber,
    logNumber: s.logNumber,
    levels: s.version.levels.map((l) =>
      l.map((f) => ({
        number: f.number,
        fileBytes: f.fileBytes,
        smallest: f.smallest.toString('hex'),
        largest: f.largest.toString('hex'),
        entryCount: f.entryCount,
        tombstoneCount: f.tombstoneCount,
        ...(f.l0Rank !== undefined && { l0Rank: f.l0Rank }),
      })),
    ),
  };
  const body = Buffer.from(JSON.stringify(json), 'utf8');
  const head = Buffer.allocUnsafe(16);
  magic.copy(head, 0);
  head.writeUInt32LE(body.length, 8);
  head.writeUInt32LE(crc32c(body), 12);
  return Buffer.concat([head, body]);
}

export function decodeManifest(file: string, buf: Buffer): ManifestState {
  const bad = (offset: number, what: string): RingkvError =>
    new RingkvError(ErrorCode.Corruption, `manifest ${file}: ${what} at offset ${offset}`, { details: { file, offset, what } });
  if (buf.length < 16 || !buf.subarray(0, 8).equals(magic)) throw bad(0, 'bad magic number');
  const len = buf.readUInt32LE(8);
  if (16 + len !== buf.length) throw bad(8, `length ${len} does not match file size ${buf.length}`);
  const body = buf.subarray(16);
  if (crc32c(body) !== buf.readUInt32LE(12)) throw bad(16, 'checksum mismatch');
  let json: ManifestJson;
  try {
    json = JSON.parse(body.toString('utf8')) as ManifestJson;
  } catch (err) {
    throw bad(16, `unparsable body (${(err as Error).message})`);
  }
  if ((json.formatVersion !== 1 && json.formatVersion !== 2) || !Array.isArray(json.levels) || json.levels.length !== levelsMax) throw bad(16, 'unknown format');
  const levels: FileMeta[][] = json.levels.map((l) =>
    l.map((f) => ({
      number: f.number,
      fileBytes: f.fileBytes,
      smallest: Buffer.from(f.smallest, 'hex'),
      largest: Buffer.from(f.largest, 'hex'),
      entryCount: f.entryCount,
      tombstoneCount: f.tombstoneCount,
      refs: 0,
      obsolete: false,
      ...(Number.isSafeInteger(f.l0Rank) && { l0Rank: f.l0Rank }),
    })),
  );
  return { nextFileNumber: json.nextFileNumber, logNumber: json.logNumber, version: new Version(levels) };
}

export function readManifest(dir: string): ManifestState | null {
  const file = path.join(dir, manifestName);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RingkvError(ErrorCode.Io, `cannot read ${file}`, { cause: err, details: { file } });
  }
  return decodeManifest(file, buf);
}

export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replaces the manifest atomically (see the header comment). */
export async function writeManifest(dir: string, s: ManifestState): Promise<void> {
  const tmp = path.join(dir, manifestTempName);
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await fh.writeFile(encodeManifest(s));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.promises.rename(tmp, path.join(dir, manifestName));
    await fsyncDir(dir);
  } catch (err) {
    throw new RingkvError(ErrorCode.Io, `${dir}: replacing MANIFEST failed at its rename or at the directory sync after it (${(err as Error).message}); the old or the new manifest may be the one in place`, {
      cause: err,
      details: { manifestMayBeInstalled: true },
    });
  }
}

/**
 * Whether a failed writeManifest may have left its new manifest in place (it failed at the rename
 * or at the directory sync after it): the tables that manifest names must then stay, even though
 * the engine goes on from the old version. LevelDB stops deleting files after any manifest error
 * for the same reason. Before the rename the old manifest is certainly the one in place.
 */
export function manifestMayBeInstalled(err: unknown): boolean {
  return isRingkvError(err, ErrorCode.Io) && err.details['manifestMayBeInstalled'] === true;
}
