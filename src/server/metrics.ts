// Prometheus metrics of a node, rendered in the text exposition format (version 0.0.4) at
// GET /metrics. Request counts and latency histograms are kept here, per transport, op and
// consistency level, with fixed cumulative buckets (recording is an array increment, no
// allocation); the main thread's GC pauses and memory come from gc_pauses.ts and
// thread_memory.ts, storage numbers (WAL syncs and their durations, the shard threads' GC pauses
// and memory among them) from coordinator.stats(), both at scrape time. Whether each of the other
// numbers is a counter or a gauge, and its HELP text, is metric_catalog.ts's.
import type { CoordinatorStats } from '../coordinator/types';
import { eventLoopSampleIntervalMs } from '../constants';
import { eventLoopDelaySnapshot } from '../event_loop_delay';
import { gcKinds, gcSnapshots, type GcSnapshots } from '../gc_pauses';
import { Histogram, renderHistogram } from '../histogram';
import { threadMemory, type ThreadMemory } from '../thread_memory';
import { metricCatalog, metricName, type MetricType } from './metric_catalog';

export type Transport = 'http' | 'ws';
export type Outcome = 'ok' | 'not_found' | 'error';

interface Series {
  labels: string;
  latency: Histogram;
  /** Finished operations by outcome (ringkv_requests_total). */
  outcomes: Record<Outcome, number>;
}

const outcomes: readonly Outcome[] = ['ok', 'not_found', 'error'];

/** Label values (also node ids and peer addresses from gossip and flags): escaped, so none can break the format. */
function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * HELP and TYPE of a catalogued family. A base name the catalog lacks still renders (a scrape
 * never fails over it), with a HELP that says so, which the exposition test fails on.
 */
function familyHead(base: string, type: MetricType): string[] {
  const name = metricName(base, type);
  const help = metricCatalog[base]?.help ?? `Not described: src/server/metric_catalog.ts has no entry for ${base}.`;
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
}

export class Metrics {
  /** Series in creation order (render), and by transport → op → consistency (observe). */
  private readonly series: Series[] = [];
  private readonly seriesBy = new Map<string, Map<string, Map<string, Series>>>();
  private readonly counters = new Map<string, number>();
  /** ringkv_request_errors_total by its label text. */
  private readonly errors = new Map<string, number>();

  /** Records one operation answered with its value, its write, or not found (errors: observeError). */
  observe(transport: Transport, op: string, consistency: string, outcome: 'ok' | 'not_found', seconds: number): void {
    this.record(transport, op, consistency, outcome, seconds);
  }

  /**
   * Runs once per operation: the series is found through maps of the label values (its label
   * text is built once, with the series), not by a key string built and escaped per call, which
   * was ~5% of a node's main thread under GET load.
   */
  private record(transport: Transport, op: string, consistency: string, outcome: Outcome, seconds: number): void {
    let byOp = this.seriesBy.get(transport);
    if (byOp === undefined) this.seriesBy.set(transport, (byOp = new Map()));
    let byConsistency = byOp.get(op);
    if (byConsistency === undefined) byOp.set(op, (byConsistency = new Map()));
    let s = byConsistency.get(consistency);
    if (s === undefined) {
      const labels = `transport="${transport}",op="${esc(op)}",consistency="${esc(consistency)}"`;
      s = { labels, latency: new Histogram(), outcomes: { ok: 0, not_found: 0, error: 0 } };
      byConsistency.set(consistency, s);
      this.series.push(s);
    }
    s.latency.record(seconds);
    s.outcomes[outcome] += 1;
  }

  /**
   * Records one operation answered with an error: as observe() does (outcome error), and by the
   * error's name (error_map.ts, the HTTP API's `error`), so the client's mistakes (a conflict, a
   * bad argument) are told apart from the cluster's failures (timeout, unavailable, busy, ...).
   */
  observeError(transport: Transport, op: string, consistency: string, error: string, seconds: number): void {
    this.record(transport, op, consistency, 'error', seconds);
    const labels = `transport="${transport}",op="${esc(op)}",error="${esc(error)}"`;
    this.errors.set(labels, (this.errors.get(labels) ?? 0) + 1);
  }

  /** Bumps a named event counter (`ringkv_<name>_total`, metric_catalog.ts), e.g. ws_frames_refused with a reason label. */
  count(name: string, labels = ''): void {
    const key = `${name}{${labels}}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
  }

  /** The exposition text. `gauges` are the server's own (connections, in-flight), by base name (metric_catalog.ts). */
  render(stats: CoordinatorStats | null, gauges: Readonly<Record<string, number>>): string {
    const out: string[] = [];
    out.push('# HELP ringkv_requests_total Client operations finished, by transport, op, consistency level and outcome.');
    out.push('# TYPE ringkv_requests_total counter');
    for (const s of this.series) {
      for (const o of outcomes) if (s.outcomes[o] > 0) out.push(`ringkv_requests_total{${s.labels},outcome="${o}"} ${s.outcomes[o]}`);
    }

    out.push('# HELP ringkv_request_errors_total Client operations answered with an error, by transport, op and error (the HTTP API\'s error names; aborted: the HTTP client went away first).');
    out.push('# TYPE ringkv_request_errors_total counter');
    for (const [labels, n] of this.errors) out.push(`ringkv_request_errors_total{${labels}} ${n}`);

    out.push('# HELP ringkv_request_duration_seconds Time from receiving an operation to its answer being ready.');
    out.push('# TYPE ringkv_request_duration_seconds histogram');
    for (const s of this.series) out.push(...renderHistogram('ringkv_request_duration_seconds', s.labels, s.latency));

    out.push('# HELP ringkv_gc_duration_seconds V8 garbage-collection pauses by thread (main: HTTP/WebSocket and coordination; shard: every shard worker together) and kind.');
    out.push('# TYPE ringkv_gc_duration_seconds histogram');
    const gc = (thread: string, s: GcSnapshots): void => {
      for (const kind of gcKinds) out.push(...renderHistogram('ringkv_gc_duration_seconds', `thread="${thread}",kind="${kind}"`, s[kind]));
    };
    gc('main', gcSnapshots());
    if (stats?.shardGcSeconds !== undefined) gc('shard', stats.shardGcSeconds);

    out.push(
      `# HELP ringkv_event_loop_delay_seconds How late each kind of thread ran a timer due every ${eventLoopSampleIntervalMs} ms: the time its event loop was busy (a long task, a GC) or its thread waited for a core, which everything the thread does waits behind (main: HTTP/WebSocket and coordination; shard: every shard worker together). Under about 1 ms is the timers' own rounding.`,
      '# TYPE ringkv_event_loop_delay_seconds histogram',
      ...renderHistogram('ringkv_event_loop_delay_seconds', 'thread="main"', eventLoopDelaySnapshot()),
    );
    if (stats?.shardLoopDelaySeconds !== undefined) out.push(...renderHistogram('ringkv_event_loop_delay_seconds', 'thread="shard"', stats.shardLoopDelaySeconds));

    const memory: [string, ThreadMemory][] = [['main', threadMemory()]];
    if (stats?.shardMemory !== undefined) memory.push(['shard', stats.shardMemory]);
    if (stats?.backgroundMemory !== undefined) memory.push(['background', stats.backgroundMemory]);
    for (const [name, field, help] of memoryFamilies) {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
      for (const [thread, m] of memory) out.push(`${name}{thread="${thread}"} ${m[field]}`);
    }

    const byName = new Map<string, string[]>();
    for (const [key, n] of this.counters) {
      const brace = key.indexOf('{');
      const base = key.slice(0, brace);
      const labels = key.slice(brace);
      const lines = byName.get(base) ?? [];
      lines.push(`${metricName(base, 'counter')}${labels === '{}' ? '' : labels} ${n}`);
      byName.set(base, lines);
    }
    for (const [base, lines] of byName) {
      out.push(...familyHead(base, 'counter'), ...lines);
    }

    for (const [base, value] of Object.entries(gauges)) {
      out.push(...familyHead(base, 'gauge'), `${metricName(base, 'gauge')} ${value}`);
    }

    if (stats !== null) out.push(...renderStats(stats));
    return out.join('\n') + '\n';
  }
}

const threadsHelp = 'by thread (main: HTTP/WebSocket and coordination; shard: every shard worker together; background: every shard\'s storage background thread together, each as its last flush or compaction ended)';
const memoryFamilies: readonly (readonly [string, keyof ThreadMemory, string])[] = [
  ['ringkv_heap_used_bytes', 'heapUsedBytes', `V8 heap in use (live objects and garbage not yet collected), ${threadsHelp}.`],
  ['ringkv_heap_total_bytes', 'heapTotalBytes', `V8 heap committed, ${threadsHelp}.`],
  ['ringkv_external_memory_bytes', 'externalBytes', `Memory in the thread's ArrayBuffers and SharedArrayBuffers (memtable arenas, block cache, values in flight; a SharedArrayBuffer two threads hold counts in both), ${threadsHelp}.`],
];

/** One gauge with a value per node (none at all when `rows` is empty). */
function gaugeByNode(out: string[], name: string, help: string, label: string, rows: ReadonlyArray<readonly [string, number]>): void {
  if (rows.length === 0) return;
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
  // Escaped: a peer is named by its address until its id is known, and a seed's address may hold
  // what a label value may not (one such line and Prometheus refuses the whole scrape).
  for (const [node, value] of rows) out.push(`${name}{${label}="${esc(node)}"} ${value}`);
}

/**
 * Storage and coordinator numbers: every plain number as metric_catalog.ts says, under its stats
 * key's name; here only the histograms, the labelled families and the numbers whose metric is
 * named otherwise than their key.
 */
export function renderStats(stats: CoordinatorStats): string[] {
  const out: string[] = [];
  const known = new Set(['walSyncSeconds', 'shardGcSeconds', 'shardLaneSeconds', 'shardLoopDelaySeconds', 'arenaFreeBytes', 'blockCacheHeldBytes', 'tableIndexFilterBytes', 'sstablesPerLevel', 'compactionBacklog', 'hintTargets', 'peerClocks', 'internodeRoundTrips']);
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  };
  out.push(
    '# HELP ringkv_wal_sync_duration_seconds Time from starting a WAL sync to its completion (the fdatasync; a segment\'s first also fsyncs the directory), across all shards.',
    '# TYPE ringkv_wal_sync_duration_seconds histogram',
    ...renderHistogram('ringkv_wal_sync_duration_seconds', '', stats.walSyncSeconds),
  );
  const lane = stats.shardLaneSeconds;
  if (lane !== undefined) {
    out.push(
      "# HELP ringkv_shard_lane_duration_seconds Where the shard batches' time goes, per batch and stage, all shards together: queue (its oldest operation waiting to be sent), to_worker (the hop to the shard thread, and the batch ahead of it), apply (on the shard thread), sync (until its writes are durable; batches that write), to_main (the hop back, per message).",
      '# TYPE ringkv_shard_lane_duration_seconds histogram',
    );
    // In the order a batch passes them (the order lane_timing.ts perStage keys them in).
    for (const [stage, s] of Object.entries(lane)) out.push(...renderHistogram('ringkv_shard_lane_duration_seconds', `stage="${stage}"`, s));
  }
  metric('ringkv_memtable_arena_free_bytes', 'gauge', 'Free memtable arena chunks kept for the next memtables, across all shards (a new memtable grows into them: with ringkv_memtable_bytes about one memtable per shard, more while a flush runs).', stats.arenaFreeBytes);
  metric('ringkv_block_cache_bytes', 'gauge', 'Memory the block caches hold, across all shards (each its whole --block-cache-mib once it cached a block).', stats.blockCacheHeldBytes);
  metric('ringkv_sstable_index_filter_bytes', 'gauge', 'Filter blocks and decoded indexes of the SSTables open on the shard threads, across all shards.', stats.tableIndexFilterBytes);
  out.push('# HELP ringkv_sstables SSTable files per LSM level across all shards.', '# TYPE ringkv_sstables gauge');
  stats.sstablesPerLevel.forEach((n, level) => out.push(`ringkv_sstables{level="${level}"} ${n}`));
  metric('ringkv_compaction_backlog_bytes', 'gauge', "Bytes of tables over their level's size budget (all of level 0 once it holds enough tables to compact), across all shards: what compactions have yet to move.", stats.compactionBacklog);
  const hints = stats.hintTargets ?? [];
  gaugeByNode(out, 'ringkv_hints_queued_for_node', 'Hints this node holds, by the node they are for.', 'target', hints.map((t) => [t.target, t.queued]));
  gaugeByNode(out, 'ringkv_hints_bytes_for_node', 'Bytes of those hints (keys, versions, values), by the node they are for.', 'target', hints.map((t) => [t.target, t.bytes]));
  gaugeByNode(out, 'ringkv_hints_oldest_age_seconds', 'Age of the oldest hint held for each node: how far behind it is.', 'target', hints.map((t) => [t.target, t.oldestAgeSeconds]));
  const trips = stats.internodeRoundTrips ?? [];
  if (trips.length > 0) {
    out.push(
      "# HELP ringkv_internode_round_trip_seconds Inter-node requests this node made and had answered, by peer and kind: from the request being made to its reply being taken up (a wait for the connection, the peer's work, both sockets and both event loops). Timeouts are in ringkv_internode_timeouts_total instead.",
      '# TYPE ringkv_internode_round_trip_seconds histogram',
    );
    for (const t of trips) out.push(...renderHistogram('ringkv_internode_round_trip_seconds', `peer="${esc(t.peer)}",kind="${esc(t.kind)}"`, t.seconds));
  }
  const clocks = stats.peerClocks ?? [];
  gaugeByNode(out, 'ringkv_peer_clock_offset_seconds', "Each peer's wall clock minus this node's, as this node's gossip exchanges with it measure it (the recent one with the shortest round trip; positive: ahead).", 'node', clocks.map((c) => [c.node, c.offsetSeconds]));
  gaugeByNode(out, 'ringkv_peer_clock_uncertainty_seconds', 'Half the round trip of the exchange the offset comes from: the true offset is within the offset plus or minus this.', 'node', clocks.map((c) => [c.node, c.uncertaintySeconds]));
  for (const [key, value] of Object.entries(stats)) {
    if (known.has(key) || typeof value !== 'number' || !Number.isFinite(value)) continue;
    const base = snake(key);
    const type = metricCatalog[base]?.type ?? 'gauge';
    out.push(...familyHead(base, type), `${metricName(base, type)} ${value}`);
  }
  return out;
}
