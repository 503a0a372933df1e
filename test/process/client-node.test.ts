// Proves the client library and the get/put/del CLI against a real `ringkv start` process:
// round trips with typed results, wire errors as typed RingkvErrors, N operations issued in one
// tick sent as ONE frame (and seen by the node as N operations), a write retried with the same
// idempotency key applied once, and a write the client gave up on not applied late.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { RingkvClient, ErrorCode, isRingkvError } from '../../src/client';
import { killAll, runCli, startNode, tempDir, type NodeProcess } from './server-harness';

let node: NodeProcess;
let dir: string;
let address: string;

before(async () => {
  dir = tempDir('client');
  node = await startNode(dir);
  address = `127.0.0.1:${node.port}`;
});

after(async () => {
  await node?.stop();
  await killAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

function metrics(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** Sum of ringkv_requests_total over the WebSocket transport for `op`. */
async function wsOps(port: number, op: string): Promise<number> {
  let n = 0;
  for (const line of (await metrics(port)).split('\n')) {
    if (line.startsWith('ringkv_requests_total{') && line.includes('transport="ws"') && line.includes(`op="${op}"`)) n += Number(line.split(' ').pop());
  }
  return n;
}

test('put, get, delete and batch round trip with typed results', async () => {
  const c = await RingkvClient.connect({ nodes: [address] });
  try {
    const p = await c.put('user:1', 'alice', { consistency: 'QUORUM', ttlSeconds: 3600 });
    assert.match(p.version, /^v\d+_\d+_/);
    const g = await c.get('user:1');
    assert.ok(g.found);
    assert.equal(Buffer.from(g.value).toString(), 'alice');
    assert.equal(g.version, p.version);
    assert.equal(g.siblings.length, 1);
    assert.ok(g.context.byteLength > 0, 'a read returns a causal context');
    // A write carrying the read's context supersedes it: still one sibling afterwards.
    await c.put('user:1', 'alice2', { context: g.context });
    const g2 = await c.get('user:1');
    assert.ok(g2.found && g2.siblings.length === 1 && Buffer.from(g2.value).toString() === 'alice2');
    const d = await c.delete('user:1');
    assert.ok(d.tombstoneExpiryMs > d.timestampMs);
    assert.equal((await c.get('user:1')).found, false);

    const entries = await c.batch([
      { op: 'put', key: 'b:1', value: 'one' },
      { op: 'put', key: 'b:2', value: 'two', consistency: 'ALL' },
      { op: 'get', key: 'b:missing' },
      { op: 'delete', key: 'b:3' },
    ]);
    assert.equal(entries.length, 4);
    assert.ok(entries.every((e) => e.ok));
    const got = await c.get('b:2');
    assert.ok(got.found && Buffer.from(got.value).toString() === 'two');
  } finally {
    c.close();
  }
});

test('errors from the node arrive as typed RingkvErrors', async () => {
  const c = await RingkvClient.connect({ nodes: [address] });
  try {
    const p = await c.put('cas', 'v1');
    await assert.rejects(c.put('cas', 'v2', { expectedVersion: 'v999_1_nobody' }), (e) => {
      assert.ok(isRingkvError(e, ErrorCode.Conflict), String(e));
      assert.equal(e.details['current_version'], p.version);
      return true;
    });
    // The conditional write with the right version applies.
    const p2 = await c.put('cas', 'v2', { expectedVersion: p.version });
    assert.notEqual(p2.version, p.version);
    await assert.rejects(c.put('big', new Uint8Array(1024 * 1024 + 1)), (e) => isRingkvError(e, ErrorCode.ValueTooLarge));
  } finally {
    c.close();
  }
});

test('100 operations issued in one tick go out as one frame and reach the node as 100 ops', async () => {
  const c = await RingkvClient.connect({ nodes: [address] });
  try {
    await c.get('warm-up'); // the connection is open, so the batch below is not split by the handshake
    const putsBefore = await wsOps(node.port, 'put');
    const framesBefore = c.stats().framesSent;
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => c.put(`tick:${i}`, `v${i}`)));
    assert.equal(results.length, 100);
    assert.equal(c.stats().framesSent - framesBefore, 1, 'one frame');
    assert.equal((await wsOps(node.port, 'put')) - putsBefore, 100, 'the node counted 100 puts');
    const values = await Promise.all(Array.from({ length: 100 }, (_, i) => c.get(`tick:${i}`)));
    values.forEach((v, i) => assert.ok(v.found && Buffer.from(v.value).toString() === `v${i}`));
  } finally {
    c.close();
  }
});

test('a write retried with the same idempotency key is applied once', async () => {
  const c = await RingkvClient.connect({ nodes: [address] });
  try {
    const first = await c.put('idem', 'x', { idempotencyKey: 'retry-me-1' });
    // The retry of the same logical write (as after a timeout): same key, same value.
    const retry = await c.put('idem', 'x', { idempotencyKey: 'retry-me-1' });
    assert.equal(retry.version, first.version, 'the retry answers with the first application');
    const g = await c.get('idem');
    assert.ok(g.found && g.version === first.version, 'no second version was written');
    // A new logical write (new key) does apply.
    const next = await c.put('idem', 'y');
    assert.notEqual(next.version, first.version);
  } finally {
    c.close();
  }
});

test('a write sent to a paused node is not applied when the node resumes after the client gave up', async () => {
  // Proves the stale-request guard against a real process: the frame waits in the stopped node's
  // socket past its timeout; on SIGCONT the node reads it, sees from its stamp how late it is,
  // and neither applies it nor lets it overwrite what was written meanwhile.
  const c = await RingkvClient.connect({ nodes: [address], retries: 0, timeoutMs: 400 });
  const other = await RingkvClient.connect({ nodes: [address] });
  try {
    await c.put('paused', 'before');
    node.proc.kill('SIGSTOP');
    let stopped = true;
    try {
      await assert.rejects(c.put('paused', 'sent-while-paused'), (e: unknown) => isRingkvError(e, ErrorCode.Timeout));
      node.proc.kill('SIGCONT');
      stopped = false;
      // Written after the client gave up on the paused write: that write must not supersede it.
      await other.put('paused', 'after');
      await new Promise((r) => setTimeout(r, 300));
      const g = await other.get('paused');
      assert.ok(g.found);
      assert.deepEqual(g.siblings.map((s) => Buffer.from(s.value).toString()), ['after']);
      const expired = Number(/^ringkv_ws_ops_expired_total (\d+)/m.exec(await metrics(node.port))?.[1] ?? 0);
      assert.equal(expired, 1, 'the paused write was refused when the node read it');
    } finally {
      if (stopped) node.proc.kill('SIGCONT');
    }
  } finally {
    c.close();
    other.close();
  }
});

test('ringkv put/get/del on the command line', async () => {
  const env = { RINGKV_NODE: address };
  const put = await runCli(['put', 'cli:k', 'hello world', '--ttl', '600'], env);
  assert.equal(put.code, 0, put.stderr);
  assert.match(put.stdout, /^v\d+_/);
  const get = await runCli(['get', 'cli:k'], env);
  assert.equal(get.code, 0, get.stderr);
  assert.equal(get.stdout, 'hello world');
  const json = await runCli(['get', 'cli:k', '--json', '--consistency', 'one'], env);
  assert.equal(Buffer.from(JSON.parse(json.stdout).value, 'base64').toString(), 'hello world');
  const del = await runCli(['del', 'cli:k'], env);
  assert.equal(del.code, 0, del.stderr);
  const gone = await runCli(['get', 'cli:k'], env);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /not found/);
  const usage = await runCli(['put', 'only-key'], env);
  assert.notEqual(usage.code, 0);
  assert.match(usage.stderr, /usage: ringkv put KEY VALUE/);
});

test('ringkv put takes bytes from a file or stdin, and get prints them back exactly', async () => {
  const env = { RINGKV_NODE: address };
  // Every byte value, and bytes that are not UTF-8: a text round trip would change them.
  const bytes = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0xc3]), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);
  const file = `${dir}/value.bin`;
  fs.writeFileSync(file, bytes);
  const fromFile = await runCli(['put', 'cli:bin', '--value-file', file], env);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  const raw = await runCli(['get', 'cli:bin'], env);
  assert.equal(raw.code, 0, raw.stderr);
  assert.deepEqual(raw.stdoutBytes, bytes);
  const json = await runCli(['get', 'cli:bin', '--json'], env);
  assert.deepEqual(Buffer.from(JSON.parse(json.stdout).value, 'base64'), bytes);

  const fromStdin = await runCli(['put', 'cli:stdin', '--value-file', '-'], env, 20_000, bytes.subarray(0, 100));
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.deepEqual((await runCli(['get', 'cli:stdin'], env)).stdoutBytes, bytes.subarray(0, 100));

  const tooBig = await runCli(['put', 'cli:big', '--value-file', '-'], env, 20_000, Buffer.alloc(1024 * 1024 + 1));
  assert.equal(tooBig.code, 2);
  assert.match(tooBig.stderr, /over 1048576 bytes/);
  const both = await runCli(['put', 'cli:bin', 'text', '--value-file', file], env);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /VALUE comes from --value-file/);
  const missing = await runCli(['put', 'cli:bin', '--value-file', `${dir}/no-such-file`], env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /ENOENT/);
  assert.equal((await runCli(['get', 'cli:big'], env)).code, 1, 'the value over the limit was not written');
});

test('ringkv get/put/del/replica name a key that is not text by its base64, as the HTTP API\'s answers do', async () => {
  const env = { RINGKV_NODE: address };
  // 0xff 0xfe '/': not UTF-8, and a slash (one path segment over HTTP all the same).
  const key = Buffer.from([0xff, 0xfe, 0x2f]);
  const b64 = key.toString('base64');
  const put = await runCli(['put', b64, 'bytes-key', '--key-encoding', 'base64'], env);
  assert.equal(put.code, 0, put.stderr);
  const overHttp = (await (await fetch(`http://${address}/api/v1/keys/%FF%FE%2F`)).json()) as { key: string; key_encoding?: string; value: string };
  assert.deepEqual([overHttp.key, overHttp.key_encoding, Buffer.from(overHttp.value, 'base64').toString()], [b64, 'base64', 'bytes-key']);
  const json = JSON.parse((await runCli(['get', b64, '--key-encoding', 'base64', '--json'], env)).stdout) as { key: string; key_encoding?: string };
  assert.deepEqual([json.key, json.key_encoding], [b64, 'base64']);
  const text = JSON.parse((await runCli(['get', 'cli:plain', '--json'], env)).stdout) as { key: string; key_encoding?: string; found: boolean };
  assert.deepEqual([text.key, text.key_encoding, text.found], ['cli:plain', undefined, false], 'a text key stays text');
  const replica = await runCli(['replica', b64, '--key-encoding', 'base64', '--node', address]);
  assert.equal(replica.code, 0, replica.stderr);
  assert.match(replica.stdout, /^replica: 1 version here/);
  assert.equal((await runCli(['del', b64, '--key-encoding', 'base64'], env)).code, 0);
  assert.equal((await runCli(['get', b64, '--key-encoding', 'base64'], env)).code, 1);
  for (const args of [['get', '//4', '--key-encoding', 'base64'], ['get', 'x', '--key-encoding', 'hex'], ['replica', '!!!!', '--key-encoding', 'base64', '--node', address], ['status', '--key-encoding', 'base64', '--node', address]]) {
    const bad = await runCli(args, env);
    assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
  }
});

test('ringkv put and del with the context get --json printed resolve siblings', async () => {
  const env = { RINGKV_NODE: address };
  const read = async (): Promise<{ values: string[]; context: string }> => {
    const r = await runCli(['get', 'cli:sib', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { siblings: { value: string }[]; context: string };
    return { values: j.siblings.map((s) => Buffer.from(s.value, 'base64').toString()).sort(), context: j.context };
  };
  assert.equal((await runCli(['put', 'cli:sib', 'first'], env)).code, 0);
  const stale = (await read()).context;
  // Two writes that each saw only "first": neither saw the other, so both stay.
  assert.equal((await runCli(['put', 'cli:sib', 'a', '--context', stale], env)).code, 0);
  assert.equal((await runCli(['put', 'cli:sib', 'b', '--context', stale], env)).code, 0);
  const both = await read();
  assert.deepEqual(both.values, ['a', 'b']);
  const merged = await runCli(['put', 'cli:sib', 'merged', '--context', both.context], env);
  assert.equal(merged.code, 0, merged.stderr);
  assert.deepEqual((await read()).values, ['merged']);

  const bad = await runCli(['put', 'cli:sib', 'x', '--context', 'not base64!'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--context must be the base64 context/);
  assert.deepEqual((await read()).values, ['merged']);

  // A delete with a stale context leaves the version it did not see beside its tombstone.
  const seen = (await read()).context;
  assert.equal((await runCli(['put', 'cli:sib', 'later', '--context', seen], env)).code, 0);
  assert.equal((await runCli(['del', 'cli:sib', '--context', seen], env)).code, 0);
  assert.deepEqual((await read()).values, ['later']);
});
