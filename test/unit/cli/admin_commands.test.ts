// Proves `ringkv status`'s table: one row per node sorted by id, a degraded node's reason, a
// rebuilding node's ranges left, a node hints wait for, each node's effective ownership from src/ring (a left node, with
// no tokens, owns nothing), its disk use, the columns shown only where nodes differ (clock,
// tombstone grace, ring), and the head line of a cluster and of a single node.
// And `ringkv replica`'s lines: siblings, a tombstone, a TTL past or to come, a node that is not
// one of the key's replicas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatReplica, formatStatus } from '../../../src/cli/admin_commands';
import type { ClusterStatus } from '../../../src/coordinator/types';
import { nodeTokens, Ring, tokenToString } from '../../../src/ring';

const tokens = (id: string, vnodes: number): string[] => nodeTokens(id, vnodes).map(tokenToString);

test('a cluster: rows sorted by id, the reason of a degraded node, effective ownership as src/ring computes it', () => {
  const s: ClusterStatus = {
    cluster_name: 'prod',
    nodes: [
      { id: 'c', address: '10.0.0.3:7000', status: 'degraded', reason: 'storage_full', load: 0.5, tokens: tokens('c', 16) },
      { id: 'a', address: '10.0.0.1:7000', status: 'healthy', load: 0.125, data_bytes: 5 * 1024 * 1024 + 300 * 1024, disk_size_bytes: 1000, disk_free_bytes: 166, tokens: tokens('a', 16) },
      { id: 'b', address: '10.0.0.2:7000', status: 'healthy', rebuilding: true, rebuild_ranges_left: 12, load: 0, tokens: tokens('b', 32) },
      { id: 'd', address: '10.0.0.4:7000', status: 'healthy', behind: true, load: 0, tokens: tokens('d', 16) },
      { id: 'gone', address: '10.0.0.9:7000', status: 'left', load: 0, tokens: [] },
    ],
    ring_version: 9,
    total_keys: 1234,
    replication_factor: 2,
  };
  const lines = formatStatus(s).split('\n');
  assert.equal(lines[0], 'cluster prod, ring version 9, replication 2, about 1234 keys');
  assert.deepEqual(lines[1]!.split(/\s{2,}/), ['status', 'node', 'address', 'load', 'data', 'tokens', 'owns (effective)', 'disk used']);
  const rows = lines.slice(2).map((l) => l.split(/\s{2,}/));
  assert.deepEqual(rows.map((r) => r[1]), ['a', 'b', 'c', 'd', 'gone']);
  assert.equal(rows[0]![7], '83%', 'the data dir\'s file system, used');
  assert.equal(rows[1]![0], 'healthy (rebuilding, 12 ranges left)');
  assert.deepEqual(rows[2]!.slice(0, 2), ['degraded (storage_full)', 'c']);
  assert.deepEqual(rows[3]!.slice(0, 2), ['healthy (behind)', 'd'], 'hints wait for it');
  assert.deepEqual(rows[4], ['left', 'gone', '10.0.0.9:7000', '0.00', '-', '0', '-', '-']);
  const ring = Ring.build(['a', 'b', 'c', 'd'].map((id) => ({ nodeId: id, vnodes: id === 'b' ? 32 : 16 })), 9).effectiveOwnership(2);
  for (const r of rows.slice(0, 4)) assert.equal(r[6], `${(ring.get(r[1]!)! * 100).toFixed(1)}%`, r[1]);
  assert.equal(rows[0]![3], '0.13');
  assert.equal(rows[0]![4], '5.3 MiB', 'a node\'s data on disk, for people');
  // Each column starts at the same place on every line.
  const at = lines[1]!.indexOf('owns');
  for (const l of lines.slice(2)) assert.match(l.slice(at), /^(\d+\.\d%|-) +(\d+%|-)$/);
});

test('a clock column once the answering node has measured its peers: each against its own, itself -', () => {
  const s: ClusterStatus = {
    cluster_name: 'prod',
    nodes: [
      { id: 'a', address: '10.0.0.1:7000', status: 'healthy', load: 0, tokens: tokens('a', 16) },
      { id: 'b', address: '10.0.0.2:7000', status: 'healthy', load: 0, clock_offset_ms: 3, tokens: tokens('b', 16) },
      { id: 'c', address: '10.0.0.3:7000', status: 'healthy', load: 0, clock_offset_ms: -3_600_004, tokens: tokens('c', 16) },
      { id: 'd', address: '10.0.0.4:7000', status: 'suspect', load: 0, clock_offset_ms: -250, tokens: tokens('d', 16) },
    ],
    ring_version: 4,
    total_keys: 0,
    replication_factor: 3,
  };
  const lines = formatStatus(s).split('\n');
  assert.equal(lines[1]!.split(/\s{2,}/).at(-1), 'clock');
  assert.deepEqual(lines.slice(2).map((l) => l.split(/\s{2,}/).at(-1)), ['-', '+3 ms', '-3600.0 s', '-250 ms']);
});

test('a single node: no cluster name, no tokens', () => {
  const out = formatStatus({ nodes: [{ id: 'n1', address: '127.0.0.1:7000', status: 'healthy', load: 0, tokens: [] }], ring_version: 0, total_keys: 7, replication_factor: 1 });
  assert.deepEqual(out.split('\n').map((l) => l.split(/\s{2,}/)), [['single node, ring version 0, replication 1, about 7 keys'], ['status', 'node', 'address', 'load', 'data', 'tokens', 'owns (effective)', 'disk used'], ['healthy', 'n1', '127.0.0.1:7000', '0.00', '-', '0', '-', '-']]);
});

test('nodes with zones: a zone column, and effective ownership over the zone-aware ring', () => {
  // Zone b has one node of three: with N = 2 it holds a replica of every key (the zone-less
  // ring would give it about two thirds).
  const s: ClusterStatus = {
    cluster_name: 'prod',
    nodes: [
      { id: 'a1', address: '10.0.0.1:7000', zone: 'a', status: 'healthy', load: 0, tokens: tokens('a1', 32) },
      { id: 'a2', address: '10.0.0.2:7000', zone: 'a', status: 'healthy', load: 0, tokens: tokens('a2', 32) },
      { id: 'b1', address: '10.0.0.3:7000', zone: 'b', status: 'healthy', load: 0, tokens: tokens('b1', 32) },
    ],
    ring_version: 3,
    total_keys: 0,
    replication_factor: 2,
  };
  const lines = formatStatus(s).split('\n');
  assert.deepEqual(lines[1]!.split(/\s{2,}/), ['status', 'node', 'address', 'zone', 'load', 'data', 'tokens', 'owns (effective)', 'disk used']);
  const rows = lines.slice(2).map((l) => l.split(/\s{2,}/));
  assert.deepEqual(rows.map((r) => [r[1], r[3], r[7]]), [['a1', 'a', rows[0]![7]], ['a2', 'a', rows[1]![7]], ['b1', 'b', '100.0%']]);
  assert.ok(rows.slice(0, 2).every((r) => Number(r[7]!.replace('%', '')) < 75), 'zone a shares the other replica');
});

test('a tombstone grace column only where the nodes\' graces differ', () => {
  const node = (id: string, grace?: number) => ({ id, address: `${id}:7000`, status: 'healthy' as const, load: 0, tokens: [], ...(grace !== undefined && { tombstone_grace_seconds: grace }) });
  const status = (nodes: ReturnType<typeof node>[]): ClusterStatus => ({ nodes, ring_version: 0, total_keys: 0, replication_factor: 3 });
  const header = (nodes: ReturnType<typeof node>[]) => formatStatus(status(nodes)).split('\n')[1]!.split(/\s{2,}/);
  assert.equal(header([node('a', 864_000), node('b', 864_000), node('c')]).includes('tombstone grace'), false, 'one grace, and one node that does not say');
  const lines = formatStatus(status([node('a', 864_000), node('b', 21_600), node('c')])).split('\n');
  assert.equal(lines[1]!.split(/\s{2,}/).at(-1), 'tombstone grace');
  assert.deepEqual(lines.slice(2).map((l) => l.split(/\s{2,}/).at(-1)), ['10.0 days', '6.0 hours', '-']);
});

test('a ring column only while nodes up hold different rings; the head line names the answering node\'s ring', () => {
  const node = (id: string, status: 'healthy' | 'suspect' | 'dead', digest?: string) => ({ id, address: `${id}:7000`, status, load: 0, tokens: [], ...(digest !== undefined && { ring_digest: digest }) });
  const status = (nodes: ReturnType<typeof node>[]): ClusterStatus => ({ cluster_name: 'prod', nodes, ring_version: 5, ring_digest: '0000abcd', total_keys: 0, replication_factor: 3 });
  // A dead node's last word is old, and a node that does not say is no disagreement.
  const agreed = formatStatus(status([node('a', 'healthy', '0000abcd'), node('b', 'healthy'), node('c', 'dead', '12345678')])).split('\n');
  assert.equal(agreed[0], 'cluster prod, ring 0000abcd (version 5 on this node), replication 3, about 0 keys');
  assert.equal(agreed[1]!.split(/\s{2,}/).includes('ring'), false);
  assert.equal(agreed.length, 5, 'no note under the table');
  const split = formatStatus(status([node('a', 'healthy', '0000abcd'), node('b', 'suspect', '12345678'), node('c', 'dead', '0000abcd'), node('d', 'healthy')])).split('\n');
  assert.equal(split[1]!.split(/\s{2,}/).at(-1), 'ring');
  assert.deepEqual(split.slice(2, 6).map((l) => l.split(/\s{2,}/).at(-1)), ['0000abcd', '12345678', '0000abcd', '-']);
  assert.match(split[6]!, /^The nodes up hold different rings/);
});

test('byte counts for people', () => {
  assert.deepEqual([0, 1023, 1024, 1536, 5 * 1024 * 1024, 3 * 1024 ** 4, 2048 * 1024 ** 4].map(formatBytes), ['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '5.0 MiB', '3.0 TiB', '2048.0 TiB']);
});

test('ringkv replica: one line per stored version, a tombstone and TTLs named, a node outside the replicas said so', () => {
  const now = Date.now();
  const text = formatReplica({
    key: 'k',
    node_id: 'd',
    replicas: ['a', 'b', 'c'],
    versions: [
      { value: Buffer.alloc(2048).toString('base64'), version: 'v2_1_a', timestamp: Date.UTC(2026, 11, 5, 8, 30), tombstone: false, expires_at: now + 3_600_000 },
      { value: '', version: 'v1_1_b', timestamp: Date.UTC(2026, 11, 5, 8, 29), tombstone: true },
      { value: Buffer.from('xy').toString('base64'), version: 'v1_1_c', timestamp: Date.UTC(2026, 11, 5, 8, 28), tombstone: false, expires_at: now - 1000 },
    ],
  });
  assert.deepEqual(text.split('\n'), [
    "replica: 3 versions here; the key's replicas: a, b, c (d is not one of them)",
    `  v2_1_a  2.0 KiB, written 2026-12-05T08:30:00.000Z, expires ${new Date(now + 3_600_000).toISOString()}`,
    '  v1_1_b  tombstone, written 2026-12-05T08:29:00.000Z',
    `  v1_1_c  2 B, written 2026-12-05T08:28:00.000Z, expired ${new Date(now - 1000).toISOString()}`,
  ]);
  assert.equal(formatReplica({ node_id: 'a', replicas: ['a'], versions: [] }), "replica: no version here; the key's replicas: a");
});
