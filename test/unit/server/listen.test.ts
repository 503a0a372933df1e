// Proves a node's port is its own: a second server on a port in use fails to start with a clear
// error instead of sharing the port (uSockets sets SO_REUSEPORT unless told otherwise, and the
// kernel would then deal connections to both, so clients would see two stores at random), and
// the first one keeps answering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { startServer } from '../../../src/server/server';
import { freePort } from '../../helpers/ports';
import { MemoryCoordinator } from './memory_coordinator';

test('a second server on a port in use is refused, and the first keeps every connection', async () => {
  // A port named up front, as an operator names one: a socket bound to port 0 takes no partner
  // on its port even with SO_REUSEPORT, which would hide the sharing this test is about.
  const first = await startServer({ coordinator: new MemoryCoordinator(), port: await freePort(), log: () => undefined });
  try {
    const second = await startServer({ coordinator: new MemoryCoordinator(), port: first.port, log: () => undefined }).then(
      async (shared) => {
        await shared.close(100);
        return null;
      },
      (err: unknown) => err,
    );
    assert.ok(second !== null, `a second server listened on ${first.port} beside the first`);
    assert.ok(isRingkvError(second, ErrorCode.Io) && second.message.includes(`cannot listen on 127.0.0.1:${first.port}`), String(second));
    // With a shared port some of these would have gone to the refused server (had it listened).
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`http://127.0.0.1:${first.port}/health`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
  } finally {
    await first.close(100);
  }
});
