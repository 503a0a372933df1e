// The packed batch formats round-trip every op and result kind (the same bytes both threads
// read), and the token → shard mapping cuts the ring into contiguous ranges that cover it exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../src/errors';
import { decodeRequests, decodeResults, decodeScan, encodeRequests, encodeResults, encodeScan, encodeScanError, opBytes } from '../../../src/shards/batch_codec';
import type { OpResult, ShardOp } from '../../../src/shards/messages';
import { shardOfToken, shardTokenRange, tokenMax } from '../../../src/shards/shard_map';

const b = (s: string) => new Uint8Array(Buffer.from(s));
const plain = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v))) as unknown;

const ops: ShardOp[] = [
  { op: 'get', key: b('k1') },
  { op: 'put', key: b('k2'), value: b('value-2'), ttlSeconds: 60, ifMatch: 'v3_17_nodeA', context: new Uint8Array([1, 0]), idempotencyKey: 'idem-ü', returnRecord: true, notAfterMs: 1_796_518_082_123.5 },
  { op: 'delete', key: b('k3'), value: new Uint8Array(0), ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: null, returnRecord: false, notAfterMs: 0 },
  { op: 'apply', key: b('k4'), record: { versionVector: new Uint8Array([1, 2, 3]), value: b('vv'), tombstone: true } },
];

test('requests round-trip, and opBytes is the exact packed size', () => {
  const buf = encodeRequests(ops);
  assert.equal(buf.byteLength, 8 + ops.reduce((n, op) => n + opBytes(op), 0));
  assert.deepEqual(plain(decodeRequests(buf)), plain(ops));
});

test('results round-trip, errors keep code, message and details', () => {
  const results: OpResult[] = [
    { ok: true, op: 'get', record: { versionVector: new Uint8Array([1]), value: b('x'), tombstone: false } },
    { ok: true, op: 'put', version: 'v1_2_A', timestampMs: 1706234567890, record: null, replayed: true },
    { ok: false, error: { code: ErrorCode.Conflict, message: 'If-Match failed', details: { current_version: 'v2_1_B', siblings: 1 } } },
    { ok: true, op: 'apply', changed: true },
  ];
  const asked: ShardOp[] = [ops[0]!, ops[1]!, ops[2]!, ops[3]!];
  assert.deepEqual(plain(decodeResults(encodeResults(results), asked)), plain(results));
  const missing: OpResult[] = [{ ok: true, op: 'get', record: null }];
  assert.deepEqual(decodeResults(encodeResults(missing), [ops[0]!]), missing);
  assert.throws(() => decodeResults(encodeResults(missing), [ops[0]!, ops[0]!]), /2 ops/);
});

test('scan buffers round-trip entries and errors', () => {
  const entries = [{ key: b('a'), timestampMs: 5, expiresAtMs: 0, record: { versionVector: new Uint8Array([1]), value: b('v'), tombstone: false } }];
  assert.deepEqual(plain(decodeScan(encodeScan(entries))), plain({ ok: true, entries }));
  const err = decodeScan(encodeScanError({ code: ErrorCode.Io, message: 'm', details: { a: 1 } }));
  assert.deepEqual(err, { ok: false, error: { code: ErrorCode.Io, message: 'm', details: { a: 1 } } });
});

test('shard token ranges are contiguous, ordered and cover [0, 2^64) for several counts', () => {
  for (const count of [1, 2, 3, 7, 16, 256]) {
    let next = 0n;
    for (let i = 0; i < count; i++) {
      const r = shardTokenRange(i, count);
      assert.equal(r.fromToken, next, `count ${count} shard ${i} starts where the last ended`);
      assert.ok(r.toToken >= r.fromToken);
      assert.equal(shardOfToken(r.fromToken, count), i);
      assert.equal(shardOfToken(r.toToken, count), i);
      next = r.toToken + 1n;
    }
    assert.equal(next - 1n, tokenMax);
  }
});
