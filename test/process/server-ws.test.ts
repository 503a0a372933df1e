// Proves the binary WebSocket protocol against a real node process: batches of 32 mixed
// operations, per-op errors beside good ops, malformed frames (random bytes, truncated
// FlatBuffers, wrong types, text, and frames mutated at random) answered with typed error frames
// on a connection that stays usable and with nothing lost, and a client that stops reading
// neither grows the node's memory without bound nor stops it serving others.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { keyBytesMax } from '../../src/constants';
import { WireErrorCode } from '../../src/protocol/client_codes';
import { type ClientRequest, encodeRequestFrame } from '../../src/protocol/client_request';
import { encodeResponseFrames } from '../../src/protocol/client_response';
import { mulberry32, testSeed } from '../helpers/prng';
import { WsTestClient } from '../unit/server/ws_test_client';
import { killAll, type NodeProcess, rssBytes, startNode, tempDir } from './server-harness';

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
let node: NodeProcess;
let dir: string;

before(async () => {
  dir = tempDir('ws');
  node = await startNode(dir);
});
after(async () => {
  await node?.stop();
  await killAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a batch of 32 puts then 32 gets round-trips, and HTTP sees the same data', async () => {
  const c = await WsTestClient.connect(node.port);
  const puts: ClientRequest[] = Array.from({ length: 32 }, (_, i) => ({ id: i, op: 'put', key: bytes(`ws:${i}`), value: bytes(`value-${i}`), consistency: 'QUORUM' }));
  const pr = await c.call(puts);
  for (let i = 0; i < 32; i++) {
    assert.equal(pr.get(i)!.status, 'ok');
    assert.ok(pr.get(i)!.version!.length > 0);
  }
  const gets: ClientRequest[] = Array.from({ length: 32 }, (_, i) => ({ id: 100 + i, op: 'get', key: bytes(`ws:${i}`), consistency: 'ONE' }));
  const gr = await c.call(gets);
  for (let i = 0; i < 32; i++) {
    const r = gr.get(100 + i)!;
    assert.equal(Buffer.from(r.value!).toString(), `value-${i}`);
    assert.equal(r.version, pr.get(i)!.version);
    assert.ok(r.context !== undefined && r.context.byteLength > 0);
  }
  const h = (await (await fetch(`${node.url}/api/v1/keys/ws:7`)).json()) as { value: string };
  assert.equal(Buffer.from(h.value, 'base64').toString(), 'value-7');
  await c.close();
});

test('bad operations fail alone with typed errors; conditional writes and deletes work', async () => {
  const c = await WsTestClient.connect(node.port);
  const v1 = (await c.call([{ id: 1, op: 'put', key: bytes('cas'), value: bytes('a') }])).get(1)!.version!;
  const r = await c.call([
    { id: 2, op: 'put', key: new Uint8Array(keyBytesMax + 1), value: bytes('x') },
    { id: 3, op: 'put', key: bytes('cas'), value: bytes('b'), expectedVersion: 'v1_1_nobody' },
    { id: 4, op: 'put', key: bytes('cas'), value: bytes('c'), expectedVersion: v1 },
    { id: 5, op: 'get', key: bytes('never-written') },
  ]);
  assert.equal(r.get(2)!.error, WireErrorCode.KeyTooLarge);
  assert.equal(r.get(3)!.error, WireErrorCode.Conflict);
  assert.equal(r.get(3)!.currentVersion, v1);
  assert.equal(r.get(4)!.status, 'ok');
  assert.equal(r.get(5)!.status, 'not_found');
  const d = await c.call([{ id: 6, op: 'delete', key: bytes('cas') }]);
  assert.equal(d.get(6)!.status, 'ok');
  assert.ok(d.get(6)!.tombstoneExpiryMs! > Date.now());
  assert.equal((await c.call([{ id: 7, op: 'get', key: bytes('cas') }])).get(7)!.status, 'not_found');
  await c.close();
});

test('malformed frames get typed error frames and the same connection keeps working', async () => {
  const c = await WsTestClient.connect(node.port);
  const valid = encodeRequestFrame([{ id: 1, op: 'put', key: bytes('m'), value: bytes('v') }]);
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
  const random = Uint8Array.from({ length: 300 }, rnd);
  const wrongType = encodeResponseFrames([{ id: 1, status: 'ok', version: 'v', timestampMs: 1 }], 1 << 20)[0]!;
  const cases: [string, Uint8Array | string, boolean][] = [
    ['random bytes', random, true],
    ['random bytes with the identifier', (() => { const r = random.slice(); r.set(bytes('RKV1'), 4); return r; })(), true],
    ['truncated FlatBuffer', valid.slice(0, valid.length - 10), true],
    ['one byte', new Uint8Array([0]), true],
    ['empty', new Uint8Array(0), true],
    ['text frame', 'hello', false],
  ];
  for (const [what, data, binary] of cases) {
    const f = await c.rawExpectFrame(data, binary);
    assert.notEqual(f.error, WireErrorCode.None, what);
    assert.equal(f.error, binary ? WireErrorCode.MalformedFrame : WireErrorCode.TextFrame, what);
  }
  // A well-formed frame of the wrong table type: refused, or every op fails on its own.
  const f = await c.rawExpectFrame(wrongType);
  assert.ok(f.error === WireErrorCode.MalformedFrame || f.results.every((r) => r.status === 'error'));
  const ok = await c.call([{ id: 9, op: 'put', key: bytes('m'), value: bytes('still') }]);
  assert.equal(ok.get(9)!.status, 'ok');
  assert.equal(c.closed, null);
  await c.close();
  const h = await fetch(`${node.url}/health`);
  assert.equal(h.status, 200);
});

test('frames mutated at random are answered (an error frame, or per-op results), and the node loses nothing and keeps serving', async () => {
  const seed = testSeed();
  const random = mulberry32(seed);
  const below = (n: number): number => Math.floor(random() * n);
  const randomBytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => below(256));
  const randomOp = (id: number): ClientRequest => {
    const op = (['get', 'put', 'delete'] as const)[below(3)]!;
    const r: ClientRequest = { id, op, key: bytes(`fuzz:${below(20)}`) };
    if (op === 'put') r.value = randomBytes(below(64));
    if (random() < 0.3) r.consistency = (['ONE', 'QUORUM', 'ALL'] as const)[below(3)]!;
    if (op === 'put' && random() < 0.3) r.ttlSeconds = 1 + below(100_000);
    if (op !== 'get' && random() < 0.2) r.expectedVersion = `v${below(1000)}`;
    if (op !== 'get' && random() < 0.2) r.context = randomBytes(below(40));
    if (op !== 'get' && random() < 0.3) r.idempotencyKey = `fuzz-${below(1e6)}`;
    if (random() < 0.2) r.timeoutMs = 1 + below(10_000);
    return r;
  };
  /** Bytes overwritten, a 32- or 16-bit field (an offset, a length) set to an edge value, cut short, or padded. */
  const mutate = (frame: Uint8Array): Uint8Array => {
    const m = frame.slice();
    const view = new DataView(m.buffer);
    const at = below(m.length - 4);
    switch (below(5)) {
      case 0:
        for (let i = 1 + below(8); i > 0; i--) m[below(m.length)] = below(256);
        return m;
      case 1:
        return m.slice(0, below(m.length));
      case 2:
        view.setUint32(at, [0, 0xffffffff, 0x7fffffff, 0x80000000, below(1 << 30)][below(5)]!, true);
        return m;
      case 3:
        view.setUint16(at, [0, 0xffff, below(0x10000)][below(3)]!, true);
        return m;
      default: {
        const padded = new Uint8Array(m.length + 1 + below(100));
        padded.set(m);
        return padded;
      }
    }
  };
  const c = await WsTestClient.connect(node.port);
  /** Keys only well-formed frames write, each frame after a mutated one: what they hold at the end. */
  const expected = new Map<string, string>();
  const controlIds = 1_000_000;
  for (let i = 0; i < 400; i++) {
    c.sendRaw(mutate(encodeRequestFrame(Array.from({ length: 1 + below(8) }, (_, j) => randomOp(j + 1)))));
    const key = `fuzz-control:${i % 40}`;
    const value = `${seed}-${i}`;
    const r = await c.call([{ id: controlIds + i, op: 'put', key: bytes(key), value: bytes(value) }]);
    assert.equal(r.get(controlIds + i)!.status, 'ok', `seed ${seed}: the control write after mutated frame ${i}`);
    expected.set(key, value);
  }
  assert.equal(c.closed, null, `seed ${seed}: the connection stayed open`);
  const refused = c.frames.filter((f) => f.error !== WireErrorCode.None).length;
  const answered = c.frames.filter((f) => f.error === WireErrorCode.None && f.results.some((r) => r.id < controlIds)).length;
  assert.ok(refused > 0 && answered > 0, `seed ${seed}: the mutations made frames refused (${refused}) and frames answered (${answered})`);
  await c.close();
  for (const [key, value] of expected) {
    const res = await fetch(`${node.url}/api/v1/keys/${encodeURIComponent(key)}`);
    assert.equal(res.status, 200, key);
    assert.equal(Buffer.from(((await res.json()) as { value: string }).value, 'base64').toString(), value, `seed ${seed}: ${key}`);
  }
  assert.equal((await fetch(`${node.url}/health`)).status, 200);
});

test('one frame whose answer is larger than the send queue bound (40 GETs of 1 MB) is answered whole to a client that reads', async () => {
  const c = await WsTestClient.connect(node.port);
  const value = new Uint8Array(1_000_000).fill(7);
  assert.equal((await c.call([{ id: 1, op: 'put', key: bytes('big-answer'), value }])).get(1)!.status, 'ok');
  const gets: ClientRequest[] = Array.from({ length: 40 }, (_, i) => ({ id: 10 + i, op: 'get', key: bytes('big-answer') }));
  const r = await c.call(gets, 30_000);
  for (let i = 0; i < 40; i++) assert.equal(r.get(10 + i)!.value!.byteLength, value.byteLength, `GET ${i}`);
  assert.equal(c.closed, null, 'the connection stays open');
  assert.equal((await c.call([{ id: 99, op: 'get', key: bytes('ws:7') }])).get(99)!.status, 'ok');
  await c.close();
});

test('a client that stops reading does not grow node memory without bound, and others are served', async (t) => {
  const big = new Uint8Array(256 * 1024).fill(5);
  const other = await WsTestClient.connect(node.port);
  await other.call([{ id: 1, op: 'put', key: bytes('bp'), value: big }]);
  const rssBefore = rssBytes(node.proc.pid!);
  const stalled = await WsTestClient.connect(node.port);
  const sock = (stalled.ws as unknown as { _socket: { pause(): void } })._socket;
  sock.pause();
  // 600 frames of 8 GETs of 256 KiB: 1.2 GB of answers if the node buffered them all.
  const frame = encodeRequestFrame(Array.from({ length: 8 }, (_, i) => ({ id: i, op: 'get' as const, key: bytes('bp') })));
  let rssPeak = rssBefore;
  for (let i = 0; i < 600 && stalled.closed === null; i++) {
    stalled.sendRaw(frame);
    if (i % 50 === 0) {
      const r = await other.call([{ id: 1000 + i, op: 'get', key: bytes('bp') }], 20_000);
      assert.equal(r.get(1000 + i)!.value!.byteLength, big.byteLength, 'another client is served meanwhile');
      rssPeak = Math.max(rssPeak, rssBytes(node.proc.pid!));
    }
  }
  await new Promise((r) => setTimeout(r, 500));
  rssPeak = Math.max(rssPeak, rssBytes(node.proc.pid!));
  // Bounded: TCP buffers + uWS's 8 MiB + the send queue (64 MiB of answers + 32 MiB) + running frames, nowhere near 1.2 GB.
  assert.ok(rssPeak - rssBefore < 512 * 1024 * 1024, `node RSS grew ${(rssPeak - rssBefore) >> 20} MiB`);
  const m = await (await fetch(`${node.url}/metrics`)).text();
  const gauge = (name: string): number => Number(new RegExp(`^ringkv_${name} (\\d+)$`, 'm').exec(m)?.[1] ?? -1);
  t.diagnostic(`while stalled: ws_send_queue_bytes=${gauge('ws_send_queue_bytes')} ws_inflight_ops=${gauge('ws_inflight_ops')}`);
  // The queue holds read answers up to the connection's answer bytes (64 MiB: past them reads are
  // answered Busy), and the rest up to the send-queue bound (32 MiB) plus one frame.
  assert.ok(gauge('ws_send_queue_bytes') <= 64 * 1024 * 1024 + 32 * 1024 * 1024 + 4 * 1024 * 1024, 'send queue within its bound');
  t.diagnostic(`RSS grew ${(rssPeak - rssBefore) >> 20} MiB; stalled connection closed by the node: ${JSON.stringify(stalled.closed)}`);
  const r = await other.call([{ id: 9999, op: 'get', key: bytes('bp') }], 20_000);
  assert.equal(r.get(9999)!.status, 'ok');
  await stalled.close();
  await other.close();
});
