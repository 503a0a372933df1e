// The idempotency cache against a model: a hit is always the latest result remembered for its
// slot key and not expired; a slot key remembered within the last writes the bounds keep (count
// and ring bytes) is always found; expired and re-remembered entries leave no stale answer. Slot
// keys and versions of random lengths (multi-byte characters included) make the ring wrap at
// every offset, and a small key space makes probe runs and their repair after a removal common.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdempotencyCache, type RememberedWrite } from '../../../src/shards/idempotency_cache';

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

const alphabet = ['a', 'b', 'z', '0', '9', '-', 'é', '€', '𝄞'];

function text(random: () => number, lengthMax: number): string {
  let s = '';
  const length = 1 + Math.floor(random() * lengthMax);
  for (let i = 0; i < length; i++) s += alphabet[Math.floor(random() * alphabet.length)]!;
  return s;
}

// Entries average ~50 bytes: a ring of 2000 bytes fills before the count bound, one of 6000 does not.
for (const [seed, ringBytes] of [[1, 2000], [7, 2000], [24301, 2000], [5, 6000]] as const) {
  test(`random remembers and lookups agree with a model (seed ${seed}, ring of ${ringBytes} bytes)`, () => {
    const random = rng(seed);
    const entriesMax = 64;
    const ttlMs = 1_000;
    const cache = new IdempotencyCache(entriesMax, ttlMs, ringBytes);
    // Slot keys and versions of up to 30 and 20 characters of up to 4 bytes: an entry is at most 200 bytes.
    const entryBytesMax = 4 * 30 + 4 * 20;
    // A wrap leaves less than an entry unused at the ring's end; the new entry, and the part of an
    // old one it overlaps, take less than two more.
    const keptAtLeast = Math.min(entriesMax, Math.floor((ringBytes - 3 * entryBytesMax) / entryBytesMax));
    const slots = Array.from({ length: 100 }, () => IdempotencyCache.slotKey(text(random, 24), new Uint8Array([Math.floor(random() * 256)])));
    const model = new Map<string, { result: RememberedWrite; expiresAtMs: number; at: number }>();
    let nowMs = 1_000_000;
    let remembers = 0;
    let hits = 0;
    for (let step = 0; step < 20_000; step++) {
      nowMs += Math.floor(random() * 3);
      const slot = slots[Math.floor(random() * slots.length)]!;
      if (random() < 0.5) {
        const result = { version: `v${step}_${text(random, 16)}`, timestampMs: nowMs - Math.floor(random() * 100) };
        cache.remember(slot, cache.slotHash(slot), result, nowMs);
        model.set(slot, { result, expiresAtMs: nowMs + ttlMs, at: remembers++ });
      } else {
        const got = cache.get(slot, cache.slotHash(slot), nowMs);
        const want = model.get(slot);
        if (got !== null) {
          hits++;
          assert.ok(want !== undefined && want.expiresAtMs > nowMs, `step ${step}: a hit for ${slot} that was never remembered or has expired`);
          assert.deepEqual(got, want.result, `step ${step}: not the latest result for ${slot}`);
        } else if (want !== undefined && want.expiresAtMs > nowMs) {
          assert.ok(remembers - want.at > keptAtLeast, `step ${step}: ${slot}, remembered ${remembers - want.at} writes ago, was lost (at least ${keptAtLeast} are kept)`);
        }
      }
      assert.ok(cache.size <= entriesMax);
      if (step % 50 === 0) cache.checkInvariants();
    }
    assert.ok(hits > 1_000, `${hits} hits`);
  });
}

test('an expired entry reads as absent, and a slot key remembered again answers with its new result', () => {
  const cache = new IdempotencyCache(16, 100);
  const slot = IdempotencyCache.slotKey('retry-1', new Uint8Array([1, 2, 3]));
  cache.remember(slot, cache.slotHash(slot), { version: 'v1_1_n', timestampMs: 1 }, 1_000);
  assert.deepEqual(cache.get(slot, cache.slotHash(slot), 1_099), { version: 'v1_1_n', timestampMs: 1 });
  const other = IdempotencyCache.slotKey('retry-1', new Uint8Array([1, 2, 4]));
  assert.equal(cache.get(other, cache.slotHash(other), 1_099), null, 'the same idempotency key on another data key is another write');
  assert.equal(cache.get(slot, cache.slotHash(slot), 1_100), null);
  assert.equal(cache.size, 0, 'the expired entry was taken out');
  cache.remember(slot, cache.slotHash(slot), { version: 'v2_1_n', timestampMs: 2 }, 2_000);
  cache.remember(slot, cache.slotHash(slot), { version: 'v3_1_n', timestampMs: 3 }, 2_001);
  assert.deepEqual(cache.get(slot, cache.slotHash(slot), 2_050), { version: 'v3_1_n', timestampMs: 3 });
  assert.equal(cache.size, 1);
});

test('the oldest entries go first once the count bound is reached', () => {
  const cache = new IdempotencyCache(8, 60_000);
  const slot = (i: number) => IdempotencyCache.slotKey(`k${i}`, new Uint8Array([i]));
  for (let i = 0; i < 20; i++) cache.remember(slot(i), cache.slotHash(slot(i)), { version: `v${i + 1}_0_n`, timestampMs: i }, 1_000);
  assert.equal(cache.size, 8);
  for (let i = 0; i < 20; i++) assert.equal(cache.get(slot(i), cache.slotHash(slot(i)), 1_001)?.version ?? null, i >= 12 ? `v${i + 1}_0_n` : null, `entry ${i}`);
});
