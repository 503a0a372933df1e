// Proves a node holds the requests it is running within bytes, HTTP bodies and WebSocket frames
// together (requestBytesHeldMax): while the coordinator holds them, a PUT or a frame that would
// take what is held past the bound is answered busy and nothing of it runs, smaller ones still
// fit, a body without a Content-Length holds room for the largest, a client that goes away
// mid-body gives its room back, and once the held requests are answered the room is free again;
// one frame over the bound is taken when nothing is held, and a GET (which holds nothing) is never
// refused for request bytes.
// Real uWS sockets in front of the test coordinator, whose gate holds requests while they run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { httpBodyBytesMax } from '../../../src/constants';
import { WireErrorCode } from '../../../src/protocol/client_codes';
import { type RunningServer, startServer } from '../../../src/server/server';
import { waitFor } from '../../helpers/cluster';
import { MemoryCoordinator } from './memory_coordinator';
import { WsTestClient } from './ws_test_client';

const heldMax = httpBodyBytesMax + 64 * 1024;
const coordinator = new MemoryCoordinator();
let server: RunningServer;

before(async () => {
  server = await startServer({ coordinator, port: 0, log: () => undefined, limits: { requestBytesHeldMax: heldMax } });
});
after(async () => {
  coordinator.openGate();
  await server.close(100);
});

const url = (key: string): string => `http://127.0.0.1:${server.port}/api/v1/keys/${key}`;

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)$`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** A raw HTTP client, for bodies fetch cannot send: chunked by hand, or cut off mid-way. */
async function rawSocket(): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port: server.port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  return socket;
}

test('past requestBytesHeldMax held, a PUT or a frame is answered busy and not run; smaller ones fit; the room comes back as they are answered', async () => {
  const first = randomBytes(600 * 1024);
  const small = randomBytes(1024);
  coordinator.closeGate();
  const firstPut = fetch(url('first'), { method: 'PUT', body: first });
  await waitFor('the first PUT held by the coordinator', () => coordinator.heldOps === 1, 10_000);
  assert.equal(await metric('ringkv_request_bytes_held'), first.byteLength, 'the body is counted while it runs');

  // Bounded: a PUT that is not refused waits at the gate.
  const refused = await fetch(url('second'), { method: 'PUT', body: randomBytes(600 * 1024), signal: AbortSignal.timeout(10_000) });
  assert.equal(refused.status, 503);
  const why = (await refused.json()) as { error: string; message: string };
  assert.equal(why.error, 'busy');
  assert.match(why.message, /bytes of requests are held/);

  const ws = await WsTestClient.connect(server.port);
  const frame = await ws.call([
    { id: 1, op: 'put', key: Buffer.from('ws-big'), value: randomBytes(600 * 1024) },
    { id: 2, op: 'get', key: Buffer.from('first') },
  ]);
  for (const id of [1, 2]) assert.equal(frame.get(id)!.error, WireErrorCode.Busy, `op ${id} of a frame that does not fit`);

  // What fits still runs: a small PUT, a GET (no body), a small frame.
  const smallPut = fetch(url('small'), { method: 'PUT', body: small });
  const get = fetch(url('never-written'));
  const wsSmall = ws.call([{ id: 3, op: 'put', key: Buffer.from('ws-small'), value: small }]);
  await waitFor('the requests that fit held by the coordinator', () => coordinator.heldOps === 4, 10_000);
  assert.ok((await metric('ringkv_request_bytes_held')) > first.byteLength + small.byteLength, 'the small body and frame are counted too');
  assert.equal(await metric('ringkv_request_bytes_refusals_total'), 2);
  assert.equal(await metric('ringkv_ws_frames_refused_total{reason="request_bytes"}'), 1);

  coordinator.openGate();
  assert.equal((await firstPut).status, 200);
  assert.equal((await smallPut).status, 200);
  assert.equal((await get).status, 404);
  assert.equal((await wsSmall).get(3)!.status, 'ok');
  assert.equal(await metric('ringkv_request_bytes_held'), 0, 'every byte given back once answered');
  const stored = await fetch(url('first'));
  assert.ok(Buffer.from(((await stored.json()) as { value: string }).value, 'base64').equals(first));
  assert.equal((await fetch(url('second'))).status, 404, 'the refused PUT was not applied');
  assert.equal((await ws.call([{ id: 4, op: 'get', key: Buffer.from('ws-big') }])).get(4)!.status, 'not_found', 'the refused frame was not run');

  // With nothing held, the PUT refused above fits.
  assert.equal((await fetch(url('second'), { method: 'PUT', body: randomBytes(600 * 1024) })).status, 200);
  await ws.close();
});

test('a body without a Content-Length holds room for the largest; a client gone mid-body gives its room back', async () => {
  coordinator.closeGate();
  const chunked = await rawSocket();
  const answer = new Promise<string>((resolve) => chunked.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
  chunked.write('PUT /api/v1/keys/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
  await waitFor('the chunked PUT held by the coordinator', () => coordinator.heldOps === 1, 10_000);
  assert.equal(await metric('ringkv_request_bytes_held'), httpBodyBytesMax);
  coordinator.openGate();
  assert.match(await answer, /^HTTP\/1\.1 200 /);
  chunked.destroy();
  assert.equal(await metric('ringkv_request_bytes_held'), 0);

  const quitter = await rawSocket();
  quitter.write(`PUT /api/v1/keys/quitter HTTP/1.1\r\nHost: x\r\nContent-Length: ${512 * 1024}\r\n\r\n`);
  quitter.write(randomBytes(1000));
  await waitFor('the half-sent body counted', async () => (await metric('ringkv_request_bytes_held')) === 512 * 1024, 10_000);
  quitter.destroy();
  await waitFor('the half-sent body given back', async () => (await metric('ringkv_request_bytes_held')) === 0, 10_000);
  assert.equal(coordinator.heldOps, 0, 'nothing of it reached the coordinator');
  assert.equal((await fetch(url('quitter'))).status, 404);
});

test('a frame over the bound is taken when nothing is held; while it runs, a request that holds nothing (a GET) is still served', async () => {
  coordinator.closeGate();
  const ws = await WsTestClient.connect(server.port);
  const big = ws.call([
    { id: 1, op: 'put', key: Buffer.from('big-1'), value: randomBytes(700 * 1024) },
    { id: 2, op: 'put', key: Buffer.from('big-2'), value: randomBytes(700 * 1024) },
  ]);
  await waitFor('the big frame held by the coordinator', () => coordinator.heldOps === 2, 10_000);
  assert.ok((await metric('ringkv_request_bytes_held')) > heldMax, 'one frame larger than the bound is taken when nothing is held');
  const get = fetch(url('never-written'), { signal: AbortSignal.timeout(10_000) });
  await waitFor('the GET held by the coordinator', () => coordinator.heldOps === 3, 10_000);
  coordinator.openGate();
  assert.equal((await get).status, 404);
  const answers = await big;
  for (const id of [1, 2]) assert.equal(answers.get(id)!.status, 'ok');
  assert.equal(await metric('ringkv_request_bytes_held'), 0);
  await ws.close();
});

test('a chunked PUT refused for request bytes is answered busy before its body is read, and its body is not taken for the next request on the connection', async () => {
  coordinator.closeGate();
  const held = fetch(url('held'), { method: 'PUT', body: randomBytes(600 * 1024) });
  await waitFor('a PUT held by the coordinator', () => coordinator.heldOps === 1, 10_000);
  const socket = await rawSocket();
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  // The body's chunks would read as a request line if the server took them for the next request.
  const chunk = 'PUT /api/v1/keys/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx';
  socket.write(`PUT /api/v1/keys/chunked-refused HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`);
  await waitFor('the busy answer', () => received.includes('\r\n\r\n{'), 10_000);
  socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\nGET /api/v1/keys/chunked-refused HTTP/1.1\r\nHost: x\r\n\r\n`);
  coordinator.openGate();
  assert.equal((await held).status, 200);
  await waitFor('two answers on the connection', () => (received.match(/HTTP\/1\.1 /g) ?? []).length >= 2, 10_000);
  const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [503, 404], received);
  assert.match(received, /"error":"busy"/);
  socket.destroy();
  assert.equal((await fetch(url('smuggled'))).status, 404, 'nothing of the refused body ran as a request');
  assert.equal((await fetch(url('chunked-refused'))).status, 404, 'the refused PUT was not applied');
  assert.equal(await metric('ringkv_request_bytes_held'), 0);
});
