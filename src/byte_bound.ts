// The rule each bound by bytes on what a node holds follows (a shard's queue, a replica's reply, a
// peer connection's unsent replies, a WebSocket connection's answers, the requests a server
// runs): a newcomer fits while what is held stays within the bound, and one always fits where
// nothing is held, so the largest request or answer is never refused for good.
import { assert } from './errors';

/** Whether `addBytes` more fit beside `heldBytes` under `maxBytes` (always, when nothing is held). */
export function fitsBytes(heldBytes: number, addBytes: number, maxBytes: number): boolean {
  return heldBytes === 0 || heldBytes + addBytes <= maxBytes;
}

/**
 * Bytes several holders hold together, each as it last saw its own (a ByteShare each): a node's
 * peer connections or HTTP answers, each holding the bytes its socket has not sent yet. A holder
 * sets its share whenever it looks, so the sum can be over what is held now (bytes the kernel
 * took since), never under: what grows is counted as it is added.
 */
export interface ByteAccount {
  heldBytes: number;
  readonly heldBytesMax: number;
}

export function byteAccount(heldBytesMax: number): ByteAccount {
  assert(Number.isSafeInteger(heldBytesMax) && heldBytesMax > 0, 'a byte bound must be a positive integer');
  return { heldBytes: 0, heldBytesMax };
}

/** One holder's part of a ByteAccount. */
export class ByteShare {
  private seenBytes = 0;

  constructor(readonly account: ByteAccount) {}

  /** What this holder held when it last looked. */
  get bytes(): number {
    return this.seenBytes;
  }

  /** Sets this holder's part to `heldBytes`, what it holds now (0 once it holds nothing for good). */
  set(heldBytes: number): void {
    assert(heldBytes >= 0, 'a holder holds no fewer than 0 bytes');
    this.account.heldBytes += heldBytes - this.seenBytes;
    this.seenBytes = heldBytes;
    assert(this.account.heldBytes >= 0, 'an account holds no fewer than 0 bytes');
  }

  /**
   * Whether `addBytes` more fit beside this holder's bytes under `ownBytesMax` and, where this
   * holder holds something, beside the account's under its bound. A holder that holds nothing
   * always takes one (fitsBytes' rule, per holder): a peer connection whose socket keeps up is
   * never refused because other peers stopped reading (gossip to the healthy ones would fail with
   * it), so the account is over its bound by at most one newcomer per holder.
   */
  fits(addBytes: number, ownBytesMax: number): boolean {
    return fitsBytes(this.seenBytes, addBytes, ownBytesMax) && (this.seenBytes === 0 || fitsBytes(this.account.heldBytes, addBytes, this.account.heldBytesMax));
  }
}
