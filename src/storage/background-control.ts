// The few words the engine thread and its background thread share, in one SharedArrayBuffer:
//
//   BigInt64 [0]  next file number   both threads take numbers with Atomics.add, so the background
//                                    thread names compaction outputs without a round trip and no
//                                    number is ever handed out twice
//   BigInt64 [1]  abort flag         1 once the engine closes; background jobs stop at their next
//                                    entry, remove their partial outputs and report "aborted"
//
// Everything else crosses the thread as messages (background-messages.ts).
import { assert } from '../errors';

const slotNextFileNumber = 0;
const slotAbort = 1;
const slots = 2;
/**
 * File numbers stay below this (safe integers). A shard takes one per table and WAL segment for
 * as long as it lives: at a thousand a second that lasts thousands of years.
 */
export const fileNumberMax = Number.MAX_SAFE_INTEGER;

export class BackgroundControl {
  private readonly words: BigInt64Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(slots * 8)) {
    assert(buffer.byteLength === slots * 8, 'background control block has the wrong size');
    this.words = new BigInt64Array(buffer);
  }

  /** A file number no one else has or will get. */
  takeFileNumber(): number {
    const n = Number(Atomics.add(this.words, slotNextFileNumber, 1n));
    assert(n >= 1 && n < fileNumberMax, () => `file number ${n} out of range`);
    return n;
  }

  /** The next number takeFileNumber would hand out (what the manifest records). */
  peekFileNumber(): number {
    return Number(Atomics.load(this.words, slotNextFileNumber));
  }

  /** Raises the counter to at least n (open: past every number the manifest or directory shows). */
  raiseFileNumber(n: number): void {
    assert(Number.isInteger(n) && n >= 1 && n < fileNumberMax, () => `file number ${n} out of range`);
    const want = BigInt(n);
    for (;;) {
      const cur = Atomics.load(this.words, slotNextFileNumber);
      if (cur >= want || Atomics.compareExchange(this.words, slotNextFileNumber, cur, want) === cur) return;
    }
  }

  abort(): void {
    Atomics.store(this.words, slotAbort, 1n);
  }

  get aborted(): boolean {
    return Atomics.load(this.words, slotAbort) !== 0n;
  }
}
