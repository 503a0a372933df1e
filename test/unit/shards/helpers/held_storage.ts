// Test helper loaded INSIDE a shard worker (ShardWorkerData.storageModule): the real engine, except
// that scrub() and cleanup() first write `HELD-<name>` beside the shard's folder and then wait
// until a file `RELEASE` is there, so tests can keep both of a worker's control-task slots busy
// for as long as they like.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openStorage as openReal } from '../../../../src/storage';
import type { StorageEngine, StorageOptions } from '../../../../src/storage/types';

export const releaseFileName = 'RELEASE';
export const heldFileName = (method: string): string => `HELD-${method}`;

async function held(dataDir: string, method: string): Promise<void> {
  fs.writeFileSync(path.join(dataDir, heldFileName(method)), '');
  while (!fs.existsSync(path.join(dataDir, releaseFileName))) await new Promise((r) => setTimeout(r, 10));
}

export async function openStorage(options: StorageOptions): Promise<StorageEngine> {
  const engine = await openReal(options);
  const dataDir = path.dirname(options.dir);
  return new Proxy(engine, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'scrub' || prop === 'cleanup') {
        const method = v as (...a: unknown[]) => Promise<unknown>;
        return async (...args: unknown[]) => {
          await held(dataDir, prop);
          return method.apply(target, args);
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
