// TableBuilder on a real file: a table of several MiB is written out to the disk in steps as it is
// built (tableWritebackBytes, native syncFileRange), not only by its final fsync, and reads back
// whole through Table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bloomBitsPerKeyDefault, tableWritebackBytes } from '../../../src/constants';
import { BlockCache } from '../../../src/storage/block-cache';
import { decodePayload, encodePayload } from '../../../src/storage/entry';
import { compareSortKeys, sortKeyOf } from '../../../src/storage/sort-key';
import { Table } from '../../../src/storage/table';
import { TableBuilder } from '../../../src/storage/table-builder';

test('a table is written out to the disk every tableWritebackBytes while it is built, and reads back', async () => {
  assert.ok(tableWritebackBytes > 0, 'write-back is on by default');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-table-builder-'));
  try {
    const count = 6000;
    const valueBytes = 1000;
    const keys = Array.from({ length: count }, (_, i) => Buffer.from(`key-${i}`));
    const sorted = keys.map((key) => ({ key, sk: sortKeyOf(key) })).sort((a, b) => compareSortKeys(a.sk, b.sk));
    const valueOf = (key: Buffer): Buffer => Buffer.alloc(valueBytes, key[key.length - 1]!);
    const file = path.join(dir, '000001.sst');
    const b = new TableBuilder(file, 1, bloomBitsPerKeyDefault);
    for (const { key, sk } of sorted) {
      b.add(sk, encodePayload({ key, value: valueOf(key), timestampMs: 1000, versionVector: Buffer.alloc(0), tombstone: false, expiresAtMs: 0 }));
    }
    // Every byte but the last chunk of at most writeback + one write's worth went out before finish().
    const builtBytes = b.estimatedBytes;
    assert.ok(builtBytes > 5 * tableWritebackBytes, `a table of ${builtBytes} bytes spans several write-back steps`);
    if (process.platform === 'linux') {
      assert.ok(b.writtenBackBytes >= builtBytes - 2 * tableWritebackBytes, `${b.writtenBackBytes} of ${builtBytes} bytes written back`);
    } else {
      assert.equal(b.writtenBackBytes, 0);
    }
    const built = await b.finish();
    assert.equal(built.fileBytes, fs.statSync(file).size);
    assert.ok(b.writtenBackBytes <= built.fileBytes);
    const t = Table.open(file, 1);
    try {
      const cache = new BlockCache(1 << 20);
      for (const key of [keys[0]!, keys[count / 2]!, keys[count - 1]!]) {
        const payload = t.get(sortKeyOf(key), key, cache);
        assert.ok(payload !== null, `${key.toString()} is in the table`);
        assert.deepEqual(Buffer.from(decodePayload(key, payload).value), valueOf(key));
      }
      assert.equal(t.meta.entryCount, count);
    } finally {
      t.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
