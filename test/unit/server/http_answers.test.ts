// Proves the HTTP side holds the answers of clients that do not read within bounds: the bytes
// their sockets have not taken are counted (ringkv_http_unsent_bytes), reads past
// httpUnsentBytesMax are answered 503 busy while writes go on, an answer read late arrives whole,
// a client that goes away gives its bytes back, and one that does not take its answer within
// httpAnswerSendMsMax is cut off. Real uWS sockets; raw TCP clients that stop reading. The test
// coordinator answers with more than a real one can (eight siblings of 1 MiB, about 12.6 MB of
// JSON; a real answer is at most about 2.8 MB): loopback's socket buffers take about 4 MB of an
// answer the client does not read, where a real network's take far less. Shutdown waits (within
// its grace) for answers not yet taken; writes that reach a node shutting down run nothing, are
// answered shutting_down and close their connection.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { GetRequest, GetResult } from '../../../src/coordinator/types';
import { siblingsMax } from '../../../src/constants';
import { type RunningServer, startServer } from '../../../src/server/server';
import { waitFor } from '../../helpers/cluster';
import { MemoryCoordinator } from './memory_coordinator';

/** Answers every found key with siblingsMax siblings of its whole value: bigger than any real answer (see the header). */
class SiblingsCoordinator extends MemoryCoordinator {
  override async get(req: GetRequest): Promise<GetResult> {
    const r = await super.get(req);
    if (!r.found) return r;
    return { ...r, siblings: Array.from({ length: siblingsMax }, (_, i) => ({ value: r.value, version: `${r.version}-${i}`, timestampMs: r.timestampMs })) };
  }
}

const unsentMax = 4 * 1024 * 1024;
let server: RunningServer;
let cutting: RunningServer;
const value = randomBytes(1024 * 1024);

before(async () => {
  const start = (answerSendMs: number): Promise<RunningServer> =>
    startServer({ coordinator: new SiblingsCoordinator(), port: 0, log: () => undefined, limits: { httpUnsentBytesMax: unsentMax, httpAnswerSendMsMax: answerSendMs } });
  server = await start(600_000);
  cutting = await start(300);
  for (const s of [server, cutting]) {
    const res = await fetch(`http://127.0.0.1:${s.port}/api/v1/keys/big`, { method: 'PUT', body: value });
    assert.equal(res.status, 200, await res.text());
  }
});
after(async () => {
  await server.close(100);
  await cutting.close(100);
});

async function metric(s: RunningServer, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${s.port}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\d+)$`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

interface Whole {
  status: string;
  body: { value?: string; siblings?: { value: string }[]; error?: string };
}

/** Whether a whole answer is the big value and its siblings, every byte. */
function isTheValue(a: Whole): boolean {
  const values = [a.body.value, ...(a.body.siblings ?? []).map((x) => x.value)];
  return a.status === 'HTTP/1.1 200 OK' && values.length === 1 + siblingsMax && values.every((v) => v !== undefined && Buffer.from(v, 'base64').equals(value));
}

/** A client that asks for the big value and does not read its answer until told to. */
class StalledReader {
  readonly chunks: Buffer[] = [];
  closed = false;
  private constructor(readonly socket: net.Socket) {
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<StalledReader> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.pause();
    socket.write('GET /api/v1/keys/big HTTP/1.1\r\nHost: ringkv\r\n\r\n');
    return new StalledReader(socket);
  }

  /**
   * Reads until the answer is whole or the node closes the connection: the status line and JSON
   * body of a whole answer, or how much of a cut one came.
   */
  async read(): Promise<Whole | { cutAtBytes: number; lengthBytes: number }> {
    this.socket.on('data', (c: Buffer) => this.chunks.push(c));
    this.socket.resume();
    let answer: Whole | { cutAtBytes: number; lengthBytes: number } | null = null;
    await waitFor('the whole answer or the close', () => {
      const all = Buffer.concat(this.chunks);
      const end = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, Math.max(end, 0)).toString('latin1');
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
      if (end >= 0 && all.length >= end + 4 + length) {
        answer = { status: head.split('\r\n')[0]!, body: JSON.parse(all.subarray(end + 4, end + 4 + length).toString('utf8')) as Whole['body'] };
        return true;
      }
      if (this.closed) answer = { cutAtBytes: all.length, lengthBytes: length };
      return this.closed;
    }, 10_000);
    this.socket.destroy();
    return answer!;
  }
}

test('answers a client does not read are counted; reads past the bound are busy, writes go on; read late, they arrive whole', async () => {
  const readers: StalledReader[] = [];
  // The kernel takes part of each answer into the two sockets' buffers, the rest waits in the
  // node: ask until that is over the bound (one answer is, as a rule).
  await waitFor('unsent answers over the bound', async () => {
    if ((await metric(server, 'ringkv_http_unsent_bytes')) >= unsentMax) return true;
    if (readers.length < 16) readers.push(await StalledReader.open(server.port));
    return false;
  }, 10_000);
  const busy = await fetch(`http://127.0.0.1:${server.port}/api/v1/keys/big`);
  assert.equal(busy.status, 503);
  const err = (await busy.json()) as { error: string; message: string };
  assert.equal(err.error, 'busy');
  assert.match(err.message, /read slowly/);
  const put = await fetch(`http://127.0.0.1:${server.port}/api/v1/keys/small`, { method: 'PUT', body: 'x' });
  assert.equal(put.status, 200, 'writes are not refused');
  await put.arrayBuffer();

  // One goes away without reading: its bytes are given back. The others read theirs, whole.
  const [gone, ...rest] = readers;
  const before = await metric(server, 'ringkv_http_unsent_bytes');
  gone!.socket.destroy();
  await waitFor('the bytes of the client that went away given back', async () => (await metric(server, 'ringkv_http_unsent_bytes')) < before, 10_000);
  for (const r of rest) {
    const answer = await r.read();
    assert.ok('status' in answer, `cut off at ${JSON.stringify(answer)}`);
    assert.ok(isTheValue(answer), `the answer read late is the value and its siblings, whole: ${answer.status}`);
  }
  assert.equal(await metric(server, 'ringkv_http_unsent_bytes'), 0);
  const again = await fetch(`http://127.0.0.1:${server.port}/api/v1/keys/big`);
  assert.equal(again.status, 200);
  assert.ok(Buffer.from(((await again.json()) as { value: string }).value, 'base64').equals(value));
  assert.equal(await metric(server, 'ringkv_http_connections_closed_total{reason="slow_reader"}'), 0, 'nobody was cut off here');
});

test('an answer not taken within httpAnswerSendMsMax has its connection closed, and its bytes given back', async () => {
  const cut = 'ringkv_http_connections_closed_total{reason="slow_reader"}';
  const readers: StalledReader[] = [];
  // The kernel may take a whole answer (loopback's buffers grow up to tens of MB): ask until one waits.
  await waitFor('a slow reader cut off', async () => {
    if ((await metric(cutting, cut)) >= 1) return true;
    if (readers.length < 8) readers.push(await StalledReader.open(cutting.port));
    return false;
  }, 10_000);
  await waitFor('no answer left waiting', async () => (await metric(cutting, 'ringkv_http_unsent_bytes')) === 0, 10_000);
  // Each client cut off gets the part that was sent, then the close; the others get it whole.
  let cutOff = 0;
  for (const r of readers) {
    const answer = await r.read();
    if ('status' in answer) {
      // Asked while the first one waited: busy, as the bound says.
      assert.ok(isTheValue(answer) || (answer.status.startsWith('HTTP/1.1 503') && answer.body.error === 'busy'), answer.status);
      continue;
    }
    assert.ok(answer.lengthBytes > 12_000_000 && answer.cutAtBytes < answer.lengthBytes, JSON.stringify(answer));
    cutOff++;
  }
  assert.equal(cutOff, await metric(cutting, cut), 'every connection counted as cut off was, and only those');
  const res = await fetch(`http://127.0.0.1:${cutting.port}/api/v1/keys/big`);
  assert.equal(res.status, 200, 'the node serves others');
  await res.arrayBuffer();
});

test('shutdown waits for an answer its client has not taken yet, within the grace, and the client gets it whole', async () => {
  const own = await startServer({ coordinator: new SiblingsCoordinator(), port: 0, log: () => undefined, limits: { httpUnsentBytesMax: unsentMax } });
  const readers: StalledReader[] = [];
  try {
    assert.equal((await fetch(`http://127.0.0.1:${own.port}/api/v1/keys/big`, { method: 'PUT', body: value })).status, 200);
    await waitFor('an answer waiting in the node', async () => {
      if ((await metric(own, 'ringkv_http_unsent_bytes')) > 0) return true;
      if (readers.length < 16) readers.push(await StalledReader.open(own.port));
      return false;
    }, 10_000);
    let closed = false;
    const closing = own.close(20_000).then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(closed, false, 'close() waited for the answer not yet taken');
    for (const r of readers) {
      const answer = await r.read();
      assert.ok('status' in answer && isTheValue(answer), `cut off: ${JSON.stringify('status' in answer ? answer.status : answer)}`);
    }
    await closing;
    assert.equal(closed, true);
  } finally {
    for (const r of readers) r.socket.destroy();
    await own.close(100);
  }
});

test('writes refused while the node shuts down are answered shutting_down, run nothing, and close their connection', async () => {
  const coordinator = new MemoryCoordinator();
  const own = await startServer({ coordinator, port: 0, log: () => undefined });
  const connect = async (): Promise<{ sock: net.Socket; text: () => string; closed: Promise<void> }> => {
    const sock = net.connect({ host: '127.0.0.1', port: own.port });
    sock.on('error', () => undefined);
    let text = '';
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
    await new Promise((r) => sock.once('connect', r));
    return { sock, text: () => text, closed };
  };
  const holder = await connect();
  const writer = await connect();
  try {
    // The writer's connection is open before the shutdown (keep-alive), as a client's pool is.
    writer.sock.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('the health answer', () => /\r\n\r\n\{"status":"ok"/.test(writer.text()), 5000);
    // One request held on another connection, so the shutdown waits for it.
    coordinator.closeGate();
    holder.sock.write('GET /api/v1/keys/held HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('the held request', async () => (await metric(own, 'ringkv_http_inflight_requests')) >= 1, 5000);
    const closing = own.close(5000);
    writer.sock.write('PUT /api/v1/keys/late HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPUT /api/v1/keys/behind HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nv');
    await Promise.race([writer.closed, new Promise((r) => setTimeout(r, 5000))]);
    assert.ok(writer.sock.readableEnded || writer.sock.destroyed, `the node closed the connection: ${JSON.stringify(writer.text())}`);
    assert.match(writer.text(), /HTTP\/1\.1 503 Service Unavailable\r\n[^]*"error":"shutting_down"/);
    coordinator.openGate();
    await closing;
    const ran = await Promise.all(['late', 'behind'].map((k) => coordinator.get({ key: new Uint8Array(Buffer.from(k)), consistency: 'ONE' }).then((r) => r.found)));
    assert.deepEqual(ran, [false, false], `neither write ran: ${JSON.stringify(writer.text())}`);
  } finally {
    coordinator.openGate();
    holder.sock.destroy();
    writer.sock.destroy();
    await own.close(100);
  }
});
