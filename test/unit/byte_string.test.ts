// byte_string.ts must give one character per byte (the latin1 string Buffer gives) on both sides
// of its cut-over from String.fromCharCode to Buffer, for views that do not start at 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byteString } from '../../src/byte_string';

test('byteString is one character per byte, short or long, for any bytes and any view into a buffer', () => {
  const all = new Uint8Array(600);
  for (let i = 0; i < all.length; i++) all[i] = (i * 151 + 7) & 0xff;
  for (const length of [0, 1, 2, 31, 32, 33, 64, 256, 300]) {
    for (const offset of [0, 1, 13]) {
      const view = all.subarray(offset, offset + length);
      const s = byteString(view);
      assert.equal(s.length, length);
      for (let i = 0; i < length; i++) assert.equal(s.charCodeAt(i), view[i], `length ${length} offset ${offset} byte ${i}`);
    }
  }
});

test('byteString tells byte strings apart: a change of one byte anywhere is another string', () => {
  for (const length of [1, 32, 33, 200]) {
    const base = new Uint8Array(length).fill(0x61);
    const seen = new Set<string>([byteString(base)]);
    for (let i = 0; i < length; i++) {
      const changed = base.slice();
      changed[i] = 0xe9;
      seen.add(byteString(changed));
    }
    assert.equal(seen.size, length + 1, `length ${length}`);
  }
});
