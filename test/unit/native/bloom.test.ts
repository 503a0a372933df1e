// Bloom filters of the addon: no false negatives, a false-positive rate near the theory for the
// probe count stored in the filter, batch and single probes agree, and damaged filters or bad
// settings are rejected with a code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bloomBuild, bloomMayContain, bloomMayContainBatch, native } from '../../../src/native';
import { ErrorCode } from '../../../src/errors';
import { throwsCode } from './helpers';

/** n fixed-width 12-byte keys "tag" + i (u64 LE) packed with their offsets, built without n Buffers. */
function packedKeys(tag: number, n: number): { data: Buffer; offsets: Uint32Array } {
  const width = 12;
  const data = Buffer.alloc(n * width);
  const offsets = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) {
    data.writeUInt32LE(tag, i * width);
    data.writeUInt32LE(i >>> 0, i * width + 4);
    data.writeUInt32LE(Math.floor(i / 2 ** 32), i * width + 8);
    offsets[i + 1] = (i + 1) * width;
  }
  return { data, offsets };
}

test('1M keys at 10 bits/key: no false negatives, false positives within 1.5x of theory', () => {
  // Proves the filter is sized and probed as documented: k = 7 stored in the last byte, and the
  // measured FP rate over 1M absent keys is close to (1 - e^(-kn/m))^k.
  const n = 1_000_000;
  const present = packedKeys(0xaaaa, n);
  const filter = native.bloomBuild(present.data, present.offsets, 10);
  const k = filter[filter.length - 1]!;
  assert.equal(k, 7);
  const m = (filter.length - 1) * 8;
  assert.equal(m, n * 10);
  const hits = native.bloomMayContainBatch(filter, present.data, present.offsets);
  assert.equal(hits.length, n);
  assert.equal(hits.indexOf(0), -1, 'a false negative');
  const absent = packedKeys(0xbbbb, n);
  const fp = native.bloomMayContainBatch(filter, absent.data, absent.offsets).reduce((s, b) => s + b, 0);
  const theory = (1 - Math.exp((-k * n) / m)) ** k;
  const rate = fp / n;
  assert.ok(rate < theory * 1.5 && rate > theory / 1.5, `FP rate ${rate} vs theory ${theory}`);
});

test('batched and single probes agree, including on absent keys', () => {
  // Proves bloomMayContainBatch is the single probe applied per key.
  const keys = Array.from({ length: 2000 }, (_, i) => Buffer.from(`user:${i}`));
  const filter = bloomBuild(keys, 6);
  const probes = Array.from({ length: 4000 }, (_, i) => Buffer.from(`user:${i}`));
  probes.push(Buffer.alloc(0));
  const batch = bloomMayContainBatch(filter, probes);
  probes.forEach((p, i) => assert.equal(batch[i], bloomMayContain(filter, p) ? 1 : 0, `probe ${i}`));
  assert.ok(batch.subarray(0, 2000).every((b) => b === 1));
});

test('small and empty filters follow the documented format', () => {
  // Proves the 64-bit minimum and the probe byte: zero keys give 8 zero bytes plus k.
  const empty = bloomBuild([], 10);
  assert.deepEqual([...empty], [0, 0, 0, 0, 0, 0, 0, 0, 7]);
  assert.equal(bloomMayContain(empty, Buffer.from('x')), false);
  assert.equal(bloomBuild([Buffer.from('a')], 1).at(-1), 1);
  assert.equal(bloomBuild([Buffer.from('a')], 32).at(-1), 22);
});

test('bad settings and damaged filters throw with a code', () => {
  // Proves bitsPerKey is range-checked and a filter with an impossible framing is corruption.
  for (const bpk of [0, 33, 1.5, -1, NaN]) {
    throwsCode(() => bloomBuild([Buffer.from('a')], bpk), ErrorCode.InvalidArgument, `bitsPerKey ${bpk}`);
  }
  for (const filter of [Buffer.alloc(0), Buffer.from([7]), Buffer.from([0xff, 0]), Buffer.from([0xff, 31])]) {
    throwsCode(() => bloomMayContain(filter, Buffer.from('a')), ErrorCode.Corruption);
    throwsCode(() => bloomMayContainBatch(filter, [Buffer.from('a')]), ErrorCode.Corruption);
  }
});
