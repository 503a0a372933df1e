// Test helper loaded INSIDE a shard worker (ShardWorkerData.storageModule): the real engine, except
// that writing the key "die" ends the worker thread on the spot, the way a fatal bug or an
// out-of-memory would, so tests can check the router fails what was in flight and carries on.
import { openStorage as openReal } from '../../../../src/storage';
import type { StorageEngine, StorageEntry, StorageOptions } from '../../../../src/storage/types';

export async function openStorage(options: StorageOptions): Promise<StorageEngine> {
  const engine = await openReal(options);
  return new Proxy(engine, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'write') {
        return (batch: StorageEntry[]) => {
          if (batch.some((e) => Buffer.from(e.key).toString() === 'die')) process.exit(1);
          return target.write(batch);
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
