// What the storage engine leaves alive between writes, as V8's young-generation collector sees
// it: overwriting a fixed set of keys must leave next to nothing alive at each scavenge. The
// memtable once kept a view object per payload in an array of the old generation, so every
// scavenge copied (and promoted) one object per key written since the last: a median of ~576 KB
// per scavenge in this test, against ~60 KB without; under ShardCore PUT batches (ad hoc) the
// scavenges took mostly 1-5 ms with it and under 1 ms without.
// Run in a child with --trace-gc-nvp (test/helpers/scavenges.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { scavengeSurvivedUnder } from '../../helpers/scavenges';

const storage = path.resolve(__dirname, '..', '..', '..', 'src', 'storage', 'index.js');

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
