// Test helper loaded INSIDE a shard worker (ShardWorkerData.storageModule): the real engine, with
// every write() held back 400 ms, so tests can make a shard slower than a request's timeout.
import { openStorage as openReal } from '../../../../src/storage';
import type { StorageEngine, StorageOptions } from '../../../../src/storage/types';

export const writeDelayMs = 400;

export async function openStorage(options: StorageOptions): Promise<StorageEngine> {
  const engine = await openReal(options);
  return new Proxy(engine, {
    get(target, prop, receiver) {
      if (prop === 'write') {
        return async (batch: Parameters<StorageEngine['write']>[0]) => {
          await new Promise((r) => setTimeout(r, writeDelayMs));
          return target.write(batch);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
