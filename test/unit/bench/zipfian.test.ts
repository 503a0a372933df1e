// Proves the YCSB request distributions are what they claim: seeded and repeatable, inside their
// ranges, with rank frequencies matching the zipfian law and YCSB's precomputed zeta constant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../../bench/latency/prng';
import {
  InsertCounter,
  ScrambledZipfianGenerator,
  SkewedLatestGenerator,
  UniformGenerator,
  ZipfianGenerator,
  scrambledItemCount,
  scrambledZetan,
  zeta,
} from '../../../bench/latency/zipfian';
import { fnvHash64 } from '../../../bench/latency/fnv';

const samples = 200_000;

function counts(next: () => number, n: number): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const v = next();
    m.set(v, (m.get(v) ?? 0) + 1);
  }
  return m;
}

test('the PRNG is deterministic per seed and different across seeds', () => {
  const a = new Prng(42);
  const b = new Prng(42);
  const c = new Prng(43);
  const sa = Array.from({ length: 8 }, () => a.nextUint32());
  const sb = Array.from({ length: 8 }, () => b.nextUint32());
  const sc = Array.from({ length: 8 }, () => c.nextUint32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
  const d = new Prng(7);
  let sum = 0;
  for (let i = 0; i < 100_000; i++) {
    const x = d.nextDouble();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 100_000 - 0.5) < 0.01, `mean of uniform doubles ${sum / 100_000}`);
});

test('zipfian(0.99) rank frequencies match the Gray et al. sampler and roughly the zipf law', () => {
  const n = 1000;
  const theta = 0.99;
  const gen = new ZipfianGenerator(new Prng(1), 0, n - 1);
  const c = counts(() => gen.next(), samples);
  const zn = zeta(n, theta);
  const eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta(2, theta) / zn);
  // Ranks 0 and 1 are exact in Gray's method; rank r >= 2 is the u-interval the power formula
  // maps onto r, which only approximates 1/(r+1)^theta (so the law is checked loosely there).
  const uForRank = (r: number): number => Math.max((Math.pow(r / n, 1 - theta) - 1 + eta) / eta, (1 + Math.pow(0.5, theta)) / zn);
  for (const rank of [0, 1, 2, 9, 99]) {
    const law = 1 / Math.pow(rank + 1, theta) / zn;
    const sampler = rank === 0 ? 1 / zn : rank === 1 ? Math.pow(0.5, theta) / zn : uForRank(rank + 1) - uForRank(rank);
    const got = (c.get(rank) ?? 0) / samples;
    const sigma = Math.sqrt((sampler * (1 - sampler)) / samples);
    assert.ok(Math.abs(got - sampler) < 5 * sigma, `rank ${rank}: got ${got}, sampler ${sampler}`);
    assert.ok(Math.abs(got - law) / law < 0.25, `rank ${rank}: got ${got}, zipf law ${law}`);
  }
  for (const v of c.keys()) assert.ok(v >= 0 && v < n, `out of range: ${v}`);
});

test('zipfian draws are repeatable for a seed', () => {
  const a = new ZipfianGenerator(new Prng(9), 0, 9999);
  const b = new ZipfianGenerator(new Prng(9), 0, 9999);
  for (let i = 0; i < 1000; i++) assert.equal(a.next(), b.next());
});

test("YCSB's zeta(10^10, 0.99) constant agrees with the Euler-Maclaurin expansion", () => {
  // sum_{i<=n} i^-s ~= zeta(s) + n^(1-s)/(1-s) + n^-s/2 - s n^(-s-1)/12; zeta(0.99) from the
  // Stieltjes series: 1/(s-1) + g0 - g1 (s-1) + g2/2 (s-1)^2.
  const s = 0.99;
  const g0 = 0.5772156649015329;
  const g1 = -0.0728158454836767;
  const g2 = -0.0096903631928723;
  const zetaS = 1 / (s - 1) + g0 - g1 * (s - 1) + (g2 / 2) * (s - 1) ** 2;
  const partial = (n: number): number => zetaS + Math.pow(n, 1 - s) / (1 - s) + Math.pow(n, -s) / 2 - (s * Math.pow(n, -s - 1)) / 12;
  // The expansion itself is checked against a direct sum where one is affordable.
  assert.ok(Math.abs(partial(100_000) - zeta(100_000, s)) < 1e-5);
  assert.ok(Math.abs(partial(scrambledItemCount) - scrambledZetan) < 1e-5);
});

test('scrambled zipfian stays in range and its hottest key gets about 1/zeta(10^10) of draws', () => {
  const gen = new ScrambledZipfianGenerator(new Prng(3), 0, 9999);
  const c = counts(() => gen.next(), samples);
  for (const v of c.keys()) assert.ok(v >= 0 && v <= 9999);
  const top = Math.max(...c.values()) / samples;
  const expected = 1 / scrambledZetan; // rank 0, about 3.8%
  assert.ok(Math.abs(top - expected) < 0.005, `hottest key share ${top}, expected ~${expected}`);
  // The hottest key is not simply record 0: scrambling spreads the hot set.
  const hottest = [...c.entries()].sort((x, y) => y[1] - x[1])[0]![0];
  assert.equal(hottest, Number(fnvHash64(0) % 10000n));
});

test('latest favours the newest acknowledged record and follows new inserts', () => {
  const counter = new InsertCounter(1000);
  for (let i = 0; i < 1000; i++) counter.acknowledge(counter.next());
  assert.equal(counter.lastValue(), 1999);
  const gen = new SkewedLatestGenerator(new Prng(5), counter);
  const c = counts(() => gen.next(), 50_000);
  const hottest = [...c.entries()].sort((x, y) => y[1] - x[1])[0]![0];
  assert.equal(hottest, 1999);
  for (const v of c.keys()) assert.ok(v >= 0 && v <= 1999);
  // Out-of-order acknowledgements only advance the frontier once the gap is filled.
  const a = counter.next();
  const b = counter.next();
  counter.acknowledge(b);
  assert.equal(counter.lastValue(), 1999);
  counter.acknowledge(a);
  assert.equal(counter.lastValue(), 2001);
  const c2 = counts(() => gen.next(), 20_000);
  const hottest2 = [...c2.entries()].sort((x, y) => y[1] - x[1])[0]![0];
  assert.equal(hottest2, 2001);
});

test('uniform spreads evenly over its range', () => {
  const gen = new UniformGenerator(new Prng(11), 0, 9);
  const c = counts(() => gen.next(), 100_000);
  assert.equal(c.size, 10);
  for (const [, n] of c) assert.ok(Math.abs(n / 100_000 - 0.1) < 0.006);
});
