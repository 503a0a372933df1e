// What a shard leaves alive between batches, as V8's young-generation collector sees it: a
// ShardCore running PUT batches (32 ops, each awaited, over an engine that keeps nothing) must
// leave next to nothing alive at each scavenge. It once kept a long-lived map of unsettled key
// states, added to and deleted from by every batch, and then ~13% of everything allocated between
// two scavenges was still alive at the second (8 MB per scavenge, 20-30 ms pauses on the shard
// thread), though no batch outlived its own await. Run in a child with --trace-gc-nvp
// (test/helpers/scavenges.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { scavengeSurvivedUnder } from '../../helpers/scavenges';

const shardCore = path.resolve(__dirname, '..', '..', '..', 'src', 'shards', 'shard_core.js');

/** `idempotency`: each PUT carries a key of its own (the TypeScript client's way), remembered in a cache of 16,384. */
const script = (idempotency: boolean) => `
const { ShardCore } = require(${JSON.stringify(shardCore)});
const engine = { peekSync: () => null, getSync: () => null, write: () => Promise.resolve() };
const core = new ShardCore(engine, { nodeId: 'gc-test', conflictMode: 'vclock', idempotencyKeysMax: 16384, idempotencyTtlMs: 60000 });
const keys = Array.from({ length: 10000 }, (_, i) => new Uint8Array(Buffer.from('key:' + i)));
const value = new Uint8Array(1024).fill(97);
let c = 0;
let id = 0;
const puts = () => Array.from({ length: 32 }, () => ({ op: 'put', key: keys[(c = (c + 7919) % 10000)], value, ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: ${idempotency ? "'client-7f3a-' + (id++).toString(36)" : 'null'}, returnRecord: false }));
(async () => { for (let i = 0; i < 6000; i++) await core.applyBatch(puts()).durable; })();
`;

test('PUT batches leave almost nothing alive at a scavenge (no per-key state outlives its batch)', () => {
  // 6000 batches allocate a few hundred MB: dozens of scavenges.
  const { bytes, runs } = scavengeSurvivedUnder(script(false), 512 * 1024);
  assert.ok(bytes < 512 * 1024, `median ${bytes} bytes alive per scavenge, the lowest of ${runs} runs`);
});

test('PUT batches with idempotency keys leave almost nothing alive at a scavenge either (the cache keeps no object per write)', () => {
  // Each remembered write lives for the next 16,384: past several scavenges. As a Map of strings
  // and objects the cache had ~16k entries of ~300 bytes alive at every scavenge.
  const { bytes, runs } = scavengeSurvivedUnder(script(true), 512 * 1024);
  assert.ok(bytes < 512 * 1024, `median ${bytes} bytes alive per scavenge, the lowest of ${runs} runs`);
});
