// HalfSipHash-2-4 with a 32-bit tag: the 32-bit-word member of Aumasson and Bernstein's SipHash
// family (their reference implementation, halfsiphash.c), a keyed hash for tables whose keys a
// client chooses. A seeded non-cryptographic hash (FNV, Murmur) leaves a client free to search
// for keys that land in one slot and so turn every lookup into a walk along one long probe run;
// under a secret key, where a key lands cannot be predicted. Its words are 32 bits, so every step
// is one int32 operation in JavaScript (SipHash's 64-bit words would need pairs). Checked against
// the reference implementation's vectors (test/unit/shards/half_siphash.test.ts). A 32-bit tag
// is no MAC; it only places keys in tables.
import { randomFillSync } from 'node:crypto';
import { assert } from '../errors';

/** A HalfSipHash key: 64 bits as two little-endian 32-bit words. */
export type HalfSipKey = Uint32Array;

/** A fresh key from the operating system's random source. */
export function randomHalfSipKey(): HalfSipKey {
  return randomFillSync(new Uint32Array(2));
}

/** The key whose bytes are `bytes` (8 of them, little-endian words, as the reference takes it). */
export function halfSipKeyOf(bytes: Uint8Array): HalfSipKey {
  assert(bytes.length === 8, 'a HalfSipHash key is 8 bytes');
  return new Uint32Array([wordAt(bytes, 0), wordAt(bytes, 4)]);
}

function wordAt(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

/** The state between calls of sipRounds: four 32-bit words (a call of halfSipHash24 runs to completion on its thread). */
const state = new Int32Array(4);

/** `n` SipRounds on `state`, in locals while they run. */
function sipRounds(n: number): void {
  let v0 = state[0]!;
  let v1 = state[1]!;
  let v2 = state[2]!;
  let v3 = state[3]!;
  for (let r = 0; r < n; r++) {
    v0 = (v0 + v1) | 0;
    v1 = (v1 << 5) | (v1 >>> 27);
    v1 ^= v0;
    v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0;
    v3 = (v3 << 8) | (v3 >>> 24);
    v3 ^= v2;
    v0 = (v0 + v3) | 0;
    v3 = (v3 << 7) | (v3 >>> 25);
    v3 ^= v0;
    v2 = (v2 + v1) | 0;
    v1 = (v1 << 13) | (v1 >>> 19);
    v1 ^= v2;
    v2 = (v2 << 16) | (v2 >>> 16);
  }
  state[0] = v0;
  state[1] = v1;
  state[2] = v2;
  state[3] = v3;
}

/** HalfSipHash-2-4 of bytes [0, length) of `b` under `key`, as the unsigned 32-bit tag. */
export function halfSipHash24(key: HalfSipKey, b: Uint8Array, length: number): number {
  assert(length >= 0 && length <= b.length, 'HalfSipHash input within its buffer');
  const k0 = key[0]!;
  const k1 = key[1]!;
  state[0] = k0;
  state[1] = k1;
  state[2] = 0x6c796765 ^ k0;
  state[3] = 0x74656462 ^ k1;
  const whole = length - (length & 3);
  // One block: m, then the last (up to 3) bytes under the length in the top byte.
  for (let i = 0; i <= whole; i += 4) {
    let m: number;
    if (i < whole) {
      m = wordAt(b, i);
    } else {
      m = length << 24;
      const left = length & 3;
      if (left >= 3) m |= b[i + 2]! << 16;
      if (left >= 2) m |= b[i + 1]! << 8;
      if (left >= 1) m |= b[i]!;
    }
    state[3] ^= m;
    sipRounds(2);
    state[0] ^= m;
  }
  state[2] ^= 0xff;
  sipRounds(4);
  return (state[1]! ^ state[3]!) >>> 0;
}
