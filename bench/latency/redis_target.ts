// The Redis side of the benchmark, through ioredis with auto-pipelining (commands of one tick
// share a write, the counterpart of ringkv's per-tick frame batching). GET/SET of the raw 1 KiB
// value; read-modify-write is GET then SET, like YCSB's Redis binding (not a transaction).
import Redis from 'ioredis';
import type { LatencyTarget } from './target';

export class RedisTarget implements LatencyTarget {
  readonly system = 'redis' as const;

  private constructor(readonly name: string, private readonly redis: Redis) {}

  static async open(name: string, port: number, timeoutMs: number): Promise<RedisTarget> {
    const redis = new Redis({
      host: '127.0.0.1',
      port,
      enableAutoPipelining: true,
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    });
    await redis.connect();
    return new RedisTarget(name, redis);
  }

  async read(key: string): Promise<void> {
    await this.redis.getBuffer(key);
  }

  async write(key: string, value: Uint8Array): Promise<void> {
    await this.redis.set(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }

  async readModifyWrite(key: string, value: Uint8Array): Promise<void> {
    await this.redis.getBuffer(key);
    await this.redis.set(key, Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
