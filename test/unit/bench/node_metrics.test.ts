// Proves what the benches read back from a node's /metrics is what the node recorded: the WAL
// sync, GC pause and shard lane histograms survive rendering and parsing bucket for bucket, and a series the
// node does not export is an error, not an empty histogram.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHistogram } from '../../../bench/harness';
import { Histogram } from '../../../src/histogram';
import { Metrics } from '../../../src/server/metrics';
import { LaneTiming } from '../../../src/shards/lane_timing';
import { isRingkvError } from '../../../src/errors';

test('histograms rendered by /metrics parse back to the same counts and sum', () => {
  const syncs = new Histogram();
  for (const s of [0.0002, 0.0009, 0.004, 0.004, 0.04, 30]) syncs.record(s);
  const pauses = new Histogram();
  for (const s of [0.001, 0.003, 0.02]) pauses.record(s);
  const lane = new LaneTiming();
  lane.record('apply', 0, 0.3);
  lane.record('apply', 0, 7);
  const gc = { minor: pauses.snapshot(), major: new Histogram().snapshot(), incremental: new Histogram().snapshot(), weakcb: new Histogram().snapshot() };
  const text = new Metrics().render(
    { memtableBytes: 0, arenaFreeBytes: 0, blockCacheHeldBytes: 0, tableIndexFilterBytes: 0, sstablesPerLevel: [], compactionBacklog: 0, walSyncs: syncs.count, walSyncSeconds: syncs.snapshot(), diskBytes: 0, readRepairs: 0, hintsQueued: 0, shardGcSeconds: gc, shardLaneSeconds: lane.snapshot() },
    {},
  );
  const wal = parseHistogram(text, 'node', 'ringkv_wal_sync_duration_seconds', '');
  assert.deepEqual(wal.counts, syncs.snapshot().counts);
  assert.equal(wal.count, 6);
  assert.ok(Math.abs(wal.sumSeconds - syncs.sumSeconds) < 1e-9);
  const minor = parseHistogram(text, 'node', 'ringkv_gc_duration_seconds', 'thread="shard",kind="minor"');
  assert.deepEqual(minor.counts, pauses.snapshot().counts);
  assert.equal(parseHistogram(text, 'node', 'ringkv_gc_duration_seconds', 'thread="shard",kind="major"').count, 0);
  const apply = parseHistogram(text, 'node', 'ringkv_shard_lane_duration_seconds', 'stage="apply"');
  assert.deepEqual(apply.counts, lane.snapshot().apply.counts);
  assert.equal(apply.count, 2);
  assert.equal(parseHistogram(text, 'node', 'ringkv_shard_lane_duration_seconds', 'stage="sync"').count, 0);
  assert.throws(() => parseHistogram(text, 'node', 'ringkv_no_such_seconds', ''), (err: unknown) => isRingkvError(err) && /ringkv_no_such_seconds_bucket/.test(err.message));
});
