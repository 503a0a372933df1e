// Proves the one error table: every RingkvError code maps to an HTTP status and a wire code, the
// statuses the API promises, and conflict errors carry the current version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, RingkvError } from '../../../src/errors';
import { WireErrorCode } from '../../../src/protocol/client_codes';
import { errorReply, httpStatusLine } from '../../../src/server/error_map';
import { errorBody } from '../../../src/server/http_json';
import { errorFromWire, isNodeFailure, isRetryable } from '../../../src/client/wire_errors';

test('every error code has an HTTP status line and a wire code', () => {
  for (const code of Object.values(ErrorCode)) {
    const r = errorReply(new RingkvError(code, 'm'));
    assert.ok(httpStatusLine[r.httpStatus], `${code} -> ${r.httpStatus} has a status line`);
    assert.ok(r.wire in WireErrorCode, `${code} has a wire code`);
    assert.equal(r.message, 'm');
  }
});

test('the statuses the API promises', () => {
  const status = (c: ErrorCode): number => errorReply(new RingkvError(c, '')).httpStatus;
  assert.equal(status(ErrorCode.KeyTooLarge), 414);
  assert.equal(status(ErrorCode.ValueTooLarge), 413);
  assert.equal(status(ErrorCode.InvalidArgument), 400);
  assert.equal(status(ErrorCode.Conflict), 409);
  assert.equal(status(ErrorCode.Unavailable), 503);
  assert.equal(status(ErrorCode.Timeout), 504);
  assert.equal(status(ErrorCode.Corruption), 500);
  assert.equal(status(ErrorCode.NoSpace), 507);
});

test('a conflict carries current_version', () => {
  const r = errorReply(new RingkvError(ErrorCode.Conflict, 'changed', { details: { current_version: 'v9_1_a' } }));
  assert.equal(r.error, 'conflict');
  assert.equal(r.currentVersion, 'v9_1_a');
  assert.equal(r.wire, WireErrorCode.Conflict);
});

test('a full disk reaches a WebSocket client as its own code, one it may retry on another node', () => {
  const r = errorReply(new RingkvError(ErrorCode.NoSpace, 'disk full'));
  assert.equal(r.error, 'insufficient_storage');
  assert.equal(r.wire, WireErrorCode.NoSpace);
  const back = errorFromWire(r.wire, r.message, 'node-1');
  assert.equal(back.code, ErrorCode.NoSpace);
  assert.equal(back.message, 'disk full');
  // Nothing was applied, so a retry is safe; the node still serves reads, so it is not marked down.
  assert.equal(isRetryable(back), true);
  assert.equal(isNodeFailure(back), false);
});

test('a 503 or 504 carries its details into the JSON body (what a caller acts on); other errors keep theirs in the node', () => {
  const body = (err: RingkvError): Record<string, unknown> => JSON.parse(errorBody(errorReply(err))) as Record<string, unknown>;
  assert.deepEqual(body(new RingkvError(ErrorCode.Unavailable, 'cleanup waits', { details: { retry_after_ms: 1200 } })), {
    error: 'unavailable',
    message: 'cleanup waits',
    details: { retry_after_ms: 1200 },
  });
  assert.deepEqual(body(new RingkvError(ErrorCode.Timeout, 'slow', { details: { needed: 2, answered: 1 } }))['details'], { needed: 2, answered: 1 });
  assert.equal('details' in body(new RingkvError(ErrorCode.Unavailable, 'no details')), false);
  assert.equal('details' in body(new RingkvError(ErrorCode.Io, 'disk', { details: { file: '/data/000001.wal', errno: 'EIO' } })), false, 'a storage error\'s file stays in the log');
  assert.equal('details' in body(new RingkvError(ErrorCode.InvalidArgument, 'usage', { details: { usage: true } })), false);
});
