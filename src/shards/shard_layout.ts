// The shard layout of a data directory: `<dataDir>/SHARDS`, a small JSON file naming the shard
// count and the mapping, written once when the directory is first used. A restart with another
// shard count would send keys to shards that do not hold them (reads would miss data written
// before), so it fails with a clear error instead; moving to another count needs a re-shard,
// which ringkv does not do in place.
//
// Shard i keeps its engine in `<dataDir>/shard-<i>` (zero-padded to 3 digits).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, RingkvError } from '../errors';
import { mkdirDurably, writeFileDurably } from '../storage/durable-file';

export const layoutFileName = 'SHARDS';
const mapping = 'token-range-v1';

interface LayoutFile {
  format: 1;
  mapping: string;
  shardCount: number;
}

export function shardDir(dataDir: string, index: number): string {
  return path.join(dataDir, `shard-${String(index).padStart(3, '0')}`);
}

/**
 * Checks (or, for a new directory, records) that `dataDir` holds `shardCount` shards. With
 * `shardCount` undefined, returns the recorded count, or `fallback` for a new directory.
 */
export function ensureLayout(dataDir: string, shardCount: number | undefined, fallback: number): number {
  mkdirDurably(dataDir);
  const file = path.join(dataDir, layoutFileName);
  let text: string | null = null;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new RingkvError(ErrorCode.Io, `cannot read ${file}`, { cause: err });
  }
  if (text !== null) {
    let parsed: LayoutFile;
    try {
      parsed = JSON.parse(text) as LayoutFile;
    } catch (cause) {
      throw new RingkvError(ErrorCode.Corruption, `${file} is not valid JSON`, { cause });
    }
    if (parsed.format !== 1 || parsed.mapping !== mapping || !Number.isInteger(parsed.shardCount) || parsed.shardCount < 1) {
      throw new RingkvError(ErrorCode.Corruption, `${file} names an unknown shard layout: ${text.trim()}`);
    }
    if (shardCount !== undefined && shardCount !== parsed.shardCount) {
      throw new RingkvError(
        ErrorCode.InvalidArgument,
        `data dir ${dataDir} was created with ${parsed.shardCount} shards; start with ${parsed.shardCount} shards (re-sharding in place is not supported)`,
        { details: { recorded_shards: parsed.shardCount, requested_shards: shardCount } },
      );
    }
    return parsed.shardCount;
  }
  const count = shardCount ?? fallback;
  const body: LayoutFile = { format: 1, mapping, shardCount: count };
  // Never half a layout file, and never none once shards hold data by it (the directory is
  // synced too: a lost rename would let the next start lay the shards out anew).
  writeFileDurably(file, `${JSON.stringify(body)}\n`);
  return count;
}
