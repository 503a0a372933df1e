// Inter-node framing and codec: partial frames across arbitrary chunk boundaries, caps on frame
// size, and a decoder that refuses damaged flatbuffers instead of decoding garbage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, frame } from '../../../src/protocol/internode_framing';
import { Builder } from 'flatbuffers';
import { decodeInternode, encodeInternode, encodeInternodeFrame, errorFromReply, errorReply, internodeFileIdentifier, type InternodeMessage } from '../../../src/protocol/internode_codec';
import { Item } from '../../../src/protocol/generated/internode/ringkv/internode/item';
import { Kind } from '../../../src/protocol/generated/internode/ringkv/internode/kind';
import { Member } from '../../../src/protocol/generated/internode/ringkv/internode/member';
import { Message } from '../../../src/protocol/generated/internode/ringkv/internode/message';
import { gossipHintTargetsMax, nodeIdBytesMax, replicaBatchItemsMax, tombstoneGraceMsMax, vnodesPerNodeMax } from '../../../src/constants';
import { ErrorCode, isRingkvError, RingkvError } from '../../../src/errors';

const sample: InternodeMessage = {
  id: 42,
  kind: 'replicaWrite',
  isReply: false,
  timeoutMs: 1500,
  sentAtMs: 81_234.567,
  key: Buffer.from('user:1'),
  record: Buffer.alloc(3000, 7),
  hintFor: 'node-2',
  recordTombstone: true,
  forwarded: true,
  members: [
    { nodeId: 'n1', host: '127.0.0.1', httpPort: 7000, peerPort: 8000, vnodes: 128, incarnation: 1_764_000_000_000, heartbeat: 12, status: 'SUSPECT', keyEstimate: 5, load: 0.25, settings: 'replication=3 conflict-mode=lww', storage: 'full', zone: 'eu-west-1a', datacenter: 'eu-west', rebuilding: 'replaced', dataBytes: 5_000_000_000, diskSizeBytes: 40_000_000_000, diskFreeBytes: 9_000_000_000, rebuildRangesLeft: 17, hintsFor: ['n3', 'n2'], tombstoneGraceMs: 864_000_000, ringDigest: 0xfedcba98, leaving: true, cleaningUp: true, freshDataDir: true },
    { nodeId: 'n3', host: '127.0.0.1', httpPort: 7002, peerPort: 8002, vnodes: 8, incarnation: 1, heartbeat: 0, status: 'ALIVE', keyEstimate: 0, load: 0, storage: 'failed', rebuilding: 'joined' },
    // A member that says nothing of its settings or storage (a node older than the fields) stays that way.
    { nodeId: 'n2', host: '127.0.0.1', httpPort: 7001, peerPort: 8001, vnodes: 8, incarnation: 1, heartbeat: 0, status: 'ALIVE', keyEstimate: 0, load: 0 },
  ],
};

test('codec round-trips every field it carries', () => {
  // Proves encode/decode agree on the schema, including 64-bit and nested member fields.
  const back = decodeInternode(encodeInternode(sample));
  assert.deepEqual({ ...back, key: Buffer.from(back.key!), record: Buffer.from(back.record!) }, { ...sample });
  const fwd = decodeInternode(encodeInternode({ id: 1, kind: 'forward', isReply: false, op: 'delete', key: Buffer.from('k'), consistency: 3, ifMatch: 'v1_2_n', context: Buffer.from([1, 2]), idempotencyKey: 'x' }));
  assert.equal(fwd.op, 'delete');
  assert.equal(fwd.consistency, 3);
  assert.equal(fwd.ifMatch, 'v1_2_n');
  const hello: InternodeMessage = { id: 2, kind: 'hello', isReply: false, clusterName: 'prod-eu', fromNode: 'n1', toNode: 'n7' };
  assert.deepEqual(decodeInternode(encodeInternode(hello)), hello);
  const seedHello: InternodeMessage = { id: 3, kind: 'hello', isReply: true, clusterName: 'prod-eu', fromNode: 'n7' };
  assert.deepEqual(decodeInternode(encodeInternode(seedHello)), seedHello, 'no to_node: any node of the cluster');
  const gossipReply: InternodeMessage = { id: 4, kind: 'gossip', isReply: true, wallClockMs: 1_796_525_203_544 };
  assert.deepEqual(decodeInternode(encodeInternode(gossipReply)), gossipReply, 'the answering node\'s wall clock');
  const admit: InternodeMessage = { id: 5, kind: 'gossip', isReply: false, admitted: true };
  assert.deepEqual(decodeInternode(encodeInternode(admit)), admit, 'an addnode exchange says so');
});

test('a wall_clock_ms beyond 2^53 is a malformed frame', () => {
  const b = new Builder(256);
  Message.startMessage(b);
  Message.addId(b, 1);
  Message.addKind(b, Kind.Gossip);
  Message.addIsReply(b, true);
  Message.addWallClockMs(b, 1n << 60n);
  b.finish(Message.endMessage(b), internodeFileIdentifier);
  assert.throws(() => decodeInternode(b.asUint8Array()), (e: unknown) => isRingkvError(e, ErrorCode.MalformedFrame) && /2\^53/.test((e as Error).message));
});

test('anti-entropy messages round-trip: ranges at the ends of the ring, leaves, cursors, pages', () => {
  // Proves the MerkleLeaves and RangeScan fields: 64-bit tokens up to 2^64 - 1, leaf hashes
  // (little-endian u64s), the scan cursor and the entries of a page.
  const top = (1n << 64n) - 1n;
  const leaves = new BigUint64Array([0n, 1n, top, 0x0123456789abcdefn]);
  const ml = decodeInternode(encodeInternode({ id: 3, kind: 'merkleLeaves', isReply: true, rangeFrom: top - 9n, rangeTo: top, depth: 2, leaves, leafEntries: 17 }));
  assert.equal(ml.rangeFrom, top - 9n);
  assert.equal(ml.rangeTo, top);
  assert.equal(ml.depth, 2);
  assert.deepEqual([...ml.leaves!], [...leaves]);
  assert.equal(ml.leafEntries, 17);
  const entries = [
    { key: Buffer.from('a'), record: Buffer.from([1, 2, 3]), value: Buffer.from('value'), tombstone: false },
    { key: Buffer.from('b'), record: Buffer.from([4]), value: Buffer.alloc(0), tombstone: true },
  ];
  const rs = decodeInternode(encodeInternode({ id: 4, kind: 'rangeScan', isReply: true, rangeFrom: 0n, rangeTo: 5n, after: { token: 3n, key: Buffer.from('k') }, entries, more: true }));
  assert.deepEqual(rs.after, { token: 3n, key: new Uint8Array(Buffer.from('k')) });
  assert.deepEqual(rs.entries!.map((e) => [Buffer.from(e.key).toString(), [...e.record], Buffer.from(e.value).toString(), e.tombstone]), [
    ['a', [1, 2, 3], 'value', false],
    ['b', [4], '', true],
  ]);
  assert.equal(rs.more, true);
  assert.throws(() => decodeInternode(encodeInternode({ id: 5, kind: 'rangeScan', isReply: false, rangeFrom: 9n, rangeTo: 8n })), /must not wrap/);
});

/** A ReplicaReadBatch request of `n` empty items, built with the generated code alone. */
function emptyItemsFrame(n: number): Uint8Array {
  const b = new Builder(1024);
  const offs = Array.from({ length: n }, () => {
    Item.startItem(b);
    return Item.endItem(b);
  });
  const items = Message.createItemsVector(b, offs);
  Message.startMessage(b);
  Message.addKind(b, Kind.ReplicaReadBatch);
  Message.addItems(b, items);
  b.finish(Message.endMessage(b), internodeFileIdentifier);
  return b.asUint8Array();
}

test('replica batches round-trip their items, request and reply, and more items than the bound are refused', () => {
  // Proves the Item table: a write batch's keys, records, values, tombstone and hint flags, and a
  // reply's per-item found, record and error, each in its place; and that a peer cannot make a
  // node decode an unbounded item vector.
  const items = [
    { key: Buffer.from('a'), record: Buffer.from([1, 2]), value: Buffer.from('v1'), tombstone: false },
    { key: Buffer.from('b'), record: Buffer.from([3]), value: Buffer.alloc(0), tombstone: true, hintFor: 'node-9', hintAgeMs: 7_200_000 },
  ];
  const req = decodeInternode(encodeInternode({ id: 6, kind: 'replicaWriteBatch', isReply: false, timeoutMs: 100, items }));
  assert.equal(req.kind, 'replicaWriteBatch');
  assert.deepEqual(
    req.items!.map((x) => [Buffer.from(x.key!).toString(), [...x.record!], Buffer.from(x.value ?? []).toString(), x.tombstone === true, x.hintFor, x.hintAgeMs]),
    [
      ['a', [1, 2], 'v1', false, undefined, undefined],
      ['b', [3], '', true, 'node-9', 7_200_000],
    ],
  );
  const reply = decodeInternode(
    encodeInternode({ id: 6, kind: 'replicaReadBatch', isReply: true, items: [{}, { found: true, record: Buffer.from([7]), value: Buffer.from('x'), tombstone: false }, { errorCode: ErrorCode.Busy, errorMessage: 'queue full' }] }),
  );
  assert.deepEqual(reply.items!.map((x) => [x.found === true, x.record === undefined ? null : [...x.record], x.errorCode ?? null]), [
    [false, null, null],
    [true, [7], null],
    [false, null, ErrorCode.Busy],
  ]);
  assert.equal(errorFromReply(reply.items![2]!).code, ErrorCode.Busy);
  assert.throws(() => encodeInternode({ id: 7, kind: 'replicaReadBatch', isReply: false, items: Array.from({ length: replicaBatchItemsMax + 1 }, () => ({ key: Buffer.from('k') })) }), /too many items/);
  // A frame built past the encoder's check, as a hostile peer would; one item fewer is
  // accepted, so it is the bound that refuses it.
  assert.throws(() => decodeInternode(emptyItemsFrame(replicaBatchItemsMax + 1)), (e: unknown) => e instanceof RingkvError && e.code === ErrorCode.FrameTooLarge);
  assert.equal(decodeInternode(emptyItemsFrame(replicaBatchItemsMax)).items!.length, replicaBatchItemsMax);
});

test('a frame whose offsets share one vector among many fields is malformed, not decoded into a copy for each', () => {
  // Built by hand, as a hostile peer (or anyone reaching the peer port) would: one 256 KiB vector
  // as every item's key, record and value, and one item 1024 times: 768 MiB of copies from a
  // 260 KiB frame, 190 GiB from a 32 MiB one.
  const b = new Builder(1024);
  const shared = Item.createKeyVector(b, new Uint8Array(256 * 1024));
  Item.startItem(b);
  Item.addKey(b, shared);
  Item.addRecord(b, shared);
  Item.addValue(b, shared);
  const item = Item.endItem(b);
  const items = Message.createItemsVector(b, Array.from({ length: 1024 }, () => item));
  Message.startMessage(b);
  Message.addKind(b, Kind.ReplicaWriteBatch);
  Message.addItems(b, items);
  Message.finishMessageBuffer(b, Message.endMessage(b));
  const aliased = b.asUint8Array();
  assert.ok(aliased.byteLength < 300 * 1024);
  assert.throws(
    () => decodeInternode(aliased),
    (e: unknown) => isRingkvError(e, ErrorCode.MalformedFrame) && /add up to more than the \d+-byte frame/.test(e.message),
  );
  // The same items, each with vectors of its own, decode.
  const one = { key: Buffer.alloc(100, 1), record: Buffer.alloc(100, 2), value: Buffer.alloc(100, 3), tombstone: false };
  assert.equal(decodeInternode(encodeInternode({ id: 1, kind: 'replicaWriteBatch', isReply: false, timeoutMs: 100, items: Array.from({ length: 64 }, () => one) })).items!.length, 64);
});

test('error replies carry code, message and details across the wire', () => {
  // Proves a peer's structured error ({needed, answered}) reaches the requester intact.
  const e = new RingkvError(ErrorCode.Unavailable, 'not enough replicas', { details: { needed: 3, answered: 2 } });
  const back = errorFromReply(decodeInternode(encodeInternode(errorReply(9, e))));
  assert.equal(back.code, ErrorCode.Unavailable);
  assert.deepEqual(back.details, { needed: 3, answered: 2 });
});

test('frames split at every byte boundary come out whole and in order', () => {
  // Proves the decoder keeps partial headers and bodies between chunks.
  const payloads = [Buffer.from('a'), Buffer.alloc(1000, 1), Buffer.from(encodeInternode(sample))];
  const stream = Buffer.concat(payloads.map((p) => frame(p)));
  for (const step of [1, 2, 3, 5, 7, 4096]) {
    const d = new FrameDecoder();
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i += step) got.push(...d.push(stream.subarray(i, i + step)).map((b) => Buffer.from(b)));
    assert.deepEqual(got, payloads, `chunk size ${step}`);
    assert.equal(d.pendingBytes, 0);
  }
});

test('a zero length or a length over the cap is refused', () => {
  // Proves a bad header fails loudly (the connection is then closed) instead of allocating.
  const zero = Buffer.alloc(4);
  assert.throws(() => new FrameDecoder().push(zero), (e: unknown) => e instanceof RingkvError && e.code === ErrorCode.MalformedFrame);
  const huge = Buffer.alloc(4);
  huge.writeUInt32LE(1025, 0);
  assert.throws(() => new FrameDecoder(1024).push(huge), (e: unknown) => e instanceof RingkvError && e.code === ErrorCode.FrameTooLarge);
});

test('truncated, bit-flipped and random payloads fail with a typed frame error, never a crash', () => {
  // Proves the verifier runs before any accessor: damaged frames fail with RKV_ERR_MALFORMED_FRAME
  // (or RKV_ERR_FRAME_TOO_LARGE when a damaged length field claims too many elements).
  const good = Buffer.from(encodeInternode(sample));
  const isMalformed = (e: unknown) => e instanceof RingkvError && (e.code === ErrorCode.MalformedFrame || e.code === ErrorCode.FrameTooLarge);
  for (let cut = 1; cut < good.length; cut += 97) assert.throws(() => decodeInternode(good.subarray(0, cut)), isMalformed);
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 300; i++) {
    const bad = Buffer.from(good);
    for (let j = 0; j < 4; j++) bad[Math.floor(rnd() * 64)] = Math.floor(rnd() * 256);
    try {
      decodeInternode(bad);
    } catch (e) {
      assert.ok(isMalformed(e), `unexpected ${String(e)}`);
    }
  }
  assert.throws(() => decodeInternode(Buffer.alloc(64, 0xff)), isMalformed);
});

test('messages share one builder: big, refused and small encodes in turn each come out whole', () => {
  // Proves the shared builder (internode_codec.ts) leaks nothing from one message into the next:
  // a message that grows it past its bound, one refused half-way by an assert, and small ones
  // around them all decode to exactly what was encoded, from their frames too.
  const small = (id: number): InternodeMessage => ({ id, kind: 'replicaRead', isReply: false, timeoutMs: 10, key: Buffer.from(`k${id}`) });
  const big: InternodeMessage = { ...sample, id: 7, record: Buffer.alloc(2 * 1024 * 1024, 9) };
  const refused: InternodeMessage = { ...sample, id: 8, version: 'v'.repeat(100_000) };
  const decoder = new FrameDecoder(64 * 1024 * 1024);
  const encoded: Uint8Array[] = [];
  for (const m of [small(1), big, small(2)]) {
    encoded.push(encodeInternode(m));
    if (m === big) assert.throws(() => encodeInternode(refused));
  }
  const frames = decoder.push(Buffer.concat([small(3), big, small(4)].map((m) => encodeInternodeFrame(m, 64 * 1024 * 1024))));
  const backs = [...encoded, ...frames].map((b) => decodeInternode(b));
  assert.deepEqual(
    backs.map((m) => [m.id, Buffer.from(m.key!).toString(), m.record?.length ?? 0]),
    [[1, 'k1', 0], [7, 'user:1', 2 * 1024 * 1024], [2, 'k2', 0], [3, 'k3', 0], [7, 'user:1', 2 * 1024 * 1024], [4, 'k4', 0]],
  );
  assert.ok(backs[1]!.record!.every((v) => v === 9) && backs[4]!.record!.every((v) => v === 9));
  assert.equal(backs[0]!.timeoutMs, 10);
  assert.equal(backs[0]!.hintFor, undefined, 'nothing of the big message leaks into the next');
});

test('decoded byte fields are copies: they survive the frame being reused, and keys hold no pool slab', () => {
  // Values and records come from Node's Buffer pool (frame_copy.ts copyField), keys are copied alone.
  const bytes = new Uint8Array(encodeInternode({ id: 7, kind: 'replicaWrite', isReply: false, key: Buffer.from('user:2'), record: Buffer.alloc(40, 3), value: Buffer.alloc(1024, 9), context: Buffer.from([5, 6]) }));
  const m = decodeInternode(bytes);
  bytes.fill(0);
  assert.deepEqual(m.value, new Uint8Array(1024).fill(9));
  assert.deepEqual(m.record, new Uint8Array(40).fill(3));
  assert.deepEqual(m.context, new Uint8Array([5, 6]));
  assert.deepEqual(m.key, new Uint8Array(Buffer.from('user:2')));
  assert.notEqual(m.value!.buffer, bytes.buffer);
  assert.equal(m.key!.buffer.byteLength, m.key!.byteLength, 'a key owns exactly its bytes');
});

test('a request whose sent_at_ms is not a time is a malformed frame', () => {
  // Proves the lateness measure (frame_lateness.ts) cannot be fed NaN, infinities or a negative stamp.
  for (const sentAtMs of [Number.NaN, Number.POSITIVE_INFINITY, -5]) {
    const b = new Builder(256);
    Message.startMessage(b);
    Message.addId(b, 1);
    Message.addKind(b, Kind.Ping);
    Message.addSentAtMs(b, sentAtMs);
    b.finish(Message.endMessage(b), internodeFileIdentifier);
    assert.throws(() => decodeInternode(b.asUint8Array()), (e: unknown) => isRingkvError(e, ErrorCode.MalformedFrame) && /sent_at_ms/.test((e as Error).message), String(sentAtMs));
  }
});

test('a gossiped member whose zone is not a zone name is a malformed frame, not a ring that cannot be built', () => {
  const m = { nodeId: 'n1', host: '127.0.0.1', httpPort: 7000, peerPort: 8000, vnodes: 8, incarnation: 1, heartbeat: 0, status: 'ALIVE' as const, keyEstimate: 0, load: 0, zone: 'rack 1/a' };
  assert.throws(() => decodeInternode(encodeInternode({ id: 9, kind: 'gossip', isReply: false, members: [m] })), (e: unknown) => isRingkvError(e, ErrorCode.MalformedFrame) && /zone/.test((e as Error).message));
  const empty = decodeInternode(encodeInternode({ id: 9, kind: 'gossip', isReply: false, members: [{ ...m, zone: '' }] }));
  assert.equal(empty.members![0]!.zone, undefined, "'' is no zone");
  const { zone: _zone, ...plain } = m;
  assert.throws(() => decodeInternode(encodeInternode({ id: 9, kind: 'gossip', isReply: false, members: [{ ...plain, datacenter: 'us east' }] })), (e: unknown) => isRingkvError(e, ErrorCode.MalformedFrame) && /datacenter/.test((e as Error).message));
});

test('a gossiped member with more vnodes than a ring takes, or a node id over its bound, is a malformed frame', () => {
  // Either passed the wire once and stopped the node: merged into the table, then refused by
  // Ring.build's or the table's assertions on the next ring change.
  const m = { nodeId: 'n1', host: '127.0.0.1', httpPort: 7000, peerPort: 8000, vnodes: vnodesPerNodeMax, incarnation: 1, heartbeat: 0, status: 'ALIVE' as const, keyEstimate: 0, load: 0 };
  const gossip = (member: typeof m) => decodeInternode(encodeInternode({ id: 9, kind: 'gossip', isReply: false, members: [member] }));
  assert.equal(gossip(m).members![0]!.vnodes, vnodesPerNodeMax);
  assert.throws(() => gossip({ ...m, vnodes: vnodesPerNodeMax + 1 }), (e: unknown) => isRingkvError(e, ErrorCode.MalformedFrame) && /vnodes/.test((e as Error).message));
  assert.equal(gossip({ ...m, nodeId: 'x'.repeat(nodeIdBytesMax) }).members![0]!.nodeId.length, nodeIdBytesMax);
  assert.throws(() => gossip({ ...m, nodeId: 'x'.repeat(nodeIdBytesMax + 1) }), (e: unknown) => isRingkvError(e, ErrorCode.MalformedFrame));
});

test('a gossiped tombstone grace over the bound is a malformed frame; 0 is a node that does not say', () => {
  const m = { nodeId: 'n1', host: '127.0.0.1', httpPort: 7000, peerPort: 8000, vnodes: 8, incarnation: 1, heartbeat: 0, status: 'ALIVE' as const, keyEstimate: 0, load: 0 };
  const gossip = (tombstoneGraceMs: number) => decodeInternode(encodeInternode({ id: 9, kind: 'gossip', isReply: false, members: [{ ...m, tombstoneGraceMs }] })).members![0]!;
  assert.equal(gossip(tombstoneGraceMsMax).tombstoneGraceMs, tombstoneGraceMsMax);
  assert.equal('tombstoneGraceMs' in gossip(0), false);
  assert.throws(() => gossip(tombstoneGraceMsMax + 1), (e: unknown) => isRingkvError(e, ErrorCode.MalformedFrame) && /tombstone grace/.test((e as Error).message));
});

/** A gossip frame of one member naming `targets` as the nodes it holds hints for, built past the encoder's checks as a hostile peer would. */
function hintTargetsFrame(targets: readonly string[]): Uint8Array {
  const b = new Builder(1024);
  const hintsFor = Member.createHintsForVector(b, targets.map((t) => b.createString(t)));
  const nodeId = b.createString('n1');
  const host = b.createString('127.0.0.1');
  Member.startMember(b);
  Member.addNodeId(b, nodeId);
  Member.addHost(b, host);
  Member.addHttpPort(b, 7000);
  Member.addPeerPort(b, 8000);
  Member.addVnodes(b, 8);
  Member.addHintsFor(b, hintsFor);
  const members = Message.createMembersVector(b, [Member.endMember(b)]);
  Message.startMessage(b);
  Message.addKind(b, Kind.Gossip);
  Message.addMembers(b, members);
  b.finish(Message.endMessage(b), internodeFileIdentifier);
  return b.asUint8Array();
}

test('the nodes a gossiped member holds hints for are bounded in count and length, and none is empty', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);
  assert.deepEqual(decodeInternode(hintTargetsFrame(ids(gossipHintTargetsMax))).members![0]!.hintsFor, ids(gossipHintTargetsMax));
  const refused = (bytes: Uint8Array, why: RegExp) => assert.throws(() => decodeInternode(bytes), (e: unknown) => isRingkvError(e, ErrorCode.MalformedFrame) && why.test((e as Error).message));
  refused(hintTargetsFrame(ids(gossipHintTargetsMax + 1)), /strings, more than/);
  refused(hintTargetsFrame(['n1', 'x'.repeat(nodeIdBytesMax + 1)]), /string of \d+ bytes/);
  refused(hintTargetsFrame(['n1', '']), /empty node id/);
  assert.throws(() => encodeInternode({ id: 9, kind: 'gossip', isReply: false, members: [{ nodeId: 'n1', host: 'h', httpPort: 1, peerPort: 2, vnodes: 8, incarnation: 1, heartbeat: 0, status: 'ALIVE', keyEstimate: 0, load: 0, hintsFor: ids(gossipHintTargetsMax + 1) }] }), /hint targets/);
});
