// What the main thread's side of a shard keeps alive between batches, as V8's young-generation
// collector sees it: a ShardRouter (one real shard worker, a real engine) answering GET frames of
// 32 ops must leave next to nothing alive on the main thread at each scavenge. ShardClient's
// queue once kept every request that had left it, until more than 1024 had, in an array of the
// old generation: each scavenge then copied those requests with their results (a median of
// ~120 KB per scavenge in this test, against ~7 KB without; on a cluster node's main thread under
// QUORUM GETs, 3.5 MB against 2.3 MB, ad hoc). Run in a child with --trace-gc-nvp
// (test/helpers/scavenges.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { scavengeSurvivedUnder } from '../../helpers/scavenges';

const shards = path.resolve(__dirname, '..', '..', '..', 'src', 'shards', 'index.js');

const script = `
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ShardRouter } = require(${JSON.stringify(shards)});
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-clientgc-'));
  const router = await ShardRouter.open({ dataDir: dir, nodeId: 'gc-test', shardCount: 1, storage: { syncMode: 'none' } });
  try {
    const keys = Array.from({ length: 512 }, (_, i) => new Uint8Array(Buffer.from('key:' + i)));
    const value = new Uint8Array(1024).fill(97);
    for (const key of keys) await router.write({ op: 'put', key, value, ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: null, returnRecord: false }, 5000);
    let c = 0;
    for (let i = 0; i < 12000; i++) {
      const ops = Array.from({ length: 32 }, () => ({ op: 'get', key: keys[(c = (c + 97) % 512)] }));
      await new Promise((resolve) => {
        let left = ops.length;
        router.submitMany(ops, 5000, () => { if (--left === 0) resolve(); });
      });
    }
  } finally {
    await router.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
`;

test('GET frames through a shard leave almost nothing alive on the main thread at a scavenge', () => {
  // 12000 frames of 32 reads of 1 KiB allocate a few hundred MB on the main thread: dozens of scavenges.
  const { bytes, runs } = scavengeSurvivedUnder(script, 48 * 1024, { mainThreadOnly: true });
  assert.ok(bytes < 48 * 1024, `median ${bytes} bytes alive per scavenge, the lowest of ${runs} runs`);
});

/**
 * PUT frames arriving one per event-loop turn, as from sockets, up to 4 unanswered, so that the
 * shard client keeps two batches out (each waits for its WAL sync) while more wait; each op with a
 * key of its own and its value a view into its frame's copy, as a decoded frame's are. `early`:
 * writes answered once applied (the cluster coordinator's way), so batches also wait for their
 * sync notice.
 */
const putFrames = (early: boolean) => `
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ShardRouter } = require(${JSON.stringify(shards)});
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-clientgc-'));
  const router = await ShardRouter.open({ dataDir: dir, nodeId: 'gc-test', shardCount: 1, storage: { syncMode: 'batch' } });
  try {
    const keys = Array.from({ length: 512 }, (_, i) => new Uint8Array(Buffer.from('key:' + i)));
    const frameBytes = new Uint8Array(32 * 1024).fill(97);
    let c = 0;
    let sent = 0;
    let unanswered = 0;
    const frames = 3000;
    await new Promise((done) => {
      const turn = () => {
        if (unanswered < 4) {
          sent++;
          unanswered++;
          const copy = frameBytes.slice();
          const ops = Array.from({ length: 32 }, (_, i) => ({ op: 'put', key: keys[(c = (c + 97) % 512)].slice(), value: copy.subarray(i * 1024, (i + 1) * 1024), ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: null, returnRecord: ${early} }));
          let left = ops.length;
          router.submitMany(ops, 5000, () => { if (--left === 0 && --unanswered === 0 && sent === frames) done(); }, ${early ? '() => {}' : 'null'});
        }
        if (sent < frames) setImmediate(turn);
      };
      turn();
    });
  } finally {
    await router.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
`;

test('PUT frames through a shard, two batches out, leave little alive on the main thread at a scavenge, with full collections between', () => {
  // What is alive is mostly the frames in flight (~70 KB). With the batches out in a long-lived
  // Map, every other batch since the last full collection was too: 216-249 KB in this test (~10 MB
  // on a node's main thread under PUT load).
  const { bytes, runs } = scavengeSurvivedUnder(putFrames(false), 144 * 1024, { mainThreadOnly: true, fullGcAfterScavenges: true });
  assert.ok(bytes < 144 * 1024, `median ${bytes} bytes alive per scavenge, the lowest of ${runs} runs`);
});

test('PUT frames answered early leave little alive on the main thread at a scavenge, with full collections between', () => {
  // In flight: ~130 KB. With the batches waiting for their sync notice in a long-lived Map as
  // well: 746-1032 KB.
  const { bytes, runs } = scavengeSurvivedUnder(putFrames(true), 320 * 1024, { mainThreadOnly: true, fullGcAfterScavenges: true });
  assert.ok(bytes < 320 * 1024, `median ${bytes} bytes alive per scavenge, the lowest of ${runs} runs`);
});
