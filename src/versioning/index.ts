// Versioning (pure, no I/O): vector clocks, dotted versions and their sibling sets, the encoding
// of a set into one storage entry, reconciliation (vector clocks or last-write-wins), the
// coordinated write and If-Match. The shard worker and the cluster coordinator both build on it.
//
// For the cluster coordinator, in short:
// - A replica's state for a key is a sibling set (StoredSibling[]); on the wire and on disk it is
//   a SiblingRecord (encodeSiblingSet / decodeSiblingSet): ship the record's bytes as they are.
// - Merging what several replicas answered: reconcile(a, b, mode, now) (associative and
//   commutative up to order; the result is newest first). Compare two answers with
//   `reconcile(x, y).changed` / sibling dots to find stale replicas for read repair.
// - A read's `context` is encodeClock(contextOf(siblings)); a client's context comes back
//   through decodeClock (RKV_ERR_INVALID_ARGUMENT on bad bytes).
export * from './vector_clock';
export * from './dot_counter';
export * from './version_string';
export * from './sibling';
export * from './sibling_codec';
export * from './reconcile';
