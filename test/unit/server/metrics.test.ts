// Proves the Prometheus rendering: counters per op and consistency level, cumulative histogram
// buckets ending in +Inf equal to the count, and storage numbers from coordinator stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram, latencyBucketsSeconds } from '../../../src/histogram';
import { metricCatalog } from '../../../src/server/metric_catalog';
import { Metrics } from '../../../src/server/metrics';
import { LaneTiming } from '../../../src/shards/lane_timing';
import { lintExposition } from '../../helpers/prometheus_lint';

test('histogram buckets are cumulative and +Inf equals the count', () => {
  const m = new Metrics();
  m.observe('http', 'put', 'QUORUM', 'ok', 0.0004);
  m.observe('http', 'put', 'QUORUM', 'ok', 0.003);
  m.observeError('http', 'put', 'QUORUM', 'timeout', 50);
  m.observe('ws', 'get', 'ONE', 'not_found', 0.00001);
  // Same op, other consistency level, other transport: series of their own.
  m.observe('http', 'put', 'ONE', 'ok', 0.001);
  m.observe('ws', 'put', 'QUORUM', 'ok', 0.001);
  const text = m.render(null, { ws_connections: 2 });
  const series = 'transport="http",op="put",consistency="QUORUM"';
  const buckets = text
    .split('\n')
    .filter((l) => l.startsWith(`ringkv_request_duration_seconds_bucket{${series}`))
    .map((l) => Number(l.split(' ')[1]));
  assert.equal(buckets.length, latencyBucketsSeconds.length + 1);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]! >= buckets[i - 1]!, 'cumulative');
  assert.equal(buckets[buckets.length - 1], 3);
  assert.equal(buckets[latencyBucketsSeconds.indexOf(0.0005)], 1);
  assert.match(text, new RegExp(`ringkv_request_duration_seconds_count\\{${series}\\} 3`));
  assert.match(text, /ringkv_requests_total\{transport="http",op="put",consistency="QUORUM",outcome="ok"\} 2/);
  assert.match(text, /ringkv_requests_total\{transport="ws",op="get",consistency="ONE",outcome="not_found"\} 1/);
  assert.match(text, /ringkv_requests_total\{transport="http",op="put",consistency="QUORUM",outcome="error"\} 1/);
  assert.match(text, /ringkv_requests_total\{transport="http",op="put",consistency="ONE",outcome="ok"\} 1/);
  assert.match(text, /ringkv_request_duration_seconds_count\{transport="ws",op="put",consistency="QUORUM"\} 1/);
  assert.doesNotMatch(text, /outcome="not_found"\} 0|outcome="error"\} 0/, 'an outcome never seen has no line');
  assert.match(text, /ringkv_ws_connections 2/);
});

test('an operation answered with an error counts as an error outcome and under its error name', () => {
  const m = new Metrics();
  m.observeError('http', 'put', 'QUORUM', 'conflict', 0.001);
  m.observeError('http', 'put', 'ALL', 'conflict', 0.001);
  m.observeError('http', 'put', 'ALL', 'timeout', 5);
  m.observeError('ws', 'get', 'invalid', 'invalid_argument', 0);
  m.observe('http', 'put', 'ALL', 'ok', 0.001);
  const text = m.render(null, {});
  assert.match(text, /^ringkv_request_errors_total\{transport="http",op="put",error="conflict"\} 2$/m);
  assert.match(text, /^ringkv_request_errors_total\{transport="http",op="put",error="timeout"\} 1$/m);
  assert.match(text, /^ringkv_request_errors_total\{transport="ws",op="get",error="invalid_argument"\} 1$/m);
  assert.match(text, /^ringkv_requests_total\{transport="http",op="put",consistency="ALL",outcome="error"\} 2$/m);
  assert.match(text, /^ringkv_requests_total\{transport="http",op="put",consistency="ALL",outcome="ok"\} 1$/m);
  assert.match(text, /^ringkv_request_duration_seconds_count\{transport="http",op="put",consistency="QUORUM"\} 1$/m);
  assert.equal(text.match(/^# TYPE ringkv_request_errors_total counter$/gm)?.length, 1);
});

test('the shard lane stages become one histogram family, a series per stage in the order a batch passes them', () => {
  const lane = new LaneTiming();
  lane.record('queue', 0, 0.05);
  lane.record('to_worker', 10, 13);
  lane.record('apply', 13, 13.4);
  lane.record('sync', 13.4, 20);
  lane.record('to_main', 20, 19.9);
  const text = new Metrics().render(
    { memtableBytes: 0, arenaFreeBytes: 0, blockCacheHeldBytes: 0, tableIndexFilterBytes: 0, sstablesPerLevel: [], compactionBacklog: 0, walSyncs: 0, walSyncSeconds: new Histogram().snapshot(), diskBytes: 0, readRepairs: 0, hintsQueued: 0, shardLaneSeconds: lane.snapshot() },
    {},
  );
  assert.deepEqual(lintExposition(text), []);
  assert.equal(text.match(/^# TYPE ringkv_shard_lane_duration_seconds histogram$/gm)?.length, 1);
  const stages = [...text.matchAll(/^ringkv_shard_lane_duration_seconds_count\{stage="([a-z_]+)"\} 1$/gm)].map((m) => m[1]);
  assert.deepEqual(stages, ['queue', 'to_worker', 'apply', 'sync', 'to_main']);
  assert.match(text, /^ringkv_shard_lane_duration_seconds_bucket\{stage="queue",le="0.0001"\} 1$/m);
  assert.match(text, /^ringkv_shard_lane_duration_seconds_bucket\{stage="to_worker",le="0.0025"\} 0$/m);
  assert.match(text, /^ringkv_shard_lane_duration_seconds_bucket\{stage="to_worker",le="0.005"\} 1$/m);
  assert.match(text, /^ringkv_shard_lane_duration_seconds_bucket\{stage="sync",le="0.01"\} 1$/m);
  // A hop back read a hair before its post (two threads' readings of one clock): counted as none.
  assert.match(text, /^ringkv_shard_lane_duration_seconds_sum\{stage="to_main"\} 0$/m);
  assert.doesNotMatch(text, /shard_lane_seconds/, 'not also rendered by the generic path');
});

test('inter-node round trips become one histogram family, a series per peer and kind; none without any', () => {
  const writes = new Histogram();
  for (const s of [0.0004, 0.003]) writes.record(s);
  const gossip = new Histogram();
  gossip.record(0.0002);
  const base = { memtableBytes: 0, arenaFreeBytes: 0, blockCacheHeldBytes: 0, tableIndexFilterBytes: 0, sstablesPerLevel: [], compactionBacklog: 0, walSyncs: 0, walSyncSeconds: new Histogram().snapshot(), diskBytes: 0, readRepairs: 0, hintsQueued: 0 };
  const text = new Metrics().render(
    {
      ...base,
      internodeRoundTrips: [
        { peer: 'node-b', kind: 'replicaWriteBatch', seconds: writes.snapshot() },
        { peer: 'node-b', kind: 'gossip', seconds: gossip.snapshot() },
        { peer: '10.0.0.7:8000', kind: 'gossip', seconds: gossip.snapshot() },
      ],
    },
    {},
  );
  assert.deepEqual(lintExposition(text), []);
  assert.equal(text.match(/^# TYPE ringkv_internode_round_trip_seconds histogram$/gm)?.length, 1);
  assert.match(text, /^ringkv_internode_round_trip_seconds_count\{peer="node-b",kind="replicaWriteBatch"\} 2$/m);
  assert.match(text, /^ringkv_internode_round_trip_seconds_bucket\{peer="node-b",kind="replicaWriteBatch",le="0.0005"\} 1$/m);
  assert.match(text, /^ringkv_internode_round_trip_seconds_count\{peer="10.0.0.7:8000",kind="gossip"\} 1$/m);
  assert.doesNotMatch(text, /internode_round_trips/, 'not also rendered by the generic path');
  assert.doesNotMatch(new Metrics().render({ ...base, internodeRoundTrips: [] }, {}), /ringkv_internode_round_trip_seconds/, 'no family without a series');
});

test('coordinator stats become WAL, memtable, per-level SSTable and backlog metrics', () => {
  const syncs = new Histogram();
  for (const s of [0.0003, 0.0009, 0.004, 0.04, 20]) syncs.record(s);
  const text = new Metrics().render(
    { memtableBytes: 1234, arenaFreeBytes: 4096, blockCacheHeldBytes: 67108864, tableIndexFilterBytes: 5555, sstablesPerLevel: [3, 1, 0], compactionBacklog: 2, walSyncs: 77, walSyncSeconds: syncs.snapshot(), diskBytes: 9, readRepairs: 0, hintsQueued: 0, shardCount: 4 },
    {},
  );
  assert.match(text, /^ringkv_wal_syncs_total 77$/m);
  assert.match(text, /^# TYPE ringkv_wal_sync_duration_seconds histogram$/m);
  assert.match(text, /^ringkv_wal_sync_duration_seconds_bucket\{le="0.0005"\} 1$/m);
  assert.match(text, /^ringkv_wal_sync_duration_seconds_bucket\{le="0.005"\} 3$/m);
  assert.match(text, /^ringkv_wal_sync_duration_seconds_bucket\{le="10"\} 4$/m);
  assert.match(text, /^ringkv_wal_sync_duration_seconds_bucket\{le="\+Inf"\} 5$/m);
  assert.match(text, /^ringkv_wal_sync_duration_seconds_count 5$/m);
  assert.doesNotMatch(text, /wal_sync_seconds/, 'the histogram is not also rendered by the generic path');
  // The main thread's event loop delay always, the shard threads' when the stats carry them.
  assert.match(text, /^# TYPE ringkv_event_loop_delay_seconds histogram$/m);
  assert.match(text, /^ringkv_event_loop_delay_seconds_count\{thread="main"\} \d+$/m);
  // GC pauses: the main thread's always, the shard threads' when the stats carry them.
  assert.match(text, /^ringkv_gc_duration_seconds_count\{thread="main",kind="minor"\} \d+$/m);
  assert.doesNotMatch(text, /thread="shard"/);
  const gc = { minor: syncs.snapshot(), major: syncs.snapshot(), incremental: syncs.snapshot(), weakcb: syncs.snapshot() };
  const withShards = new Metrics().render({ memtableBytes: 0, arenaFreeBytes: 0, blockCacheHeldBytes: 0, tableIndexFilterBytes: 0, sstablesPerLevel: [], compactionBacklog: 0, walSyncs: 0, walSyncSeconds: syncs.snapshot(), diskBytes: 0, readRepairs: 0, hintsQueued: 0, shardGcSeconds: gc, shardLoopDelaySeconds: syncs.snapshot() }, {});
  assert.match(withShards, /^ringkv_event_loop_delay_seconds_count\{thread="shard"\} 5$/m);
  assert.equal(withShards.match(/^# TYPE ringkv_event_loop_delay_seconds histogram$/gm)?.length, 1, 'one family block for both threads');
  assert.match(withShards, /^ringkv_gc_duration_seconds_bucket\{thread="shard",kind="major",le="\+Inf"\} 5$/m);
  assert.equal(withShards.match(/^# TYPE ringkv_gc_duration_seconds histogram$/gm)?.length, 1, 'one family block for both threads');
  assert.doesNotMatch(withShards, /shard_gc_seconds/, 'not rendered by the generic path too');
  // Memory by thread: the main thread's always (its own isolate's numbers), the shard and
  // background threads' as the stats carry them, each family one block.
  const mainUsed = Number(/^ringkv_heap_used_bytes\{thread="main"\} (\d+)$/m.exec(text)?.[1]);
  assert.ok(mainUsed > 0 && mainUsed <= Number(/^ringkv_heap_total_bytes\{thread="main"\} (\d+)$/m.exec(text)?.[1]));
  assert.match(text, /^ringkv_external_memory_bytes\{thread="main"\} \d+$/m);
  assert.doesNotMatch(text, /_bytes\{thread="(shard|background)"\}/);
  const withMemory = new Metrics().render(
    {
      memtableBytes: 0, arenaFreeBytes: 0, blockCacheHeldBytes: 0, tableIndexFilterBytes: 0, sstablesPerLevel: [], compactionBacklog: 0, walSyncs: 0, walSyncSeconds: syncs.snapshot(), diskBytes: 0, readRepairs: 0, hintsQueued: 0,
      shardMemory: { heapUsedBytes: 11, heapTotalBytes: 12, externalBytes: 13 },
      backgroundMemory: { heapUsedBytes: 21, heapTotalBytes: 22, externalBytes: 23 },
    },
    {},
  );
  for (const [family, shard, background] of [['heap_used', 11, 21], ['heap_total', 12, 22], ['external_memory', 13, 23]] as const) {
    assert.match(withMemory, new RegExp(`^ringkv_${family}_bytes\\{thread="shard"\\} ${shard}$`, 'm'));
    assert.match(withMemory, new RegExp(`^ringkv_${family}_bytes\\{thread="background"\\} ${background}$`, 'm'));
    assert.equal(withMemory.match(new RegExp(`^# TYPE ringkv_${family}_bytes gauge$`, 'gm'))?.length, 1, family);
  }
  assert.doesNotMatch(withMemory, /shard_memory|background_memory/, 'not rendered by the generic path too');
  assert.match(text, /^ringkv_memtable_bytes 1234$/m);
  assert.match(text, /^ringkv_memtable_arena_free_bytes 4096$/m);
  assert.match(text, /^ringkv_block_cache_bytes 67108864$/m);
  assert.match(text, /^ringkv_sstable_index_filter_bytes 5555$/m);
  assert.doesNotMatch(text, /^ringkv_(arena_free|block_cache_held|table_index_filter)_bytes/m, 'not rendered by the generic path too');
  assert.match(text, /^ringkv_sstables\{level="0"\} 3$/m);
  assert.match(text, /^ringkv_sstables\{level="1"\} 1$/m);
  assert.match(text, /^ringkv_compaction_backlog_bytes 2$/m);
  assert.match(text, /^ringkv_shard_count 4$/m);
  // Every sample line is `name{labels} number` or `name number`.
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    assert.match(line, /^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/, line);
  }
});

test('per-node gauges: hints by target and clock offsets by peer, one family block each, none without rows', () => {
  const syncs = new Histogram();
  const base = { memtableBytes: 0, arenaFreeBytes: 0, blockCacheHeldBytes: 0, tableIndexFilterBytes: 0, sstablesPerLevel: [], compactionBacklog: 0, walSyncs: 0, walSyncSeconds: syncs.snapshot(), diskBytes: 0, readRepairs: 0, hintsQueued: 3 };
  const text = new Metrics().render(
    {
      ...base,
      hintTargets: [
        { target: 'node-1', queued: 2, bytes: 2048, oldestAgeSeconds: 1.5 },
        { target: 'node-2', queued: 1, bytes: 900, oldestAgeSeconds: 0.25 },
      ],
      peerClocks: [{ node: 'node-2', offsetSeconds: -3600.004, uncertaintySeconds: 0.002 }],
    },
    {},
  );
  const lines = (name: string): string[] => text.split('\n').filter((l) => l.startsWith(name));
  assert.deepEqual(lines('ringkv_hints_queued_for_node'), ['ringkv_hints_queued_for_node{target="node-1"} 2', 'ringkv_hints_queued_for_node{target="node-2"} 1']);
  assert.deepEqual(lines('ringkv_hints_bytes_for_node'), ['ringkv_hints_bytes_for_node{target="node-1"} 2048', 'ringkv_hints_bytes_for_node{target="node-2"} 900']);
  assert.deepEqual(lines('ringkv_hints_oldest_age_seconds'), ['ringkv_hints_oldest_age_seconds{target="node-1"} 1.5', 'ringkv_hints_oldest_age_seconds{target="node-2"} 0.25']);
  assert.deepEqual(lines('ringkv_peer_clock_offset_seconds'), ['ringkv_peer_clock_offset_seconds{node="node-2"} -3600.004']);
  assert.deepEqual(lines('ringkv_peer_clock_uncertainty_seconds'), ['ringkv_peer_clock_uncertainty_seconds{node="node-2"} 0.002']);
  for (const name of ['ringkv_hints_queued_for_node', 'ringkv_peer_clock_offset_seconds']) assert.equal(text.match(new RegExp(`^# TYPE ${name} gauge$`, 'gm'))?.length, 1, name);
  assert.doesNotMatch(text, /peer_clocks|hint_targets/, 'not rendered by the generic path too');
  const none = new Metrics().render({ ...base, hintTargets: [], peerClocks: [] }, {});
  assert.doesNotMatch(none, /for_node|peer_clock/);
  // A peer named by an odd seed address, or an id from a faulty peer: escaped, the scrape still reads.
  const odd = 'seed"\\x';
  const quoted = new Metrics().render({ ...base, hintTargets: [{ target: odd, queued: 1, bytes: 1, oldestAgeSeconds: 1 }], peerClocks: [{ node: odd, offsetSeconds: 0, uncertaintySeconds: 0 }], internodeRoundTrips: [{ peer: odd, kind: 'gossip', seconds: syncs.snapshot() }] }, {});
  assert.deepEqual(lintExposition(quoted), []);
  assert.ok(quoted.includes('ringkv_hints_queued_for_node{target="seed\\"\\\\x"} 1'), quoted);
  assert.ok(quoted.includes('ringkv_internode_round_trip_seconds_count{peer="seed\\"\\\\x",kind="gossip"} 0'), quoted);
});

test('catalogued numbers render by their type: counters as _total, gauges bare, each with HELP; one the catalog lacks renders as a gauge the lint flags', () => {
  const base = { memtableBytes: 0, arenaFreeBytes: 0, blockCacheHeldBytes: 0, tableIndexFilterBytes: 0, sstablesPerLevel: [1], compactionBacklog: 0, walSyncs: 0, walSyncSeconds: new Histogram().snapshot(), diskBytes: 0, readRepairs: 0, hintsQueued: 0 };
  const m = new Metrics();
  m.count('ws_frames_refused', 'reason="busy"');
  m.count('ws_frames_refused', 'reason="busy"');
  m.count('ws_upgrades_refused');
  const stats = { ...base, writeStalls: 5, shards: 2, gossipRounds: 7, streamThrottledSeconds: 1.5, bootstrapState: 1 };
  const text = m.render(stats, { ws_connections: 3, process_resident_memory_bytes: 1 });
  assert.deepEqual(lintExposition(text), []);
  for (const [name, type, value] of [
    ['ringkv_write_stalls_total', 'counter', '5'],
    ['ringkv_gossip_rounds_total', 'counter', '7'],
    ['ringkv_stream_throttled_seconds_total', 'counter', '1.5'],
    ['ringkv_shards', 'gauge', '2'],
    ['ringkv_bootstrap_state', 'gauge', '1'],
    ['ringkv_ws_connections', 'gauge', '3'],
    ['ringkv_ws_upgrades_refused_total', 'counter', '1'],
  ] as const) {
    assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name);
    assert.match(text, new RegExp(`^${name} ${value.replace('.', '\\.')}$`, 'm'), name);
  }
  assert.match(text, /^# HELP ringkv_write_stalls_total Writes that waited for a flush/m);
  assert.match(text, /^ringkv_ws_frames_refused_total\{reason="busy"\} 2$/m);
  assert.doesNotMatch(text, /^ringkv_write_stalls /m, 'a counter has no bare name');

  const unknown = new Metrics().render({ ...base, someNewCount: 4 }, {});
  assert.match(unknown, /^ringkv_some_new_count 4$/m, 'still rendered: a scrape never fails over it');
  assert.deepEqual(lintExposition(unknown), ['ringkv_some_new_count: Not described: src/server/metric_catalog.ts has no entry for some_new_count.']);
});

test('every catalog entry has a HELP sentence and a snake_case base name without a type suffix', () => {
  for (const [base, e] of Object.entries(metricCatalog)) {
    assert.match(base, /^[a-z][a-z0-9_]*[a-z0-9]$/, base);
    assert.ok(!base.endsWith('_total'), `${base}: the _total suffix comes from the type`);
    assert.match(e.help, /^[A-Z0-9].*\.$/, base);
  }
});

test('the exposition lint finds what Prometheus would refuse or misread', () => {
  const text = [
    '# HELP ringkv_a_total A.',
    '# TYPE ringkv_a_total gauge',
    'ringkv_a_total 1',
    '# TYPE ringkv_b counter',
    'ringkv_b 1',
    'ringkv_c 2',
    '# HELP ringkv_d D.',
    '# TYPE ringkv_d histogram',
    'ringkv_d_bucket{le="1"} 1',
    'ringkv_d_count 1',
    '# HELP ringkv_e E.',
    '# TYPE ringkv_e gauge',
    'ringkv_e one',
    '# HELP ringkv_e again.',
    '',
  ].join('\n');
  assert.deepEqual(lintExposition(text).sort(), [
    'HELP of ringkv_e after its samples',
    'counter ringkv_b does not end in _total',
    'gauge ringkv_a_total ends in _total',
    'ringkv_b has a TYPE but no HELP',
    'ringkv_d: last bucket le="1", not +Inf',
    'ringkv_e has two HELP lines',
    'ringkv_e has value one',
    'sample ringkv_b without HELP and TYPE before it',
    'sample ringkv_c without HELP and TYPE before it',
  ]);
});
