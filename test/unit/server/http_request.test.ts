// Proves the HTTP request rules: routing (404/405), one-time percent-decoding of any byte key
// with its limits, and the header parsers' accept/refuse boundaries with the right error codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keyBytesMax, ttlSecondsMax } from '../../../src/constants';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { errorReply } from '../../../src/server/error_map';
import { keyFields } from '../../../src/server/http_json';
import { decodeKey, parseConsistency, parseContext, parseIfMatch, parseTimeoutMs, parseTtl, route } from '../../../src/server/http_request';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(isRingkvError(err), String(err));
    return err.code;
  }
  return 'none';
};

test('routes: key ops, fixed endpoints, 404 and 405', () => {
  assert.deepEqual(route('put', '/api/v1/keys/a/b'), { kind: 'key', op: 'put', rawKey: 'a/b' });
  assert.deepEqual(route('delete', '/api/v1/keys/x'), { kind: 'key', op: 'delete', rawKey: 'x' });
  assert.equal(route('post', '/api/v1/keys/x').kind, 'method_not_allowed');
  assert.equal(route('get', '/health').kind, 'health');
  assert.equal(route('get', '/metrics').kind, 'metrics');
  assert.equal(route('post', '/api/v1/admin/repair').kind, 'repair');
  assert.deepEqual(route('get', '/api/v1/admin/repair'), { kind: 'method_not_allowed', allow: 'POST' });
  assert.equal(route('post', '/api/v1/admin/decommission').kind, 'decommission');
  assert.equal(route('post', '/api/v1/cluster/nodes').kind, 'add_node');
  assert.deepEqual(route('get', '/api/v1/cluster/nodes'), { kind: 'method_not_allowed', allow: 'POST' });
  assert.deepEqual(route('delete', '/api/v1/cluster/nodes/node-3'), { kind: 'remove_node', nodeId: 'node-3' });
  assert.deepEqual(route('get', '/api/v1/cluster/nodes/node-3'), { kind: 'method_not_allowed', allow: 'DELETE' });
  assert.equal(route('put', '/api/v1/admin/decommission').kind, 'method_not_allowed');
  assert.equal(route('get', '/api/v1/cluster/status').kind, 'cluster_status');
  assert.deepEqual(route('get', '/api/v1/admin/replica/a/b%2F'), { kind: 'replica', rawKey: 'a/b%2F' });
  assert.deepEqual(route('put', '/api/v1/admin/replica/a'), { kind: 'method_not_allowed', allow: 'GET, HEAD' });
  assert.equal(route('put', '/health').kind, 'method_not_allowed');
  assert.equal(route('get', '/nope').kind, 'not_found');
  assert.equal(route('get', '/api/v1/keys').kind, 'not_found');
});

test('keys are percent-decoded exactly once, to bytes', () => {
  assert.deepEqual(Buffer.from(decodeKey('a%2Fb')).toString(), 'a/b');
  assert.deepEqual(Buffer.from(decodeKey('100%25')).toString(), '100%');
  assert.deepEqual(Buffer.from(decodeKey('%2541')).toString(), '%41', 'decoded once, not twice');
  assert.deepEqual(Buffer.from(decodeKey('a+b%20c')).toString(), 'a+b c');
  assert.deepEqual([...decodeKey('%FF%00%80')], [0xff, 0x00, 0x80]);
  assert.deepEqual(Buffer.from(decodeKey('caf\u00e9')).toString(), 'caf\u00e9');
  assert.deepEqual(Buffer.from(decodeKey('x/y/z')).toString(), 'x/y/z');
});

test('key limits: empty and broken escapes are 400, over 256 bytes is 414', () => {
  assert.equal(code(() => decodeKey('')), ErrorCode.InvalidArgument);
  assert.equal(code(() => decodeKey('%')), ErrorCode.InvalidArgument);
  assert.equal(code(() => decodeKey('ab%4')), ErrorCode.InvalidArgument);
  assert.equal(code(() => decodeKey('%zz')), ErrorCode.InvalidArgument);
  assert.equal(decodeKey('k'.repeat(keyBytesMax)).byteLength, keyBytesMax);
  assert.equal(decodeKey('%41'.repeat(keyBytesMax)).byteLength, keyBytesMax);
  assert.equal(code(() => decodeKey('k'.repeat(keyBytesMax + 1))), ErrorCode.KeyTooLarge);
  assert.equal(code(() => decodeKey('%41'.repeat(keyBytesMax + 1))), ErrorCode.KeyTooLarge);
  assert.equal(errorReply(new Error('x')).httpStatus, 500);
  try {
    decodeKey('k'.repeat(keyBytesMax + 1));
  } catch (err) {
    assert.equal(errorReply(err).httpStatus, 414);
  }
});

test('consistency: ONE/QUORUM/ALL and the datacenter levels in any case, default QUORUM, anything else 400', () => {
  assert.equal(parseConsistency(''), 'QUORUM');
  assert.equal(parseConsistency('one'), 'ONE');
  assert.equal(parseConsistency('ALL'), 'ALL');
  assert.equal(parseConsistency('local_quorum'), 'LOCAL_QUORUM');
  assert.equal(parseConsistency('LOCAL_ONE'), 'LOCAL_ONE');
  assert.equal(parseConsistency('Each_Quorum'), 'EACH_QUORUM');
  assert.equal(code(() => parseConsistency('TWO')), ErrorCode.InvalidArgument);
  assert.equal(code(() => parseConsistency('LOCAL_ALL')), ErrorCode.InvalidArgument);
  assert.equal(code(() => parseConsistency('SERIAL')), ErrorCode.InvalidArgument);
});

test('ttl: whole seconds 1..max; 0, negatives, fractions and text are 400, and a number out of range says the range', () => {
  assert.equal(parseTtl(''), undefined);
  assert.equal(parseTtl('3600'), 3600);
  assert.equal(parseTtl('0005'), 5);
  assert.equal(parseTtl(String(ttlSecondsMax)), ttlSecondsMax);
  for (const bad of ['0', '-1', '1.5', 'soon', String(ttlSecondsMax + 1), '99999999999']) {
    assert.equal(code(() => parseTtl(bad)), ErrorCode.InvalidArgument, bad);
  }
  const range = `X-TTL must be 1..${ttlSecondsMax} seconds`;
  for (const big of ['0', String(ttlSecondsMax + 1), '99999999999999', '9'.repeat(400)]) {
    assert.throws(() => parseTtl(big), (e: unknown) => e instanceof Error && e.message === `${range}, not ${big.slice(0, 32)}`, big);
  }
  assert.throws(() => parseTtl('5s'), /X-TTL must be whole seconds, not "5s"/);
});

test('X-Timeout-Ms: whole ms from 1 (any larger value, the node caps it); 0, negatives, fractions and text are 400', () => {
  assert.equal(parseTimeoutMs(''), undefined);
  assert.equal(parseTimeoutMs('250'), 250);
  assert.equal(parseTimeoutMs(' 1 '), 1);
  assert.equal(parseTimeoutMs('9999999999'), 9_999_999_999);
  for (const bad of ['0', '-1', '1.5', '1e3', 'soon', '99999999999']) {
    assert.equal(code(() => parseTimeoutMs(bad)), ErrorCode.InvalidArgument, bad);
  }
});

test('If-Match accepts bare or quoted versions; X-Context must be base64', () => {
  assert.equal(parseIfMatch('v3_1_a'), 'v3_1_a');
  assert.equal(parseIfMatch('"v3_1_a"'), 'v3_1_a');
  assert.equal(parseIfMatch(''), undefined);
  assert.equal(code(() => parseIfMatch('""')), ErrorCode.InvalidArgument);
  assert.deepEqual([...parseContext(Buffer.from([1, 2, 3]).toString('base64'))!], [1, 2, 3]);
  assert.equal(code(() => parseContext('not base64!')), ErrorCode.InvalidArgument);
});

test('JSON keys are text when UTF-8, base64 with key_encoding otherwise', () => {
  assert.deepEqual(keyFields(new Uint8Array(Buffer.from('user:1/\u00e9'))), { key: 'user:1/\u00e9' });
  assert.deepEqual(keyFields(new Uint8Array([0xff, 0xfe])), { key: '//4=', key_encoding: 'base64' });
});
