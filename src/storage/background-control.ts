// The few words the engine thread and its background thread share, in one SharedArrayBuffer:
//
//   Int32 [0]  next file number   both threads take numbers with Atomics.add, so the background
//                                 thread names compaction outputs without a round trip and no
//                                 number is ever handed out twice
//   Int32 [1]  abort flag         1 once the engine closes; background jobs stop at their next
//                                 entry, remove their partial outputs and report "aborted"
//
// Everything else crosses the thread as messages (background-messages.ts).
import { assert } from '../errors';

const slotNextFileNumber = 0;
const slotAbort = 1;
const slots = 2;
/** File numbers stay below this: the block cache key packs a file number into 21 bits. */
export const fileNumberMax = 0x20_0000;

export class BackgroundControl {
  private readonly words: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(slots * 4)) {
    assert(buffer.byteLength === slots * 4, 'background control block has the wrong size');
    this.words = new Int32Array(buffer);
  }

  /** A file number no one else has or will get. */
  takeFileNumber(): number {
    const n = Atomics.add(this.words, slotNextFileNumber, 1);
    assert(n >= 1 && n < fileNumberMax, () => `file number ${n} out of range`);
    return n;
  }

  /** The next number takeFileNumber would hand out (what the manifest records). */
  peekFileNumber(): number {
    return Atomics.load(this.words, slotNextFileNumber);
  }

  /** Raises the counter to at least n (open: past every number the manifest or directory shows). */
  raiseFileNumber(n: number): void {
    assert(Number.isInteger(n) && n >= 1 && n < fileNumberMax, () => `file number ${n} out of range`);
    for (;;) {
      const cur = Atomics.load(this.words, slotNextFileNumber);
      if (cur >= n || Atomics.compareExchange(this.words, slotNextFileNumber, cur, n) === cur) return;
    }
  }

  abort(): void {
    Atomics.store(this.words, slotAbort, 1);
  }

  get aborted(): boolean {
    return Atomics.load(this.words, slotAbort) !== 0;
  }
}
