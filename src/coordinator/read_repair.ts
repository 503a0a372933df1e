// Merging what replicas answered, and finding the replicas that need repair (design.md §7.2 read
// path). Pure: the coordinator hands in each replica's decoded sibling set (empty for "no entry")
// and gets the reconciled set plus the replicas whose copy lacks part of it. Sending the repair
// is the coordinator's job, in the background, bounded by readRepairsInflightMax.
import { ErrorCode } from '../errors';
import type { WireRecord } from '../shards/messages';
import { type ConflictMode, decodeSiblingSet, encodeSiblingSet, reconcile, type StoredSibling } from '../versioning';

export interface ReplicaAnswer {
  nodeId: string;
  siblings: StoredSibling[];
}

/** Decodes a replica's record; records from peers are untrusted, so a bad one is INVALID_ARGUMENT. */
export function siblingsOf(record: WireRecord | null): StoredSibling[] {
  return record === null ? [] : decodeSiblingSet(record, ErrorCode.InvalidArgument);
}

/** The reconciliation of every answer (newest first). */
export function mergeAnswers(answers: readonly ReplicaAnswer[], mode: ConflictMode, nowMs: number): StoredSibling[] {
  let merged: StoredSibling[] = [];
  for (const a of answers) merged = reconcile(merged, a.siblings, mode, nowMs).siblings;
  return merged;
}

/** Replicas whose copy would change by merging `merged` into it: they are behind. */
export function staleReplicas(answers: readonly ReplicaAnswer[], merged: readonly StoredSibling[], mode: ConflictMode, nowMs: number): string[] {
  if (merged.length === 0) return [];
  return answers.filter((a) => reconcile(a.siblings, merged, mode, nowMs).changed).map((a) => a.nodeId);
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
