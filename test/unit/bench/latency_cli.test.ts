// The latency suite's options (bench/latency/cli.ts): defaults, the flags a run of record uses,
// and bad values refused with the option's name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandLine, parseBenchArgs } from '../../../bench/latency/cli';

test('defaults, and the options of a run of record', () => {
  const d = parseBenchArgs([])!;
  assert.deepEqual(d.targets, ['ringkv', 'redis']);
  assert.equal(d.clusterNodes, 0);
  assert.equal(d.ringkvSyncMode, 'batch');
  assert.equal(d.redisFsync, 'always');
  assert.equal(d.damonOff, false);
  const r = parseBenchArgs(['--cluster-nodes', '3', '--records', '10000', '--damon-off', '--out', '/tmp/x'])!;
  assert.equal(r.clusterNodes, 3);
  assert.equal(r.records, 10_000);
  assert.equal(r.damonOff, true);
  assert.equal(r.out, '/tmp/x');
  assert.equal(parseBenchArgs(['--help']), null);
});

test('bad values are refused with the option named', () => {
  assert.throws(() => parseBenchArgs(['--ringkv-sync-mode', 'sometimes']), /--ringkv-sync-mode/);
  assert.throws(() => parseBenchArgs(['--cluster-nodes', '99']), /--cluster-nodes must be a number in 0\.\.16/);
  assert.throws(() => parseBenchArgs(['--workloads', 'A,Z']), /unknown workload "Z"/);
  assert.throws(() => parseBenchArgs(['--damon-off=yes']), /damon-off/);
});

test('the command line a run shows quotes what a shell would split or drop', () => {
  assert.equal(commandLine(['--cluster-nodes', '3', '--out', 'bench/reports/x']), 'ringkv bench --cluster-nodes 3 --out bench/reports/x');
  assert.equal(commandLine(['--md', '', '--out', 'a b']), "ringkv bench --md '' --out 'a b'");
  assert.equal(commandLine(['--seed', "it's"]), "ringkv bench --seed 'it'\\''s'");
  assert.equal(commandLine([]), 'ringkv bench');
});
