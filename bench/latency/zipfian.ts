// Request distributions of the YCSB core workloads: zipfian (scrambled, theta 0.99), latest
// (zipfian over insertion order, newest hottest) and uniform. The zipfian sampler is the
// rejection-free method of Gray et al., "Quickly Generating Billion-Record Synthetic Databases"
// (SIGMOD 1994), as YCSB's ZipfianGenerator implements it: two closed-form cases for ranks 0 and
// 1, a power formula for the rest, and zeta(n) extended incrementally when the item count grows
// (the "latest" distribution grows with every insert).
import { assert } from '../../src/errors';
import { fnvHash64 } from './fnv';
import type { Prng } from './prng';

export const zipfianConstantDefault = 0.99;
/** YCSB scrambles ranks drawn over this many items, so the hot set does not depend on record count. */
export const scrambledItemCount = 10_000_000_000;
/**
 * zeta(10^10, 0.99). Summing 10^10 terms is too slow to do at start-up; YCSB ships the constant,
 * and a unit test checks it against the Euler-Maclaurin expansion of the partial zeta sum.
 */
export const scrambledZetan = 26.46902820178302;

/** Sum over i in (from, to] of 1 / i^theta, added to `initial`. */
export function zetaRange(from: number, to: number, theta: number, initial: number): number {
  assert(from >= 0 && to >= from, 'zeta range must be ascending');
  let sum = initial;
  for (let i = from; i < to; i++) sum += 1 / Math.pow(i + 1, theta);
  return sum;
}

export function zeta(n: number, theta: number): number {
  return zetaRange(0, n, theta, 0);
}

export interface LongGenerator {
  next(): number;
}

/** Ranks in [min, min + items): rank min is the most popular. */
export class ZipfianGenerator implements LongGenerator {
  private readonly base: number;
  private readonly theta: number;
  private readonly alpha: number;
  private readonly zeta2theta: number;
  private countForZeta: number;
  private zetan: number;
  private eta: number;
  private readonly items: number;

  constructor(
    private readonly prng: Prng,
    min: number,
    max: number,
    theta = zipfianConstantDefault,
    zetan?: number,
  ) {
    assert(max >= min, 'zipfian range must not be empty');
    assert(theta > 0 && theta < 1, 'zipfian theta must be in (0, 1)');
    this.items = max - min + 1;
    this.base = min;
    this.theta = theta;
    this.alpha = 1 / (1 - theta);
    this.zeta2theta = zeta(2, theta);
    this.countForZeta = this.items;
    this.zetan = zetan ?? zeta(this.items, theta);
    this.eta = this.computeEta(this.items);
  }

  next(): number {
    return this.nextWithCount(this.items);
  }

  /** A rank among the first `itemCount` items; itemCount may grow between calls (cheaply). */
  nextWithCount(itemCount: number): number {
    assert(itemCount >= 1, 'zipfian needs at least one item');
    if (itemCount !== this.countForZeta) {
      // Growing extends the sum; shrinking (rare) recomputes it. YCSB recomputes eta from the
      // constructor's item count here; we use the current count, which is what the formula means.
      this.zetan =
        itemCount > this.countForZeta
          ? zetaRange(this.countForZeta, itemCount, this.theta, this.zetan)
          : zeta(itemCount, this.theta);
      this.countForZeta = itemCount;
      this.eta = this.computeEta(itemCount);
    }
    const u = this.prng.nextDouble();
    const uz = u * this.zetan;
    if (uz < 1) return this.base;
    if (uz < 1 + Math.pow(0.5, this.theta)) return this.base + 1;
    const rank = this.base + Math.floor(itemCount * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    // Floating-point rounding can land one past the end for u close to 1.
    return Math.min(rank, this.base + itemCount - 1);
  }

  private computeEta(n: number): number {
    return (1 - Math.pow(2 / n, 1 - this.theta)) / (1 - this.zeta2theta / this.zetan);
  }
}

/**
 * Zipfian popularity scattered over [min, max] by hashing the rank, so the hot keys are spread
 * over the key space (and over the ring) rather than being the lowest record numbers.
 */
export class ScrambledZipfianGenerator implements LongGenerator {
  private readonly gen: ZipfianGenerator;
  private readonly itemCount: bigint;

  constructor(prng: Prng, private readonly min: number, max: number) {
    assert(max >= min, 'scrambled zipfian range must not be empty');
    this.itemCount = BigInt(max - min + 1);
    this.gen = new ZipfianGenerator(prng, 0, scrambledItemCount - 1, zipfianConstantDefault, scrambledZetan);
  }

  next(): number {
    return this.min + Number(fnvHash64(this.gen.next()) % this.itemCount);
  }
}

export class UniformGenerator implements LongGenerator {
  constructor(private readonly prng: Prng, private readonly min: number, private readonly max: number) {
    assert(max >= min, 'uniform range must not be empty');
  }

  next(): number {
    return this.prng.nextIntInclusive(this.min, this.max);
  }
}

/**
 * Record numbers handed out for inserts, and the highest one below which every insert has been
 * acknowledged. Reads only pick acknowledged records, so a read never races its own insert
 * (YCSB's AcknowledgedCounterGenerator).
 */
export class InsertCounter {
  private nextValue: number;
  private acknowledgedBelow: number;
  private readonly pendingAcks = new Set<number>();

  constructor(start: number) {
    assert(Number.isSafeInteger(start) && start >= 0, 'insert counter start must be a natural number');
    this.nextValue = start;
    this.acknowledgedBelow = start;
  }

  next(): number {
    return this.nextValue++;
  }

  acknowledge(value: number): void {
    assert(value >= this.acknowledgedBelow && value < this.nextValue, 'acknowledged a value never handed out');
    this.pendingAcks.add(value);
    while (this.pendingAcks.delete(this.acknowledgedBelow)) this.acknowledgedBelow++;
  }

  /** The highest acknowledged record number (every record up to it exists). */
  lastValue(): number {
    return this.acknowledgedBelow - 1;
  }
}

/** YCSB "latest": zipfian over recency, the newest acknowledged record hottest. */
export class SkewedLatestGenerator implements LongGenerator {
  private readonly zipfian: ZipfianGenerator;

  constructor(prng: Prng, private readonly basis: InsertCounter) {
    assert(basis.lastValue() >= 0, 'latest needs at least one record');
    this.zipfian = new ZipfianGenerator(prng, 0, basis.lastValue());
  }

  next(): number {
    const max = this.basis.lastValue();
    return max - this.zipfian.nextWithCount(max + 1);
  }
}
