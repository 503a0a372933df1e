// Proves the WebSocket endpoint over a real uWS socket in front of a test coordinator: batches
// round-trip, broken or text frames get typed error frames with the connection still usable,
// the per-connection in-flight cap answers Busy, a client that never reads is pushed back while
// other clients are served, a frame's reads hold at most the connection's answer bytes (the rest
// answered Busy), and so do answers waiting to be sent: a client that pauses meets Busy, not 1008.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WireErrorCode } from '../../../src/protocol/client_codes';
import { type DecodedOp, encodeRequestFrame } from '../../../src/protocol/client_request';
import { deadlineGroups } from '../../../src/server/ws_ops';
import { ErrorCode, RingkvError } from '../../../src/errors';
import { type RunningServer, startServer } from '../../../src/server/server';
import { MemoryCoordinator } from './memory_coordinator';
import { WsTestClient } from './ws_test_client';

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
/** The first number `re` captures in the node's /metrics (0 when it has no such line). */
const metricOf = async (port: number, re: RegExp): Promise<number> => Number(re.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1] ?? 0);
const coordinator = new MemoryCoordinator();
let server: RunningServer;

before(async () => {
  server = await startServer({
    coordinator,
    port: 0,
    log: () => undefined,
    limits: {
      wsOpsPerFrameMax: 16,
      wsInflightOpsPerConnectionMax: 8,
      wsBufferedBytesMax: 256 * 1024,
      wsSendQueueBytesMax: 1024 * 1024,
      wsResponseFrameBytesTarget: 128 * 1024,
      wsAnswerBytesPerConnectionMax: 256 * 1024,
      wsAnswerBytesMax: 1024 * 1024,
    },
  });
});
after(async () => {
  await server.close(100);
});

test('a batch of put, get and delete round-trips', async () => {
  const c = await WsTestClient.connect(server.port);
  const put = await c.call([
    { id: 1, op: 'put', key: bytes('k1'), value: bytes('v1') },
    { id: 2, op: 'put', key: new Uint8Array([0xff, 0x2f]), value: bytes('bin'), consistency: 'ONE' },
  ]);
  assert.equal(put.get(1)!.status, 'ok');
  assert.match(put.get(1)!.version!, /^v\d+_/);
  const got = await c.call([
    { id: 3, op: 'get', key: bytes('k1') },
    { id: 4, op: 'get', key: new Uint8Array([0xff, 0x2f]) },
    { id: 5, op: 'get', key: bytes('missing') },
  ]);
  assert.equal(Buffer.from(got.get(3)!.value!).toString(), 'v1');
  assert.equal(Buffer.from(got.get(4)!.value!).toString(), 'bin');
  assert.equal(got.get(5)!.status, 'not_found');
  const del = await c.call([{ id: 6, op: 'delete', key: bytes('k1') }]);
  assert.equal(del.get(6)!.status, 'ok');
  assert.ok(del.get(6)!.tombstoneExpiryMs! > Date.now());
  const conflict = await c.call([{ id: 7, op: 'put', key: bytes('k2'), value: bytes('x'), expectedVersion: 'v999_1_nope' }]);
  assert.equal(conflict.get(7)!.error, WireErrorCode.Conflict);
  const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  assert.match(metrics, /^ringkv_request_errors_total\{transport="ws",op="put",error="conflict"\} 1$/m, 'counted by the error it was answered with');
  await c.close();
});

test('malformed, truncated, text and oversized frames get typed error frames; the connection stays usable', async () => {
  const c = await WsTestClient.connect(server.port);
  const valid = encodeRequestFrame([{ id: 1, op: 'get', key: bytes('a') }]);
  const cases: [Uint8Array | string, boolean, WireErrorCode][] = [
    [new Uint8Array([1, 2, 3]), true, WireErrorCode.MalformedFrame],
    [new Uint8Array(Buffer.from('random bytes that are not a frame at all')), true, WireErrorCode.MalformedFrame],
    [valid.slice(0, valid.length - 12), true, WireErrorCode.MalformedFrame],
    ['{"op":"get"}', false, WireErrorCode.TextFrame],
  ];
  for (const [data, binary, code] of cases) {
    const f = await c.rawExpectFrame(data, binary);
    assert.equal(f.error, code);
    assert.equal(f.results.length, 0);
    assert.ok(f.message && f.message.length > 0);
  }
  const tooMany = Array.from({ length: 1025 }, (_, i) => ({ id: i, op: 'get' as const, key: bytes('a') }));
  // encodeRequestFrame refuses >1024 by assertion (the schema verifier refuses such a frame too).
  assert.throws(() => encodeRequestFrame(tooMany));
  // This server's own bound (wsOpsPerFrameMax 16) is under the protocol's: a frame past it is refused whole.
  const overServer = await c.rawExpectFrame(encodeRequestFrame(tooMany.slice(0, 17)), true);
  assert.equal(overServer.error, WireErrorCode.FrameTooLarge);
  assert.equal(overServer.results.length, 0);
  assert.match(overServer.message ?? '', /17 operations in one frame, over 16/);
  const r = await c.call([{ id: 9, op: 'get', key: bytes('a') }]);
  assert.equal(r.get(9)!.status, 'not_found');
  assert.equal(c.closed, null);
  await c.close();
});

test('an operation that does not decode is answered with its error and counted under the op it named', async () => {
  const c = await WsTestClient.connect(server.port);
  const invalidGets = /^ringkv_request_errors_total\{transport="ws",op="get",error="invalid_argument"\} (\d+)$/m;
  const count = (): Promise<number> => metricOf(server.port, invalidGets);
  const before = await count();
  const r = await c.call([{ id: 31, op: 'get', key: bytes('a'), ttlSeconds: 5 }]);
  assert.equal(r.get(31)!.error, WireErrorCode.InvalidArgument);
  assert.match(r.get(31)!.message ?? '', /a get carries no ttl/);
  assert.equal((await count()) - before, 1);
  await c.close();
});

test('over the in-flight cap a frame is answered Busy, and held frames still complete', async () => {
  const c = await WsTestClient.connect(server.port);
  const errorsOf = (re: RegExp): Promise<number> => metricOf(server.port, re);
  const busyGets = /^ringkv_request_errors_total\{transport="ws",op="get",error="busy"\} (\d+)$/m;
  const busyPuts = /^ringkv_request_errors_total\{transport="ws",op="put",error="busy"\} (\d+)$/m;
  const [getsBefore, putsBefore] = [await errorsOf(busyGets), await errorsOf(busyPuts)];
  coordinator.closeGate();
  const held = Array.from({ length: 8 }, (_, i) => ({ id: 100 + i, op: 'get' as const, key: bytes(`h${i}`) }));
  c.sendRaw(encodeRequestFrame(held));
  const busy = await c.call([
    { id: 200, op: 'get', key: bytes('x') },
    { id: 202, op: 'put', key: bytes('x'), value: bytes('v') },
  ]);
  assert.equal(busy.get(200)!.status, 'error');
  assert.equal(busy.get(200)!.error, WireErrorCode.Busy);
  assert.equal(busy.get(202)!.error, WireErrorCode.Busy);
  // Each operation refused is a request answered with an error, in the request metrics too.
  assert.deepEqual([(await errorsOf(busyGets)) - getsBefore, (await errorsOf(busyPuts)) - putsBefore], [1, 1]);
  coordinator.openGate();
  await c.until(() => c.frames.some((f) => f.results.some((r) => r.id === 107)), 5000, 'held results');
  const after = await c.call([{ id: 201, op: 'get', key: bytes('x') }]);
  assert.equal(after.get(201)!.status, 'not_found');
  await c.close();
});

test('a client that stops reading cannot grow the node\'s queues past their bounds; others keep being served', async () => {
  const big = new Uint8Array(100 * 1024).fill(7);
  const writer = await WsTestClient.connect(server.port);
  await writer.call([{ id: 1, op: 'put', key: bytes('big'), value: big }]);
  const stalled = await WsTestClient.connect(server.port);
  // Stop reading at the TCP level: the node's answers back up into its buffers.
  stalled.pauseReading();
  const gauge = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    return Number(/^ringkv_ws_send_queue_bytes (\d+)$/m.exec(text)![1]);
  };
  let queuedMax = 0;
  // 400 GETs of 100 KiB = 40 MB of answers, far past the 256 KiB + 1 MiB bounds of this server.
  for (let i = 0; i < 400 && stalled.closed === null; i++) {
    stalled.sendRaw(encodeRequestFrame([{ id: i, op: 'get', key: bytes('big'), consistency: 'ONE' }]));
    if (i % 40 === 0) {
      const r = await writer.call([{ id: 1000 + i, op: 'get', key: bytes('big') }]);
      assert.equal(r.get(1000 + i)!.value!.byteLength, big.byteLength, 'another client is served meanwhile');
      queuedMax = Math.max(queuedMax, await gauge());
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  queuedMax = Math.max(queuedMax, await gauge());
  assert.ok(queuedMax <= 1024 * 1024 + 128 * 1024, `send queue peaked at ${queuedMax} bytes`);
  // The node pushed back: its reads were answered Busy once their unsent answers held the
  // connection's answer bytes (or the connection was closed at the queue bound).
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const served = Number(/^ringkv_requests_total\{transport="ws",op="get",consistency="ONE",outcome="ok"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  const pushedBack = stalled.closed !== null || served < 400;
  assert.ok(pushedBack, `stalled client: closed=${JSON.stringify(stalled.closed)}, node answered ${served} of 400`);
  const r = await writer.call([{ id: 5000, op: 'get', key: bytes('big') }]);
  assert.equal(r.get(5000)!.status, 'ok');
  await stalled.close();
  await writer.close();
  assert.equal(await gauge(), 0, 'the closed connection left nothing queued');
});

test('a client that pauses reading while many large reads are in flight is answered Busy past its answer bytes, not closed, and gets every answer when it reads again', async () => {
  // The answers waiting in a connection's send queue still count against its answer bytes, so a
  // reader that falls behind meets Busy; the queue bound closes only a client whose backlog
  // those bytes do not account for. Here the answer bytes (2 MiB) are twice the queue bound
  // (1 MiB), as in production (64 MiB and 32 MiB).
  const own = await startServer({
    coordinator,
    port: 0,
    log: () => undefined,
    limits: { wsInflightOpsPerConnectionMax: 512, wsBufferedBytesMax: 256 * 1024, wsSendQueueBytesMax: 1024 * 1024, wsResponseFrameBytesTarget: 128 * 1024, wsAnswerBytesPerConnectionMax: 2 * 1024 * 1024, wsAnswerBytesMax: 8 * 1024 * 1024 },
  });
  try {
    const value = new Uint8Array(100 * 1024).fill(9);
    const writer = await WsTestClient.connect(own.port);
    assert.equal((await writer.call([{ id: 1, op: 'put', key: bytes('paused'), value }])).get(1)!.status, 'ok');
    await writer.close();
    const c = await WsTestClient.connect(own.port);
    c.pauseReading();
    // 300 reads of 100 KiB (30 MB), one per frame: far past what the kernel's buffers take.
    const frames = 300;
    for (let i = 0; i < frames; i++) c.sendRaw(encodeRequestFrame([{ id: i, op: 'get', key: bytes('paused') }]));
    const metric = (re: RegExp): Promise<number> => metricOf(own.port, re);
    const answered = /^ringkv_requests_total\{transport="ws",op="get",consistency="QUORUM",outcome="ok"\} (\d+)$/m;
    const busy = /^ringkv_ws_answers_refused_total (\d+)$/m;
    const cut = /^ringkv_ws_connections_closed_total\{reason="send_queue_full"\} (\d+)$/m;
    // Until the node has run every one of them (answered, or refused for room), or cut the client off.
    const deadline = Date.now() + 15_000;
    while ((await metric(answered)) + (await metric(busy)) < frames && (await metric(cut)) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await metric(cut), 0, 'the node closed the connection for its send queue');
    assert.equal((await metric(answered)) + (await metric(busy)), frames, 'the node ran every read');
    c.resumeReading();
    await c.until(() => c.frames.reduce((n, f) => n + f.results.length, 0) >= frames || c.closed !== null, 15_000, 'every answer');
    assert.equal(c.closed, null, `closed: ${JSON.stringify(c.closed)}`);
    const results = c.frames.flatMap((f) => f.results);
    assert.deepEqual(results.map((r) => r.id).sort((a, b) => a - b), Array.from({ length: frames }, (_, i) => i));
    const ok = results.filter((r) => r.status === 'ok');
    assert.ok(ok.length > 0 && ok.every((r) => r.value!.byteLength === value.byteLength), `${ok.length} served`);
    assert.ok(results.every((r) => r.status === 'ok' || r.error === WireErrorCode.Busy));
    assert.ok(ok.length < frames, 'some were refused for room: the answers waiting to be sent held it');
    const again = await c.call([{ id: 1000, op: 'get', key: bytes('paused') }]);
    assert.equal(again.get(1000)!.status, 'ok');
    await c.close();
    assert.equal(await metric(/^ringkv_ws_answer_bytes (\d+)$/m), 0, 'nothing held once every answer is sent');
  } finally {
    await own.close(100);
  }
});

test('connections that stopped reading hold at most the node\'s bound together, not each its own; a client that keeps up is served meanwhile', async () => {
  // Each connection may hold 8 MiB of answers, all of them together 2 MiB: two stalled readers
  // of 30 MB each would hold 16 MiB between them were the bound per connection only.
  const own = await startServer({
    coordinator,
    port: 0,
    log: () => undefined,
    limits: {
      wsInflightOpsPerConnectionMax: 512,
      wsBufferedBytesMax: 256 * 1024,
      wsSendQueueBytesMax: 1024 * 1024,
      wsResponseFrameBytesTarget: 128 * 1024,
      wsAnswerBytesPerConnectionMax: 8 * 1024 * 1024,
      wsAnswerBytesMax: 32 * 1024 * 1024,
      wsHeldBytesMax: 2 * 1024 * 1024,
    },
  });
  const clients: WsTestClient[] = [];
  try {
    const value = new Uint8Array(100 * 1024).fill(4);
    const reader = await WsTestClient.connect(own.port);
    clients.push(reader);
    assert.equal((await reader.call([{ id: 1, op: 'put', key: bytes('held'), value }])).get(1)!.status, 'ok');
    const metric = (re: RegExp): Promise<number> => metricOf(own.port, re);
    const ran = async (): Promise<number> => (await metric(/^ringkv_requests_total\{transport="ws",op="get",consistency="ONE",outcome="ok"\} (\d+)$/m)) + (await metric(/^ringkv_ws_answers_refused_total (\d+)$/m));
    const frames = 300;
    const stalled: WsTestClient[] = [];
    for (let s = 0; s < 2; s++) {
      const c = await WsTestClient.connect(own.port);
      clients.push(c);
      stalled.push(c);
      c.pauseReading();
      for (let i = 0; i < frames; i++) c.sendRaw(encodeRequestFrame([{ id: i, op: 'get', key: bytes('held'), consistency: 'ONE' }]));
    }
    const deadline = Date.now() + 20_000;
    while ((await ran()) < 2 * frames && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await ran(), 2 * frames, 'the node ran every read (answered or refused for room)');
    const queued = await metric(/^ringkv_ws_send_queue_bytes (\d+)$/m);
    const held = await metric(/^ringkv_ws_held_bytes (\d+)$/m);
    // The bound, one answer more per connection (each always gets one), and what uWS buffers.
    const slackBytes = 2 * (value.byteLength + 4096 + 256 * 1024 + 128 * 1024);
    assert.ok(queued <= 2 * 1024 * 1024 + slackBytes, `send queues hold ${queued} bytes`);
    assert.ok(held <= 2 * 1024 * 1024 + slackBytes, `connections hold ${held} bytes`);
    // A client that keeps up holds nothing, so its read is served while the others hold the node's bound.
    const r = await reader.call([{ id: 2, op: 'get', key: bytes('held'), consistency: 'ONE' }]);
    assert.equal(r.get(2)!.status, 'ok');
    for (const c of stalled) c.resumeReading();
    for (const c of stalled) await c.until(() => c.frames.reduce((n, f) => n + f.results.length, 0) >= frames || c.closed !== null, 15_000, 'every answer');
    for (const c of stalled) {
      assert.equal(c.closed, null, `closed: ${JSON.stringify(c.closed)}`);
      const results = c.frames.flatMap((f) => f.results);
      assert.ok(results.every((x) => x.status === 'ok' || x.error === WireErrorCode.Busy));
      assert.ok(results.some((x) => x.status === 'ok'));
    }
    for (const c of clients.splice(0)) await c.close();
    assert.equal(await metric(/^ringkv_ws_held_bytes (\d+)$/m), 0, 'nothing held once every connection is closed');
  } finally {
    for (const c of clients) await c.close();
    await own.close(100);
  }
});

test('past the node\'s bound, a connection whose send queue keeps growing (it sends, never reads) is closed before its own bound', async () => {
  // Misses answer small, so no answer bytes bound them: only the send queue does. With the node's
  // bound under what uWS buffers for one connection, the client is closed as node_held_full once
  // its queue is over a response frame's target, not at its own 1 MiB (send_queue_full).
  const own = await startServer({
    coordinator,
    port: 0,
    log: () => undefined,
    limits: { wsInflightOpsPerConnectionMax: 512, wsBufferedBytesMax: 256 * 1024, wsSendQueueBytesMax: 1024 * 1024, wsResponseFrameBytesTarget: 128 * 1024, wsHeldBytesMax: 64 * 1024 },
  });
  const c = await WsTestClient.connect(own.port);
  try {
    c.pauseReading();
    const frame = encodeRequestFrame(Array.from({ length: 256 }, (_, i) => ({ id: i, op: 'get' as const, key: bytes(`missing-${i}`), consistency: 'ONE' as const })));
    for (let i = 0; i < 4000 && c.closed === null; i++) {
      c.sendRaw(frame);
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
    }
    const closed = (reason: string): Promise<number> => metricOf(own.port, new RegExp(`^ringkv_ws_connections_closed_total\\{reason="${reason}"\\} (\\d+)$`, 'm'));
    const deadline = Date.now() + 10_000;
    while ((await closed('node_held_full')) + (await closed('send_queue_full')) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual([await closed('node_held_full'), await closed('send_queue_full')], [1, 0]);
  } finally {
    await c.close();
    await own.close(100);
  }
});

test("a frame's reads hold at most the connection's answer bytes: the ones past it are answered Busy, and asked again they are served", async () => {
  const value = new Uint8Array(100 * 1024).fill(3);
  const refused = (): Promise<number> => metricOf(server.port, /^ringkv_ws_answers_refused_total (\d+)$/m);
  const refusedBefore = await refused(); // earlier tests' readers that fell behind were refused too
  const c = await WsTestClient.connect(server.port);
  const keys = Array.from({ length: 8 }, (_, i) => bytes(`room-${i}`));
  const put = await c.call(keys.map((key, i) => ({ id: i, op: 'put' as const, key, value })));
  assert.ok([...put.values()].every((r) => r.status === 'ok'));
  const got = await c.call(keys.map((key, i) => ({ id: 10 + i, op: 'get' as const, key })));
  const ok = [...got.values()].filter((r) => r.status === 'ok');
  const busy = [...got.values()].filter((r) => r.status === 'error');
  // 256 KiB holds two answers of 100 KiB and their contexts, not three.
  assert.equal(ok.length, 2, `answered: ${ok.map((r) => r.id).join(',')}`);
  assert.ok(ok.every((r) => r.value!.byteLength === value.byteLength));
  assert.equal(busy.length, 6);
  assert.ok(busy.every((r) => r.error === WireErrorCode.Busy && /no room for this answer/.test(r.message ?? '')), busy[0]?.message);
  // Nothing is held once the frame is answered: the refused reads, asked again two at a time, are served.
  for (let i = 0; i < busy.length; i += 2) {
    const again = await c.call(busy.slice(i, i + 2).map((r) => ({ id: 100 + r.id, op: 'get' as const, key: keys[r.id - 10]! })));
    assert.ok([...again.values()].every((r) => r.status === 'ok' && r.value!.byteLength === value.byteLength));
  }
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  assert.match(text, /^ringkv_ws_answer_bytes 0$/m);
  assert.equal(await refused(), refusedBefore + 6);
  await c.close();
});

test('an operation that reaches the node after its client gave up does not run; a write held past its timeout is not applied', async () => {
  // Proves the stale-request guard end to end over a real socket: the frame's sent_at_ms against
  // the connection's quickest frames, each op's timeout_ms, and the write's notAfterMs on the
  // coordinator's request (the memory coordinator refuses past it, as the engine does).
  const c = await WsTestClient.connect(server.port);
  const t0 = 1_000_000;
  const quick = await c.call([{ id: 1, op: 'put', key: bytes('late-0'), value: bytes('a'), timeoutMs: 5000 }], 10_000, t0);
  assert.equal(quick.get(1)!.status, 'ok');
  // Stamped 3 s before the first by the same clock but sent just after it: it was held 3 s.
  const held = await c.call(
    [
      { id: 2, op: 'put', key: bytes('late-1'), value: bytes('b'), timeoutMs: 1000 },
      { id: 3, op: 'get', key: bytes('late-0'), timeoutMs: 2000 },
      { id: 4, op: 'get', key: bytes('late-0'), timeoutMs: 60_000 },
      { id: 5, op: 'get', key: bytes('late-0') },
    ],
    10_000,
    t0 - 3000,
  );
  for (const id of [2, 3]) {
    assert.equal(held.get(id)!.error, WireErrorCode.Timeout, JSON.stringify(held.get(id)));
    assert.match(held.get(id)!.message!, /not run: it reached this node 3\d{3} ms later .* its client has given up on it/);
  }
  assert.equal(held.get(4)!.status, 'ok', 'an op with time left runs');
  assert.equal(held.get(5)!.status, 'ok', 'an op that states no timeout runs');
  assert.equal((await c.call([{ id: 6, op: 'get', key: bytes('late-1') }])).get(6)!.status, 'not_found', 'the held write was never applied');

  // On time, but held inside the node past its timeout: the write is refused, not applied late.
  coordinator.closeGate();
  const pending = c.call([{ id: 7, op: 'put', key: bytes('late-2'), value: bytes('c'), timeoutMs: 200 }], 10_000, t0 + 1);
  await c.until(() => coordinator.heldOps === 1, 5000, 'the write held in the coordinator');
  await new Promise((r) => setTimeout(r, 400));
  coordinator.openGate();
  assert.equal((await pending).get(7)!.error, WireErrorCode.Timeout);
  assert.equal((await c.call([{ id: 8, op: 'get', key: bytes('late-2') }])).get(8)!.status, 'not_found');
  await c.close();
});

test("each operation's time left reaches the coordinator: its timeout_ms less how late its frame came, none when it says none", async () => {
  const c = await WsTestClient.connect(server.port);
  const t0 = 2_000_000;
  await c.call([{ id: 1, op: 'put', key: bytes('left-0'), value: bytes('a'), timeoutMs: 5000 }], 10_000, t0);
  const from = coordinator.timeouts.length;
  // Stamped 3 s before the first by the same clock but sent just after it: it was held 3 s.
  const held = await c.call(
    [
      { id: 2, op: 'get', key: bytes('left-0'), timeoutMs: 60_000 },
      { id: 3, op: 'put', key: bytes('left-1'), value: bytes('b'), timeoutMs: 10_000 },
      { id: 4, op: 'delete', key: bytes('left-2'), timeoutMs: 20_000 },
      { id: 5, op: 'get', key: bytes('left-0') },
    ],
    10_000,
    t0 - 3000,
  );
  for (const id of [2, 3, 4, 5]) assert.equal(held.get(id)!.status, 'ok', JSON.stringify(held.get(id)));
  const seen = coordinator.timeouts.slice(from);
  assert.equal(seen.length, 4);
  // Lateness is measured against the connection's quickest frame, so it is 3 s and a little more.
  for (const [i, statedMs] of [[0, 60_000], [1, 10_000], [2, 20_000]] as const) {
    const leftMs = seen[i]!;
    assert.ok(leftMs !== undefined && leftMs <= statedMs - 3000 && leftMs > statedMs - 3000 - 1000, `op ${i}: ${leftMs}`);
  }
  assert.equal(seen[3], undefined, 'an op that states no timeout leaves it to the coordinator');
  await c.close();
});

test('deadlineGroups: ops of about the same time left share a group; groups in the order of their first op; undecoded ops with the first', () => {
  const op = (id: number, timeoutMs?: number): DecodedOp => ({ ok: true, request: { id, op: 'get', key: bytes(`g${id}`), ...(timeoutMs !== undefined && { timeoutMs }) } });
  const bad: DecodedOp = { ok: false, id: 9, error: new RingkvError(ErrorCode.InvalidArgument, 'bad') };
  const ids = (groups: DecodedOp[][]) => groups.map((g) => g.map((d) => (d.ok ? d.request.id : d.id)));
  assert.deepEqual(ids(deadlineGroups([op(1, 5000), op(2, 5040), op(3, 4990)])), [[1, 2, 3]], 'one client flush: one group');
  assert.deepEqual(ids(deadlineGroups([op(1, 5000), op(2, 100), op(3), op(4, 105), bad, op(5)])), [[1], [2, 4, 9], [3, 5]]);
  assert.deepEqual(ids(deadlineGroups([bad])), [[9]]);
  assert.deepEqual(ids(deadlineGroups([])), []);
});

test("a frame's operations are answered by their own deadlines: one with little time left is not held back by one with much", async () => {
  const c = await WsTestClient.connect(server.port);
  await c.call([{ id: 1, op: 'put', key: bytes('deadline-fast'), value: bytes('f') }]);
  coordinator.holdKey('deadline-slow');
  try {
    const start = c.frames.length;
    c.sendRaw(
      encodeRequestFrame([
        { id: 2, op: 'get', key: bytes('deadline-slow'), timeoutMs: 60_000 },
        { id: 3, op: 'get', key: bytes('deadline-fast'), timeoutMs: 2_000 },
        { id: 4, op: 'get', key: bytes('deadline-fast'), timeoutMs: 2_050 },
      ]),
    );
    const resultsOf = () => c.frames.slice(start).flatMap((f) => f.results);
    // Ops 3 and 4 (about the same time left) are answered while op 2 is still held.
    await c.until(() => resultsOf().some((r) => r.id === 3) && resultsOf().some((r) => r.id === 4), 5_000, 'the quick ops\' answers');
    assert.deepEqual(resultsOf().map((r) => [r.id, r.status]).sort(), [[3, 'ok'], [4, 'ok']]);
    assert.equal(coordinator.heldOps, 1, 'op 2 still held');
    coordinator.releaseKeys();
    await c.until(() => resultsOf().some((r) => r.id === 2), 5_000, 'op 2\'s answer');
    assert.equal(resultsOf().find((r) => r.id === 2)!.status, 'not_found');
  } finally {
    coordinator.releaseKeys();
    await c.close();
  }
});

test('a frame sent while the node shuts down is refused per operation; operations already running are still answered', async () => {
  // A frame-level error names no operation, so a client would have to fail everything in flight
  // on the connection, including operations the node goes on to answer (and then retry them).
  const gated = new MemoryCoordinator();
  const s = await startServer({ coordinator: gated, port: 0, log: () => undefined });
  const c = await WsTestClient.connect(s.port);
  let closed: Promise<void> | null = null;
  try {
    gated.closeGate();
    c.sendRaw(encodeRequestFrame([{ id: 1, op: 'put', key: bytes('held'), value: bytes('v') }]));
    await c.until(() => gated.heldOps === 1, 5000, 'the held put');
    closed = s.close(10_000);
    const late = await c.call([
      { id: 2, op: 'get', key: bytes('held') },
      { id: 3, op: 'put', key: bytes('late'), value: bytes('v') },
    ]);
    for (const id of [2, 3]) {
      assert.equal(late.get(id)!.status, 'error');
      assert.equal(late.get(id)!.error, WireErrorCode.ShuttingDown);
    }
    assert.ok(c.frames.every((f) => f.error === WireErrorCode.None), 'no frame-level error');
    gated.openGate();
    await c.until(() => c.frames.some((f) => f.results.some((r) => r.id === 1)), 5000, 'the held put answered');
    const held = c.frames.flatMap((f) => f.results).find((r) => r.id === 1)!;
    assert.equal(held.status, 'ok');
  } finally {
    gated.openGate();
    await (closed ?? s.close(100));
    await c.close();
  }
});
