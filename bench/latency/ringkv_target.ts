// The ringkv side of the benchmark: operations through the client library (pipelined WebSocket,
// per-tick batching, ring-aware routing), at one consistency level.
import { RingkvClient } from '../../src/client';
import type { ConsistencyLevel } from '../../src/coordinator/types';
import type { LatencyTarget } from './target';

export class RingkvTarget implements LatencyTarget {
  readonly system = 'ringkv' as const;

  private constructor(readonly name: string, private readonly client: RingkvClient, private readonly consistency: ConsistencyLevel) {}

  static async open(name: string, nodes: string[], consistency: ConsistencyLevel, timeoutMs: number): Promise<RingkvTarget> {
    // No retries: a failed attempt must count as an error, not hide inside a retry's latency.
    const client = await RingkvClient.connect({ nodes, consistency, timeoutMs, retries: 0 });
    return new RingkvTarget(name, client, consistency);
  }

  async read(key: string): Promise<void> {
    await this.client.get(key, { consistency: this.consistency });
  }

  async write(key: string, value: Uint8Array): Promise<void> {
    await this.client.put(key, value, { consistency: this.consistency });
  }

  async readModifyWrite(key: string, value: Uint8Array): Promise<void> {
    const r = await this.client.get(key, { consistency: this.consistency });
    // Writing with the read's context supersedes what was read, as a real read-modify-write must.
    await this.client.put(key, value, r.found ? { consistency: this.consistency, context: r.context } : { consistency: this.consistency });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
