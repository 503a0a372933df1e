// utf8.ts must give exactly the bytes Buffer gives, for ASCII and not, for strings shorter and
// longer than its scratch buffer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utf8Length, utf8Scratch, writeUtf8 } from '../../src/utf8';

const samples = [
  '',
  'v3_1706234567_nodeA',
  'RKV_ERR_CONFLICT',
  'x'.repeat(64),
  'x'.repeat(65),
  'v1_1_node\u007f',
  'caf\u00e9',
  '\u{1f600} emoji',
  `${'a'.repeat(63)}\u00e9`,
  '\u00ff'.repeat(10),
  'z'.repeat(5000),
];

test('utf8Length, writeUtf8 and utf8Scratch give the bytes Buffer gives, ASCII or not, short or long', () => {
  // Twice: the first pass grows the scratch buffer for the long sample, the second reuses it.
  for (const s of [...samples, ...samples]) {
    const want = Buffer.from(s, 'utf8');
    assert.equal(utf8Length(s), want.length, JSON.stringify(s.slice(0, 20)));
    const out = new Uint8Array(want.length + 6).fill(0xee);
    assert.equal(writeUtf8(s, out, 3), want.length);
    assert.deepEqual(Buffer.from(out.subarray(3, 3 + want.length)), want);
    assert.equal(out[2], 0xee, 'nothing written before `at`');
    assert.equal(out[3 + want.length], 0xee, 'nothing written past the string');
    assert.deepEqual(Buffer.from(utf8Scratch(s)), want);
  }
});

test('writeUtf8 refuses a string that does not fit rather than cut it', () => {
  assert.throws(() => writeUtf8('caf\u00e9 au lait'.repeat(10), new Uint8Array(8), 0), RangeError);
});
