// A token bucket over bytes, for traffic that must not crowd out requests (hint replay, range
// streaming). Holds up to one second's worth; a send may overdraw it (a batch goes whole), and the
// next waits until the debt is paid back. The clock is injected, so tests step it instead of
// sleeping.
import { assert, ErrorCode, RingkvError } from '../errors';

export class ByteRateLimiter {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    assert(Number.isFinite(bytesPerSecond) && bytesPerSecond > 0, 'a positive byte rate');
    this.tokens = bytesPerSecond;
    this.lastMs = now();
  }

  /** Takes `bytes` if anything is left (possibly overdrawing); false when the bucket is spent. */
  tryTake(bytes: number): boolean {
    assert(bytes >= 0, 'bytes taken are not negative');
    this.refill();
    if (this.tokens <= 0) return false;
    this.tokens -= bytes;
    return true;
  }

  /** Takes `bytes` whatever is left: the bucket goes into debt, which later takes wait out. */
  charge(bytes: number): void {
    assert(bytes >= 0, 'bytes taken are not negative');
    this.refill();
    this.tokens -= bytes;
  }

  /** Milliseconds until tryTake can succeed (0: now). */
  waitMs(): number {
    this.refill();
    return this.tokens > 0 ? 0 : Math.max(1, Math.ceil(((1 - this.tokens) / this.bytesPerSecond) * 1000));
  }

  private refill(): void {
    const t = this.now();
    const elapsedMs = Math.max(0, t - this.lastMs);
    this.lastMs = t;
    this.tokens = Math.min(this.bytesPerSecond, this.tokens + (elapsedMs * this.bytesPerSecond) / 1000);
  }
}

/**
 * Resolves once `bytes` may go (taken from `limiter`), sleeping at most stepMs at a time so that a
 * node stopping (`closed`) is not held up by a long wait: then it rejects with RKV_ERR_CLOSED.
 * Past `maxWaitMs` the bytes go anyway, as debt (for an answer that must not outwait its
 * request's timeout). Resolves with the milliseconds it waited.
 */
export async function takeBytes(
  limiter: ByteRateLimiter,
  bytes: number,
  o: { sleep: (ms: number) => Promise<void>; closed: () => boolean; stepMs?: number; maxWaitMs?: number },
): Promise<number> {
  const stepMs = o.stepMs ?? 100;
  let waitedMs = 0;
  while (!limiter.tryTake(bytes)) {
    if (o.closed()) throw new RingkvError(ErrorCode.Closed, 'the node is stopping');
    if (o.maxWaitMs !== undefined && waitedMs >= o.maxWaitMs) {
      limiter.charge(bytes);
      break;
    }
    const ms = Math.min(stepMs, limiter.waitMs());
    await o.sleep(ms);
    waitedMs += ms;
  }
  return waitedMs;
}
