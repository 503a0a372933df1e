// Proves the ring-arena block cache never serves wrong bytes: under random reserve/commit/get/
// evictFile sequences (blocks of varied sizes, wrap-around, second-chance copies, uncommitted
// reserves, file numbers that share their low 21 bits with another's) every hit returns exactly
// the block last committed for that file and offset, the bookkeeping stays consistent, bytes never
// exceed the capacity, and a block is only ever cached once committed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockCache } from '../../../src/storage/block-cache';
import { prng } from './helpers';

function blockFor(file: number, offset: number, version: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (file * 131 + offset * 31 + version * 7 + i) & 0xff;
  return b;
}

// Files 1..3, and three whose numbers share their low 21 bits with 1..3 (the cache key's part).
const files = [1, 2, 3, 1 + 2 ** 21, 2 + 2 ** 22, 3 + 2 ** 40];

test('random operations against a model: hits are exact, misses are allowed, nothing stale', () => {
  for (const seed of [11, 12, 13]) {
    const rnd = prng(seed);
    const capacity = 256 * 1024;
    const cache = new BlockCache(capacity);
    // What was last committed per key (a hit must return exactly this); evicted keys may miss.
    const model = new Map<string, Buffer>();
    let version = 0;
    let hits = 0;
    for (let op = 0; op < 20_000; op++) {
      const file = files[Math.floor(rnd() * files.length)]!;
      const offset = Math.floor(rnd() * 40) * 4096;
      const key = `${file}:${offset}`;
      const r = rnd();
      if (r < 0.5) {
        const got = cache.get(file, offset);
        if (got !== undefined) {
          hits++;
          assert.ok(got.equals(model.get(key)!), `seed ${seed} op ${op}: hit returned other bytes`);
        }
      } else if (r < 0.93) {
        const length = rnd() < 0.1 ? 1 + Math.floor(rnd() * 16_000) : 3000 + Math.floor(rnd() * 1200);
        const room = cache.reserve(file, offset, length + 5);
        if (room === null) {
          assert.ok(length + 5 > capacity / 4, 'only blocks over a quarter of the capacity are refused');
          continue;
        }
        const b = blockFor(file, offset, ++version, length + 5);
        b.copy(room);
        if (rnd() < 0.1) {
          // A block that failed its check: reserved, never committed, must not become visible.
          const before = model.get(key);
          const got = cache.get(file, offset);
          if (got !== undefined) assert.ok(before !== undefined && got.equals(before), 'an uncommitted reserve is not served');
          continue;
        }
        cache.commit(length); // The trailer is dropped once checked.
        model.set(key, b.subarray(0, length));
      } else {
        cache.evictFile(file);
        for (const k of [...model.keys()]) if (k.startsWith(`${file}:`)) model.delete(k);
        for (let o = 0; o < 40; o++) assert.equal(cache.get(file, o * 4096), undefined, 'evicted file is gone');
      }
      if (op % 1000 === 0) cache.checkInvariants();
      assert.ok(cache.usedBytes <= capacity, 'never above capacity');
    }
    cache.checkInvariants();
    assert.ok(hits > 500, `seed ${seed}: the run exercised hits (${hits})`);
  }
});

test('a block read again and again survives the ring coming round (second chance)', () => {
  // Proves the FIFO is not blind: a hot block is copied forward before the head overwrites it.
  const cache = new BlockCache(40 * 1024);
  cache.reserve(1, 0, 1000)!.fill(7);
  cache.commit();
  for (let i = 1; i < 500; i++) {
    cache.reserve(2, i * 4096, 4000)!.fill(i & 0xff);
    cache.commit();
    const got = cache.get(1, 0);
    assert.ok(got !== undefined && got.length === 1000 && got.every((b) => b === 7), `hot block lost after ${i} inserts`);
  }
  cache.checkInvariants();
});

test('zero capacity caches nothing and refuses every reserve', () => {
  const cache = new BlockCache(0);
  assert.equal(cache.reserve(1, 0, 100), null);
  assert.equal(cache.get(1, 0), undefined);
});

test('files whose numbers share the key\'s low bits never get each other\'s blocks, nor lose them to the other\'s eviction', () => {
  const cache = new BlockCache(64 * 1024);
  const a = 7;
  const b = 7 + 2 ** 21;
  cache.reserve(a, 4096, 100)!.fill(1);
  cache.commit();
  assert.equal(cache.get(b, 4096), undefined, 'another file under the same key misses');
  cache.reserve(b, 4096, 100)!.fill(2);
  cache.commit();
  assert.ok(cache.get(b, 4096)!.every((x) => x === 2));
  assert.equal(cache.get(a, 4096), undefined, 'replaced, not served');
  cache.reserve(a, 8192, 100)!.fill(3);
  cache.commit();
  cache.evictFile(b);
  assert.equal(cache.get(b, 4096), undefined);
  assert.ok(cache.get(a, 8192)!.every((x) => x === 3), 'the other file\'s blocks stay');
  cache.checkInvariants();
});
