// Which tokens a set of ranges holds, for a cleanup (db.ts): the ranges are checked once (inside
// the token space, ascending, disjoint), and a sort key is tested by a binary search on its
// 8-byte token prefix.
import { ErrorCode, RingkvError } from '../errors';
import { tokenBytes, tokenMax } from './sort-key';
import type { TokenRange } from './types';

/** At most this many ranges (a ring of 1024 nodes × 4096 vnodes has as many as it has vnodes). */
export const tokenRangesMax = 4 * 1024 * 1024;

export interface TokenRangeFilter {
  /** Whether the token of sort key `sk` is in one of the ranges. */
  holds(sk: Uint8Array): boolean;
  /** Whether every sort key from `smallest` to `largest` is: both tokens in one range. */
  holdsAll(smallest: Uint8Array, largest: Uint8Array): boolean;
}

function tokenOf(sk: Uint8Array): bigint {
  return new DataView(sk.buffer, sk.byteOffset, tokenBytes).getBigUint64(0);
}

export function tokenRangeFilter(ranges: readonly TokenRange[]): TokenRangeFilter {
  if (ranges.length > tokenRangesMax) throw new RingkvError(ErrorCode.InvalidArgument, `at most ${tokenRangesMax} token ranges`);
  const from = new BigUint64Array(ranges.length);
  const to = new BigUint64Array(ranges.length);
  ranges.forEach((r, i) => {
    const ok = typeof r.from === 'bigint' && typeof r.to === 'bigint' && r.from >= 0n && r.from <= r.to && r.to <= tokenMax && (i === 0 || r.from > ranges[i - 1]!.to);
    if (!ok) throw new RingkvError(ErrorCode.InvalidArgument, `token ranges must be inside 0..2^64-1, ascending and disjoint (range ${i})`);
    from[i] = r.from;
    to[i] = r.to;
  });
  /** The index of the range holding token t, or -1. */
  const rangeOf = (t: bigint): number => {
    let lo = 0;
    let hi = from.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (from[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && t <= to[lo - 1]! ? lo - 1 : -1;
  };
  return {
    holds: (sk) => rangeOf(tokenOf(sk)) >= 0,
    holdsAll: (smallest, largest) => {
      const i = rangeOf(tokenOf(smallest));
      return i >= 0 && tokenOf(largest) <= to[i]!;
    },
  };
}
