// From a key's sibling set to the GetResult a client sees: the live versions newest first (the
// first one is `value`), and the context of the WHOLE set (tombstones and expired versions
// included), so a write carrying it supersedes everything the read saw. Any coordinator can use
// it once it has the set (the cluster coordinator after merging replicas' answers). And the
// ReplicaView of one replica's stored record, every version kept.
import type { WireRecord } from '../shards/messages';
import type { StoredSibling } from '../versioning';
import { contextOf, decodeSiblingSet, encodeClock, liveSiblings, versionOf } from '../versioning';
import type { GetResult, ReplicaView } from './types';

export function toGetResult(key: Uint8Array, siblings: readonly StoredSibling[], nowMs: number): GetResult {
  const live = liveSiblings(siblings, nowMs);
  if (live.length === 0) return { found: false, key };
  const versions = live.map((s) => ({ value: s.value, version: versionOf(s), timestampMs: s.timestampMs }));
  const newest = versions[0]!;
  return {
    found: true,
    key,
    value: newest.value,
    version: newest.version,
    timestampMs: newest.timestampMs,
    siblings: versions,
    context: encodeClock(contextOf(siblings)),
  };
}

/** This node's stored `record` of `key` (null: none) as a ReplicaView; a record that does not decode is RKV_ERR_CORRUPTION. */
export function toReplicaView(key: Uint8Array, replicas: readonly string[], record: WireRecord | null): ReplicaView {
  const stored = record === null ? [] : decodeSiblingSet(record);
  const versions = stored.map((s) => ({ value: s.value, version: versionOf(s), timestampMs: s.timestampMs, tombstone: s.tombstone, expiresAtMs: s.expiresAtMs }));
  versions.sort((a, b) => b.timestampMs - a.timestampMs);
  return { key, replicas: [...replicas], versions };
}
