// Anti-entropy across real node processes: writes that a stopped replica missed (no hinted
// handoff, no reads that could repair) reach it through Merkle-tree sync alone once it is back,
// and the cluster settles with equal trees. And a table damaged on disk: a scrub, a compaction
// or a read that meets it quarantines it, and the repair that follows brings its keys back from
// the other replicas. Each node watches how long ago every range it replicates was synced.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { base64Text, TestCluster, waitFor } from '../helpers/cluster';
import { flipByte } from '../helpers/damage';

describe('3-node cluster with anti-entropy every 100 ms and no other repair', () => {
  let c: TestCluster;
  /** Every node process had started by then. */
  let startedByMs = 0;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: false, readRepairChance: 0, antiEntropyIntervalMs: 100, vnodes: 8 });
    startedByMs = Date.now();
  });
  after(async () => {
    await c?.close();
  });

  test('a replica that missed writes while stopped gets them from Merkle sync, without reads or hints', async () => {
    // Proves §7.4/§10: divergence nobody reads is still found and fixed.
    c.signal(2, 'SIGSTOP');
    const keys = Array.from({ length: 60 }, (_, i) => `ae-${i}`);
    try {
      await c.waitStatus([0, 1], 2, 'suspect', 10_000);
      for (const [i, k] of keys.entries()) {
        const put = await c.http(i % 2, 'PUT', k, { body: `v${i}`, consistency: 'QUORUM' });
        assert.equal(put.status, 200, JSON.stringify(put.body));
      }
    } finally {
      c.signal(2, 'SIGCONT');
    }
    await c.waitStatus([0, 1], 2, 'healthy', 10_000);
    const repaired = async () => (await c.metric(2, 'ringkv_anti_entropy_pulled_total')) + (await c.metric(0, 'ringkv_anti_entropy_pushed_total')) + (await c.metric(1, 'ringkv_anti_entropy_pushed_total'));
    await waitFor('anti-entropy to bring node-2 all 60 writes', async () => (await repaired()) >= keys.length, 20_000);
    assert.equal(await repaired(), keys.length, 'each missed write changed node-2 exactly once');
    // A ONE read coordinated by node-2 asks only its own replica (read_repair_chance 0).
    for (const [i, k] of keys.entries()) {
      const got = await c.http(2, 'GET', k, { consistency: 'ONE' });
      assert.equal(got.status, 200, `${k} on node-2: ${JSON.stringify(got.body)}`);
      assert.equal(base64Text(got.body.value), `v${i}`);
    }
    assert.equal(await c.metric(2, 'ringkv_read_repairs_total'), 0, 'no read repair did it');
    assert.ok((await c.metric(0, 'ringkv_anti_entropy_in_sync_total')) > 0, 'rounds that find equal trees are counted');
  });

  test('a value overwritten by a write with a TTL stays gone after the TTL, on a replica that missed the overwrite too', async () => {
    // Before the fix, node-2 kept x, the others read their expired y as absent and left it out of
    // their Merkle trees, and anti-entropy copied x back to them.
    const key = 'ae-ttl-overwrite';
    assert.equal((await c.http(0, 'PUT', key, { body: 'x', consistency: 'ALL' })).status, 200);
    c.signal(2, 'SIGSTOP');
    try {
      await c.waitStatus([0, 1], 2, 'suspect', 10_000);
      const put = await c.http(0, 'PUT', key, { body: 'y', consistency: 'QUORUM', headers: { 'X-TTL': '1' } });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      c.signal(2, 'SIGCONT');
    }
    assert.deepEqual((await c.replica(2, key)).values, ['x'], 'node-2 missed y');
    await c.waitStatus([0, 1], 2, 'healthy', 10_000);
    await waitFor('anti-entropy to give node-2 the expired y', async () => (await c.replica(2, key)).values.length === 0, 20_000);
    // Rounds go on every 100 ms; let a few more go by, then nobody may hold x.
    const inSync = await c.metric(2, 'ringkv_anti_entropy_in_sync_total');
    await waitFor('more rounds on node-2', async () => (await c.metric(2, 'ringkv_anti_entropy_in_sync_total')) >= inSync + 5, 20_000);
    for (const i of [0, 1, 2]) {
      assert.deepEqual((await c.replica(i, key)).values, [], `node-${i}'s replica`);
      const got = await c.http(i, 'GET', key, { consistency: 'ALL' });
      assert.equal(got.status, 404, `GET at ALL via node-${i}: ${JSON.stringify(got.body)}`);
    }
  });

  test('each node says how long ago its range synced longest ago was synced, and keeps that time in SYNCED_SINCE at a stop', async () => {
    // 24 ranges a node (8 vnodes x N = 3), one every 100 ms: every range comes round in seconds.
    // A range not yet synced counts from its process's start, so an age under the time since
    // every process started (by more than the gauge's rounding) says every range has synced since.
    for (const i of [0, 1, 2]) {
      await waitFor(
        `node-${i}'s every range synced since it started`,
        async () => (await c.metric(i, 'ringkv_anti_entropy_synced_since_age_seconds')) + 1 < (Date.now() - startedByMs) / 1000,
        20_000,
      );
    }
    const n = c.nodes[2]!;
    const proc = n.proc!;
    const exited = new Promise((r) => proc.once('exit', r));
    const stoppedAt = Date.now();
    c.signal(2, 'SIGTERM');
    await exited;
    // Written only once every range has been synced after the process started: proof the syncs counted.
    const recorded = Number(fs.readFileSync(path.join(n.dataDir, 'SYNCED_SINCE'), 'utf8'));
    assert.ok(recorded > stoppedAt - 15_000 && recorded <= stoppedAt, `SYNCED_SINCE ${recorded}, stopped at ${stoppedAt}`);
  });
});

describe('3-node cluster, no background repair: a scrub, a compaction or a read finds a damaged table and the replicas restore its keys', () => {
  let c: TestCluster;
  before(async () => {
    c = await TestCluster.start({ nodes: 3, hintedHandoff: false, readRepairChance: 0, antiEntropyIntervalMs: 0, vnodes: 8 });
  });
  after(async () => {
    await c?.close();
  });

  test('flush, a bit flip in node-1\'s newest table, scrub: the table is quarantined and the repair it runs brings every key back', async () => {
    // Proves design.md §12 Q6 end to end: checksums find the damage, the corrupt table leaves
    // the engine (so its keys read as their older versions there), and the node restores them
    // from its replicas by itself; ONE reads coordinated by node-1 read its own copy
    // (read_repair_chance 0), so only the scrub's repair can have brought v2 back.
    const keys = Array.from({ length: 150 }, (_, i) => `scrub-${i}`);
    const at = ['--node', `127.0.0.1:${c.nodes[1]!.port}`];
    for (const v of ['v1', 'v2']) {
      for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `${v}-${k}`, consistency: 'ALL' })).status, 200);
      const flushed = await c.cli(['flush', ...at]);
      assert.equal(flushed.code, 0, flushed.stderr);
      assert.match(flushed.stdout, /^flush: done in \d+ ms\n$/);
    }
    const shard = path.join(c.nodes[1]!.dataDir, 'shard-000');
    const sst = fs.readdirSync(shard).filter((n) => n.endsWith('.sst')).sort();
    assert.equal(sst.length, 2, sst.join());
    const newest = path.join(shard, sst[1]!);
    flipByte(newest, 100, 0x40);

    const scrub = await c.cli(['scrub', ...at, '--json']);
    assert.equal(scrub.code, 1, `a quarantine exits 1: ${scrub.stderr}`);
    const r = JSON.parse(scrub.stdout) as {
      tables: number;
      quarantined: Array<{ shard: number; file: string; level: number; entries: number; salvaged_entries: number; blocks_lost: number | null; reason: string }>;
      repair: { failed: number; pulled: number } | null;
    };
    assert.equal(r.tables, 2);
    assert.deepEqual(r.quarantined.map((q) => [q.shard, q.file, q.level, q.entries, q.blocks_lost]), [[0, path.join(shard, 'quarantine', sst[1]!), 0, keys.length, 1]]);
    const lost = keys.length - r.quarantined[0]!.salvaged_entries;
    assert.ok(lost > 0 && lost < keys.length, `the damaged block's keys are lost, the rest salvaged: ${lost}`);
    assert.match(r.quarantined[0]!.reason, /checksum mismatch/);
    assert.ok(r.repair !== null && r.repair.failed === 0 && r.repair.pulled >= lost, JSON.stringify(r.repair));
    assert.ok(c.nodes[1]!.log.some((l) => l.includes(`storage: ERROR scrub: shard 0 quarantined ${r.quarantined[0]!.file}`)), 'logged');
    assert.equal(await c.metric(1, 'ringkv_sstables_quarantined'), 1);
    for (const k of keys) {
      const got = await c.http(1, 'GET', k, { consistency: 'ONE' });
      assert.equal(base64Text(got.body.value), `v2-${k}`, k);
    }
    const again = await c.cli(['scrub', ...at]);
    assert.equal(again.code, 0, again.stderr);
    // The older table and the salvaged one, both sound now.
    assert.match(again.stdout, new RegExp(`^scrub: 2 tables, ${keys.length + r.quarantined[0]!.salvaged_entries} entries, \\d+ bytes read in \\d+ ms; 0 quarantined\n$`));
  });

  test('a compaction that meets a damaged table quarantines it, and the node says so and repairs by itself', async () => {
    // Node-2 gets four level-0 tables (the compaction trigger); the third is damaged before the
    // fourth is flushed, so the compaction that the fourth starts reads the damage. No one asks
    // for a scrub: the node notices the quarantine in its storage poll, logs it and repairs.
    const at = ['--node', `127.0.0.1:${c.nodes[2]!.port}`];
    const shard = path.join(c.nodes[2]!.dataDir, 'shard-000');
    const before = new Set(fs.readdirSync(shard).filter((n) => n.endsWith('.sst')));
    const flush = async (): Promise<string> => {
      const f = await c.cli(['flush', ...at]);
      assert.equal(f.code, 0, f.stderr);
      const made = fs.readdirSync(shard).filter((n) => n.endsWith('.sst') && !before.has(n));
      made.forEach((n) => before.add(n));
      assert.equal(made.length, 1, made.join());
      return path.join(shard, made[0]!);
    };
    const keys = Array.from({ length: 60 }, (_, i) => `compact-${i}`);
    let damaged = '';
    for (const round of [1, 2, 3]) {
      for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `r${round}-${k}`, consistency: 'ALL' })).status, 200);
      const table = await flush();
      if (round === 3) damaged = table;
    }
    flipByte(damaged, 100, 0x40);
    assert.equal((await c.http(0, 'PUT', 'fourth-table', { body: 'x', consistency: 'ALL' })).status, 200);
    const fourth = await c.cli(['flush', ...at]);
    assert.equal(fourth.code, 0, fourth.stderr);
    await waitFor('node-2 to log the quarantine and its repair', () => c.nodes[2]!.log.some((l) => /storage: repair after quarantine: \d+ of \d+ ranges synced, 0 failed, [1-9]\d* records pulled/.test(l)), 20_000);
    assert.ok(c.nodes[2]!.log.some((l) => l.includes('storage: ERROR 1 table(s) found corrupt by a compaction or a read and quarantined')), c.nodes[2]!.log.join('\n'));
    assert.ok(fs.existsSync(path.join(shard, 'quarantine', path.basename(damaged))));
    assert.equal(await c.metric(2, 'ringkv_shards_refusing_writes'), 0, 'the shard still takes writes');
    for (const k of keys) {
      const got = await c.http(2, 'GET', k, { consistency: 'ONE' });
      assert.equal(base64Text(got.body.value), `r3-${k}`, k);
    }
  });

  test('a read that meets a damaged block is answered by the other replicas, and the node quarantines the table and repairs by itself', async () => {
    // Node-0's newest table is damaged while the node is down (so its block cache is cold and
    // reads go to the file); nobody scrubs and nothing compacts: the first read of the damaged
    // block has to be what finds it.
    const keys = Array.from({ length: 150 }, (_, i) => `read-${i}`);
    const at = ['--node', `127.0.0.1:${c.nodes[0]!.port}`];
    const shard = path.join(c.nodes[0]!.dataDir, 'shard-000');
    const before = new Set(fs.readdirSync(shard).filter((n) => n.endsWith('.sst')));
    let newest = '';
    for (const v of ['v1', 'v2']) {
      for (const k of keys) assert.equal((await c.http(0, 'PUT', k, { body: `${v}-${k}`, consistency: 'ALL' })).status, 200);
      const flushed = await c.cli(['flush', ...at]);
      assert.equal(flushed.code, 0, flushed.stderr);
      const made = fs.readdirSync(shard).filter((n) => n.endsWith('.sst') && !before.has(n));
      assert.equal(made.length, 1, made.join());
      before.add(made[0]!);
      newest = path.join(shard, made[0]!);
    }
    await c.kill(0);
    flipByte(newest, 100, 0x40);
    await c.spawn(0);
    await c.waitStatus([0], 1, 'healthy', 15_000);
    await c.waitStatus([0], 2, 'healthy', 15_000);

    // Read until node-0 has quarantined the table (the keys are fixed, so where that happens is
    // too). QUORUM: node-0's own read of the damaged block fails and the read asks the next
    // replica; once the table is out, node-0's copy of its keys is v1 until the repair, which a
    // read at ONE answered by node-0 alone would return (as Cassandra's disk_failure_policy
    // best_effort does), and which QUORUM reconciles away.
    let read = 0;
    for (const k of keys) {
      const got = await c.http(0, 'GET', k, { consistency: 'QUORUM' });
      assert.equal(got.status, 200, JSON.stringify(got.body));
      assert.equal(base64Text(got.body.value), `v2-${k}`, k);
      read++;
      if ((await c.metric(0, 'ringkv_sstables_quarantined')) > 0) break;
    }
    assert.ok(read < keys.length, `the table was quarantined after ${read} reads, before the last`);
    await waitFor('node-0 to log the quarantine and its repair', () => c.nodes[0]!.log.some((l) => /storage: repair after quarantine: \d+ of \d+ ranges synced, 0 failed, [1-9]\d* records pulled/.test(l)), 20_000);
    assert.ok(c.nodes[0]!.log.some((l) => l.includes('storage: ERROR 1 table(s) found corrupt by a compaction or a read and quarantined')), c.nodes[0]!.log.join('\n'));
    assert.ok(fs.existsSync(path.join(shard, 'quarantine', path.basename(newest))));
    assert.equal(await c.metric(0, 'ringkv_sstables_quarantined'), 1);
    // ONE reads node-0's own copy first (read_repair_chance 0): without the repair, the keys of
    // the quarantined table's undamaged blocks would read as v1 here.
    for (const k of keys) {
      const got = await c.http(0, 'GET', k, { consistency: 'ONE' });
      assert.equal(base64Text(got.body.value), `v2-${k}`, k);
    }
  });
});
