// Proves the client's read cache (src/client/read_cache.ts) on a stepped clock: answers within
// the TTL and not after it, only for reads at the level it was read at or a weaker one, stays
// within its entry and byte bounds (least recently used out first), keeps values apart from the
// frame they came in, drops a key a write touches, and never keeps a read that was in flight across
// a write of its key, even after it has forgotten which keys were written; and lets a read join
// one of its key in flight only where that read's answer would do for it, and not across a write,
// with the reads in flight kept so that they leave nothing alive at a scavenge once answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { ReadCache } from '../../../src/client/read_cache';
import type { GetResult } from '../../../src/client/types';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { medianScavengeSurvivedBytes } from '../../helpers/scavenges';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
const text = (u: Uint8Array): string => Buffer.from(u).toString();

function found(key: string, value: string | Uint8Array): GetResult {
  const v = typeof value === 'string' ? b(value) : value;
  return { found: true, key: b(key), value: v, version: 'v1', timestampMs: 1, siblings: [{ value: v, version: 'v1', timestampMs: 1 }], context: b('c'), node: 'n1' };
}

function valueOf(r: GetResult | undefined): string | undefined {
  return r === undefined ? undefined : r.found ? text(r.value) : 'not found';
}

test('answers within the TTL, not after it, and only at the level read or a weaker one', () => {
  let now = 1000;
  const c = new ReadCache({ ttlMs: 100 }, () => now);
  c.store(b('k'), 'QUORUM', c.readBegins(), found('k', 'one'));
  c.store(b('gone'), 'ONE', c.readBegins(), { found: false, key: b('gone'), node: 'n1' });
  assert.equal(valueOf(c.lookup(b('k'), 'ONE')), 'one');
  assert.equal(valueOf(c.lookup(b('k'), 'QUORUM')), 'one');
  assert.equal(c.lookup(b('k'), 'ALL'), undefined, 'a QUORUM read does not answer ALL');
  assert.equal(valueOf(c.lookup(b('gone'), 'ONE')), 'not found', 'a miss is kept too');
  assert.equal(c.lookup(b('gone'), 'QUORUM'), undefined);
  now += 99;
  assert.equal(valueOf(c.lookup(b('k'), 'QUORUM')), 'one');
  now += 1;
  assert.equal(c.lookup(b('k'), 'QUORUM'), undefined, 'expired at ttlMs');
  assert.deepEqual(c.stats(), { entries: 1, hits: 4, misses: 3, joined: 0 }, 'the expired entry is dropped');
});

test('bounds: entries and bytes, least recently used out first; a value over the byte bound is not kept', () => {
  const c = new ReadCache({ ttlMs: 1000, entriesMax: 2, bytesMax: 10 });
  c.store(b('a'), 'ONE', c.readBegins(), found('a', 'aaaa'));
  c.store(b('b'), 'ONE', c.readBegins(), found('b', 'bbbb'));
  assert.equal(valueOf(c.lookup(b('a'), 'ONE')), 'aaaa'); // a is now the most recent
  c.store(b('c'), 'ONE', c.readBegins(), found('c', 'cc'));
  assert.equal(c.lookup(b('b'), 'ONE'), undefined, 'b was the least recently used');
  assert.deepEqual([valueOf(c.lookup(b('a'), 'ONE')), valueOf(c.lookup(b('c'), 'ONE'))], ['aaaa', 'cc']);
  c.store(b('d'), 'ONE', c.readBegins(), found('d', 'dddddddd')); // 8 + 2 (c, the newer) fits; a goes
  assert.equal(c.lookup(b('a'), 'ONE'), undefined);
  assert.equal(c.stats().entries, 2);
  c.store(b('e'), 'ONE', c.readBegins(), found('e', 'e'.repeat(11)));
  assert.equal(c.lookup(b('e'), 'ONE'), undefined, 'over bytesMax on its own');
  assert.equal(valueOf(c.lookup(b('d'), 'ONE')), 'dddddddd', 'and it evicted nothing');
  c.store(b('d'), 'ONE', c.readBegins(), found('d', 'd'.repeat(11)));
  assert.equal(c.lookup(b('d'), 'ONE'), undefined, 'a newer answer too large to keep drops the older one');
});

test('random reads, stores and writes evict in least-recently-used order, as a model does', () => {
  let seed = 7;
  const random = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const entriesMax = 16;
  const c = new ReadCache({ ttlMs: 1_000_000, entriesMax });
  /** The model: key → value, least recently used first (a Map re-set on each use). */
  const model = new Map<string, string>();
  const use = (k: string, v: string): void => {
    model.delete(k);
    model.set(k, v);
  };
  for (let step = 0; step < 5_000; step++) {
    const k = `k${Math.floor(random() * 40)}`;
    const roll = random();
    if (roll < 0.45) {
      const got = valueOf(c.lookup(b(k), 'ONE'));
      assert.equal(got, model.get(k), `step ${step}: lookup ${k}`);
      if (got !== undefined) use(k, got);
    } else if (roll < 0.9) {
      const v = `v${step}`;
      c.store(b(k), 'ONE', c.readBegins(), found(k, v));
      use(k, v);
      if (model.size > entriesMax) model.delete(model.keys().next().value as string);
    } else {
      c.invalidate(b(k));
      model.delete(k);
    }
    assert.equal(c.stats().entries, model.size, `step ${step}: entries`);
  }
  assert.ok(c.stats().hits > 500, `${c.stats().hits} hits`);
});

test('values are copied out of the buffer they came in', () => {
  const c = new ReadCache({ ttlMs: 1000 });
  const frame = b('xxvalueyy');
  c.store(b('k'), 'ONE', c.readBegins(), found('k', frame.subarray(2, 7)));
  frame.fill(0);
  assert.equal(valueOf(c.lookup(b('k'), 'ONE')), 'value');
  const r = c.lookup(b('k'), 'ONE');
  assert.ok(r !== undefined && r.found && r.value.buffer !== frame.buffer && r.siblings[0]!.value === r.value);
});

test('a write drops its key, and a read in flight across a write of its key is not kept', () => {
  const c = new ReadCache({ ttlMs: 1000 });
  c.store(b('k'), 'ONE', c.readBegins(), found('k', 'old'));
  c.invalidate(b('k'));
  assert.equal(c.lookup(b('k'), 'ONE'), undefined);

  const before = c.readBegins();
  c.invalidate(b('k')); // the write is sent while the read is out
  const other = c.readBegins();
  c.invalidate(b('k')); // and answered
  c.store(b('k'), 'ONE', before, found('k', 'old'));
  c.store(b('k'), 'ONE', other, found('k', 'old'));
  assert.equal(c.lookup(b('k'), 'ONE'), undefined, 'both reads overlapped the write');
  c.store(b('k'), 'ONE', c.readBegins(), found('k', 'new'));
  assert.equal(valueOf(c.lookup(b('k'), 'ONE')), 'new', 'a read begun after the write is kept');

  const unrelated = c.readBegins();
  c.invalidate(b('elsewhere'));
  c.store(b('j'), 'ONE', unrelated, found('j', 'j'));
  assert.equal(valueOf(c.lookup(b('j'), 'ONE')), 'j', 'a write of another key does not stop it');
});

test('after forgetting which keys were written, it keeps no read begun before then', () => {
  const c = new ReadCache({ ttlMs: 1000 });
  const early = c.readBegins();
  for (let i = 0; i <= 4096; i++) c.invalidate(b(`w${i}`));
  c.store(b('j'), 'ONE', early, found('j', 'j'));
  assert.equal(c.lookup(b('j'), 'ONE'), undefined);
  c.store(b('j'), 'ONE', c.readBegins(), found('j', 'j'));
  assert.equal(valueOf(c.lookup(b('j'), 'ONE')), 'j');
});

test('a read joins one of its key in flight at its level or a stronger one and with no longer to wait, not across a write, not once answered', async () => {
  const c = new ReadCache({ ttlMs: 1000 });
  let answer!: (r: GetResult) => void;
  c.flying(b('k'), 'QUORUM', 500, new Promise<GetResult>((resolve) => (answer = resolve)));
  assert.equal(c.joinable(b('other'), 'ONE', 500), undefined, 'another key');
  assert.equal(c.joinable(b('k'), 'ALL', 500), undefined, 'a QUORUM read does not do for ALL');
  assert.equal(c.joinable(b('k'), 'QUORUM', 499), undefined, 'it may wait longer than this read would');
  const joins = [c.joinable(b('k'), 'QUORUM', 500), c.joinable(b('k'), 'ONE', 2000)];
  answer(found('k', 'v'));
  assert.deepEqual((await Promise.all(joins)).map((r) => valueOf(r ?? undefined)), ['v', 'v']);
  assert.equal(c.joinable(b('k'), 'ONE', 500), undefined, 'answered: the next read is a new one');
  assert.equal(c.stats().joined, 2);

  let fail!: (e: Error) => void;
  c.flying(b('k'), 'ONE', 500, new Promise<GetResult>((_, reject) => (fail = reject)));
  const joined = c.joinable(b('k'), 'ONE', 500);
  fail(new Error('timed out'));
  assert.equal(await joined, null, 'a failed read hands its joiners nothing: they send their own');

  c.flying(b('k'), 'ONE', 500, new Promise<GetResult>(() => {}));
  assert.ok(c.joinable(b('k'), 'ONE', 500) !== undefined);
  c.invalidate(b('k'));
  assert.equal(c.joinable(b('k'), 'ONE', 500), undefined, 'a read after a write of its key does not join one sent before it');
});

test('reads in flight stay joinable, and landed ones not, across thousands of reads of other keys', async () => {
  const c = new ReadCache({ ttlMs: 1000 });
  let answerHot!: (r: GetResult) => void;
  c.flying(b('hot'), 'QUORUM', 500, new Promise<GetResult>((resolve) => (answerHot = resolve)));
  // Enough landed reads that the table of flights is made afresh several times meanwhile.
  for (let i = 0; i < 5_000; i++) {
    let answer!: (r: GetResult) => void;
    c.flying(b(`k${i}`), 'ONE', 500, new Promise<GetResult>((resolve) => (answer = resolve)));
    assert.ok(c.joinable(b(`k${i}`), 'ONE', 500) !== undefined);
    answer(found(`k${i}`, 'v'));
    await new Promise((r) => setImmediate(r));
    assert.equal(c.joinable(b(`k${i}`), 'ONE', 500), undefined, `k${i} landed`);
  }
  const joined = c.joinable(b('hot'), 'ONE', 500);
  assert.ok(joined !== undefined, 'the read sent first is still in flight');
  answerHot(found('hot', 'h'));
  assert.equal(valueOf((await joined) ?? undefined), 'h');
  // Every landed read counted out: as many as flightsMax (4096) new ones are offered for joining.
  const pending = Array.from({ length: 4_096 }, (_, i) => {
    c.flying(b(`p${i}`), 'ONE', 500, new Promise<GetResult>(() => {}));
    return c.joinable(b(`p${i}`), 'ONE', 500);
  });
  assert.ok(pending.every((j) => j !== undefined));
  c.flying(b('one-too-many'), 'ONE', 500, new Promise<GetResult>(() => {}));
  assert.equal(c.joinable(b('one-too-many'), 'ONE', 500), undefined, 'past flightsMax a read is not offered');
});

const cache = path.resolve(__dirname, '..', '..', '..', 'src', 'client', 'read_cache.js');

/** Reads of 5,000 keys with the cache on, three in flight at a time, each answered a few reads later. */
const readsInFlight = `
const { ReadCache } = require(${JSON.stringify(cache)});
const c = new ReadCache({ ttlMs: 1, entriesMax: 1000 });
let n = 0;
const pending = [];
function tick() {
  for (let i = 0; i < 64 && n < 300000; i++, n++) {
    const key = Buffer.from('k' + (n % 5000));
    const value = new Uint8Array(200);
    const r = { found: true, key, value, version: 'v', timestampMs: 1, siblings: [{ value, version: 'v', timestampMs: 1 }], context: new Uint8Array(8), node: 'n', graph: Array.from({ length: 20 }, (_, j) => ({ j })) };
    let resolve;
    c.flying(key, 'QUORUM', 1000, new Promise((res) => { resolve = res; }));
    pending.push(() => resolve(r));
    if (pending.length > 3) pending.shift()();
  }
  if (n < 300000) setImmediate(tick);
}
tick();
`;

test('reads in flight leave almost nothing alive at a scavenge, with full collections between', () => {
  // As a Map deleted from per landed read: a median of ~18 MB per scavenge here (ad hoc).
  const bytes = medianScavengeSurvivedBytes(readsInFlight, { fullGcAfterScavenges: true });
  assert.ok(bytes < 1024 * 1024, `median ${bytes} bytes alive per scavenge`);
});

test('bad options are refused', () => {
  for (const o of [{ ttlMs: 0 }, { ttlMs: 1.5 }, { ttlMs: 3_600_001 }, { ttlMs: 10, entriesMax: 0 }, { ttlMs: 10, bytesMax: -1 }]) {
    assert.throws(() => new ReadCache(o), (e) => isRingkvError(e, ErrorCode.InvalidArgument), JSON.stringify(o));
  }
});

test('the TTL runs on a monotonic clock: a wall clock stepped back keeps no entry past it', async () => {
  const wall = Date.now;
  let stepMs = 0;
  Date.now = () => wall.call(Date) - stepMs;
  try {
    const c = new ReadCache({ ttlMs: 50 });
    c.store(b('k'), 'ONE', c.readBegins(), found('k', 'v'));
    assert.equal(valueOf(c.lookup(b('k'), 'ONE')), 'v');
    // An NTP step back of a minute, as the entry waits out its TTL.
    stepMs = 60_000;
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(c.lookup(b('k'), 'ONE'), undefined, 'expired after ttlMs, whatever the wall clock says');
  } finally {
    Date.now = wall;
  }
});
