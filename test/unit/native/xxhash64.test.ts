// XXH64 of the addon against the xxHash repository's sanity vectors (cli/xsum_sanity_check.c),
// against Debian's xxhsum (through a committed fixture made by
// test/fixtures/native/make-xxhsum-fixture.ts), and the batched form against the single one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyToken, keyTokens, native, xxhash64, xxhash64Batch } from '../../../src/native';
import { ErrorCode } from '../../../src/errors';
import { prng, randomBytes, randomInt, throwsCode, xxhsumFileBytes, xxhsumFiles } from './helpers';

const PRIME32 = 2654435761n;
const PRIME64 = 11400714785074694797n;

/** xxHash's XSUM_fillTestBuffer: byte i is the top byte of PRIME32 * PRIME64^i (mod 2^64). */
function sanityBuffer(len: number): Buffer {
  const out = Buffer.alloc(len);
  let gen = PRIME32;
  for (let i = 0; i < len; i++) {
    out[i] = Number(gen >> 56n);
    gen = (gen * PRIME64) & 0xffff_ffff_ffff_ffffn;
  }
  return out;
}

// XSUM_XXH64_testdata from xxHash's cli/xsum_sanity_check.c: [length, seed, expected].
const sanityVectors: ReadonlyArray<[number, bigint, bigint]> = [
  [0, 0n, 0xef46db3751d8e999n],
  [0, PRIME32, 0xac75fda2929b17efn],
  [1, 0n, 0xe934a84adb052768n],
  [1, PRIME32, 0x5014607643a9b4c3n],
  [4, 0n, 0x9136a0dca57457een],
  [14, 0n, 0x8282dcc4994e35c8n],
  [14, PRIME32, 0xc3bd6bf63deb6df0n],
  [222, 0n, 0xb641ae8cb691c174n],
  [222, PRIME32, 0x20cb8ab7ae10c14an],
];

interface XxhsumFixture {
  files: Array<{ name: string; length: number; seed: number; xxh64: string }>;
}

const fixturePath = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'native', 'xxhsum.json');

test('xxhash64 matches the xxHash sanity-check vectors', () => {
  // Proves bit-exact XXH64 for the empty input, the <4, 4..7, 8..31 and >=32-byte paths, with seeds.
  const buf = sanityBuffer(2367);
  for (const [len, seed, expected] of sanityVectors) {
    assert.equal(xxhash64(buf.subarray(0, len), seed), expected, `len ${len} seed ${seed}`);
  }
});

test('xxhash64 matches the committed xxhsum -H64 fixture', () => {
  // Proves agreement with Debian's xxhsum 0.8.1 on random files up to 1 MiB, whose printed hex is
  // the 64-bit value most significant digit first (xxhsum's default big-endian canonical form).
  const fixture = JSON.parse(fs.readFileSync(fixturePath, 'utf8')) as XxhsumFixture;
  assert.equal(fixture.files.length, xxhsumFiles.length);
  for (const f of fixture.files) {
    const got = xxhash64(xxhsumFileBytes(f), 0n).toString(16).padStart(16, '0');
    assert.equal(got, f.xxh64, f.name);
  }
});

test('xxhash64Batch and keyTokens equal one xxhash64 per item', () => {
  // Proves the batched form and the ring token wrapper (seed 0) agree with the single call.
  const next = prng(7);
  const items = Array.from({ length: 300 }, () => randomBytes(next, randomInt(next, 80)));
  const seed = 0xfedcba9876543210n;
  const batch = xxhash64Batch(items, seed);
  assert.ok(batch instanceof BigUint64Array);
  items.forEach((item, i) => assert.equal(batch[i], xxhash64(item, seed)));
  const tokens = keyTokens(items);
  items.forEach((item, i) => assert.equal(tokens[i], keyToken(item)));
  assert.equal(keyToken(Buffer.alloc(0)), 0xef46db3751d8e999n);
});

test('xxhash64 returns an unsigned bigint and takes the full 64-bit seed range', () => {
  // Proves no sign confusion at the boundary: results >= 2^63 stay positive, seed 2^64-1 works.
  const results = Array.from({ length: 64 }, (_, i) => xxhash64(Buffer.from([i]), 0n));
  assert.ok(results.some((r) => r >= 1n << 63n));
  assert.ok(results.every((r) => r >= 0n && r < 1n << 64n));
  assert.equal(typeof xxhash64(Buffer.from('x'), (1n << 64n) - 1n), 'bigint');
});

test('xxhash64 rejects a seed that is not a bigint in 0..2^64', () => {
  // Proves the seed is checked rather than truncated.
  throwsCode(() => native.xxhash64(Buffer.alloc(1), -1n), ErrorCode.InvalidArgument);
  throwsCode(() => native.xxhash64(Buffer.alloc(1), 1n << 64n), ErrorCode.InvalidArgument);
  throwsCode(() => native.xxhash64(Buffer.alloc(1), 0 as unknown as bigint), ErrorCode.InvalidArgument);
  throwsCode(() => native.xxhash64Batch(Buffer.alloc(2), new Uint32Array([0, 3]), 0n), ErrorCode.InvalidArgument);
});
