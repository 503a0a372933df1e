// Shared helpers of the native addon tests: a seeded PRNG (so every "random" input, including the
// bytes behind the committed xxhsum fixture, can be regenerated exactly) and an assertion that a
// call throws with a given RKV_ERR_* code.
import assert from 'node:assert/strict';
import { mulberry32 } from '../../helpers/prng';

/** mulberry32's uint32 outputs (exactly: its [0, 1) values are those over 2^32), deterministic for a seed. */
export function prng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => next() * 4294967296;
}

/** n bytes from the generator, 4 at a time (little-endian), so a (seed, n) pair names the bytes. */
export function randomBytes(next: () => number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) {
    const word = next();
    for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return out;
}

/** An integer in [0, n). */
export function randomInt(next: () => number, n: number): number {
  return next() % n;
}

/** Asserts fn throws an error whose `code` is `code` and returns it. */
export function throwsCode(fn: () => unknown, code: string, message?: string): Error {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, message ?? `expected a throw with ${code}`);
  assert.equal((caught as { code?: unknown }).code, code, message ?? (caught as Error).message);
  return caught as Error;
}

/** The files behind test/fixtures/native/xxhsum.json: name, length and PRNG seed of each. */
export const xxhsumFiles: ReadonlyArray<{ name: string; length: number; seed: number }> = [
  0, 1, 3, 4, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 100, 255, 1000, 4096, 65_537, 1_048_589,
].map((length, i) => ({ name: `rand-${String(i).padStart(2, '0')}-${length}.bin`, length, seed: 0x5eed0000 + i }));

export function xxhsumFileBytes(file: { length: number; seed: number }): Buffer {
  return randomBytes(prng(file.seed), file.length);
}
