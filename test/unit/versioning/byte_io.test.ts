// The byte reader and writer under the versioning formats: short strings (node ids) round-trip
// through their caches past the cache bound, bad UTF-8 is refused with the caller's code even for
// bytes next to cached ones, and writers that nest or are abandoned mid-way (a throw) never share
// or corrupt each other's bytes although one of them borrows the module's scratch buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { ByteReader, ByteWriter } from '../../../src/versioning/byte_io';

test('short strings round-trip through the caches, past their bound, twice over', () => {
  const ids = Array.from({ length: 700 }, (_, i) => (i % 7 === 0 ? `nœud-${i}` : `node-${i}`));
  for (let pass = 0; pass < 2; pass++) {
    const w = new ByteWriter();
    for (const id of ids) w.shortString(id);
    const r = new ByteReader(w.finish(), ErrorCode.Corruption, 'test');
    for (const id of ids) assert.equal(r.shortString(), id);
    r.end();
  }
});

test('a decoded id is cached apart from the bytes it was read from: those may be reused for other ids', () => {
  const read = (bytes: Uint8Array): string => new ByteReader(bytes, ErrorCode.Corruption, 'test').shortString();
  const encoded = (id: string): Uint8Array => {
    const w = new ByteWriter();
    w.shortString(id);
    return w.finish();
  };
  // A Buffer, as the storage engine hands out: its slice() is a view, not a copy.
  const buffer = Buffer.from(encoded('node-a'));
  assert.equal(read(buffer), 'node-a');
  // The buffer it came from now holds other ids of its length, as a reused read buffer would;
  // among 2000 some share the cache's place of node-a, and each must still read as itself.
  for (let i = 0; i < 2000; i++) {
    const id = `n${String(i).padStart(5, '0')}`;
    buffer.set(Buffer.from(id), 1);
    assert.equal(read(encoded(id)), id);
  }
  assert.equal(read(encoded('node-a')), 'node-a');
});

test('invalid UTF-8 in a short string is refused with the reader code, cached neighbours or not', () => {
  const good = new ByteWriter();
  good.shortString('A');
  const r0 = new ByteReader(good.finish(), ErrorCode.InvalidArgument, 'test');
  assert.equal(r0.shortString(), 'A');
  for (const bad of [[0xff], [0xc3], [0x41, 0x80]]) {
    const bytes = new Uint8Array([bad.length, ...bad]);
    for (let i = 0; i < 2; i++) {
      assert.throws(
        () => new ByteReader(bytes, ErrorCode.InvalidArgument, 'test').shortString(),
        (e: unknown) => isRingkvError(e) && e.code === ErrorCode.InvalidArgument && /invalid UTF-8/.test(e.message),
      );
    }
  }
});

test('nested and abandoned writers each get exactly their own bytes', () => {
  const abandoned = new ByteWriter();
  abandoned.varint(300);
  // `abandoned` never finishes (as after a throw): the writers below must not share its buffer.
  const outer = new ByteWriter();
  outer.u8(1);
  const inner = new ByteWriter();
  inner.shortString('inner');
  inner.varint(2 ** 40);
  const innerBytes = inner.finish();
  outer.bytes(innerBytes);
  outer.u8(2);
  const outerBytes = outer.finish();
  const later = new ByteWriter(8);
  for (let i = 0; i < 5000; i++) later.u8(i & 0xff);
  const laterBytes = later.finish();

  const ri = new ByteReader(innerBytes, ErrorCode.Corruption, 'inner');
  assert.equal(ri.shortString(), 'inner');
  assert.equal(ri.varint(), 2 ** 40);
  ri.end();
  assert.deepEqual([...outerBytes], [1, ...innerBytes, 2]);
  assert.equal(laterBytes.length, 5000);
  assert.ok(laterBytes.every((v, i) => v === (i & 0xff)));
  abandoned.u8(7);
  assert.deepEqual([...abandoned.finish()], [0xac, 0x02, 7], 'the abandoned writer still holds its own bytes');
});
