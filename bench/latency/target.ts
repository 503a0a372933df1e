// What the benchmark drives: a key-value store seen through its client, with exactly the
// operations the YCSB core workloads need. Implementations: ringkv (through src/client) and Redis
// (through ioredis), so both get the same keys, values and timeline.
export interface LatencyTarget {
  /** Short label for tables and file names, e.g. "ringkv-1node-QUORUM" or "redis". */
  readonly name: string;
  /** The kind of system, for ratios: every ringkv figure is divided by the redis one. */
  readonly system: 'ringkv' | 'redis';
  read(key: string): Promise<void>;
  /** Update and insert are both a blind write of the whole value. */
  write(key: string, value: Uint8Array): Promise<void>;
  /** Read, then write a new value (measured as one operation, as YCSB does). */
  readModifyWrite(key: string, value: Uint8Array): Promise<void>;
  close(): Promise<void>;
}
