// The rule bounds by bytes follow (src/byte_bound.ts), and a shared account of bytes that each
// holder brings up to date when it looks: the sum follows every holder's latest look, bounds are
// checked against both the holder's own part and the whole, and a holder gone gives all back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byteAccount, ByteShare, fitsBytes } from '../../src/byte_bound';

test('a newcomer fits within the bound, and always where nothing is held', () => {
  assert.equal(fitsBytes(0, 10_000, 100), true, 'the largest is never refused for good');
  assert.equal(fitsBytes(60, 40, 100), true);
  assert.equal(fitsBytes(60, 41, 100), false);
});

test('an account is the sum of its holders\' latest looks; a share fits only within its own bound and, holding something, the account\'s', () => {
  const account = byteAccount(1000);
  const a = new ByteShare(account);
  const b = new ByteShare(account);
  a.set(300);
  b.set(500);
  assert.equal(account.heldBytes, 800);
  a.set(100); // a's socket sent some
  assert.equal(account.heldBytes, 600);
  assert.equal(a.bytes, 100);
  assert.equal(a.fits(400, 1000), true);
  assert.equal(a.fits(401, 1000), false, 'over the account though within its own bound');
  assert.equal(a.fits(250, 300), false, 'over its own bound though within the account');
  b.set(950);
  const c = new ByteShare(account);
  assert.equal(c.fits(400, 1000), true, 'a holder that holds nothing takes one though the account is over');
  assert.equal(a.fits(1, 1000), false, 'one that holds something does not');
  b.set(0);
  a.set(0);
  assert.equal(account.heldBytes, 0);
  assert.equal(a.fits(5000, 300), true, 'nothing held anywhere: the largest fits');
  assert.throws(() => a.set(-1), /no fewer than 0/);
  assert.throws(() => byteAccount(0), /positive/);
});
