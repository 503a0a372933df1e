// Every message that crosses between the engine thread and its background thread
// (background.ts ⇄ background-worker.ts), and the checks each side runs on what it receives.
// Jobs go one way, one reply per job comes back; byte arrays arrive as plain Uint8Arrays
// (structured clone drops the Buffer prototype), so receivers wrap them before use.
import { ErrorCode, RingkvError, assert } from '../errors';
import type { ThreadMemory } from '../thread_memory';
import type { BuiltTable } from './table-builder';

/** What the background thread is started with. */
export interface BackgroundInit {
  dir: string;
  /** BackgroundControl's SharedArrayBuffer. */
  control: SharedArrayBuffer;
  bloomBitsPerKey: number;
}

/**
 * A sorted run of (sort key, payload) pairs: an immutable memtable, flattened. Entry i's sort key
 * is keys[keyOffsets[i]..keyOffsets[i+1]) (copied, transferred); its payload is valueLengths[i]
 * bytes at valueOffsets[i] in valueBuffers[valueBuffer[i]], shared memory that the engine thread
 * leaves unchanged until the flush is done (the memtable's arena chunks, arena.ts), so payloads
 * are never copied to cross. Sort keys strictly increasing, one entry per key.
 */
export interface PackedRun {
  count: number;
  keys: Uint8Array;
  keyOffsets: Uint32Array;
  valueBuffers: SharedArrayBuffer[];
  valueBuffer: Uint32Array;
  valueOffsets: Uint32Array;
  valueLengths: Uint32Array;
}

/** Write one level-0 table from an immutable memtable. */
export interface FlushJob {
  kind: 'flush';
  id: number;
  run: PackedRun;
}

export interface KeyRange {
  smallest: Uint8Array;
  largest: Uint8Array;
}

/** Merge input tables into new tables for level + 1 (compaction.ts picks, compactor.ts runs). */
export interface CompactJob {
  kind: 'compact';
  id: number;
  /** Input level; outputs belong to level + 1. */
  level: number;
  /**
   * Inputs as merge children, highest priority (newest data) first; each child is a list of
   * tables with disjoint ranges in key order (one L0 table, or a level's files).
   */
  runs: { number: number; largest: Uint8Array }[][];
  /** For each level below the output level, its files' ranges in key order (tombstone dropping). */
  levelsBelow: KeyRange[][];
  /** The engine clock when the job was made: TTL expiry and tombstone grace are judged at it. */
  nowMs: number;
  tombstoneGraceMs: number;
  tableFileBytes: number;
  /** Write budget in bytes per second; 0 = unthrottled (manual compactions run unthrottled). */
  bytesPerSec: number;
}

export type BackgroundJob = FlushJob | CompactJob;

/** A finished, fsync'ed table, as the manifest needs it. */
export interface TableInfo {
  number: number;
  fileBytes: number;
  smallest: Uint8Array;
  largest: Uint8Array;
  entryCount: number;
  tombstoneCount: number;
}

/** What the manifest needs of a table a builder finished (a flush's, a compaction's, a rewrite's). */
export function tableInfoOf(t: BuiltTable): TableInfo {
  return { number: t.number, fileBytes: t.fileBytes, smallest: t.meta.smallest, largest: t.meta.largest, entryCount: t.meta.entryCount, tombstoneCount: t.meta.tombstoneCount };
}

export interface JobStats {
  entriesIn: number;
  entriesOut: number;
  /** Tombstones past their grace with nothing older below them, and the versions they shadowed. */
  dropped: number;
  /** TTL entries turned into tombstones. */
  expired: number;
  bytesRead: number;
  bytesWritten: number;
  ms: number;
}

export interface WireError {
  code: ErrorCode;
  message: string;
  details: Record<string, string | number | boolean | null>;
  /** The job stopped because the engine is closing (not a failure of the store). */
  aborted: boolean;
  stack: string;
}

export interface JobDone {
  kind: 'done';
  id: number;
  /** Outputs in key order; every one is complete and fsync'ed before this reply is sent. */
  tables: TableInfo[];
  stats: JobStats;
  /** A flush's packed keys' buffer, moved back so the next flush can reuse it. */
  returned: ArrayBuffer[];
  /** The background thread's memory as the job ended (the thread runs nothing between jobs). */
  memory: ThreadMemory;
}

export interface JobFailed {
  kind: 'failed';
  id: number;
  error: WireError;
  memory: ThreadMemory;
}

export type BackgroundReply = JobDone | JobFailed;

/** Thrown inside a job when the abort flag is seen. */
export class JobAborted extends Error {
  constructor() {
    super('background job aborted: the engine is closing');
  }
}

const codes: ReadonlySet<string> = new Set(Object.values(ErrorCode));

export function toWireError(err: unknown): WireError {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  const ringkv = e instanceof RingkvError;
  if (e instanceof JobAborted) return { code: ErrorCode.Closed, message: e.message, details: {}, aborted: true, stack: e.stack ?? '' };
  return {
    // A failed read(2)/write(2)/fsync(2) in a job is an I/O error of the store; a RingkvError keeps its code.
    code: ringkv ? e.code : typeof code === 'string' && codes.has(code) ? (code as ErrorCode) : e.message.startsWith('assertion failed') ? ErrorCode.Internal : ErrorCode.Io,
    message: ringkv || typeof code !== 'string' ? e.message : `${e.message} (${code})`,
    // The errno travels on as a detail: the engine tells a full disk (ENOSPC) from other failures by it.
    details: ringkv ? { ...e.details } : typeof code === 'string' ? { errno: code } : {},
    aborted: false,
    stack: e.stack ?? '',
  };
}

/** The error on the engine thread: same code and details, the background stack kept as the cause. */
export function fromWireError(w: WireError, what: string): RingkvError {
  const cause = new Error(w.message);
  cause.stack = w.stack;
  return new RingkvError(w.code, `${what}: ${w.message}`, { cause, details: w.details });
}

/** Checks a reply's tables before the engine lets a manifest name them. */
export function checkTables(tables: readonly TableInfo[], disjoint: boolean): void {
  for (let i = 0; i < tables.length; i++) {
    const t = tables[i]!;
    assert(Number.isSafeInteger(t.number) && t.number > 0 && t.fileBytes > 0 && t.entryCount > 0, () => `background table ${t.number} has bad metadata`);
    assert(Buffer.compare(t.smallest, t.largest) <= 0, () => `background table ${t.number}: smallest key above largest`);
    if (disjoint && i > 0) assert(Buffer.compare(tables[i - 1]!.largest, t.smallest) < 0, () => `background tables ${tables[i - 1]!.number} and ${t.number} overlap`);
  }
}
