// Test helper loaded INSIDE a shard worker (ShardWorkerData.storageModule): the real engine whose
// write() fails with RKV_ERR_IO, so tests can check a storage error reaches the caller with its
// code and details intact across the thread boundary.
import { ErrorCode, RingkvError } from '../../../../src/errors';
import { openStorage as openReal } from '../../../../src/storage';
import type { StorageEngine, StorageOptions } from '../../../../src/storage/types';

export async function openStorage(options: StorageOptions): Promise<StorageEngine> {
  const engine = await openReal(options);
  return new Proxy(engine, {
    get(target, prop, receiver) {
      if (prop === 'write') {
        return () => Promise.reject(new RingkvError(ErrorCode.Io, 'injected: disk full', { details: { file: 'wal-000001.log', errno: 'ENOSPC' } }));
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
