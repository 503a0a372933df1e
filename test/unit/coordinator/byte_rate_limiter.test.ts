// The hint replay and range stream throttles' token bucket, on a stepped clock: a second's worth
// may go at once, a batch may overdraw it, and the next waits exactly until the debt is paid back;
// takeBytes waits in short steps and gives up when the node stops; a paced range replica takes
// the bytes of every page it reads and every batch it sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteRateLimiter, takeBytes } from '../../../src/coordinator/byte_rate_limiter';
import { pacedRangeReplica } from '../../../src/coordinator/anti_entropy';
import type { RangeEntry, RangeReplica } from '../../../src/antientropy';
import { ErrorCode, isRingkvError } from '../../../src/errors';

test('a full bucket lets a second of bytes through, then waits for the refill', () => {
  let now = 0;
  const b = new ByteRateLimiter(1000, () => now);
  assert.equal(b.waitMs(), 0);
  assert.ok(b.tryTake(600));
  assert.ok(b.tryTake(600), 'a batch may overdraw what is left');
  assert.equal(b.tryTake(1), false);
  // 200 bytes of debt (plus the one that must be left) at 1000 bytes/s: 201 ms.
  assert.equal(b.waitMs(), 201);
  now += 200;
  assert.equal(b.tryTake(1), false);
  now += 1;
  assert.equal(b.waitMs(), 0);
  assert.ok(b.tryTake(1));
});

test('an idle bucket refills to one second of bytes, no more', () => {
  let now = 0;
  const b = new ByteRateLimiter(1000, () => now);
  assert.ok(b.tryTake(1000));
  now += 60_000;
  assert.ok(b.tryTake(1000));
  assert.equal(b.tryTake(1), false, 'a minute idle did not bank a minute of bytes');
});

test('takeBytes: 5000 bytes at 1000 bytes/s after a full bucket wait 4 s, in steps; a stopping node ends the wait', async () => {
  let now = 0;
  const b = new ByteRateLimiter(1000, () => now);
  const steps: number[] = [];
  const o = { sleep: async (ms: number) => void (steps.push(ms), (now += ms)), closed: () => false };
  let waited = 0;
  for (let i = 0; i < 5; i++) waited += await takeBytes(b, 1000, o);
  // The first 1000 go at once; each next one waits for the 1000 before it to be paid back.
  assert.ok(waited >= 3000 && waited <= 4004, `waited ${waited} ms`);
  assert.equal(now, waited);
  assert.ok(Math.max(...steps) <= 100, 'no sleep longer than a step');
  let stopping = false;
  const o2 = { sleep: async (ms: number) => void ((now += ms), (stopping = true)), closed: () => stopping };
  await assert.rejects(takeBytes(b, 1000, o2).then(() => takeBytes(b, 1000, o2)), (e: unknown) => isRingkvError(e, ErrorCode.Closed));
});

test('a paced range replica paces the bytes of the pages it reads and the records it sends, not the Merkle leaves', async () => {
  const entry = (k: string, v: string): RangeEntry => ({ key: Buffer.from(k), record: { versionVector: new Uint8Array(10), value: Buffer.from(v), tombstone: false } });
  const page = [entry('a', 'xxxx'), entry('bb', 'yyyyyyyy')];
  const inner: RangeReplica = {
    nodeId: 'p',
    merkleLeaves: async () => ({ leaves: new BigUint64Array(4), entries: 2 }),
    scanPage: async () => ({ entries: page, more: false }),
    apply: async (entries) => entries.length,
  };
  const paced: number[] = [];
  const r = pacedRangeReplica(inner, async (bytes) => void paced.push(bytes));
  await r.merkleLeaves({ from: 0n, to: 10n }, 2);
  assert.deepEqual(paced, []);
  assert.equal((await r.scanPage({ from: 0n, to: 10n }, null)).entries.length, 2);
  assert.equal(await r.apply([entry('ccc', 'z')]), 1);
  assert.deepEqual(paced, [1 + 10 + 4 + 2 + 10 + 8, 3 + 10 + 1]);
});

test('takeBytes with maxWaitMs: past it the bytes go anyway, as debt that the next take waits out', async () => {
  let now = 0;
  const b = new ByteRateLimiter(1000, () => now);
  const o = { sleep: async (ms: number) => void (now += ms), closed: () => false, maxWaitMs: 250 };
  assert.equal(await takeBytes(b, 3000, o), 0, 'a full bucket lets one batch overdraw it');
  // 2000 bytes of debt: a wait of 2 s, cut at 250 ms, and then the 100 bytes go into debt too.
  assert.equal(await takeBytes(b, 100, o), 300, 'steps of 100 ms until past 250 ms');
  assert.equal(b.tryTake(1), false);
  assert.equal(b.waitMs(), 1801, '2000 - 300 + 100 bytes owed, and the one that must be left');
});
