// GET /health says ok only while the node's storage answers: a coordinator whose stats fail (a
// shard whose worker could not be opened again refuses every request) is 503 storage_failed, so
// a load balancer stops sending it writes, rather than 200 ok.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CoordinatorStats } from '../../../src/coordinator/types';
import { ErrorCode, RingkvError } from '../../../src/errors';
import { startServer } from '../../../src/server/server';
import { MemoryCoordinator } from './memory_coordinator';

class BrokenStorage extends MemoryCoordinator {
  broken = false;
  override async stats(): Promise<CoordinatorStats> {
    if (this.broken) throw new RingkvError(ErrorCode.Internal, 'shard 1: its worker thread could not be opened again');
    return super.stats();
  }
}

test('GET /health: ok while the storage answers, 503 storage_failed once it does not', async () => {
  const coordinator = new BrokenStorage();
  const server = await startServer({ coordinator, port: 0, log: () => undefined });
  try {
    const health = async () => {
      const res = await fetch(`http://127.0.0.1:${server.port}/health`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    assert.deepEqual((await health()).status, 200);
    coordinator.broken = true;
    const failed = await health();
    assert.equal(failed.status, 503, JSON.stringify(failed.body));
    assert.equal(failed.body['status'], 'storage_failed');
    assert.match(String(failed.body['message']), /could not be opened again/);
  } finally {
    await server.close(1000);
  }
});
