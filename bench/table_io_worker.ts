// The table-building thread of bench/table-io.bench.ts: builds one table of about `tableBytes` of
// 1000-byte values per message with the given write-back step, answers with how long the build
// (through its final fsync) took, then deletes the table at once or gradually as asked.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parentPort } from 'node:worker_threads';
import { bloomBitsPerKeyDefault } from '../src/constants';
import { encodePayload } from '../src/storage/entry';
import { removeGradually } from '../src/storage/delete-scheduler';
import { TableBuilder } from '../src/storage/table-builder';

export interface BuildRequest {
  dir: string;
  number: number;
  tableBytes: number;
  writebackBytes: number;
  /** removeGradually (as the engine deletes obsolete files now) instead of one unlink. */
  gradualDelete: boolean;
}

const valueBytes = 1000;
const pool = randomBytes(1024 * 1024);
const none = Buffer.alloc(0);

parentPort!.on('message', (req: BuildRequest) => {
  void (async () => {
    const started = performance.now();
    const file = path.join(req.dir, `${String(req.number).padStart(6, '0')}.sst`);
    const b = new TableBuilder(file, req.number, bloomBitsPerKeyDefault, req.writebackBytes);
    const count = Math.ceil(req.tableBytes / valueBytes);
    for (let i = 0; i < count; i++) {
      const key = Buffer.from(`bench-${String(i).padStart(10, '0')}`);
      const sk = Buffer.alloc(8 + key.length);
      sk.writeUInt32BE(i, 4); // increasing tokens: the builder needs increasing sort keys
      key.copy(sk, 8);
      const at = (i * 7919) % (pool.length - valueBytes);
      b.add(sk, encodePayload({ key, value: pool.subarray(at, at + valueBytes), timestampMs: 1, versionVector: none, tombstone: false, expiresAtMs: 0 }));
    }
    await b.finish();
    const buildMs = performance.now() - started;
    if (req.gradualDelete) await removeGradually(file);
    else fs.rmSync(file);
    parentPort!.postMessage(buildMs);
  })();
});
