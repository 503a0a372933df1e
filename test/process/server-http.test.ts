// Proves the HTTP API of a real `ringkv start` process over real sockets: every status code the
// API promises (200, 400, 404, 405, 409, 413, 414), keys of any bytes, TTL, conditional writes,
// the admin endpoints, that no bad request stops the node (random requests among them), and that
// the node refuses to run on the uWebSockets.js pure-Node fallback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { keyBytesMax, valueBytesMax } from '../../src/constants';
import { lintExposition } from '../helpers/prometheus_lint';
import { mulberry32, testSeed } from '../helpers/prng';
import { killAll, type NodeProcess, runCli, startNode, tempDir } from './server-harness';

let node: NodeProcess;
let dir: string;
const keyUrl = (encodedKey: string): string => `${node.url}/api/v1/keys/${encodedKey}`;

before(async () => {
  dir = tempDir('http');
  node = await startNode(dir);
});
after(async () => {
  await node?.stop();
  await killAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function json(res: Response): Promise<Record<string, unknown>> {
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

test('PUT, GET and DELETE answer 200 with the design.md fields', async () => {
  const put = await fetch(keyUrl('user%3A12345%3Aprofile'), { method: 'PUT', body: 'hello', headers: { 'Content-Type': 'application/octet-stream', 'X-Consistency-Level': 'QUORUM' } });
  assert.equal(put.status, 200);
  const p = await json(put);
  assert.equal(p['key'], 'user:12345:profile');
  assert.equal(p['status'], 'ok');
  assert.equal(typeof p['version'], 'string');
  assert.equal(typeof p['timestamp'], 'number');

  const get = await fetch(keyUrl('user:12345:profile'), { headers: { 'X-Consistency-Level': 'ONE' } });
  assert.equal(get.status, 200);
  const g = await json(get);
  assert.equal(Buffer.from(g['value'] as string, 'base64').toString(), 'hello');
  assert.equal(g['version'], p['version']);
  assert.equal(g['timestamp'], p['timestamp']);
  assert.equal(typeof g['context'], 'string');

  const del = await fetch(keyUrl('user:12345:profile'), { method: 'DELETE', headers: { 'X-Consistency-Level': 'ALL' } });
  assert.equal(del.status, 200);
  const d = await json(del);
  assert.equal(d['status'], 'deleted');
  assert.ok((d['tombstone_expiry'] as number) > Date.now());
  assert.equal(typeof d['version'], 'string');

  const gone = await fetch(keyUrl('user:12345:profile'));
  assert.equal(gone.status, 404);
  assert.deepEqual(await json(gone), { error: 'not_found', key: 'user:12345:profile', message: 'key not found' });
});

test('keys may hold /, %, spaces and non-UTF-8 bytes; decoded once', async () => {
  const cases: [string, string | null][] = [
    ['a%2Fb/c', 'a/b/c'],
    ['100%25', '100%'],
    ['%2541', '%41'],
    ['with%20space', 'with space'],
    ['%FF%FE%00', null],
  ];
  for (const [enc, text] of cases) {
    const value = `value of ${enc}`;
    assert.equal((await fetch(keyUrl(enc), { method: 'PUT', body: value })).status, 200, enc);
    const g = await json(await fetch(keyUrl(enc)));
    assert.equal(Buffer.from(g['value'] as string, 'base64').toString(), value, enc);
    if (text !== null) assert.equal(g['key'], text);
    else {
      assert.equal(g['key_encoding'], 'base64');
      assert.deepEqual([...Buffer.from(g['key'] as string, 'base64')], [0xff, 0xfe, 0x00]);
    }
  }
  // '%41' (decoded from %2541) and 'A' are different keys.
  assert.equal((await fetch(keyUrl('A'))).status, 404);
});

test('key and value limits: 256-byte key ok, 257 is 414, empty is 400, 1 MiB ok, over is 413', async () => {
  assert.equal((await fetch(keyUrl('k'.repeat(keyBytesMax)), { method: 'PUT', body: 'x' })).status, 200);
  const long = await fetch(keyUrl('k'.repeat(keyBytesMax + 1)), { method: 'PUT', body: 'x' });
  assert.equal(long.status, 414);
  assert.equal((await json(long))['error'], 'key_too_large');
  assert.equal((await fetch(keyUrl('k'.repeat(keyBytesMax + 1)))).status, 414);
  const empty = await fetch(keyUrl(''), { method: 'PUT', body: 'x' });
  assert.equal(empty.status, 400);

  const max = new Uint8Array(valueBytesMax).fill(1);
  assert.equal((await fetch(keyUrl('big'), { method: 'PUT', body: max })).status, 200);
  const over = await fetch(keyUrl('big2'), { method: 'PUT', body: new Uint8Array(valueBytesMax + 1) });
  assert.equal(over.status, 413);
  const o = await json(over);
  assert.equal(o['error'], 'value_too_large');
  assert.equal(typeof o['message'], 'string');
  assert.equal((await fetch(keyUrl('big2'))).status, 404, 'the refused value was not stored');
});

test('an oversized chunked body (no Content-Length) is refused with 413 while streaming', async () => {
  // A raw socket: Node's http client reports EPIPE instead of the answer when the server closes
  // the connection mid-upload, which is exactly what the node does here.
  const answer = await new Promise<string>((resolve) => {
    const sock = net.connect(node.port, '127.0.0.1');
    let got = '';
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      // Done once the JSON answer is in; no half-close from this side (uWS closes on FIN).
      if (/\r\n\r\n[\s\S]*\}/.test(got)) sock.destroy();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => resolve(got));
    sock.write('PUT /api/v1/keys/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(64 * 1024, 2);
    let sent = 0;
    const pump = (): void => {
      // Up to 4 MiB, far past the limit; the node answers and closes long before.
      while (sent < 4 * 1024 * 1024 && !sock.destroyed) {
        sent += chunk.length;
        sock.write(`${chunk.length.toString(16)}\r\n`);
        sock.write(chunk);
        if (!sock.write('\r\n')) {
          sock.once('drain', pump);
          return;
        }
      }
      if (!sock.destroyed) sock.write('0\r\n\r\n');
    };
    pump();
    setTimeout(() => sock.destroy(), 15_000);
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
  assert.equal(status, 413);
  assert.equal((await fetch(keyUrl('chunked'))).status, 404);
});

test('bad consistency level, bad TTL and bad X-Timeout-Ms are 400 with {error, message}', async () => {
  const bad = await fetch(keyUrl('k1'), { method: 'PUT', body: 'x', headers: { 'X-Consistency-Level': 'TWO' } });
  assert.equal(bad.status, 400);
  const b = await json(bad);
  assert.equal(b['error'], 'invalid_argument');
  assert.match(b['message'] as string, /X-Consistency-Level/);
  assert.equal((await fetch(keyUrl('k1'), { headers: { 'X-Consistency-Level': 'most' } })).status, 400);
  for (const ttl of ['0', '-5', '1.5', 'tomorrow', '999999999999']) {
    const r = await fetch(keyUrl('k1'), { method: 'PUT', body: 'x', headers: { 'X-TTL': ttl } });
    assert.equal(r.status, 400, `X-TTL: ${ttl}`);
    assert.match((await json(r))['message'] as string, /X-TTL/);
  }
  for (const [method, timeout] of [['PUT', '0'], ['DELETE', '-1'], ['GET', '2.5'], ['PUT', 'soon']] as const) {
    const r = await fetch(keyUrl('k1'), { method, ...(method === 'PUT' && { body: 'x' }), headers: { 'X-Timeout-Ms': timeout } });
    assert.equal(r.status, 400, `${method} X-Timeout-Ms: ${timeout}`);
    assert.match((await json(r))['message'] as string, /X-Timeout-Ms/);
  }
  assert.equal((await fetch(keyUrl('k1'))).status, 404, 'refused writes stored nothing');
  // A client time well within reach changes nothing else.
  assert.equal((await fetch(keyUrl('k1'), { method: 'PUT', body: 'x', headers: { 'X-Timeout-Ms': '2000' } })).status, 200);
  assert.equal((await fetch(keyUrl('k1'), { headers: { 'X-Timeout-Ms': '2000' } })).status, 200);
  assert.equal((await fetch(keyUrl('k1'), { method: 'DELETE', headers: { 'X-Timeout-Ms': '2000' } })).status, 200);
});

test('a value written with X-TTL expires', async () => {
  assert.equal((await fetch(keyUrl('ttl'), { method: 'PUT', body: 'x', headers: { 'X-TTL': '1' } })).status, 200);
  assert.equal((await fetch(keyUrl('ttl'))).status, 200);
  await new Promise((r) => setTimeout(r, 2200));
  assert.equal((await fetch(keyUrl('ttl'))).status, 404);
});

test('If-Match: the current version writes, a stale one is 409 with current_version', async () => {
  const v1 = (await json(await fetch(keyUrl('cas'), { method: 'PUT', body: 'one' })))['version'] as string;
  const ok = await fetch(keyUrl('cas'), { method: 'PUT', body: 'two', headers: { 'If-Match': v1 } });
  assert.equal(ok.status, 200);
  const v2 = (await json(ok))['version'] as string;
  const stale = await fetch(keyUrl('cas'), { method: 'PUT', body: 'three', headers: { 'If-Match': v1 } });
  assert.equal(stale.status, 409);
  const s = await json(stale);
  assert.equal(s['error'], 'conflict');
  assert.equal(s['current_version'], v2);
  assert.equal(typeof s['message'], 'string');
  const staleDel = await fetch(keyUrl('cas'), { method: 'DELETE', headers: { 'If-Match': `"${v1}"` } });
  assert.equal(staleDel.status, 409);
  // Not a version string at all: the client's mistake, told as such, not a lost race.
  for (const bad of ['*', 'W/"x"', 'v2', `${v2}x`.replace(/_/g, '-'), 'v0_1_n1']) {
    const r = await fetch(keyUrl('cas'), { method: 'PUT', body: 'four', headers: { 'If-Match': bad } });
    assert.equal(r.status, 400, bad);
    const e = await json(r);
    assert.equal(e['error'], 'invalid_argument', bad);
    assert.match(e['message'] as string, /not a version string/, bad);
  }
  const g = await json(await fetch(keyUrl('cas')));
  assert.equal(Buffer.from(g['value'] as string, 'base64').toString(), 'two');
});

test("admin replica read: the node's own copy, every version kept (tombstones and TTLs shown), the key decoded as in /keys/", async () => {
  const replicaUrl = (encodedKey: string): string => `${node.url}/api/v1/admin/replica/${encodedKey}`;
  assert.equal((await fetch(keyUrl('rep%2Fa%FF'), { method: 'PUT', body: 'one', headers: { 'X-TTL': '3600' } })).status, 200);
  const live = await fetch(replicaUrl('rep%2Fa%FF'));
  assert.equal(live.status, 200);
  const l = await json(live);
  assert.equal(l['key'], Buffer.from('rep/a\xff', 'latin1').toString('base64'));
  assert.equal(l['key_encoding'], 'base64');
  assert.equal(typeof l['node_id'], 'string');
  assert.deepEqual(l['replicas'], [l['node_id']]);
  const [v] = l['versions'] as Array<Record<string, unknown>>;
  assert.equal(Buffer.from(v!['value'] as string, 'base64').toString(), 'one');
  assert.equal(v!['tombstone'], false);
  assert.ok(Math.abs((v!['expires_at'] as number) - (v!['timestamp'] as number) - 3600_000) < 2000, JSON.stringify(v));
  assert.match(v!['version'] as string, /^v\d+_\d+_/);

  assert.equal((await fetch(keyUrl('rep%2Fa%FF'), { method: 'DELETE' })).status, 200);
  const gone = await json(await fetch(replicaUrl('rep%2Fa%FF')));
  assert.deepEqual(
    (gone['versions'] as Array<Record<string, unknown>>).map((x) => [x['tombstone'], x['value'], x['expires_at']]),
    [[true, '', undefined]],
    'a delete leaves a tombstone, shown',
  );
  assert.deepEqual((await json(await fetch(replicaUrl('never-written'))))['versions'], []);
  assert.equal((await fetch(replicaUrl('%zz'))).status, 400);
  assert.equal((await fetch(replicaUrl('k'.repeat(keyBytesMax + 1)))).status, 414);
  assert.equal((await fetch(replicaUrl('k'), { method: 'PUT', body: 'x' })).status, 405);

  // `ringkv replica` prints the same for people, and the node's JSON with --json.
  assert.equal((await fetch(keyUrl('cli%20key'), { method: 'PUT', body: 'abc' })).status, 200);
  const cli = await runCli(['replica', 'cli key', '--node', `127.0.0.1:${node.port}`]);
  assert.equal(cli.code, 0, cli.stderr);
  const [head, line, ...rest] = cli.stdout.trimEnd().split('\n');
  assert.equal(head, `replica: 1 version here; the key's replicas: ${l['node_id']}`);
  assert.match(line!, /^ {2}v\d+_\d+_\S+ {2}3 B, written \d{4}-\d\d-\d\dT/);
  assert.deepEqual(rest, []);
  const asJson = await runCli(['replica', 'cli key', '--json', '--node', `127.0.0.1:${node.port}`]);
  assert.equal((JSON.parse(asJson.stdout) as { versions: unknown[] }).versions.length, 1);
  const none = await runCli(['replica', 'never written', '--node', `127.0.0.1:${node.port}`]);
  assert.equal(none.stdout.trimEnd(), `replica: no version here; the key's replicas: ${l['node_id']}`);
});

test('the context a GET returns is accepted back as X-Context', async () => {
  await fetch(keyUrl('ctx'), { method: 'PUT', body: 'a' });
  const g = await json(await fetch(keyUrl('ctx')));
  const put = await fetch(keyUrl('ctx'), { method: 'PUT', body: 'b', headers: { 'X-Context': g['context'] as string } });
  assert.equal(put.status, 200);
  const g2 = await json(await fetch(keyUrl('ctx')));
  assert.equal(Buffer.from(g2['value'] as string, 'base64').toString(), 'b');
  assert.equal(g2['siblings'], undefined, 'a write carrying the context supersedes, no siblings');
  assert.equal((await fetch(keyUrl('ctx'), { method: 'PUT', body: 'c', headers: { 'X-Context': '!!' } })).status, 400);
});

/** One of /metrics' per-thread memory gauges (ringkv_heap_used_bytes{thread="main"} and its kin). */
function memoryGauge(text: string, family: 'heap_used' | 'heap_total' | 'external_memory', thread: string): number {
  const m = new RegExp(`^ringkv_${family}_bytes\\{thread="${thread}"\\} (\\d+)$`, 'm').exec(text);
  assert.ok(m !== null, `ringkv_${family}_bytes{thread="${thread}"} in /metrics`);
  return Number(m[1]);
}

/** Sends each request on one connection, waiting for each answer (headers and a JSON body if any), and returns them. */
async function oneConnection(requests: Array<string | Buffer>): Promise<string[]> {
  const sock = net.createConnection({ host: '127.0.0.1', port: node.port });
  let got = '';
  sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const answers: string[] = [];
  try {
    for (const r of requests) {
      got = '';
      sock.write(r);
      const deadline = Date.now() + 5000;
      const complete = (): boolean => {
        const end = got.indexOf('\r\n\r\n');
        if (end < 0) return false;
        const length = /\r\ncontent-length: (\d+)/i.exec(got.slice(0, end));
        return (typeof r === 'string' ? r : r.toString('latin1', 0, 4)).startsWith('HEAD') || (length !== null && got.length - end - 4 >= Number(length[1]));
      };
      while (!complete() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
      // Anything past one answer (a body after HEAD) shows up at the start of the next one.
      await new Promise((res) => setTimeout(res, 20));
      answers.push(got);
    }
  } finally {
    sock.destroy();
  }
  return answers;
}

test('HEAD answers as GET does, without the body, and the connection carries on', async () => {
  assert.equal((await fetch(keyUrl('head-me'), { method: 'PUT', body: 'some value' })).status, 200);
  const getBodyBytes = Buffer.byteLength(await (await fetch(keyUrl('head-me'))).text());
  const head = await fetch(keyUrl('head-me'), { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.match(head.headers.get('content-type') ?? '', /application\/json/);
  assert.equal(Number(head.headers.get('content-length')), getBodyBytes);
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  assert.equal((await fetch(keyUrl('head-missing'), { method: 'HEAD' })).status, 404);
  assert.equal((await fetch(`${node.url}/health`, { method: 'HEAD' })).status, 200);
  // HEAD is not a write or an admin call: 405 where GET is not allowed.
  assert.equal((await fetch(`${node.url}/api/v1/admin/repair`, { method: 'HEAD' })).status, 405);
  // On one connection: HEAD, GET, HEAD of a 405 (answered without waiting), GET. Each answer
  // must start where the last one ended: a body sent after HEAD would run into the next answer.
  const req = (method: string, p: string): string => `${method} ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const answers = await oneConnection([req('HEAD', '/api/v1/keys/head-me'), req('GET', '/api/v1/keys/head-me'), req('HEAD', '/api/v1/admin/repair'), req('GET', '/api/v1/keys/head-me')]);
  assert.match(answers[0]!, new RegExp(`^HTTP/1\\.1 200 OK\r\n[^]*content-length: ${getBodyBytes}\r\n[^]*\r\n\r\n$`, 'i'));
  assert.match(answers[2]!, /^HTTP\/1\.1 405 Method Not Allowed\r\n[^]*\r\n\r\n$/);
  for (const a of [answers[1]!, answers[3]!]) {
    assert.match(a, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(Buffer.from((JSON.parse(a.slice(a.indexOf('\r\n\r\n') + 4)) as { value: string }).value, 'base64').toString(), 'some value');
  }
});

test('pipelined requests close their connection (uWS does not pipeline async answers) and the node carries on', async () => {
  const sock = net.createConnection({ host: '127.0.0.1', port: node.port });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.on('data', () => undefined);
  const get = 'GET /api/v1/keys/pipelined HTTP/1.1\r\nHost: x\r\n\r\n';
  sock.write(get + get + 'PUT /api/v1/keys/pipelined HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx' + get);
  const timer = setTimeout(() => sock.destroy(new Error('the node kept a pipelining connection open')), 5000);
  await closed;
  clearTimeout(timer);
  assert.equal(sock.errored, null);
  assert.equal((await fetch(`${node.url}/health`)).status, 200);
});

/** Sends `raw` on a connection of its own and returns what came back once the node closed it (a 5 s fail-safe destroys it otherwise). */
async function untilClosed(raw: string): Promise<{ text: string; closedByNode: boolean }> {
  const sock = net.createConnection({ host: '127.0.0.1', port: node.port });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  let text = '';
  let closedByNode = true;
  sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.write(raw);
  const timer = setTimeout(() => {
    closedByNode = false;
    sock.destroy();
  }, 5000);
  await closed;
  clearTimeout(timer);
  return { text, closedByNode };
}

test('a header ringkv reads, sent twice, is 400 and nothing is written; Content-Length twice with two values also closes the connection', async () => {
  const put = (key: string, headers: string, body: string): string => `PUT /api/v1/keys/${key} HTTP/1.1\r\nHost: x\r\n${headers}\r\n${body}`;
  const cases: Array<[string, string]> = [
    ['twice-ttl', 'X-TTL: 5\r\nX-TTL: 100\r\nContent-Length: 1\r\n'],
    ['twice-level', 'X-Consistency-Level: ONE\r\nx-consistency-level: ALL\r\nContent-Length: 1\r\n'],
    ['twice-if-match', 'If-Match: v1_1_a\r\nIf-Match: v2_2_b\r\nContent-Length: 1\r\n'],
  ];
  const answers = await oneConnection(cases.map(([key, headers]) => put(key, headers, 'v')));
  for (const [i, [key]] of cases.entries()) {
    const a = answers[i]!;
    assert.match(a, /^HTTP\/1\.1 400 Bad Request\r\n/, key);
    const body = JSON.parse(a.slice(a.indexOf('\r\n\r\n') + 4)) as Record<string, string>;
    assert.equal(body['error'], 'invalid_argument');
    assert.match(body['message']!, /header appears more than once/);
    assert.equal((await fetch(keyUrl(key))).status, 404, `${key} not written`);
  }
  const get = await oneConnection(['GET /api/v1/keys/twice-ttl HTTP/1.1\r\nHost: x\r\nX-Timeout-Ms: 100\r\nX-Timeout-Ms: 200\r\n\r\n']);
  assert.match(get[0]!, /^HTTP\/1\.1 400 Bad Request\r\n[^]*x-timeout-ms header appears more than once/);
  // Two Content-Lengths with two values: where the body ends is unknown (uWS would read the
  // first and parse the rest as a request of its own), so the answer closes the connection.
  const lengths = await untilClosed(put('two-lengths', 'Content-Length: 3\r\nContent-Length: 5\r\n', 'abcde'));
  assert.ok(lengths.closedByNode, 'the node closed the connection');
  assert.match(lengths.text, /^HTTP\/1\.1 400 Bad Request\r\n[^]*Content-Length appears more than once with different values/);
  assert.equal((await fetch(keyUrl('two-lengths'))).status, 404);
  // Every route: an admin call (a snapshot), health, an unknown route, a key. With nothing
  // behind it, the answer says why; with a request behind it (the rest of the body by the other
  // length, as a proxy taking that one would send), that request is never run or answered.
  for (const [method, target] of [['POST', '/api/v1/admin/snapshot'], ['GET', '/health'], ['GET', '/nope'], ['PUT', '/api/v1/keys/two-lengths-piped']]) {
    const lone = await untilClosed(`${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}`);
    assert.ok(lone.closedByNode, `${target}: the node closed the connection`);
    assert.match(lone.text, /^HTTP\/1\.1 400 Bad Request\r\n[^]*Content-Length appears more than once with different values/, target);
    const piped = await untilClosed(`${method} ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 70\r\n\r\n{}PUT /api/v1/keys/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nv`);
    assert.ok(piped.closedByNode, `${target}: the node closed the connection`);
    assert.ok((piped.text.match(/HTTP\/1\.1 /g)?.length ?? 0) <= 1, `${target}: nothing behind it answered: ${JSON.stringify(piped.text)}`);
    assert.equal((await fetch(keyUrl('smuggled'))).status, 404, `${target}: the request behind it was not run`);
  }
  // The same length twice is one length.
  const same = await oneConnection([put('same-lengths', 'Content-Length: 3\r\nContent-Length: 3\r\n', 'abc')]);
  assert.match(same[0]!, /^HTTP\/1\.1 200 OK\r\n/);
  assert.equal(await (await fetch(keyUrl('same-lengths'))).json().then((b) => Buffer.from((b as { value: string }).value, 'base64').toString()), 'abc');
});

test('unknown routes are 404 and wrong methods 405, both JSON', async () => {
  const nf = await fetch(`${node.url}/nope`);
  assert.equal(nf.status, 404);
  assert.equal((await json(nf))['error'], 'not_found');
  const post = await fetch(keyUrl('k'), { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD, PUT, DELETE');
  assert.equal((await json(post))['error'], 'method_not_allowed');
  assert.equal((await fetch(`${node.url}/health`, { method: 'DELETE' })).status, 405);
});

test('health, cluster status and metrics', async () => {
  const h = await json(await fetch(`${node.url}/health`));
  assert.equal(h['status'], 'ok');
  const cs = await json(await fetch(`${node.url}/api/v1/cluster/status`));
  assert.ok(Array.isArray(cs['nodes']) && (cs['nodes'] as unknown[]).length === 1);
  assert.equal(typeof cs['ring_version'], 'number');
  // The writes above are in its WAL at least: the node reports the bytes it holds.
  assert.ok(((cs['nodes'] as Array<{ data_bytes?: number }>)[0]!.data_bytes ?? 0) > 0, JSON.stringify(cs['nodes']));
  const m = await fetch(`${node.url}/metrics`);
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
  const text = await m.text();
  // Well formed as Prometheus reads it: every family with its HELP and TYPE, counters as _total,
  // every number the coordinator reports described (metric_catalog.ts).
  assert.deepEqual(lintExposition(text), []);
  assert.match(text, /^# TYPE ringkv_write_stalls_total counter$/m);
  assert.match(text, /^ringkv_requests_total\{transport="http",op="put",consistency="QUORUM",outcome="ok"\} \d+$/m);
  assert.match(text, /^ringkv_request_duration_seconds_bucket\{transport="http",op="get",consistency="ONE",le="\+Inf"\} \d+$/m);
  assert.match(text, /^ringkv_wal_syncs_total \d+$/m);
  // The refusals of the tests above, by the error each was answered with; for each op they add up
  // to its requests whose outcome was an error.
  const errorsOf = (op: string, error: string): number => Number(new RegExp(`^ringkv_request_errors_total\\{transport="http",op="${op}",error="${error}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  assert.ok(errorsOf('put', 'conflict') >= 1 && errorsOf('delete', 'conflict') >= 1, 'the 409s');
  assert.ok(errorsOf('put', 'invalid_argument') >= 1 && errorsOf('put', 'value_too_large') >= 1 && errorsOf('put', 'key_too_large') >= 1, 'the 400, 413 and 414');
  for (const op of ['put', 'get', 'delete']) {
    const sum = (re: RegExp): number => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
    const errors = sum(new RegExp(`^ringkv_request_errors_total\\{transport="http",op="${op}",error="[a-z_]+"\\} (\\d+)$`, 'gm'));
    const failed = sum(new RegExp(`^ringkv_requests_total\\{transport="http",op="${op}",consistency="[A-Za-z_]+",outcome="error"\\} (\\d+)$`, 'gm'));
    assert.equal(errors, failed, op);
  }
  // The node took PUTs in sync mode batch above: every WAL sync is in the duration histogram.
  const syncs = Number(/^ringkv_wal_syncs_total (\d+)$/m.exec(text)?.[1]);
  assert.ok(syncs > 0);
  assert.match(text, new RegExp(`^ringkv_wal_sync_duration_seconds_bucket\\{le="\\+Inf"\\} ${syncs}$`, 'm'));
  assert.match(text, new RegExp(`^ringkv_wal_sync_duration_seconds_count ${syncs}$`, 'm'));
  // Every batch the shards took counts once in each of its stages on the way (writes in sync
  // too), and in to_main once per answer (a single node answers no batch early).
  const lane = (stage: string): number => Number(new RegExp(`^ringkv_shard_lane_duration_seconds_count\\{stage="${stage}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  const batches = Number(/^ringkv_shard_batches_total (\d+)$/m.exec(text)?.[1]);
  assert.ok(batches > 0);
  for (const stage of ['queue', 'to_worker', 'apply', 'to_main']) assert.equal(lane(stage), batches, stage);
  assert.ok(lane('sync') > 0 && lane('sync') < batches, `sync ${lane('sync')} of ${batches} batches (the reads have none)`);
  // The event loops of the main thread and of the shard threads are sampled from their start.
  for (const thread of ['main', 'shard']) {
    const samples = Number(new RegExp(`^ringkv_event_loop_delay_seconds_count\\{thread="${thread}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
    assert.ok(samples > 0, `${thread} event loop samples: ${samples}`);
  }
  // GC pauses of the main thread and of the shard threads (counted from each thread's start).
  assert.match(text, /^ringkv_gc_duration_seconds_count\{thread="main",kind="minor"\} \d+$/m);
  assert.match(text, /^ringkv_gc_duration_seconds_count\{thread="shard",kind="major"\} \d+$/m);
  assert.match(text, /^ringkv_memtable_bytes \d+$/m);
  assert.match(text, /^ringkv_sstables\{level="0"\} \d+$/m);
  assert.match(text, /^ringkv_compaction_backlog_bytes \d+$/m);
  // The process's memory: a live node's resident set is tens of MiB at least; the main and shard
  // threads' heaps are in use and inside it, each used part within its committed heap.
  const rss = Number(/^ringkv_process_resident_memory_bytes (\d+)$/m.exec(text)?.[1]);
  assert.ok(rss > 16 * 1024 * 1024, `rss ${rss}`);
  for (const thread of ['main', 'shard']) {
    const used = memoryGauge(text, 'heap_used', thread);
    const total = memoryGauge(text, 'heap_total', thread);
    assert.ok(used > 0 && used <= total && total < rss, `${thread}: heap used ${used}, committed ${total}, rss ${rss}`);
  }
  // The shards' memtables are arenas outside the heap: the shard threads account for them.
  assert.ok(memoryGauge(text, 'external_memory', 'shard') >= Number(/^ringkv_memtable_bytes (\d+)$/m.exec(text)?.[1]));
  // The data dir's file system (design.md §11 alerts on disk use): its size as statfs gives it,
  // and free space within it.
  const fsSize = Number(/^ringkv_filesystem_size_bytes (\d+)$/m.exec(text)?.[1]);
  const fsFree = Number(/^ringkv_filesystem_free_bytes (\d+)$/m.exec(text)?.[1]);
  const st = fs.statfsSync(dir);
  assert.equal(fsSize, st.blocks * st.bsize);
  assert.ok(fsFree > 0 && fsFree <= fsSize, `free ${fsFree} of ${fsSize}`);
});

test('admin flush then scrub on a single node: the data written above is in tables, and every table checks out', async () => {
  const flushed = await fetch(`${node.url}/api/v1/admin/flush`, { method: 'POST' });
  assert.equal(flushed.status, 200);
  assert.equal((await json(flushed))['status'], 'flushed');
  const before = await (await fetch(`${node.url}/metrics`)).text();
  const tables = [...before.matchAll(/^ringkv_sstables\{level="\d+"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  assert.ok(tables > 0, 'the flush wrote tables');
  // The flush ran on the shards' storage background threads, which said what they hold as it ended.
  const bgUsed = memoryGauge(before, 'heap_used', 'background');
  assert.ok(bgUsed > 0 && bgUsed <= memoryGauge(before, 'heap_total', 'background'), `background heap used ${bgUsed}`);
  // The flushed memtables' arena chunks wait in the pool for the next ones; each flush opened its
  // table and put its blocks into the block cache. All of it is the shard threads' memory.
  const gauge = (name: string): number => Number(new RegExp(`^ringkv_${name} (\\d+)$`, 'm').exec(before)?.[1]);
  const parts = ['memtable_bytes', 'memtable_arena_free_bytes', 'block_cache_bytes', 'sstable_index_filter_bytes'].map(gauge);
  assert.ok(parts.slice(1).every((b) => b > 0), `memtable, free arena, block cache, index and filter bytes: ${parts.join(', ')}`);
  const shardOffHeap = memoryGauge(before, 'external_memory', 'shard');
  assert.ok(shardOffHeap >= parts.reduce((a, b) => a + b, 0), `shard threads' ArrayBuffers ${shardOffHeap} bytes, the parts ${parts.join(' + ')}`);
  const r = await fetch(`${node.url}/api/v1/admin/scrub`, { method: 'POST' });
  assert.equal(r.status, 200);
  const b = await json(r);
  assert.equal(b['tables'], tables);
  assert.ok((b['entries'] as number) > 0 && (b['bytes_read'] as number) > 0);
  assert.deepEqual([b['quarantined'], b['corrupt'], b['cut_short'], b['repair']], [[], [], false, null]);
  assert.equal((await fetch(`${node.url}/api/v1/admin/scrub`)).status, 405);
  for (const [body, message] of [['{"salvage": "yes"}', /salvage must be true or false/], ['nope', /not JSON/], ['[1]', /JSON object/]] as const) {
    const bad = await fetch(`${node.url}/api/v1/admin/scrub`, { method: 'POST', body });
    assert.equal(bad.status, 400, body);
    assert.match(String((await json(bad))['message']), message);
  }
  const salvage = await fetch(`${node.url}/api/v1/admin/scrub`, { method: 'POST', body: '{"salvage": true}' });
  assert.equal(salvage.status, 200);
  assert.deepEqual((await json(salvage))['quarantined'], [], 'nothing to salvage in sound tables');
});

test('cleanup on a single node is refused: it replicates every key', async () => {
  const r = await fetch(`${node.url}/api/v1/admin/cleanup`, { method: 'POST' });
  assert.equal(r.status, 400);
  assert.match(String((await json(r))['message']), /a single node replicates every key; cleanup is for cluster nodes/);
  assert.equal((await fetch(`${node.url}/api/v1/admin/cleanup`)).status, 405);
});

test('requests with random methods, paths, headers and bodies are each answered: under 500, errors as JSON, the node still serving', async () => {
  const seed = testSeed();
  const random = mulberry32(seed);
  const below = (n: number): number => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[below(xs.length)]!;
  const randomKey = (): string =>
    pick([
      'fuzz',
      'a%2Fb',
      '%ff%fe',
      '%',
      '%zz',
      '',
      'a/b/c',
      '%00',
      'x'.repeat(below(300)),
      Array.from({ length: below(30) }, () => `%${below(256).toString(16).padStart(2, '0')}`).join(''),
    ]);
  for (let i = 0; i < 200; i++) {
    const method = pick(['GET', 'PUT', 'DELETE', 'HEAD', 'POST', 'PATCH', 'OPTIONS', 'PUT', 'GET']);
    const path = pick([`/api/v1/keys/${randomKey()}`, `/api/v1/keys/${randomKey()}`, '/api/v1/keys', '/api/v1/keys/', '/health', '/metrics', '/api/v1/cluster/status', `/api/v1/admin/replica/${randomKey()}`, `/${randomKey()}`, `/api/v1/keys/${randomKey()}?q=${below(9)}`]);
    const headers: string[] = [];
    if (random() < 0.5) headers.push(`X-Consistency-Level: ${pick(['ONE', 'QUORUM', 'ALL', 'one', '', 'LOCAL_QUORUM', 'EACH_QUORUM', 'LOCAL_ONE', 'x'.repeat(below(100))])}`);
    if (random() < 0.4) headers.push(`X-TTL: ${pick(['0', '1', '-1', '1.5', '99999999999999', 'abc', '', ' 10', '1e3', '0x10'])}`);
    if (random() < 0.3) headers.push(`If-Match: ${pick(['v1', '"v1"', '', 'W/"x"', '*', 'v1_2_n1', 'x'.repeat(below(300))])}`);
    if (random() < 0.3) headers.push(`X-Context: ${pick(['', 'AAAA', '!!!', Buffer.from(Array.from({ length: below(60) }, () => below(256))).toString('base64'), 'x'.repeat(below(5000))])}`);
    const timeoutGiven = random() < 0.3;
    if (timeoutGiven) headers.push(`X-Timeout-Ms: ${pick(['0', '1', '100000000', '-5', 'x', '10', '2000'])}`);
    if (random() < 0.2) headers.push(`X-Idempotency-Key: ${pick(['', 'a', 'x'.repeat(300), String(below(1e9))])}`);
    const bodyBytes = random() < 0.5 ? 0 : random() < 0.02 ? valueBytesMax + 1 : below(3000);
    const body = Buffer.from(Array.from({ length: bodyBytes }, () => below(256)));
    const request = `${method} ${path} HTTP/1.1\r\nHost: x\r\n${headers.map((h) => `${h}\r\n`).join('')}Content-Length: ${bodyBytes}\r\n\r\n`;
    const [answer] = await oneConnection([Buffer.concat([Buffer.from(request), body])]);
    const what = `seed ${seed}, request ${i}: ${JSON.stringify(request.slice(0, 300))}`;
    const status = /^HTTP\/1\.1 (\d{3}) /.exec(answer!);
    assert.ok(status !== null, `${what}: no answer (got ${JSON.stringify(answer!.slice(0, 100))})`);
    const code = Number(status[1]);
    assert.ok(code < 500 || (code === 504 && timeoutGiven), `${what}: ${code}`);
    if (code >= 400 && method !== 'HEAD') {
      const parsed = JSON.parse(answer!.slice(answer!.indexOf('\r\n\r\n') + 4)) as { error?: unknown; message?: unknown };
      assert.ok(typeof parsed.error === 'string' && parsed.error.length > 0, `${what}: ${code} without an error code`);
    }
  }
  assert.equal((await fetch(`${node.url}/health`)).status, 200);
  assert.equal(node.proc.exitCode, null);
});

test('after all the bad input above, the node still serves', async () => {
  assert.equal((await fetch(keyUrl('still-alive'), { method: 'PUT', body: 'yes' })).status, 200);
  assert.equal((await fetch(keyUrl('still-alive'))).status, 200);
  assert.equal(node.proc.exitCode, null);
});

test('start --help lists every flag', async () => {
  const r = await runCli(['start', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--port', '--data-dir', '--shards', '--sync-mode', 'RINGKV_PORT']) assert.ok(r.stdout.includes(flag), flag);
});

test('a bad flag is a usage error (exit 2)', async () => {
  const r = await runCli(['start', '--sync-mode', 'sometimes', '--data-dir', dir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /sync-mode/);
});

test('the node refuses to start on the uWebSockets.js pure-Node fallback', async () => {
  const fallbackDir = tempDir('fallback');
  try {
    const r = await runCli(['start', '--port', '0', '--data-dir', fallbackDir], { UWS_USE_FALLBACK: '1' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /pure-Node fallback/);
    assert.match(r.stderr, /RKV_ERR_NATIVE_UNAVAILABLE/);
    assert.deepEqual(fs.readdirSync(fallbackDir), [], 'refused before opening any data');
  } finally {
    fs.rmSync(fallbackDir, { recursive: true, force: true });
  }
});
