// One connection's queue (src/client/connection.ts) against a scripted peer over a real socket:
// operations past the node's in-flight limit wait and leave oldest first as answers free room;
// a waiting operation that times out is failed as not sent and never leaves; what is held is
// bounded (RKV_ERR_BUSY past it); closing fails everything held; and a peer that stops reading
// gets no more than the bytes a connection may hold unwritten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeConnection, type ConnectionCounters } from '../../../src/client/connection';
import { clientQueuedOpsPerConnectionMax, clientUnsentBytesPerConnectionMax, valueBytesMax, wsInflightOpsPerConnectionMax } from '../../../src/constants';
import { ErrorCode, isRingkvError, type RingkvError } from '../../../src/errors';
import { WireErrorCode } from '../../../src/protocol/client_codes';
import type { ClientResult } from '../../../src/protocol/client_response';
import { waitFor } from '../../helpers/cluster';
import { ProtocolPeer } from './protocol_peer';

const keyOf = (n: number): Uint8Array => Buffer.from(`k${n}`);
const numberOf = (key: Uint8Array): number => Number(Buffer.from(key).toString().slice(1));

test('past the in-flight limit operations wait and leave oldest first; a waiting one that times out never leaves', async () => {
  /** Answers held back until released, so that the in-flight limit fills. */
  const held: Array<() => void> = [];
  const peer = await ProtocolPeer.start(
    (req) =>
      new Promise<ClientResult>((resolve) => {
        held.push(() => resolve({ id: req.id, status: 'not_found' }));
      }),
  );
  const counters: ConnectionCounters = { framesSent: 0, opsSent: 0, timeouts: 0 };
  const c = new NodeConnection(peer.address, 'n1', counters);
  try {
    const waitingOps = 3_000;
    const total = wsInflightOpsPerConnectionMax + waitingOps;
    /** Waiting operations (past the limit) given a short timeout: every 7th. */
    const short = (n: number): boolean => n >= wsInflightOpsPerConnectionMax && n % 7 === 0;
    const outcomes = Array.from({ length: total }, (_, n) =>
      c.send({ op: 'get', key: keyOf(n), consistency: 'ONE' }, short(n) ? 200 : 30_000).then(
        (r) => ({ ok: true as const, status: r.status }),
        (e: unknown) => ({ ok: false as const, e }),
      ),
    );
    assert.equal(c.pendingCount, total);
    await waitFor('the in-flight limit filled', () => held.length === wsInflightOpsPerConnectionMax, 10_000);
    // Let the short timeouts fire while their operations wait behind the full limit.
    await waitFor('the short timeouts', () => counters.timeouts === Array.from({ length: total }, (_, n) => n).filter(short).length, 10_000);
    assert.equal(counters.opsSent, wsInflightOpsPerConnectionMax, 'nothing past the limit left');
    // Release answers in rounds: each frees room for the next oldest waiting operations.
    while (peer.requests.length < total - counters.timeouts || held.length > 0) {
      held.splice(0).forEach((answer) => answer());
      await new Promise((r) => setTimeout(r, 10));
    }
    const results = await Promise.all(outcomes);
    results.forEach((r, n) => {
      if (short(n)) {
        assert.ok(!r.ok && isRingkvError(r.e, ErrorCode.Timeout), `op ${n} timed out`);
        assert.equal((r.e as { details: Record<string, unknown> }).details['sent'], false);
      } else {
        assert.ok(r.ok && r.status === 'not_found', `op ${n} answered`);
      }
    });
    const sent = peer.requests.map((r) => numberOf(r.key));
    assert.deepEqual(sent, Array.from({ length: total }, (_, n) => n).filter((n) => !short(n)), 'sent oldest first, the timed-out ones never');
    assert.equal(c.pendingCount, 0);
  } finally {
    c.close();
    await peer.close();
  }
});

test('what a connection holds is bounded: past the bound a send fails at once as busy; close fails what is held', async () => {
  const peer = await ProtocolPeer.start(() => null);
  const c = new NodeConnection(peer.address, 'n1', { framesSent: 0, opsSent: 0, timeouts: 0 });
  try {
    const held = Array.from({ length: clientQueuedOpsPerConnectionMax }, (_, n) =>
      c.send({ op: 'get', key: keyOf(n), consistency: 'ONE' }, 60_000).then(
        () => null,
        (e: unknown) => e,
      ),
    );
    await assert.rejects(c.send({ op: 'get', key: keyOf(-1), consistency: 'ONE' }, 60_000), (e: unknown) => isRingkvError(e, ErrorCode.Busy));
    await waitFor('the in-flight limit filled', () => peer.requests.length === wsInflightOpsPerConnectionMax, 10_000);
    c.close();
    const errors = await Promise.all(held);
    assert.ok(errors.every((e) => isRingkvError(e, ErrorCode.Closed)), 'every held operation failed as closed');
    assert.equal(c.pendingCount, 0);
  } finally {
    c.close();
    await peer.close();
  }
});

test('a frame-level error fails what was in flight and sends what waited behind it at once', async () => {
  const peer = await ProtocolPeer.start(() => null);
  const c = new NodeConnection(peer.address, 'n1', { framesSent: 0, opsSent: 0, timeouts: 0 });
  try {
    const inflight = Array.from({ length: wsInflightOpsPerConnectionMax }, (_, n) => c.send({ op: 'get', key: keyOf(n), consistency: 'ONE' }, 30_000).then(() => null, (e: unknown) => e));
    const waiting = c.send({ op: 'get', key: keyOf(-1), consistency: 'ONE' }, 30_000).catch((e: unknown) => e);
    await waitFor('the in-flight limit filled', () => peer.requests.length === wsInflightOpsPerConnectionMax, 10_000);
    peer.sendErrorFrame(WireErrorCode.MalformedFrame, 'could not read a frame');
    const errors = await Promise.all(inflight);
    assert.ok(errors.every((e) => isRingkvError(e, ErrorCode.MalformedFrame)), String(errors[0]));
    // Nothing else is sent: the waiting operation leaves because the error freed room.
    await waitFor('the waiting operation sent', () => peer.requests.length === wsInflightOpsPerConnectionMax + 1, 5_000);
    assert.equal(numberOf(peer.requests.at(-1)!.key), -1);
    c.close();
    assert.ok(isRingkvError(await waiting, ErrorCode.Closed));
  } finally {
    c.close();
    await peer.close();
  }
});

test('an address the WebSocket constructor throws on fails the operations as unavailable, not the process', async () => {
  const c = new NodeConnection('bad#host:7000', 'n1', { framesSent: 0, opsSent: 0, timeouts: 0 });
  try {
    await assert.rejects(c.send({ op: 'get', key: keyOf(1), consistency: 'ONE' }, 5_000), (e: unknown) => isRingkvError(e, ErrorCode.Unavailable) && /cannot connect to n1/.test((e as Error).message));
    assert.equal(c.pendingCount, 0);
  } finally {
    c.close();
  }
});

test('a peer that stops reading gets frames up to the unwritten-bytes bound and the kernel buffers, no more: later operations time out unsent', async () => {
  const peer = await ProtocolPeer.start(() => null); // never answers
  const counters: ConnectionCounters = { framesSent: 0, opsSent: 0, timeouts: 0 };
  const c = new NodeConnection(peer.address, 'n1', counters);
  try {
    await assert.rejects(c.send({ op: 'get', key: keyOf(0), consistency: 'ONE' }, 300), (e: unknown) => isRingkvError(e, ErrorCode.Timeout));
    assert.equal(peer.connectionCount, 1);
    peer.stopReading();
    // Rounds of writes that time out, as a client retrying against a paused node: 160 MiB in all.
    const value = Buffer.alloc(valueBytesMax, 1);
    const rounds = 4;
    const perRound = 40;
    let unsent = 0;
    for (let r = 0; r < rounds; r++) {
      const outcomes = await Promise.allSettled(Array.from({ length: perRound }, (_, i) => c.send({ op: 'put', key: keyOf(1 + r * perRound + i), value, consistency: 'ONE' }, 300)));
      for (const o of outcomes) {
        assert.equal(o.status, 'rejected');
        const e = (o as PromiseRejectedResult).reason as unknown;
        assert.ok(isRingkvError(e, ErrorCode.Timeout), String(e));
        if ((e as RingkvError).details['sent'] === false) unsent++;
      }
    }
    // The bound, one frame over it, and what the two kernels' socket buffers take (a few MiB each on loopback).
    const sentMiB = counters.opsSent - 1;
    const allowedMiB = (clientUnsentBytesPerConnectionMax + 4 * 1024 * 1024) / valueBytesMax + 32;
    assert.ok(sentMiB <= allowedMiB, `${sentMiB} MiB of frames sent to a peer that reads none (allowed ${allowedMiB})`);
    assert.equal(unsent, rounds * perRound - sentMiB);
  } finally {
    c.close();
    await peer.close();
  }
});
