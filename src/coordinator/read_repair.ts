// Merging what replicas answered, and finding the replicas that need repair (design.md §7.2 read
// path). Pure: the coordinator hands in each replica's decoded sibling set (empty for "no entry")
// and gets the reconciled set plus the replicas whose copy lacks part of it. Sending the repair
// is the coordinator's job, in the background, bounded by readRepairsInflightMax.
import { ErrorCode } from '../errors';
import type { WireRecord } from '../shards/messages';
import { sameRecord } from '../shards/wire_record';
import { type ConflictMode, decodeSiblingSet, encodeSiblingSet, reconcile, type StoredSibling } from '../versioning';

export interface ReplicaAnswer {
  nodeId: string;
  /** What the replica stores, or null for no entry. */
  record: WireRecord | null;
  /** `record` decoded; the very same array as an earlier answer's when the records are the same bytes. */
  siblings: StoredSibling[];
}

/** Decodes a replica's record; records from peers are untrusted, so a bad one is INVALID_ARGUMENT. */
export function siblingsOf(record: WireRecord | null): StoredSibling[] {
  return record === null ? [] : decodeSiblingSet(record, ErrorCode.InvalidArgument);
}

/**
 * A replica's answer, decoded, unless its record is the same bytes as `first`'s: then it shares
 * first's siblings, and no decode is done (replicas that agree are the usual case of a read).
 * Throws INVALID_ARGUMENT for a record that does not decode.
 */
export function answerOf(nodeId: string, record: WireRecord | null, first: ReplicaAnswer | undefined): ReplicaAnswer {
  if (first !== undefined && (record === null ? first.record === null : first.record !== null && sameRecord(first.record, record))) {
    return { nodeId, record, siblings: first.siblings };
  }
  return { nodeId, record, siblings: siblingsOf(record) };
}

/** True when every answer holds the same bytes (answerOf made them share one siblings array). */
function allAgree(answers: readonly ReplicaAnswer[]): boolean {
  for (let i = 1; i < answers.length; i++) if (answers[i]!.siblings !== answers[0]!.siblings) return false;
  return true;
}

/** The reconciliation of every answer (newest first); one reconcile when all the answers agree. */
export function mergeAnswers(answers: readonly ReplicaAnswer[], mode: ConflictMode, nowMs: number): StoredSibling[] {
  if (answers.length === 0) return [];
  if (allAgree(answers)) return reconcile([], answers[0]!.siblings, mode, nowMs).siblings;
  let merged: StoredSibling[] = [];
  for (const a of answers) merged = reconcile(merged, a.siblings, mode, nowMs).siblings;
  return merged;
}

/**
 * Replicas whose copy would change by merging in what the others hold: they are behind. None
 * when all the answers are the same bytes. Returns the merged set with them (for the repair).
 */
export function staleReplicas(answers: readonly ReplicaAnswer[], mode: ConflictMode, nowMs: number): { stale: string[]; merged: StoredSibling[] } {
  if (answers.length < 2 || allAgree(answers)) return { stale: [], merged: [] };
  const merged = mergeAnswers(answers, mode, nowMs);
  if (merged.length === 0) return { stale: [], merged };
  return { stale: answers.filter((a) => reconcile(a.siblings, merged, mode, nowMs).changed).map((a) => a.nodeId), merged };
}

export function recordOf(siblings: readonly StoredSibling[]): WireRecord {
  const r = encodeSiblingSet(siblings);
  return { versionVector: r.versionVector, value: r.value, tombstone: r.tombstone };
}

/** Merges two records (hint coalescing); keeps `b` when everything expired. */
export function mergeRecords(a: WireRecord, b: WireRecord, mode: ConflictMode, nowMs: number): WireRecord {
  const merged = reconcile(siblingsOf(a), siblingsOf(b), mode, nowMs).siblings;
  return merged.length === 0 ? b : recordOf(merged);
}
