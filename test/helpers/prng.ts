// A seeded PRNG for tests that make random choices, and the seed a test run uses: a failing run
// prints its seed, and RINGKV_TEST_SEED=that replays its choices.

/** mulberry32: small, fast, deterministic for a seed; uniform in [0, 1). Not for anything but tests. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * RINGKV_TEST_SEED when set, else `fallback` (a test that means to check the same cases each run),
 * else one taken from the clock (so runs explore different choices).
 */
export function testSeed(fallback?: number): number {
  const given = process.env.RINGKV_TEST_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isSafeInteger(seed)) throw new Error(`RINGKV_TEST_SEED=${given} is not an integer`);
    return seed;
  }
  return fallback ?? Date.now() % 1_000_000;
}
