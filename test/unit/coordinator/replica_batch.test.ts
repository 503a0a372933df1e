// Replica batches, both ends, with real parts: the requesting side (ReplicaBatcher) over a real
// InternodeServer on 127.0.0.1, and the answering side (answerReplicaBatch) over a real
// single-node coordinator's shard workers and engine in a temp dir.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { replicaBatchBytesMax, replicaBatchItemsMax, replicaReplyBytesMax } from '../../../src/constants';
import { createLocalCoordinator } from '../../../src/coordinator';
import { answerReplicaBatch, localReplicaOf, replyRoom } from '../../../src/coordinator/cluster_replica';
import { type ItemCallback, ReplicaBatcher } from '../../../src/coordinator/replica_batcher';
import { ErrorCode, RingkvError } from '../../../src/errors';
import type { InternodeItem, InternodeMessage } from '../../../src/protocol/internode_codec';
import { PeerPool } from '../../../src/protocol/internode_pool';
import { InternodeServer, type InternodeHandler } from '../../../src/protocol/internode_server';
import type { WireRecord } from '../../../src/shards/messages';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const b = (s: string) => new Uint8Array(Buffer.from(s));
const s = (u: Uint8Array | undefined) => (u === undefined ? undefined : Buffer.from(u).toString());
const isCode = (code: string) => (e: unknown) => e instanceof RingkvError && e.code === code;

/** Peers that answer every item with its key as the value (so order shows), recording each request. */
async function withPeers(
  n: number,
  answer: (req: InternodeMessage) => InternodeItem[] | Promise<InternodeItem[]>,
  body: (batcher: ReplicaBatcher, peers: { host: string; peerPort: number }[], seen: InternodeMessage[][]) => Promise<void>,
  now: () => number = Date.now,
): Promise<void> {
  const servers: InternodeServer[] = [];
  const peers: { host: string; peerPort: number }[] = [];
  const seen: InternodeMessage[][] = [];
  for (let i = 0; i < n; i++) {
    const mine: InternodeMessage[] = [];
    seen.push(mine);
    const handler: InternodeHandler = async (req) => {
      mine.push(req);
      return { kind: req.kind, items: await answer(req) };
    };
    const server = new InternodeServer({ host: '127.0.0.1', port: 0, clusterName: 'test', nodeId: ['a', 'c'][i]!, handler });
    servers.push(server);
    peers.push({ host: '127.0.0.1', peerPort: await server.listen() });
  }
  const pool = new PeerPool({ clusterName: 'test', fromNode: 'coordinator' });
  try {
    await body(new ReplicaBatcher(pool, now), peers, seen);
  } finally {
    pool.close();
    for (const server of servers) await server.close();
  }
}

/** The batcher's callback as a promise. */
const ask = (send: (done: ItemCallback) => void) =>
  new Promise<InternodeItem>((resolve, reject) => send((reply, err) => (err === null ? resolve(reply!) : reject(err))));

const echoKeys = (req: InternodeMessage): InternodeItem[] => (req.items ?? []).map((x) => ({ found: true, record: b('rec'), value: x.key! }));

test('reads and writes queued in one tick go to each peer as one batch per kind, and each item gets its own answer', async () => {
  // Proves the coalescing (request counts per peer and kind) and the per-item mapping (each
  // promise resolves with the reply item at its own index).
  await withPeers(2, echoKeys, async (batcher, [a, c], seen) => {
    const rec = { record: b('r'), value: b('v') };
    const calls = [
      ask((d) => batcher.write('a', a!, { key: b('w1'), ...rec }, 1000, d)),
      ask((d) => batcher.read('a', a!, b('r1'), 1000, d)),
      ask((d) => batcher.write('a', a!, { key: b('w2'), ...rec, hintFor: 'node-x' }, 1000, d)),
      ask((d) => batcher.write('c', c!, { key: b('w3'), ...rec }, 1000, d)),
      ask((d) => batcher.read('a', a!, b('r2'), 1000, d)),
      ask((d) => batcher.write('a', a!, { key: b('w4'), ...rec }, 1000, d)),
    ];
    const replies = await Promise.all(calls);
    assert.deepEqual(replies.map((r) => s(r.value)), ['w1', 'r1', 'w2', 'w3', 'r2', 'w4']);
    const shape = (msgs: InternodeMessage[]) => msgs.map((m) => [m.kind, (m.items ?? []).map((x) => s(x.key))]).sort();
    assert.deepEqual(shape(seen[0]!), [
      ['replicaReadBatch', ['r1', 'r2']],
      ['replicaWriteBatch', ['w1', 'w2', 'w4']],
    ]);
    assert.deepEqual(shape(seen[1]!), [['replicaWriteBatch', ['w3']]]);
    assert.equal(seen[0]!.find((m) => m.kind === 'replicaWriteBatch')!.items![1]!.hintFor, 'node-x');
    assert.deepEqual(batcher.stats, { replicaBatchesSent: 3, replicaBatchItemsSent: 6, replicaReadsAskedAgain: 0 });
    // A later tick is a new batch: nothing waits for company.
    assert.equal(s((await ask((d) => batcher.read('a', a!, b('r3'), 1000, d))).value), 'r3');
    assert.equal(seen[0]!.length, 3);
  });
});

test('a failed item fails alone; a failed batch, or a reply of the wrong length, fails every item', async () => {
  // Proves per-item errors keep their code, and that no item is left hanging or matched to a
  // wrong answer when the batch as a whole goes wrong.
  let mode: 'item' | 'throw' | 'short' = 'item';
  const answer = (req: InternodeMessage): InternodeItem[] => {
    const items = echoKeys(req);
    if (mode === 'throw') throw new RingkvError(ErrorCode.Unavailable, 'peer shard closing');
    if (mode === 'short') return items.slice(1);
    items[1] = { errorCode: ErrorCode.Busy, errorMessage: 'queue full' };
    return items;
  };
  await withPeers(1, answer, async (batcher, [a]) => {
    const three = () => [ask((d) => batcher.read('a', a!, b('k0'), 1000, d)), ask((d) => batcher.read('a', a!, b('k1'), 1000, d)), ask((d) => batcher.read('a', a!, b('k2'), 1000, d))];
    const results = await Promise.allSettled(three());
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? s(r.value.value) : (r.reason as RingkvError).code)),
      ['k0', ErrorCode.Busy, 'k2'],
    );
    mode = 'throw';
    for (const r of await Promise.allSettled(three())) assert.ok(r.status === 'rejected' && isCode(ErrorCode.Unavailable)(r.reason));
    mode = 'short';
    for (const r of await Promise.allSettled(three())) assert.ok(r.status === 'rejected' && isCode(ErrorCode.MalformedFrame)(r.reason));
  });
});

test("a silent peer's batch times out after its items' deadlines, so the quorum timer armed with an item decides it", async () => {
  // An item's quorum state machine arms its deadline timer as it queues the item, and the batch is
  // sent later in the tick: here the clock moves 3 ms between the two. The batch's own timer must
  // still fire after the item's deadline, or the replica counts as failed (an ALL read answered
  // 503 at its deadline in CI, where the timer that names the answers, 504, should have).
  // A first read, answered, opens the connection (its first use takes some ms of its own).
  let skewMs = 0;
  let calls = 0;
  const now = () => Date.now() + (calls++ % 2 === 0 ? 0 : skewMs);
  await withPeers(
    1,
    (req) => (s(req.items![0]!.key) === 'open' ? echoKeys(req) : new Promise<InternodeItem[]>(() => {})),
    async (batcher, [a]) => {
      assert.equal(s((await ask((d) => batcher.read('a', a!, b('open'), 1000, d))).value), 'open');
      skewMs = 3;
      let quorumTimerFired = false;
      setTimeout(() => (quorumTimerFired = true), 100);
      const err = await ask((d) => batcher.read('a', a!, b('k'), 100, d)).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(isCode(ErrorCode.Timeout)(err), String(err));
      assert.ok(quorumTimerFired, 'the peer timed out before the deadline its item was queued with');
    },
    now,
  );
});

test('a batch closes at replicaBatchItemsMax items or about replicaBatchBytesMax bytes', async () => {
  // Proves both bounds split a tick's items into several messages, in order, none lost.
  await withPeers(1, echoKeys, async (batcher, [a], seen) => {
    const many = Array.from({ length: replicaBatchItemsMax + 5 }, (_, i) => ask((d) => batcher.read('a', a!, b(`k${i}`), 2000, d)));
    const replies = await Promise.all(many);
    assert.ok(replies.every((r, i) => s(r.value) === `k${i}`));
    assert.deepEqual(seen[0]!.map((m) => m.items!.length), [replicaBatchItemsMax, 5]);
    seen[0]!.length = 0;
    const big = new Uint8Array(Math.floor(replicaBatchBytesMax * 0.4));
    await Promise.all([0, 1, 2, 3, 4].map((i) => ask((d) => batcher.write('a', a!, { key: b(`big${i}`), record: b('r'), value: big }, 2000, d))));
    assert.deepEqual(seen[0]!.map((m) => m.items!.length), [2, 2, 1]);
  });
});

test('the answering side applies and reads a batch through the shards, item by item', async () => {
  // Proves answerReplicaBatch: records from another replica are merged (found = changed, and
  // false when applied twice), read back in order with found false for a missing key; a bad key
  // fails only its item; an item hinted for another node goes to storeHint, not the shards.
  const mk = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-rbatch-'));
    dirs.push(d);
    return createLocalCoordinator({ dataDir: d, shardCount: 2, syncMode: 'batch' });
  };
  const origin = await mk();
  const replica = await mk();
  try {
    const records: WireRecord[] = [];
    for (const k of ['k1', 'k2', 'k3']) {
      const done = await origin.router.write({ op: 'put', key: b(k), value: b(`value-${k}`), ttlSeconds: 0, ifMatch: null, context: null, idempotencyKey: null, returnRecord: true, notAfterMs: 0 }, 1000);
      records.push(done.record!);
    }
    const item = (k: string, r: WireRecord): InternodeItem => ({ key: b(k), record: r.versionVector, value: r.value, tombstone: r.tombstone });
    const hinted: string[] = [];
    const hint = { selfId: replica.nodeId, storeHint: (target: string, key: Uint8Array, _r: WireRecord, ageMs: number) => hinted.push(`${target}:${s(key)}:${ageMs}`) };
    const local = localReplicaOf(replica);
    const writes = [item('k1', records[0]!), { ...item('', records[1]!) }, { ...item('k3', records[2]!), hintFor: 'node-elsewhere', hintAgeMs: 90_000 }, item('k2', records[1]!), { key: b('k4') }];
    const out = await answerReplicaBatch(local, 'replicaWriteBatch', writes, 1000, hint);
    assert.deepEqual(
      out.map((x) => x.errorCode ?? x.found === true),
      [true, ErrorCode.InvalidArgument, false, true, ErrorCode.MalformedFrame],
    );
    assert.deepEqual(hinted, ['node-elsewhere:k3:90000'], 'a hint handed on keeps its age');
    const again = await answerReplicaBatch(local, 'replicaWriteBatch', [item('k1', records[0]!)], 1000, hint);
    assert.deepEqual(again, [{}], 'the same record again changes nothing');
    const reads = await answerReplicaBatch(local, 'replicaReadBatch', [{ key: b('k2') }, { key: b('k3') }, { key: b('k1') }], 1000, hint);
    assert.deepEqual(
      reads.map((x) => (x.found === true ? s(x.value) : null)),
      ['value-k2', null, 'value-k1'],
    );
    assert.deepEqual(reads[0]!.record, records[1]!.versionVector);
  } finally {
    await origin.close();
    await replica.close();
  }
});

test("a read batch whose records overflow the peer's reply is answered in parts: the peer cuts its reply, the batcher asks again for the rest", async () => {
  // 40 keys of 1 MiB are a 40 MiB reply, over the 32 MiB frame cap: the replica could not send
  // it, and before the cut its failure to (a throw in a promise reaction) ended the process.
  const mib = new Uint8Array(1024 * 1024);
  const bigValues = (req: InternodeMessage): InternodeItem[] => (req.items ?? []).map((x): InternodeItem => ({ found: true, record: x.key!, value: mib })).map(replyRoom());
  await withPeers(1, bigValues, async (batcher, [a], seen) => {
    const keys = Array.from({ length: 40 }, (_, i) => `big-${i}`);
    const replies = await Promise.all(keys.map((k) => ask((d) => batcher.read('a', a!, b(k), 10_000, d))));
    assert.deepEqual(replies.map((r) => s(r.record)), keys, 'every read answered, each with its own record');
    assert.ok(replies.every((r) => r.value!.byteLength === mib.byteLength));
    const sizes = seen[0]!.map((m) => m.items!.length);
    assert.ok(sizes.length >= 3, `asked in parts: ${sizes.join(', ')}`);
    assert.equal(sizes[0], 40);
    let fit = 0;
    for (let bytes = 0, i = 0; i < keys.length && bytes + keys[i]!.length + mib.byteLength <= replicaReplyBytesMax; i++, fit++) bytes += keys[i]!.length + mib.byteLength;
    assert.equal(batcher.stats.replicaReadsAskedAgain, sizes.slice(1).reduce((n, x) => n + x, 0));
    assert.equal(sizes[1], 40 - fit, 'the second batch asks for what the first reply had no room for');
  });
});

test('replyRoom keeps the records that fit, in order, and the first one always', () => {
  const item = (n: number): InternodeItem => ({ found: true, record: new Uint8Array(10), value: new Uint8Array(n) });
  const codes = (items: InternodeItem[]) => items.map((x) => x.errorCode ?? 'ok');
  assert.deepEqual(codes([item(90), item(50), item(30), {}, item(1)].map(replyRoom(150))), ['ok', ErrorCode.ReplyFull, 'ok', 'ok', ErrorCode.ReplyFull]);
  assert.deepEqual(codes([item(500), item(1)].map(replyRoom(150))), ['ok', ErrorCode.ReplyFull], 'one record over the bound still goes, alone');
});

test('a reply the answering node cannot send (over its frame cap) fails that request alone, and the connection goes on serving', async () => {
  const logged: string[] = [];
  const handler: InternodeHandler = async (req) => ({ kind: req.kind, items: (req.items ?? []).map((x) => ({ found: true, value: s(x.key) === 'huge' ? new Uint8Array(128 * 1024) : x.key! })) });
  const server = new InternodeServer({ host: '127.0.0.1', port: 0, clusterName: 'test', nodeId: 'a', handler, frameBytesMax: 64 * 1024, log: (l) => logged.push(l) });
  const peer = { host: '127.0.0.1', peerPort: await server.listen() };
  const pool = new PeerPool({ clusterName: 'test', fromNode: 'coordinator' });
  try {
    const batcher = new ReplicaBatcher(pool);
    const err = await ask((d) => batcher.read('a', peer, b('huge'), 2000, d)).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(isCode(ErrorCode.Internal)(err), String(err));
    assert.ok(logged.some((l) => l.includes('cannot send the reply')), logged.join('\n'));
    assert.equal(s((await ask((d) => batcher.read('a', peer, b('small'), 2000, d))).value), 'small');
  } finally {
    pool.close();
    await server.close();
  }
});
