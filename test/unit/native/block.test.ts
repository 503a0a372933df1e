// SSTable data blocks of the addon: exact bytes of the documented layout, round trips of random
// sorted entries (empty values, 256-byte keys, a 1 MiB value), get/seek against a sorted-array
// model, and damage (every truncation, byte flips, hand-made bad fields) reported as
// RKV_ERR_CORRUPTION without ever crashing the process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockBuild, blockDecode, blockFind, blockGet, blockSeek, native } from '../../../src/native';
import { ErrorCode } from '../../../src/errors';
import { prng, randomBytes, randomInt, throwsCode } from './helpers';

interface Entry {
  key: Buffer;
  value: Buffer;
}

/** Random unique keys in bytewise order, with varied shared prefixes, values and lengths. */
function randomEntries(seed: number, n: number, keyMax = 40): Entry[] {
  const next = prng(seed);
  const prefixes = Array.from({ length: 5 }, () => randomBytes(next, randomInt(next, 12)));
  const keys = new Map<string, Buffer>();
  while (keys.size < n) {
    const key = Buffer.concat([prefixes[randomInt(next, prefixes.length)]!, randomBytes(next, randomInt(next, keyMax))]);
    keys.set(key.toString('hex'), key);
  }
  const sorted = [...keys.values()].sort(Buffer.compare);
  return sorted.map((key) => ({ key, value: randomBytes(next, randomInt(next, 4) === 0 ? 0 : randomInt(next, 60)) }));
}

function build(entries: readonly Entry[], interval: number): Buffer {
  return blockBuild(
    entries.map((e) => e.key),
    entries.map((e) => e.value),
    interval,
  );
}

/** Model of blockSeek: first index whose key is >= target. */
function modelSeek(entries: readonly Entry[], target: Buffer): number {
  const i = entries.findIndex((e) => Buffer.compare(e.key, target) >= 0);
  return i === -1 ? entries.length : i;
}

function checkAgainstModel(block: Buffer, entries: readonly Entry[], probes: readonly Buffer[]): void {
  const d = blockDecode(block);
  assert.equal(d.keyOffsets.length, entries.length + 1);
  assert.equal(d.valueOffsets.length, entries.length + 1);
  entries.forEach((e, i) => {
    assert.deepEqual(d.keys.subarray(d.keyOffsets[i]!, d.keyOffsets[i + 1]!), e.key);
    assert.deepEqual(d.values.subarray(d.valueOffsets[i]!, d.valueOffsets[i + 1]!), e.value);
    assert.deepEqual(blockGet(block, e.key), e.value, `get of entry ${i}`);
    const at = blockFind(block, e.key);
    assert.ok(at !== null, `find of entry ${i}`);
    assert.deepEqual(block.subarray(at.start, at.end), e.value, `find of entry ${i} points at its value`);
    assert.equal(blockSeek(block, e.key), i, `seek of entry ${i}`);
  });
  const present = new Set(entries.map((e) => e.key.toString('hex')));
  for (const p of probes) {
    const expected = present.has(p.toString('hex')) ? entries[modelSeek(entries, p)]!.value : null;
    assert.deepEqual(blockGet(block, p), expected, `get ${p.toString('hex')}`);
    const at = blockFind(block, p);
    assert.deepEqual(at === null ? null : block.subarray(at.start, at.end), expected, `find ${p.toString('hex')}`);
    assert.equal(blockSeek(block, p), modelSeek(entries, p), `seek ${p.toString('hex')}`);
  }
}

test('the bytes of a small block are exactly the documented layout', () => {
  // Proves the format docs/sstable-format.md describes: varint header, delta, value, restarts, count.
  const block = build(
    [
      { key: Buffer.from('apple'), value: Buffer.from('1') },
      { key: Buffer.from('apply'), value: Buffer.alloc(0) },
      { key: Buffer.from('banana'), value: Buffer.from('33') },
    ],
    2,
  );
  const expected = Buffer.concat([
    Buffer.from([0, 5, 1]), Buffer.from('apple1'),
    Buffer.from([4, 1, 0]), Buffer.from('y'),
    Buffer.from([0, 6, 2]), Buffer.from('banana33'),
    Buffer.from([0, 0, 0, 0, 13, 0, 0, 0, 2, 0, 0, 0]),
  ]);
  assert.deepEqual(block, expected);
  assert.deepEqual(build([], 16), Buffer.from([0, 0, 0, 0]));
});

test('random sorted entries round-trip and get/seek match a model at several restart intervals', () => {
  // Proves decode inverts build and the restart binary search plus scan finds every entry, and
  // the right position for absent keys before, between and after the stored ones.
  const next = prng(11);
  for (const [seed, n] of [[1, 0], [2, 1], [3, 17], [4, 200]] as const) {
    const entries = randomEntries(seed, n);
    const probes = [Buffer.alloc(0), Buffer.alloc(50, 0xff), ...Array.from({ length: 100 }, () => randomBytes(next, randomInt(next, 20)))];
    for (const e of entries.slice(0, 50)) probes.push(Buffer.concat([e.key, Buffer.from([0])]), e.key.subarray(0, e.key.length - 1));
    for (const interval of [1, 2, 16, 1000]) checkAgainstModel(build(entries, interval), entries, probes);
  }
});

test('256-byte keys, empty values and a 1 MiB value round-trip', () => {
  // Proves the largest key and value the store allows survive the varint lengths and copies.
  const next = prng(12);
  const big = randomBytes(next, 1 << 20);
  const entries: Entry[] = [
    { key: Buffer.alloc(256, 0x41), value: Buffer.alloc(0) },
    { key: Buffer.concat([Buffer.alloc(255, 0x41), Buffer.from([0x42])]), value: big },
    { key: Buffer.alloc(256, 0x43), value: Buffer.alloc(0) },
  ];
  const block = build(entries, 16);
  checkAgainstModel(block, entries, [Buffer.alloc(255, 0x41), Buffer.alloc(257, 0x43)]);
  assert.deepEqual(blockGet(block, entries[1]!.key), big);
});

test('blockGet returns a copy, not a view into the block', () => {
  // Proves callers may keep the value after the block buffer is reused (e.g. evicted from cache).
  const block = build([{ key: Buffer.from('k'), value: Buffer.from('value') }], 16);
  const v = blockGet(block, Buffer.from('k'))!;
  block.fill(0);
  assert.equal(v.toString(), 'value');
});

test('unsorted, duplicate and mismatched input throws RKV_ERR_INVALID_ARGUMENT', () => {
  // Proves blockBuild enforces strictly increasing memcmp order (a shorter prefix sorts first).
  const b = (s: string): Buffer => Buffer.from(s);
  throwsCode(() => blockBuild([b('b'), b('a')], [b(''), b('')]), ErrorCode.InvalidArgument);
  throwsCode(() => blockBuild([b('a'), b('a')], [b(''), b('')]), ErrorCode.InvalidArgument);
  throwsCode(() => blockBuild([b('ab'), b('a')], [b(''), b('')]), ErrorCode.InvalidArgument);
  throwsCode(() => blockBuild([b('a')], []), ErrorCode.InvalidArgument);
  throwsCode(() => blockBuild([b('a')], [b('')], 0), ErrorCode.InvalidArgument);
  throwsCode(() => native.blockBuild(b('ab'), new Uint32Array([0, 1, 2]), b(''), new Uint32Array([0, 0]), 16), ErrorCode.InvalidArgument);
  assert.ok(blockBuild([b('a'), b('ab'), b('b')], [b(''), b(''), b('')]).length > 4);
  assert.ok(blockBuild([Buffer.from([0x7f]), Buffer.from([0x80])], [b(''), b('')]).length > 4, 'bytes compare unsigned');
});

/** Runs all three readers on damaged bytes; each must return or throw RKV_ERR_CORRUPTION. */
function readAll(block: Buffer, probe: Buffer): { threw: number } {
  let threw = 0;
  for (const fn of [() => blockDecode(block), () => blockGet(block, probe), () => blockSeek(block, probe)]) {
    try {
      fn();
    } catch (err) {
      assert.equal((err as { code?: unknown }).code, ErrorCode.Corruption, (err as Error).message);
      threw++;
    }
  }
  return { threw };
}

test('every truncation of a block is reported as corruption', () => {
  // Proves no prefix of a valid block decodes, and the point readers never read past the end.
  const entries = randomEntries(21, 40, 12).map((e) => ({ key: e.key, value: Buffer.concat([Buffer.from('v'), e.value]) }));
  const block = build(entries, 4);
  let getsDetected = 0;
  for (let len = 0; len < block.length; len++) {
    const cut = Buffer.from(block.subarray(0, len));
    throwsCode(() => blockDecode(cut), ErrorCode.Corruption, `decode of ${len} bytes`);
    const probe = entries[len % entries.length]!.key;
    const { threw } = readAll(cut, probe);
    if (threw === 3) getsDetected++;
  }
  assert.equal(getsDetected, block.length, 'every truncation is caught by get and seek too');
});

test('flipped bytes never crash the process; every flip in the restart array is caught', () => {
  // Proves the readers survive arbitrary damage: each byte is xor-ed with several masks, and every
  // reader either throws RKV_ERR_CORRUPTION or gives a well-formed answer (damage inside a key or
  // value cannot be seen without the table layer's CRC, which is why the trailer has one). Damage
  // to the restart array or count is always caught by decode.
  const entries = randomEntries(22, 60, 16);
  const block = build(entries, 8);
  const trailerStart = block.length - 4 * block.readUInt32LE(block.length - 4) - 4;
  let trailerFlips = 0;
  let trailerCaught = 0;
  for (let i = 0; i < block.length; i++) {
    for (const mask of [0x01, 0x80, 0xff, 0x3c]) {
      const damaged = Buffer.from(block);
      damaged[i]! ^= mask;
      let threw = false;
      try {
        const d = blockDecode(damaged);
        assert.equal(d.keyOffsets.length, d.valueOffsets.length);
      } catch (err) {
        assert.equal((err as { code?: unknown }).code, ErrorCode.Corruption);
        threw = true;
      }
      if (i >= trailerStart) {
        trailerFlips++;
        if (threw) trailerCaught++;
      }
      readAll(damaged, entries[i % entries.length]!.key);
    }
  }
  assert.ok(trailerFlips > 0);
  assert.equal(trailerCaught, trailerFlips, 'a flip in the restart array went unnoticed');
});

test('hand-made malformed blocks throw RKV_ERR_CORRUPTION', () => {
  // Proves each named check: impossible restart count, restart past the entries, restarts out of
  // order, shared longer than the previous key, a restart entry with shared != 0, a varint that
  // runs on, an entry overrunning the entries, keys out of order, uneven restart spacing.
  const trailer = (...restarts: number[]): Buffer => {
    const b = Buffer.alloc(4 * restarts.length + 4);
    restarts.forEach((r, i) => b.writeUInt32LE(r, 4 * i));
    b.writeUInt32LE(restarts.length, 4 * restarts.length);
    return b;
  };
  const e = (shared: number, key: string, value = ''): Buffer => Buffer.concat([Buffer.from([shared, key.length, value.length]), Buffer.from(key + value)]);
  const cases: Array<[string, Buffer]> = [
    ['too short', Buffer.from([1, 0])],
    ['restart count larger than the block', Buffer.from([0xff, 0xff, 0xff, 0xff])],
    ['restart count with no entries', Buffer.concat([Buffer.alloc(4), Buffer.from([1, 0, 0, 0])])],
    ['entries with no restarts', Buffer.concat([e(0, 'a'), trailer()])],
    ['first restart not at 0', Buffer.concat([e(0, 'a'), e(0, 'b'), trailer(4)])],
    ['restart past the entries', Buffer.concat([e(0, 'a'), trailer(0, 100)])],
    ['restarts out of order', Buffer.concat([e(0, 'a'), e(0, 'b'), e(0, 'c'), trailer(0, 8, 4)])],
    ['restart not at an entry boundary', Buffer.concat([e(0, 'abc'), e(0, 'b'), trailer(0, 2)])],
    ['shared longer than the previous key', Buffer.concat([e(0, 'a'), e(5, 'b'), trailer(0)])],
    ['restart entry with shared != 0', Buffer.concat([e(0, 'a'), e(1, 'b'), trailer(0, 4)])],
    ['varint runs past the entries', Buffer.concat([Buffer.from([0x80, 0x80, 0x80]), trailer(0)])],
    ['five-byte varint over 32 bits', Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0]), trailer(0)])],
    ['entry longer than the entries', Buffer.concat([Buffer.from([0, 200, 0, 0x61]), trailer(0)])],
    ['keys out of order', Buffer.concat([e(0, 'b'), e(0, 'a'), trailer(0)])],
    ['duplicate keys', Buffer.concat([e(0, 'a'), e(1, ''), trailer(0)])],
    ['uneven restart spacing', Buffer.concat([e(0, 'a'), e(0, 'b'), e(0, 'c'), e(0, 'd'), e(0, 'e'), trailer(0, 8, 12)])],
  ];
  for (const [name, block] of cases) {
    throwsCode(() => blockDecode(block), ErrorCode.Corruption, name);
  }
  // The point readers check what they touch; these cases sit on every path they take.
  for (const name of ['too short', 'restart count larger than the block', 'restart past the entries', 'restarts out of order', 'varint runs past the entries', 'entry longer than the entries', 'shared longer than the previous key']) {
    const block = cases.find((c) => c[0] === name)![1];
    throwsCode(() => blockGet(block, Buffer.from('b')), ErrorCode.Corruption, `get: ${name}`);
    throwsCode(() => blockSeek(block, Buffer.from('b')), ErrorCode.Corruption, `seek: ${name}`);
    throwsCode(() => blockFind(block, Buffer.from('b')), ErrorCode.Corruption, `find: ${name}`);
  }
});
