// Recent idempotency keys of one shard → the result of the write that used them, so a client's
// retry of a write (design.md §12 Q3: the client times out and retries, maybe through another
// coordinator) is applied once. Bounded in count and in bytes (the oldest entry goes first) and in
// time (an entry older than its TTL is ignored). It lives in the shard worker's memory: it is per
// node and lost on restart, so a retry that reaches another node or outlives the TTL writes again
// (the write then becomes a new version, which vector clocks keep as an ordinary successor).
//
// Layout: no object per entry. The TypeScript client puts an idempotency key on every write, so
// every write is remembered, and an entry lives for the next entriesMax writes: seconds under
// load, long past the next young-generation collection. As a Map of strings to objects (as this
// was) each write's entry, ~300 bytes of small objects, was copied by a scavenge and then
// promoted: ~2 MB of the ~2.6 MB a shard thread's scavenge found alive under PUT load, and 9-12 ms
// pauses instead of ~3 (--trace-gc-nvp, ad hoc, 64 MiB semi-space). Now an entry is a row of
// typed arrays (hash, times, where its bytes are) and its slot key and version as UTF-8 bytes in
// one ring buffer; a hash table of entry numbers (open addressing, linear probing, at most half
// full) finds them. Entries are written in age order around both rings, so the oldest are
// overwritten first; a slot key remembered again, or an entry found expired, is taken out of the
// hash table and its row left to age out.
import { idempotencyKeyBytesMax, keyBytesMax, nodeIdBytesMax } from '../constants';
import { assert } from '../errors';
import { halfSipHash24, randomHalfSipKey } from './half_siphash';

export interface RememberedWrite {
  version: string;
  timestampMs: number;
}

/** Bytes of a slot key at most (the scratch buffer's size): an idempotency key, a separator and a base64 data key. */
const slotKeyBytesMax = 1024;
/** Bytes of a version string at most (version_string.ts: v<counter>_<seconds>_<node id>, numbers of up to 16 digits). */
const versionBytesMax = 128;
// A slot key cut short by the scratch buffer's end would stay under it by less than one character.
assert(idempotencyKeyBytesMax + 1 + 4 * Math.ceil(keyBytesMax / 3) <= slotKeyBytesMax - 4, 'a slot key must fit the scratch buffer');
assert(1 + 16 + 1 + 16 + 1 + nodeIdBytesMax <= versionBytesMax, 'a version string must fit its bound');
/** Ring bytes per entry the cache is sized for (slot keys and versions of ~100 bytes are the usual). */
export const idempotencyRingBytesPerEntry = 192;

export class IdempotencyCache {
  /** Entry rows, by entry number modulo entriesMax. */
  private readonly hashes: Uint32Array;
  private readonly expiresAtMs: Float64Array;
  private readonly timestampsMs: Float64Array;
  private readonly offsets: Uint32Array;
  private readonly slotLengths: Uint16Array;
  private readonly versionLengths: Uint16Array;
  /** Whether the row is in the hash table (1) or taken out (0). */
  private readonly live: Uint8Array;
  /** Hash table: entry row + 1, 0 = empty. */
  private readonly table: Int32Array;
  private readonly ring: Buffer;
  /** Where the next entry's bytes go in the ring. */
  private ringHead = 0;
  /** Entry numbers of the oldest row still in the rings and of the next one. */
  private oldest = 0;
  private next = 0;
  private liveCount = 0;
  /** The slot key being looked up or remembered, as UTF-8. */
  private readonly scratch = Buffer.allocUnsafeSlow(slotKeyBytesMax);
  /** Secret: slot keys come from clients, who must not be able to pick keys that share a probe run. */
  private readonly hashKey = randomHalfSipKey();

  constructor(
    private readonly entriesMax: number,
    private readonly ttlMs: number,
    ringBytes = Math.max(entriesMax * idempotencyRingBytesPerEntry, 4 * (slotKeyBytesMax + versionBytesMax)),
  ) {
    assert(entriesMax >= 1 && ttlMs >= 1, 'idempotency cache bounds must be positive');
    assert(ringBytes >= slotKeyBytesMax + versionBytesMax, 'the idempotency ring must hold the largest entry');
    this.hashes = new Uint32Array(entriesMax);
    this.expiresAtMs = new Float64Array(entriesMax);
    this.timestampsMs = new Float64Array(entriesMax);
    this.offsets = new Uint32Array(entriesMax);
    this.slotLengths = new Uint16Array(entriesMax);
    this.versionLengths = new Uint16Array(entriesMax);
    this.live = new Uint8Array(entriesMax);
    let slots = 2;
    while (slots < 2 * entriesMax) slots *= 2;
    this.table = new Int32Array(slots);
    // Untouched pages of a large ArrayBuffer cost no memory until entries reach them.
    this.ring = Buffer.from(new ArrayBuffer(ringBytes));
  }

  /** Scope a client's key by the data key, so one idempotency key on two keys means two writes. */
  static slotKey(idempotencyKey: string, key: Uint8Array): string {
    return `${idempotencyKey}\u0000${Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('base64')}`;
  }

  /**
   * The slot key's hash, which get and remember take: a keyed write looks its slot up and, once
   * durable, remembers it, and hashing is most of a lookup's cost (~105 ns for a 53-byte slot key,
   * half_siphash.ts), so a write hashes once.
   */
  slotHash(slotKey: string): number {
    return this.hashOf(this.encode(slotKey));
  }

  /** `hash` is slotHash(slotKey). */
  get(slotKey: string, hash: number, nowMs: number): RememberedWrite | null {
    const length = this.encode(slotKey);
    const at = this.find(hash, length);
    if (at < 0) return null;
    const row = this.table[at]! - 1;
    if (this.expiresAtMs[row]! <= nowMs) {
      this.unlink(at);
      return null;
    }
    const versionAt = this.offsets[row]! + this.slotLengths[row]!;
    return { version: this.ring.toString('utf8', versionAt, versionAt + this.versionLengths[row]!), timestampMs: this.timestampsMs[row]! };
  }

  /** `hash` is slotHash(slotKey). */
  remember(slotKey: string, hash: number, result: RememberedWrite, nowMs: number): void {
    const slotLength = this.encode(slotKey);
    const versionLength = Buffer.byteLength(result.version);
    assert(versionLength <= versionBytesMax, 'a version string over its bound');
    const known = this.find(hash, slotLength);
    if (known >= 0) this.unlink(known);

    // Rows lie in the ring in entry order: those of the lap before at or past the head, this lap's
    // before it. The new bytes overwrite the oldest rows only.
    const need = slotLength + versionLength;
    if (this.ringHead + need > this.ring.length) {
      while (this.next > this.oldest && this.offsets[this.oldest % this.entriesMax]! >= this.ringHead) this.dropOldest();
      this.ringHead = 0;
    }
    while (this.next > this.oldest && (this.next - this.oldest >= this.entriesMax || this.overlapsOldest(this.ringHead, need))) this.dropOldest();

    const row = this.next % this.entriesMax;
    this.next++;
    this.scratch.copy(this.ring, this.ringHead, 0, slotLength);
    this.ring.write(result.version, this.ringHead + slotLength, 'utf8');
    this.hashes[row] = hash;
    this.expiresAtMs[row] = nowMs + this.ttlMs;
    this.timestampsMs[row] = result.timestampMs;
    this.offsets[row] = this.ringHead;
    this.slotLengths[row] = slotLength;
    this.versionLengths[row] = versionLength;
    this.ringHead += need;
    this.link(row);
    assert(this.liveCount <= this.entriesMax && this.next - this.oldest <= this.entriesMax, 'idempotency cache over its bound');
  }

  /** Entries that a lookup can find (expired ones included until a lookup meets them). */
  get size(): number {
    return this.liveCount;
  }

  /** Checks that every row in the table holds its own bytes whole and is found by them, and the bounds (tests). */
  checkInvariants(): void {
    let live = 0;
    const ranges: Array<[number, number]> = [];
    for (let n = this.oldest; n < this.next; n++) {
      const row = n % this.entriesMax;
      if (this.live[row] === 0) continue;
      live++;
      const from = this.offsets[row]!;
      const slotLength = this.slotLengths[row]!;
      ranges.push([from, from + slotLength + this.versionLengths[row]!]);
      this.ring.copy(this.scratch, 0, from, from + slotLength);
      assert(this.hashOf(slotLength) === this.hashes[row], () => `idempotency row ${row}'s bytes were overwritten`);
      const at = this.find(this.hashes[row]!, slotLength);
      assert(at >= 0 && this.table[at] === row + 1, () => `idempotency row ${row} is not found by its slot key`);
    }
    assert(live === this.liveCount && this.next - this.oldest <= this.entriesMax, 'idempotency cache counts');
    ranges.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < ranges.length; i++) assert(ranges[i - 1]![1] <= ranges[i]![0], 'idempotency rows overlap in the ring');
  }

  private encode(slotKey: string): number {
    const length = this.scratch.write(slotKey, 0, 'utf8');
    // write() stops at the buffer's end, before a character that does not fit whole.
    assert(length <= slotKeyBytesMax - 4, 'a slot key over its bound');
    return length;
  }

  /**
   * The scratch bytes' HalfSipHash under this cache's secret key (half_siphash.ts). Slot keys are
   * the client's: under a seeded FNV-1a (as this was) a client that found keys sharing a slot could
   * make every write of its shard walk one probe run of up to the table's 16,384 entries.
   */
  private hashOf(length: number): number {
    return halfSipHash24(this.hashKey, this.scratch, length);
  }

  /** The table slot holding the scratch slot key, or -1. */
  private find(hash: number, length: number): number {
    const mask = this.table.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = this.table[i]!;
      if (entry === 0) return -1;
      const row = entry - 1;
      if (this.hashes[row] === hash && this.slotLengths[row] === length && this.ring.compare(this.scratch, 0, length, this.offsets[row]!, this.offsets[row]! + length) === 0) return i;
    }
  }

  private link(row: number): void {
    const mask = this.table.length - 1;
    let i = this.hashes[row]! & mask;
    while (this.table[i] !== 0) i = (i + 1) & mask;
    this.table[i] = row + 1;
    this.live[row] = 1;
    this.liveCount++;
  }

  /** Takes the entry at table slot `at` out, moving later entries of its probe run back (no tombstones). */
  private unlink(at: number): void {
    const table = this.table;
    const mask = table.length - 1;
    this.live[table[at]! - 1] = 0;
    this.liveCount--;
    let hole = at;
    for (let i = (at + 1) & mask; table[i] !== 0; i = (i + 1) & mask) {
      const home = this.hashes[table[i]! - 1]! & mask;
      // It may fill the hole when the hole is on its probe path (from its home to where it is).
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        table[hole] = table[i]!;
        hole = i;
      }
    }
    table[hole] = 0;
  }

  private overlapsOldest(start: number, length: number): boolean {
    const row = this.oldest % this.entriesMax;
    const from = this.offsets[row]!;
    const to = from + this.slotLengths[row]! + this.versionLengths[row]!;
    return from < start + length && start < to;
  }

  private dropOldest(): void {
    const row = this.oldest % this.entriesMax;
    this.oldest++;
    if (this.live[row] === 0) return;
    const mask = this.table.length - 1;
    for (let i = this.hashes[row]! & mask; ; i = (i + 1) & mask) {
      assert(this.table[i] !== 0, 'a live idempotency entry missing from its table');
      if (this.table[i] === row + 1) {
        this.unlink(i);
        return;
      }
    }
  }
}
