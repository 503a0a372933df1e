// CRC-32C of the addon against published vectors (RFC 3720 B.4 and the "123456789" check value),
// the running-CRC extension rule, and the SSE4.2 path against the table path on many random
// lengths and alignments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c, crc32cBatch, native } from '../../../src/native';
import { isRingkvError, ErrorCode } from '../../../src/errors';
import { prng, randomBytes, randomInt, throwsCode } from './helpers';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const vectors: ReadonlyArray<[string, Uint8Array, number]> = [
  ['"123456789" (check value)', Buffer.from('123456789'), 0xe3069283],
  ['empty', Buffer.alloc(0), 0],
  ['32 zero bytes (RFC 3720 B.4)', Buffer.alloc(32, 0), 0x8a9136aa],
  ['32 0xFF bytes (RFC 3720 B.4)', Buffer.alloc(32, 0xff), 0x62a8ab43],
  ['ascending 0..31 (RFC 3720 B.4)', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
  ['descending 31..0 (RFC 3720 B.4)', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
  [
    'iSCSI SCSI Read(10) command PDU (RFC 3720 B.4)',
    hex(`01 c0 00 00 00 00 00 00 00 00 00 00 00 00 00 00
         14 00 00 00 00 00 04 00 00 00 00 14 00 00 00 18
         28 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00`),
    0xd9963a56,
  ],
];

test('crc32c matches the published CRC-32C vectors on both paths', () => {
  // Proves the polynomial, reflection and final xor are the standard Castagnoli ones.
  for (const [name, data, expected] of vectors) {
    assert.equal(crc32c(data), expected, `${name} (default path)`);
    assert.equal(native.crc32cSoftware(data, 0), expected, `${name} (table)`);
  }
});

test('crc32cHardware reports a boolean and the default path agrees with it', () => {
  // Proves the flag is real: on x86-64 CI hosts SSE4.2 is expected, and either way the paths agree.
  const hw = native.crc32cHardware();
  assert.equal(typeof hw, 'boolean');
  if (process.arch === 'x64') assert.equal(hw, true, 'x86-64 hosts of this project all have SSE4.2');
});

test('a running CRC extends: crc(a‖b) == crc(b, crc(a))', () => {
  // Proves callers can checksum a record in pieces (header, then payload) and get the whole CRC.
  const next = prng(1);
  for (let round = 0; round < 200; round++) {
    const whole = randomBytes(next, randomInt(next, 300));
    const cut = randomInt(next, whole.length + 1);
    const a = whole.subarray(0, cut);
    const b = whole.subarray(cut);
    assert.equal(crc32c(b, crc32c(a)), crc32c(whole));
    assert.equal(native.crc32cSoftware(b, native.crc32cSoftware(a, 0)), crc32c(whole));
  }
  assert.equal(crc32c(Buffer.from('456789'), crc32c(Buffer.from('123'))), 0xe3069283);
});

test('the hardware and table paths agree on random inputs of many lengths and alignments', () => {
  // Proves the 8-bytes-at-a-time loops and their tails agree for every length mod 8 and offset.
  const next = prng(2);
  const pool = randomBytes(next, 70_000);
  for (let len = 0; len <= 130; len++) {
    for (let align = 0; align < 16; align++) {
      const view = pool.subarray(align, align + len);
      const seed = next();
      assert.equal(crc32c(view, seed), native.crc32cSoftware(view, seed), `len ${len} align ${align}`);
    }
  }
  for (const len of [1000, 4095, 4096, 4097, 65_536, 65_536 + 7]) {
    const view = pool.subarray(3, 3 + len);
    assert.equal(crc32c(view), native.crc32cSoftware(view, 0), `len ${len}`);
  }
});

test('crc32cBatch equals one crc32c per item, including empty items', () => {
  // Proves the batched form slices items by the offsets exactly.
  const next = prng(3);
  const items = Array.from({ length: 500 }, () => randomBytes(next, randomInt(next, 100)));
  items.push(Buffer.alloc(0));
  const batch = crc32cBatch(items);
  assert.equal(batch.length, items.length);
  items.forEach((item, i) => assert.equal(batch[i], crc32c(item)));
  assert.equal(crc32cBatch([]).length, 0);
  // Views with a byte offset (a slice of a larger array) are read from their own start.
  const backing = new Uint32Array([99, 0, 3, 9, 99]);
  const data = Buffer.from('xxabcdefghixx').subarray(2, 11);
  const views = native.crc32cBatch(data, backing.subarray(1, 4));
  assert.deepEqual([...views], [crc32c(Buffer.from('abc')), crc32c(Buffer.from('defghi'))]);
});

test('crc32c rejects bad arguments with RKV_ERR_INVALID_ARGUMENT instead of crashing', () => {
  // Proves argument checks at the boundary: wrong types, out-of-range crc, bad offsets.
  const bad: Array<() => unknown> = [
    () => native.crc32c('abc' as unknown as Uint8Array, 0),
    () => native.crc32c(new Uint16Array(4) as unknown as Uint8Array, 0),
    () => native.crc32c(Buffer.alloc(1), -1),
    () => native.crc32c(Buffer.alloc(1), 2 ** 32),
    () => native.crc32c(Buffer.alloc(1), 1.5),
    () => native.crc32c(Buffer.alloc(1), undefined as unknown as number),
    () => native.crc32cBatch(Buffer.alloc(4), new Uint32Array([])),
    () => native.crc32cBatch(Buffer.alloc(4), new Uint32Array([0, 5])),
    () => native.crc32cBatch(Buffer.alloc(4), new Uint32Array([0, 3, 2])),
    () => native.crc32cBatch(Buffer.alloc(4), [0, 4] as unknown as Uint32Array),
  ];
  for (const fn of bad) throwsCode(fn, ErrorCode.InvalidArgument);
  try {
    crc32c(Buffer.alloc(1), -1);
    assert.fail('expected a throw');
  } catch (err) {
    assert.ok(isRingkvError(err, ErrorCode.InvalidArgument), 'the wrapper rethrows a RingkvError');
  }
});

test('a view of a detached (transferred) ArrayBuffer is refused as an invalid argument, not read as empty', () => {
  const ab = new ArrayBuffer(16);
  const view = new Uint8Array(ab);
  view.fill(7);
  structuredClone(ab, { transfer: [ab] });
  assert.equal(view.length, 0, 'the view reads as empty once its buffer has moved');
  for (const call of [() => native.crc32c(view, 0), () => native.xxhash64(view, 0n), () => native.blockGet(view, new Uint8Array([1]))]) {
    assert.match(throwsCode(call, ErrorCode.InvalidArgument).message, /detached ArrayBuffer/);
  }
  // An empty view of a live buffer is still an empty input.
  assert.equal(native.crc32c(new Uint8Array(0), 0), 0);
});
