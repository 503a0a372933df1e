// Comparing stored records byte for byte, without decoding them: two replicas whose records are
// the same bytes hold the same versions, so there is nothing to reconcile or repair between them
// (the usual case for a read, and for most of what anti-entropy compares). And their size as
// byte budgets count it.
import type { WireRecord } from './messages';

/** Bytes of a key and its record as they travel between nodes: what hint, stream and page budgets count. */
export function recordBytes(key: Uint8Array, record: WireRecord): number {
  return key.length + record.versionVector.length + record.value.length;
}

/** True when both records are the same bytes (version metadata, values, tombstone flag). */
export function sameRecord(x: WireRecord, y: WireRecord): boolean {
  return x.tombstone === y.tombstone && Buffer.compare(x.versionVector, y.versionVector) === 0 && Buffer.compare(x.value, y.value) === 0;
}
