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
