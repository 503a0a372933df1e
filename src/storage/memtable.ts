// The in-memory sorted table of recent writes: a skip list (LevelDB's db/skiplist.h) ordered by
// sort key (token ‖ key), holding one entry per key (an overwrite replaces the payload in place,
// since the engine keeps only the newest write of a key). Payloads are views into the WAL
// record buffer they arrived in, so a write is copied once, into that record.
//
// Layout: structure of arrays, not one object per node. Node i (1-based; 0 is the head and also
// "none") keeps its forward pointers in next[i * heightMax .. + heightMax) and its token's two
// 32-bit halves in tokens[2i], tokens[2i + 1]. A search compares tokens as numbers and touches
// two small typed-array rows per step instead of chasing node object → pointer array → node (the
// object layout cost ~3 cache misses a step and was the hottest code of every benchmark phase);
// key bytes are compared only when two tokens are equal.
//
// Sort keys are copied into one growing key buffer, a node's place in it kept in typed-array rows;
// keyOf() makes a view on demand. A sort key Buffer kept per node (as they were) was an object
// made by the write and held by the memtable: every new key's view survived the next scavenge
// and was promoted, most of what a shard thread's scavenges promoted under PUT load over 200k keys
// once the idempotency cache kept nothing (~280 → ~70 KB a scavenge, ad hoc --trace-gc-nvp;
// memtable_gc.test.ts).
//
// Payloads are kept as numbers, not objects: the index of the ArrayBuffer they live in (the WAL
// record buffers, in `buffers`), their offset and their length, in typed-array rows; get() and
// payloadOf() make a view on demand. A view object stored per write lived in the old generation's
// array while the new generation made it: every scavenge had to copy (and promote) one view per
// key written since the last one, ~80 bytes each, almost all that a shard's scavenges kept alive
// under PUT load (--trace-gc-nvp, ad hoc). Views made for a read die young.
//
// Exact lookups (get, and the overwrite check of put) go through a hash index beside the list:
// open addressing with linear probing over node indices (0 = empty slot), at most half full. The
// slot comes from both token halves mixed with a per-memtable random seed, so keys crafted to
// share low token bits (the token function is public) do not pile into one probe run. A get is
// then one or two cache misses instead of a skip-list walk; only the insert of a new key walks it.
//
// Byte accounting counts key, payload and a fixed per-node overhead (`bytes`, what the table holds
// live); the engine switches to a new memtable when `heldBytes` passes its limit: the larger of
// that and the arena, which also keeps every overwritten record until the memtable is dropped (as
// LevelDB's ApproximateMemoryUsage counts its arena). Without that, overwriting a few hot keys
// grew one memtable's arena to the WAL segment cap (256 MiB) under a 64 MiB limit.
//
// Iteration is safe while inserts happen between steps: a cursor holds a node index, and nodes
// are never removed or renumbered.
import { assert } from '../errors';
import type { Arena } from './arena';
import { KeySketch } from './key-sketch';
import { tokenHighOf, tokenLowOf } from './sort-key';

/** Tallest node; 4^12 = 16.7M entries is far above what a memtable of memtableBytesMax holds. */
export const memtableHeightMax = 12;
/**
 * Per-node overhead estimate: the sort key's Buffer object and array slot, the typed-array rows. It
 * was set when each node also held a payload view object; kept, so memtables still switch at the
 * size they did (it now errs high by about that object).
 */
export const memtableNodeOverheadBytes = 96 + memtableHeightMax * 4 + 8 + 2 * 4 * 2;
const capacityInitial = 256;
const slotsInitial = 512;
const keyBufferBytesInitial = 16 * 1024;

export class Memtable {
  private next = new Int32Array(capacityInitial * memtableHeightMax);
  private tokens = new Uint32Array(capacityInitial * 2);
  /** Every node's sort key, node after node; node i's is keyOffset[i], keyLength[i] (node 0 has none). */
  private keyBuffer = Buffer.allocUnsafeSlow(keyBufferBytesInitial);
  private keyBufferUsed = 0;
  private keyOffset = new Uint32Array(capacityInitial);
  private keyLength = new Uint16Array(capacityInitial);
  /** Per node: its payload's buffer (an index into `buffers`), byte offset and length. */
  private payloadBuffer = new Int32Array(capacityInitial);
  private payloadOffset = new Uint32Array(capacityInitial);
  private payloadLength = new Uint32Array(capacityInitial);
  /** The buffers payloads live in, each once; `bufferIndex` finds one's index. */
  private readonly buffers: ArrayBufferLike[] = [];
  private readonly bufferIndex = new Map<ArrayBufferLike, number>();
  /** The last buffer registered (a batch's payloads share one), to skip the map lookup. */
  private lastBuffer: ArrayBufferLike | null = null;
  private lastBufferIndex = -1;
  private capacity = capacityInitial;
  private height = 1;
  private rng = 0x2545f491;
  private readonly prev = new Int32Array(memtableHeightMax);
  /** Hash index: node indices, 0 = empty; length a power of two, kept at least twice count. */
  private slots = new Int32Array(slotsInitial);
  private readonly seed = (Math.random() * 0x1_0000_0000) >>> 0;
  bytes = 0;
  count = 0;
  /** Its distinct keys, for the engine's key count estimate (4 KiB; key-sketch.ts). */
  readonly keys = new KeySketch();
  /** Size of its WAL segment once the memtable is immutable (stats). */
  walBytes = 0;
  /** The WAL segment holding this memtable's writes; removable once this memtable is on disk. */
  readonly walNumber: number;
  /** Where this memtable's WAL records (and so its payloads) live; null when they live elsewhere (recovery). */
  readonly arena: Arena | null;
  /** Scans reading this memtable; its arena is recycled only once it is on disk and this is 0. */
  refs = 0;
  /** On disk and dropped by the engine. */
  retired = false;

  constructor(walNumber: number, arena: Arena | null = null) {
    this.walNumber = walNumber;
    this.arena = arena;
  }

  /** Memory the memtable keeps: its live entries, or its arena when overwrites made that larger. */
  get heldBytes(): number {
    return Math.max(this.bytes, this.arena?.bytes ?? 0);
  }

  /** Marks the memtable dropped; recycles its arena now or when the last scan lets go of it. */
  retire(): void {
    assert(!this.retired, 'memtable retired twice');
    this.retired = true;
    if (this.refs === 0) this.arena?.release();
  }

  unref(): void {
    assert(this.refs > 0, 'memtable unref below zero');
    this.refs--;
    if (this.refs === 0 && this.retired) this.arena?.release();
  }

  private randomHeight(): number {
    let h = 1;
    // xorshift32; branching factor 4 like LevelDB.
    for (;;) {
      this.rng ^= this.rng << 13;
      this.rng ^= this.rng >>> 17;
      this.rng ^= this.rng << 5;
      if (h >= memtableHeightMax || (this.rng & 3) !== 0) return h;
      h++;
    }
  }

  /** True when node n (not the head) orders before the sort key sk whose token halves are t0, t1. */
  private before(n: number, sk: Buffer, t0: number, t1: number): boolean {
    const a = this.tokens[2 * n]!;
    if (a !== t0) return a < t0;
    const b = this.tokens[2 * n + 1]!;
    if (b !== t1) return b < t1;
    const from = this.keyOffset[n]!;
    return this.keyBuffer.compare(sk, 0, sk.length, from, from + this.keyLength[n]!) < 0;
  }

  /**
   * True when node n's sort key is sk. A byte loop: sort keys are short (a token and a key of at
   * most keyBytesMax), and Buffer#compare with offsets validated its four arguments in JS first.
   */
  private keyEquals(n: number, sk: Buffer): boolean {
    const length = sk.length;
    if (this.keyLength[n] !== length) return false;
    const keys = this.keyBuffer;
    const from = this.keyOffset[n]!;
    for (let i = 0; i < length; i++) if (keys[from + i] !== sk[i]) return false;
    return true;
  }

  /** Last node < sk on every level into this.prev (when fillPrev); returns the node >= sk (0: none). */
  private findGreaterOrEqual(sk: Buffer, fillPrev: boolean): number {
    const next = this.next;
    const t0 = tokenHighOf(sk);
    const t1 = tokenLowOf(sk);
    let x = 0;
    let level = this.height - 1;
    for (;;) {
      const n = next[x * memtableHeightMax + level]!;
      if (n !== 0 && this.before(n, sk, t0, t1)) {
        x = n;
      } else {
        if (fillPrev) this.prev[level] = x;
        if (level === 0) return n;
        level--;
      }
    }
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const next = new Int32Array(capacity * memtableHeightMax);
    next.set(this.next);
    const tokens = new Uint32Array(capacity * 2);
    tokens.set(this.tokens);
    const payloadBuffer = new Int32Array(capacity);
    payloadBuffer.set(this.payloadBuffer);
    const payloadOffset = new Uint32Array(capacity);
    payloadOffset.set(this.payloadOffset);
    const payloadLength = new Uint32Array(capacity);
    payloadLength.set(this.payloadLength);
    const keyOffset = new Uint32Array(capacity);
    keyOffset.set(this.keyOffset);
    const keyLength = new Uint16Array(capacity);
    keyLength.set(this.keyLength);
    this.keyOffset = keyOffset;
    this.keyLength = keyLength;
    this.next = next;
    this.tokens = tokens;
    this.payloadBuffer = payloadBuffer;
    this.payloadOffset = payloadOffset;
    this.payloadLength = payloadLength;
    this.capacity = capacity;
  }

  private bufferOf(payload: Buffer): number {
    const ab = payload.buffer;
    if (ab === this.lastBuffer) return this.lastBufferIndex;
    let i = this.bufferIndex.get(ab);
    if (i === undefined) {
      i = this.buffers.length;
      this.buffers.push(ab);
      this.bufferIndex.set(ab, i);
    }
    this.lastBuffer = ab;
    this.lastBufferIndex = i;
    return i;
  }

  private setPayload(node: number, payload: Buffer): void {
    this.payloadBuffer[node] = this.bufferOf(payload);
    this.payloadOffset[node] = payload.byteOffset;
    this.payloadLength[node] = payload.length;
  }

  /** REQUIRES: sk is a sort key (8-byte token ‖ key of 1.. bytes). */
  put(sk: Buffer, payload: Buffer): void {
    const found = this.lookup(sk);
    if (found !== 0) {
      this.bytes += payload.length - this.payloadLength[found]!;
      this.setPayload(found, payload);
      return;
    }
    const ge = this.findGreaterOrEqual(sk, true);
    assert(ge === 0 || !this.keyEquals(ge, sk), 'memtable hash index lost a key');
    const t0 = tokenHighOf(sk);
    const t1 = tokenLowOf(sk);
    this.keys.addToken(t0, t1);
    const h = this.randomHeight();
    if (h > this.height) {
      for (let i = this.height; i < h; i++) this.prev[i] = 0;
      this.height = h;
    }
    if (this.count + 1 >= this.capacity) this.grow();
    const node = this.count + 1;
    const next = this.next;
    for (let i = 0; i < h; i++) {
      const p = this.prev[i]! * memtableHeightMax + i;
      next[node * memtableHeightMax + i] = next[p]!;
      next[p] = node;
    }
    this.tokens[2 * node] = t0;
    this.tokens[2 * node + 1] = t1;
    this.storeKey(node, sk);
    this.setPayload(node, payload);
    this.count = node;
    this.bytes += sk.length + payload.length + memtableNodeOverheadBytes;
    if (2 * this.count > this.slots.length) this.rehash(this.slots.length * 2);
    else this.index(node);
  }

  private storeKey(node: number, sk: Buffer): void {
    assert(sk.length <= 0xffff, 'a sort key over 64 KiB');
    if (this.keyBufferUsed + sk.length > this.keyBuffer.length) {
      // Views made by keyOf() keep the old buffer, whose bytes stay as they were.
      const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.keyBuffer.length, this.keyBufferUsed + sk.length));
      this.keyBuffer.copy(grown, 0, 0, this.keyBufferUsed);
      this.keyBuffer = grown;
    }
    sk.copy(this.keyBuffer, this.keyBufferUsed);
    this.keyOffset[node] = this.keyBufferUsed;
    this.keyLength[node] = sk.length;
    this.keyBufferUsed += sk.length;
  }

  /** The payload of sk (a new view each call), null when absent. */
  get(sk: Buffer): Buffer | null {
    const n = this.lookup(sk);
    return n === 0 ? null : this.payloadOf(n);
  }

  private slotOf(t0: number, t1: number): number {
    // Murmur3's 32-bit finalizer over both halves and the seed.
    let h = (Math.imul(t0 ^ this.seed, 0xcc9e2d51) ^ t1) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h & (this.slots.length - 1);
  }

  /** The node holding exactly sk, or 0. */
  private lookup(sk: Buffer): number {
    const t0 = tokenHighOf(sk);
    const t1 = tokenLowOf(sk);
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let i = this.slotOf(t0, t1); ; i = (i + 1) & mask) {
      const n = slots[i]!;
      if (n === 0) return 0;
      if (this.tokens[2 * n] === t0 && this.tokens[2 * n + 1] === t1 && this.keyEquals(n, sk)) return n;
    }
  }

  private index(node: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = this.slotOf(this.tokens[2 * node]!, this.tokens[2 * node + 1]!);
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = node;
  }

  private rehash(length: number): void {
    this.slots = new Int32Array(length);
    for (let n = 1; n <= this.count; n++) this.index(n);
  }

  /** First node with sort key >= sk (0 past the end). */
  seek(sk: Buffer): number {
    return this.findGreaterOrEqual(sk, false);
  }

  /** First node in order (0 when empty). */
  first(): number {
    return this.next[0]!;
  }

  /** The node after n in order (0 past the end). REQUIRES: n is a node, not 0. */
  nextOf(n: number): number {
    return this.next[n * memtableHeightMax]!;
  }

  /** Node n's sort key, as a new view into the key buffer. */
  keyOf(n: number): Buffer {
    const from = this.keyOffset[n]!;
    return this.keyBuffer.subarray(from, from + this.keyLength[n]!);
  }

  keyLengthOf(n: number): number {
    return this.keyLength[n]!;
  }

  /** Copies node n's sort key into `target` at `at`; returns its length. */
  copyKeyOf(n: number, target: Uint8Array, at: number): number {
    const from = this.keyOffset[n]!;
    return this.keyBuffer.copy(target, at, from, from + this.keyLength[n]!);
  }

  /** Node n's payload, as a new view into the buffer it lives in. */
  payloadOf(n: number): Buffer {
    return Buffer.from(this.buffers[this.payloadBuffer[n]!]!, this.payloadOffset[n]!, this.payloadLength[n]!);
  }

  payloadLengthOf(n: number): number {
    return this.payloadLength[n]!;
  }

  /** Where node n's payload lives, without a view: the index of its buffer (bufferAt), its offset. */
  payloadBufferIndexOf(n: number): number {
    return this.payloadBuffer[n]!;
  }

  payloadOffsetOf(n: number): number {
    return this.payloadOffset[n]!;
  }

  /** The buffers payloads live in, by payloadBufferIndexOf. */
  get bufferCount(): number {
    return this.buffers.length;
  }

  bufferAt(i: number): ArrayBufferLike {
    return this.buffers[i]!;
  }

  /** Checks order, count and that every level is a sub-list of the one below (tests). */
  checkInvariants(): void {
    let c = 0;
    let last: Buffer | null = null;
    for (let n = this.first(); n !== 0; n = this.nextOf(n)) {
      const sk = this.keyOf(n);
      if (last) assert(last.compare(sk) < 0, 'memtable out of order');
      assert(this.tokens[2 * n] === tokenHighOf(sk) && this.tokens[2 * n + 1] === tokenLowOf(sk), 'memtable token row out of date');
      last = sk;
      c++;
    }
    assert(c === this.count, 'memtable count mismatch');
    for (let n = 1; n <= this.count; n++) assert(this.lookup(this.keyOf(n)) === n, () => `memtable hash index misses node ${n}`);
    for (let level = 1; level < this.height; level++) {
      let below = this.next[level - 1]!;
      for (let n = this.next[level]!; n !== 0; n = this.next[n * memtableHeightMax + level]!) {
        while (below !== 0 && below !== n) below = this.nextOf(below);
        assert(below === n, () => `memtable level ${level} skips a node of level ${level - 1}`);
      }
    }
  }
}
