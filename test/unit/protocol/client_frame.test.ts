// Proves the client wire codec round-trips every field, refuses broken frames with a typed error
// (never another exception, never garbage), and fails bad operations one at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Builder } from 'flatbuffers';
import { keyBytesMax, valueBytesMax, wsOpsPerFrameMax } from '../../../src/constants';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { WireErrorCode } from '../../../src/protocol/client_codes';
import { type ClientRequest, decodeRequestFrame, encodeRequestFrame } from '../../../src/protocol/client_request';
import { decodeResponseFrame, encodeErrorFrame, encodeResponseFrames } from '../../../src/protocol/client_response';
import { Request } from '../../../src/protocol/generated/client/ringkv/client/request';
import { withSharedBuilder } from '../../../src/protocol/shared_builder';
import { RequestFrame } from '../../../src/protocol/generated/client/ringkv/client/request-frame';
import { mulberry32 } from '../../helpers/prng';

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));

const sample: ClientRequest[] = [
  { id: 1, op: 'put', key: bytes('a/b%c'), value: bytes('hello'), consistency: 'ALL', ttlSeconds: 60, expectedVersion: 'v1_2_n', context: new Uint8Array([9, 8]), idempotencyKey: 'k1', timeoutMs: 4000 },
  { id: 0xffffffff, op: 'get', key: new Uint8Array([0xff, 0x00, 0x80]), timeoutMs: 0xffffffff },
  { id: 3, op: 'delete', key: bytes('x'), consistency: 'ONE' },
  { id: 4, op: 'put', key: bytes('empty'), value: new Uint8Array(0) },
  { id: 5, op: 'get', key: bytes('near'), consistency: 'LOCAL_QUORUM' },
  { id: 6, op: 'put', key: bytes('each'), value: bytes('v'), consistency: 'EACH_QUORUM' },
  { id: 7, op: 'delete', key: bytes('one'), consistency: 'LOCAL_ONE' },
];

test('request frames round-trip every field', () => {
  const frame = decodeRequestFrame(encodeRequestFrame(sample, 123_456.789));
  assert.equal(frame.sentAtMs, 123_456.789);
  assert.equal(decodeRequestFrame(encodeRequestFrame(sample)).sentAtMs, 0, 'a frame that says nothing: 0');
  const decoded = frame.ops;
  assert.equal(decoded.length, sample.length);
  for (let i = 0; i < sample.length; i++) {
    const d = decoded[i]!;
    assert.ok(d.ok, `op ${i} decodes`);
    assert.deepEqual(d.request, sample[i]);
  }
});

test('decoded byte fields are copies that survive the receive buffer being reused', () => {
  const frame = encodeRequestFrame([sample[0]!]);
  const copy = new Uint8Array(frame);
  const [d] = decodeRequestFrame(copy).ops;
  copy.fill(0);
  assert.ok(d!.ok);
  assert.deepEqual(Buffer.from(d!.request.value!).toString(), 'hello');
  assert.notEqual(d!.request.value!.buffer, copy.buffer);
});

test('response frames round-trip results, siblings and errors', () => {
  const results = [
    { id: 1, status: 'ok' as const, version: 'v3_1_a', timestampMs: 1706234567890, value: bytes('v'), context: bytes('ctx'), siblings: [
      { value: bytes('v'), version: 'v3_1_a', timestampMs: 1706234567890 },
      { value: bytes('w'), version: 'v2_1_b', timestampMs: 1706234567000 },
    ] },
    { id: 2, status: 'not_found' as const },
    { id: 3, status: 'ok' as const, version: 'v4_1_a', timestampMs: 5, tombstoneExpiryMs: 864000005 },
    { id: 4, status: 'error' as const, error: WireErrorCode.Conflict, message: 'changed', currentVersion: 'v9_1_a' },
  ];
  const frames = encodeResponseFrames(results, 1 << 20);
  assert.equal(frames.length, 1);
  const d = decodeResponseFrame(frames[0]!);
  assert.equal(d.error, WireErrorCode.None);
  assert.deepEqual(d.results, results);
});

test('a large response is split across frames and every result arrives once', () => {
  const big = new Uint8Array(300_000);
  const results = Array.from({ length: 10 }, (_, i) => ({ id: i, status: 'ok' as const, version: `v${i}`, timestampMs: i, value: big }));
  const frames = encodeResponseFrames(results, 1_000_000);
  assert.ok(frames.length >= 3, `split into ${frames.length} frames`);
  const ids = frames.flatMap((f) => decodeResponseFrame(f).results.map((r) => r.id));
  assert.deepEqual(ids, results.map((r) => r.id));
});

test('frames share one builder, yet each encoded frame keeps its own bytes', () => {
  // Proves the shared builder (client_response.ts) copies every frame out: frames kept from
  // earlier encodes (as they wait in a connection's queue) decode unchanged after big, small and
  // error frames were built in the same builder after them.
  const small = (id: number) => encodeResponseFrames([{ id, status: 'ok', version: `v${id}`, timestampMs: id, value: bytes(`value-${id}`) }], 1_000_000);
  const kept = [...small(1), ...encodeResponseFrames([{ id: 2, status: 'ok', version: 'v2', timestampMs: 2, value: new Uint8Array(2_000_000).fill(7) }], 4_000_000)];
  const before = kept.map((f) => Buffer.from(f));
  for (let i = 3; i < 20; i++) small(i);
  encodeErrorFrame(WireErrorCode.Busy, 'busy');
  kept.forEach((f, i) => assert.ok(Buffer.from(f).equals(before[i]!), `frame ${i} unchanged`));
  const [one, two] = kept.map((f) => decodeResponseFrame(f).results[0]!);
  assert.equal(Buffer.from(one!.value!).toString(), 'value-1');
  assert.equal(two!.value!.length, 2_000_000);
  assert.ok(two!.value!.every((v) => v === 7));
  assert.equal(decodeResponseFrame(small(21)[0]!).results[0]!.version, 'v21', 'a frame after a big one is whole');
});

test('request frames from the shared builder keep their bytes; an encode nested in another is refused', () => {
  const first = encodeRequestFrame(sample);
  const copy = Buffer.from(first);
  encodeRequestFrame([{ id: 99, op: 'put', key: bytes('other'), value: new Uint8Array(3_000_000), consistency: 'ONE' }]);
  encodeRequestFrame([{ id: 100, op: 'get', key: bytes('k'), consistency: 'ALL' }]);
  assert.ok(Buffer.from(first).equals(copy), 'an earlier frame is unchanged by later encodes');
  assert.deepEqual(decodeRequestFrame(first).ops.map((d) => d.ok && d.request.id), sample.map((r) => r.id));
  assert.throws(() => withSharedBuilder(16, () => encodeRequestFrame(sample)), /shared builder used from inside its own encode/);
  assert.deepEqual(decodeRequestFrame(encodeRequestFrame(sample)).ops.length, sample.length, 'the builder works again after the refusal');
});

test('error frames carry a frame-level code and no results', () => {
  const d = decodeResponseFrame(encodeErrorFrame(WireErrorCode.MalformedFrame, 'bad'));
  assert.equal(d.error, WireErrorCode.MalformedFrame);
  assert.equal(d.message, 'bad');
  assert.equal(d.results.length, 0);
});

function expectMalformed(frame: Uint8Array, what: string): void {
  try {
    decodeRequestFrame(frame).ops;
  } catch (err) {
    assert.ok(isRingkvError(err, ErrorCode.MalformedFrame) || isRingkvError(err, ErrorCode.FrameTooLarge), `${what}: threw ${String(err)}`);
    return;
  }
}

test('every truncation of a valid frame is refused as malformed, or is only trailing padding', () => {
  const frame = encodeRequestFrame(sample);
  const whole = decodeRequestFrame(frame).ops;
  let refused = 0;
  for (let n = 0; n < frame.byteLength; n++) {
    try {
      const ops = decodeRequestFrame(frame.slice(0, n)).ops;
      // A cut that only dropped alignment padding must decode to exactly the same operations.
      assert.deepEqual(ops, whole, `cut at ${n} of ${frame.byteLength} decoded to something else`);
    } catch (err) {
      assert.ok(isRingkvError(err, ErrorCode.MalformedFrame), `cut at ${n}: ${String(err)}`);
      refused++;
    }
  }
  assert.ok(refused >= frame.byteLength - 8, `only ${refused} of ${frame.byteLength} cuts refused`);
});

test('a vtable size or inline size of 0x8000 or more (negative to the flatbuffers runtime, which reads them signed) is refused', () => {
  // A 40 KiB value makes the frame long enough for a 32 KiB vtable to lie inside it.
  const frame = encodeRequestFrame([{ id: 1, op: 'put', key: new Uint8Array([1]), value: new Uint8Array(40 * 1024) }]);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const root = view.getUint32(0, true);
  const vtable = root - view.getInt32(root, true);
  for (const [at, what] of [[vtable, 'vtable size'], [vtable + 2, 'inline size']] as const) {
    const bad = frame.slice();
    new DataView(bad.buffer).setUint16(at, 0x8004, true);
    assert.throws(() => decodeRequestFrame(bad), (err) => isRingkvError(err, ErrorCode.MalformedFrame) && err.message.includes(what), what);
  }
});

test('random bytes and random corruption never escape as anything but a typed error', () => {
  const valid = encodeRequestFrame(sample);
  for (let seed = 1; seed <= 3000; seed++) {
    const rnd = mulberry32(seed);
    let frame: Uint8Array;
    if (seed % 2 === 0) {
      frame = new Uint8Array(Math.floor(rnd() * 200));
      for (let i = 0; i < frame.length; i++) frame[i] = Math.floor(rnd() * 256);
      if (seed % 4 === 0 && frame.length >= 8) frame.set(bytes('RKV1'), 4);
    } else {
      frame = new Uint8Array(valid);
      const flips = 1 + Math.floor(rnd() * 4);
      for (let k = 0; k < flips; k++) frame[Math.floor(rnd() * frame.length)] = Math.floor(rnd() * 256);
    }
    expectMalformed(frame, `seed ${seed}`);
  }
});

test('a frame of the wrong type (a response sent as a request) is refused or fails per op', () => {
  const response = encodeResponseFrames([{ id: 7, status: 'ok', version: 'v', timestampMs: 1, value: bytes('zz') }], 1 << 20)[0]!;
  try {
    const ops = decodeRequestFrame(response).ops;
    for (const o of ops) assert.equal(o.ok, false, 'a Result read as a Request must not pass as a valid op');
  } catch (err) {
    assert.ok(isRingkvError(err, ErrorCode.MalformedFrame), String(err));
  }
  assert.throws(() => decodeRequestFrame(bytes('{"op":"get","key":"a"}')).ops, (e) => isRingkvError(e, ErrorCode.MalformedFrame));
});

test('bad operations fail alone with typed errors while the rest of the frame decodes', () => {
  const b = new Builder(1024);
  const mk = (id: number, op: number, key: Uint8Array, consistency = 0, value?: Uint8Array): number => {
    const k = b.createByteVector(key);
    const v = value === undefined ? 0 : b.createByteVector(value);
    Request.startRequest(b);
    Request.addId(b, id);
    Request.addOp(b, op);
    Request.addKey(b, k);
    if (v) Request.addValue(b, v);
    Request.addConsistency(b, consistency);
    return Request.endRequest(b);
  };
  const ops = [
    mk(1, 9, bytes('a')), // unknown op
    mk(2, 0, new Uint8Array(0)), // empty key
    mk(3, 0, new Uint8Array(keyBytesMax + 1)), // key too large
    mk(4, 0, bytes('a'), 7), // unknown consistency
    mk(5, 0, bytes('a'), 0, bytes('v')), // get with a value
    mk(6, 1, bytes('ok'), 2, bytes('v')), // fine
  ];
  const vec = RequestFrame.createOpsVector(b, ops);
  RequestFrame.startRequestFrame(b);
  RequestFrame.addOps(b, vec);
  b.finish(RequestFrame.endRequestFrame(b), 'RKV1');
  const d = decodeRequestFrame(b.asUint8Array()).ops;
  const codes = d.map((o) => (o.ok ? 'ok' : o.error.code));
  assert.deepEqual(codes, [
    ErrorCode.InvalidArgument,
    ErrorCode.InvalidArgument,
    ErrorCode.KeyTooLarge,
    ErrorCode.InvalidArgument,
    ErrorCode.InvalidArgument,
    'ok',
  ]);
  assert.deepEqual(d.map((o) => (o.ok ? o.request.id : o.id)), [1, 2, 3, 4, 5, 6]);
});

test('a value over the limit fails that op with ValueTooLarge', () => {
  const [d] = decodeRequestFrame(encodeRequestFrame([{ id: 1, op: 'put', key: bytes('k'), value: new Uint8Array(valueBytesMax + 1) }])).ops;
  assert.ok(!d!.ok && d!.error.code === ErrorCode.ValueTooLarge);
});

test('a frame over the op limit is refused whole as FrameTooLarge', () => {
  const b = new Builder(1024);
  const one = (() => {
    const k = b.createByteVector(bytes('k'));
    Request.startRequest(b);
    Request.addKey(b, k);
    return Request.endRequest(b);
  })();
  const vec = RequestFrame.createOpsVector(b, new Array(wsOpsPerFrameMax + 1).fill(one));
  RequestFrame.startRequestFrame(b);
  RequestFrame.addOps(b, vec);
  b.finish(RequestFrame.endRequestFrame(b), 'RKV1');
  assert.throws(() => decodeRequestFrame(b.asUint8Array()).ops, (e) => isRingkvError(e, ErrorCode.FrameTooLarge));
});

test('a request frame is copied once: its values share that copy, keys are copied alone', () => {
  const ops: ClientRequest[] = [1, 2, 3].map((i) => ({ id: i, op: 'put', key: bytes(`key-${i}`), value: new Uint8Array(1024).fill(i), consistency: 'QUORUM' }));
  const frame = new Uint8Array(encodeRequestFrame(ops));
  const decoded = decodeRequestFrame(frame).ops.map((d) => (d.ok ? d.request : assert.fail('decodes')));
  frame.fill(0);
  const buffers = new Set(decoded.map((r) => r.value!.buffer));
  assert.equal(buffers.size, 1, 'one copy holds every value');
  assert.notEqual([...buffers][0], frame.buffer);
  decoded.forEach((r, i) => {
    assert.deepEqual(r.value, new Uint8Array(1024).fill(i + 1));
    assert.deepEqual(Buffer.from(r.key).toString(), `key-${i + 1}`);
    assert.ok(!buffers.has(r.key.buffer as ArrayBuffer), 'a key does not hold the frame copy');
  });
});

test('a response frame is copied once: its values and siblings share that copy and survive the buffer', () => {
  const [frame] = encodeResponseFrames(
    [
      { id: 1, status: 'ok', version: 'v1_1_a', timestampMs: 1, value: bytes('one'), context: bytes('ctx') },
      { id: 2, status: 'ok', version: 'v2_1_a', timestampMs: 2, value: bytes('two'), context: bytes('ctx'), siblings: [{ value: bytes('two'), version: 'v2_1_a', timestampMs: 2 }, { value: bytes('owt'), version: 'v1_1_b', timestampMs: 1 }] },
    ],
    1 << 16,
  );
  const received = new Uint8Array(frame!);
  const { results } = decodeResponseFrame(received);
  received.fill(0);
  const kept = [results[0]!.value!, results[1]!.value!, results[0]!.context!, ...results[1]!.siblings!.map((s) => s.value)];
  assert.equal(new Set(kept.map((v) => v.buffer)).size, 1);
  assert.deepEqual(kept.map((v) => Buffer.from(v).toString()), ['one', 'two', 'ctx', 'two', 'owt']);
});

test('a frame whose sent_at_ms is not a time is refused whole', () => {
  // Proves the lateness guard cannot be fed NaN, infinities or a negative stamp.
  for (const sentAtMs of [Number.NaN, Number.POSITIVE_INFINITY, -5]) {
    const b = new Builder(256);
    const key = b.createByteVector(bytes('k'));
    Request.startRequest(b);
    Request.addId(b, 1);
    Request.addKey(b, key);
    const ops = RequestFrame.createOpsVector(b, [Request.endRequest(b)]);
    RequestFrame.startRequestFrame(b);
    RequestFrame.addOps(b, ops);
    RequestFrame.addSentAtMs(b, sentAtMs);
    b.finish(RequestFrame.endRequestFrame(b), 'RKV1');
    assert.throws(() => decodeRequestFrame(b.asUint8Array()), (e) => isRingkvError(e, ErrorCode.MalformedFrame) && /sent_at_ms/.test((e as Error).message), String(sentAtMs));
  }
});
