// What the storage engine leaves alive between writes, as V8's young-generation collector sees
// it: overwriting a fixed set of keys must leave next to nothing alive at each scavenge. The
// memtable once kept a view object per payload in an array of the old generation, so every
// scavenge copied (and promoted) one object per key written since the last: a median of ~576 KB
// per scavenge in this test, against ~60 KB without; under ShardCore PUT batches (ad hoc) the
// scavenges took mostly 1-5 ms with it and under 1 ms without.
// Run in a child with --trace-gc-nvp, which prints each scavenge's new_space_survived.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

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
  const r = spawnSync(process.execPath, ['--max-semi-space-size=64', '--trace-gc-nvp', '-e', script], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  const survived = r.stdout
    .split('\n')
    .filter((l) => l.includes('gc=s '))
    .map((l) => Number(/ new_space_survived=(\d+)/.exec(l)?.[1]));
  assert.ok(survived.length >= 10 && survived.every((n) => Number.isFinite(n)), `parsed ${survived.length} scavenges`);
  const perScavenge = [...survived].sort((a, b) => a - b)[Math.floor(survived.length / 2)]!;
  assert.ok(perScavenge < 192 * 1024, `median ${perScavenge} bytes alive per scavenge`);
});
