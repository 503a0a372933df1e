// What the storage engine leaves alive between writes, as V8's young-generation collector sees
// it: overwriting a fixed set of keys must leave next to nothing alive at each scavenge, and new
// keys must not be promoted one object each. The
// memtable once kept a view object per payload in an array of the old generation, so every
// scavenge copied (and promoted) one object per key written since the last: a median of ~576 KB
// per scavenge in this test, against ~60 KB without; under ShardCore PUT batches (ad hoc) the
// scavenges took mostly 1-5 ms with it and under 1 ms without. It also kept each new key's sort
// key, a Buffer view made by the write: 106 bytes promoted per new key in the test below, 15
// with the keys copied into the memtable's key buffer.
// Run in a child with --trace-gc-nvp (test/helpers/scavenges.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { scavengePromotedBytes, scavengeSurvivedUnder } from '../../helpers/scavenges';

const storage = path.resolve(__dirname, '..', '..', '..', 'src', 'storage', 'index.js');
const memtable = path.resolve(__dirname, '..', '..', '..', 'src', 'storage', 'memtable.js');
const sortKey = path.resolve(__dirname, '..', '..', '..', 'src', 'storage', 'sort-key.js');

const script = `
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openStorage } = require(${JSON.stringify(storage)});
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-memgc-'));
  try {
    const engine = await openStorage({ dir, syncMode: 'none' });
    const keys = Array.from({ length: 10000 }, (_, i) => new Uint8Array(Buffer.from('key:' + i)));
    const value = new Uint8Array(1024).fill(97);
    const versionVector = new Uint8Array(40).fill(1);
    let c = 0;
    for (let i = 0; i < 6000; i++) {
      const batch = Array.from({ length: 32 }, () => ({ key: keys[(c = (c + 7919) % 10000)], value, versionVector, timestampMs: 1764000000000 + i, tombstone: false, expiresAtMs: 0 }));
      await engine.write(batch);
    }
    await engine.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
})();
`;

test('overwriting keys leaves almost nothing alive at a scavenge (the memtable keeps no object per write)', () => {
  const { bytes, runs } = scavengeSurvivedUnder(script, 192 * 1024);
  assert.ok(bytes < 192 * 1024, `median ${bytes} bytes alive per scavenge, the lowest of ${runs} runs`);
});

test('new keys are not promoted one object each (the memtable copies sort keys into its own buffer)', () => {
  // Sort keys made as the engine makes them (sortKeysOf, a batch's keys views into one buffer).
  const keysWritten = 320_000;
  const promoted = scavengePromotedBytes(`
const { Memtable } = require(${JSON.stringify(memtable)});
const { sortKeysOf } = require(${JSON.stringify(sortKey)});
const m = new Memtable(1);
const payload = Buffer.alloc(100);
let c = 0;
for (let i = 0; i < ${keysWritten / 32}; i++) {
  const sks = sortKeysOf(Array.from({ length: 32 }, () => new Uint8Array(Buffer.from('new-key:' + c++))));
  for (let j = 0; j < 32; j++) m.put(sks[j], payload.subarray(0, 100));
}
if (m.count !== ${keysWritten}) throw new Error('not every key went in');
`);
  assert.ok(promoted / keysWritten < 48, `${(promoted / keysWritten).toFixed(1)} bytes promoted per new key`);
});
