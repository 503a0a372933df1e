// The in-memory sorted table of recent writes: a skip list (LevelDB's db/skiplist.h) ordered by
// sort key (token ‖ key), holding one entry per key (an overwrite replaces the payload in place,
// since the engine keeps only the newest write of a key). Payloads are views into the WAL
// record buffer they arrived in, so a write is copied once, into that record.
// Byte accounting counts key, payload and a fixed per-node overhead; the engine switches to a new
// memtable when `bytes` passes its limit. Iteration is safe while inserts happen between steps:
// a cursor holds a node, and nodes are never removed.
import { assert } from '../errors';

const maxHeight = 16;
/** Per-node overhead estimate (node object, arrays, buffer headers). */
export const memtableNodeOverheadBytes = 96;

export class MemNode {
  /** The token's two 32-bit halves: most comparisons end here, without a call into C++. */
  readonly t0: number;
  readonly t1: number;
  constructor(
    readonly sk: Buffer,
    public payload: Buffer,
    readonly next: (MemNode | null)[],
  ) {
    this.t0 = sk.length >= 8 ? sk.readUInt32BE(0) : 0;
    this.t1 = sk.length >= 8 ? sk.readUInt32BE(4) : 0;
  }
}

/** Orders node before (<0), at (0) or after (>0) the sort key sk whose token halves are t0, t1. */
function compareNode(n: MemNode, sk: Buffer, t0: number, t1: number): number {
  if (n.t0 !== t0) return n.t0 < t0 ? -1 : 1;
  if (n.t1 !== t1) return n.t1 < t1 ? -1 : 1;
  return n.sk.compare(sk);
}

export class Memtable {
  private readonly head = new MemNode(Buffer.alloc(0), Buffer.alloc(0), new Array<MemNode | null>(maxHeight).fill(null));
  private height = 1;
  private rng = 0x2545f491;
  private readonly prev: (MemNode | null)[] = new Array<MemNode | null>(maxHeight).fill(null);
  bytes = 0;
  count = 0;
  /** Size of its WAL segment once the memtable is immutable (stats). */
  walBytes = 0;
  /** The WAL segment holding this memtable's writes; removable once this memtable is on disk. */
  readonly walNumber: number;

  constructor(walNumber: number) {
    this.walNumber = walNumber;
  }

  private randomHeight(): number {
    let h = 1;
    // xorshift32; branching factor 4 like LevelDB.
    for (;;) {
      this.rng ^= this.rng << 13;
      this.rng ^= this.rng >>> 17;
      this.rng ^= this.rng << 5;
      if (h >= maxHeight || (this.rng & 3) !== 0) return h;
      h++;
    }
  }

  /** Last node < sk on every level into this.prev; returns the node >= sk on level 0. */
  private findGreaterOrEqual(sk: Buffer, fillPrev: boolean): MemNode | null {
    let x = this.head;
    let level = this.height - 1;
    const t0 = sk.readUInt32BE(0);
    const t1 = sk.readUInt32BE(4);
    for (;;) {
      const next = x.next[level] ?? null;
      if (next !== null && compareNode(next, sk, t0, t1) < 0) {
        x = next;
      } else {
        if (fillPrev) this.prev[level] = x;
        if (level === 0) return next;
        level--;
      }
    }
  }

  put(sk: Buffer, payload: Buffer): void {
    const found = this.findGreaterOrEqual(sk, true);
    if (found !== null && found.sk.equals(sk)) {
      this.bytes += payload.length - found.payload.length;
      found.payload = payload;
      return;
    }
    const h = this.randomHeight();
    if (h > this.height) {
      for (let i = this.height; i < h; i++) this.prev[i] = this.head;
      this.height = h;
    }
    const node = new MemNode(sk, payload, new Array<MemNode | null>(h));
    for (let i = 0; i < h; i++) {
      node.next[i] = this.prev[i]!.next[i] ?? null;
      this.prev[i]!.next[i] = node;
    }
    this.bytes += sk.length + payload.length + memtableNodeOverheadBytes + h * 8;
    this.count++;
  }

  get(sk: Buffer): Buffer | null {
    const n = this.findGreaterOrEqual(sk, false);
    return n !== null && n.sk.equals(sk) ? n.payload : null;
  }

  /** First node with sort key >= sk (null past the end). */
  seek(sk: Buffer): MemNode | null {
    return this.findGreaterOrEqual(sk, false);
  }

  first(): MemNode | null {
    return this.head.next[0] ?? null;
  }

  /** Checks order and count (tests). */
  checkInvariants(): void {
    let n = this.first();
    let c = 0;
    let last: Buffer | null = null;
    while (n) {
      if (last) assert(last.compare(n.sk) < 0, 'memtable out of order');
      last = n.sk;
      c++;
      n = n.next[0] ?? null;
    }
    assert(c === this.count, 'memtable count mismatch');
  }
}
