// Proves the field access of src/protocol/field_access.ts is the generated code's equal for every
// field it stands in for: ulongs written as the same bytes and read as the same values (absent at
// 0, beyond 2^53 refused as a malformed frame rather than rounded), byte vectors found where the
// generated readers find them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Builder, ByteBuffer } from 'flatbuffers';
import { ErrorCode, isRingkvError } from '../../../src/errors';
import { Result } from '../../../src/protocol/generated/client/ringkv/client/result';
import { Sibling } from '../../../src/protocol/generated/client/ringkv/client/sibling';
import { Member } from '../../../src/protocol/generated/internode/ringkv/internode/member';
import { Message } from '../../../src/protocol/generated/internode/ringkv/internode/message';
import { Request } from '../../../src/protocol/generated/client/ringkv/client/request';
import { addUint64Field, byteVectorFields, byteVectorLength, byteVectorStart, readUint64Field, type TableView, uint64Fields } from '../../../src/protocol/field_access';

interface FieldCase {
  name: keyof typeof uint64Fields;
  start: (b: Builder) => void;
  add: (b: Builder, v: bigint) => void;
  end: (b: Builder) => number;
  root: (bb: ByteBuffer) => TableView;
  get: (t: TableView) => bigint;
}

function field<T extends TableView>(
  name: keyof typeof uint64Fields,
  start: (b: Builder) => void,
  add: (b: Builder, v: bigint) => void,
  end: (b: Builder) => number,
  root: (bb: ByteBuffer) => T,
  get: (t: T) => bigint,
): FieldCase {
  return { name, start, add, end, root, get: (t) => get(t as T) };
}

const cases: FieldCase[] = [
  field('clientResultTimestampMs', Result.startResult, Result.addTimestampMs, Result.endResult, (bb) => Result.getRootAsResult(bb), (t) => t.timestampMs()),
  field('clientResultTombstoneExpiryMs', Result.startResult, Result.addTombstoneExpiryMs, Result.endResult, (bb) => Result.getRootAsResult(bb), (t) => t.tombstoneExpiryMs()),
  field('clientSiblingTimestampMs', Sibling.startSibling, Sibling.addTimestampMs, Sibling.endSibling, (bb) => Sibling.getRootAsSibling(bb), (t) => t.timestampMs()),
  field('messageTimestampMs', Message.startMessage, Message.addTimestampMs, Message.endMessage, (bb) => Message.getRootAsMessage(bb), (t) => t.timestampMs()),
  field('messageTombstoneExpiryMs', Message.startMessage, Message.addTombstoneExpiryMs, Message.endMessage, (bb) => Message.getRootAsMessage(bb), (t) => t.tombstoneExpiryMs()),
  field('messageLeafEntries', Message.startMessage, Message.addLeafEntries, Message.endMessage, (bb) => Message.getRootAsMessage(bb), (t) => t.leafEntries()),
  field('messageWallClockMs', Message.startMessage, Message.addWallClockMs, Message.endMessage, (bb) => Message.getRootAsMessage(bb), (t) => t.wallClockMs()),
  field('memberIncarnation', Member.startMember, Member.addIncarnation, Member.endMember, (bb) => Member.getRootAsMember(bb), (t) => t.incarnation()),
  field('memberHeartbeat', Member.startMember, Member.addHeartbeat, Member.endMember, (bb) => Member.getRootAsMember(bb), (t) => t.heartbeat()),
  field('memberKeyEstimate', Member.startMember, Member.addKeyEstimate, Member.endMember, (bb) => Member.getRootAsMember(bb), (t) => t.keyEstimate()),
  field('memberDataBytes', Member.startMember, Member.addDataBytes, Member.endMember, (bb) => Member.getRootAsMember(bb), (t) => t.dataBytes()),
  field('memberDiskSizeBytes', Member.startMember, Member.addDiskSizeBytes, Member.endMember, (bb) => Member.getRootAsMember(bb), (t) => t.diskSizeBytes()),
  field('memberDiskFreeBytes', Member.startMember, Member.addDiskFreeBytes, Member.endMember, (bb) => Member.getRootAsMember(bb), (t) => t.diskFreeBytes()),
  field('memberTombstoneGraceMs', Member.startMember, Member.addTombstoneGraceMs, Member.endMember, (bb) => Member.getRootAsMember(bb), (t) => t.tombstoneGraceMs()),
];

/** A table holding only this field (a u8 before it, so the field's alignment is tested too). */
function build(c: FieldCase, write: (b: Builder) => void): Uint8Array {
  const b = new Builder(64);
  b.addInt8(1);
  c.start(b);
  write(b);
  b.finish(c.end(b));
  return b.asUint8Array().slice();
}

const values = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x1_0000_0000, 0x1_0000_0001, 1_796_521_754_123, 30_107_222_016_001, Number.MAX_SAFE_INTEGER];

test('each ulong field: the same bytes as the generated adder, read back as the generated reader reads them', () => {
  for (const c of cases) {
    for (const v of values) {
      const ours = build(c, (b) => addUint64Field(b, uint64Fields[c.name], v));
      const generated = build(c, (b) => c.add(b, BigInt(v)));
      assert.deepEqual(ours, generated, `${c.name} = ${v}: bytes`);
      const table = c.root(new ByteBuffer(ours));
      assert.equal(c.get(table), BigInt(v), `${c.name} = ${v}: the generated reader`);
      assert.equal(readUint64Field(table, uint64Fields[c.name]), v, `${c.name} = ${v}: ours`);
    }
  }
});

test('a ulong of 2^53 or more reads as a malformed frame; a value the writer cannot take is refused', () => {
  for (const c of cases) {
    for (const v of [2n ** 53n, 2n ** 64n - 1n]) {
      const table = c.root(new ByteBuffer(build(c, (b) => c.add(b, v))));
      assert.throws(
        () => readUint64Field(table, uint64Fields[c.name]),
        (e: unknown) => isRingkvError(e, ErrorCode.MalformedFrame) && /beyond 2\^53/.test(e.message),
        `${c.name} = ${v}`,
      );
    }
  }
  for (const bad of [-1, 0.5, 2 ** 53, Number.NaN]) {
    assert.throws(() => build(cases[0]!, (b) => addUint64Field(b, uint64Fields.clientResultTimestampMs, bad)), /safe non-negative integer/, String(bad));
  }
});

test('each byte vector field: found where the generated reader finds it, absent as -1 and length 0', () => {
  const vectors: Array<{ name: keyof typeof byteVectorFields; add: (b: Builder, at: number) => void; get: (r: Request) => Uint8Array | null }> = [
    { name: 'requestKey', add: Request.addKey, get: (r) => r.keyArray() },
    { name: 'requestValue', add: Request.addValue, get: (r) => r.valueArray() },
    { name: 'requestContext', add: Request.addContext, get: (r) => r.contextArray() },
  ];
  for (const v of vectors) {
    for (const length of [0, 1, 7, 300]) {
      const b = new Builder(64);
      const content = b.createByteVector(Uint8Array.from({ length }, (_, i) => (i * 7 + 3) & 0xff));
      Request.startRequest(b);
      Request.addId(b, 9);
      v.add(b, content);
      b.finish(Request.endRequest(b));
      const bytes = b.asUint8Array().slice();
      const r = Request.getRootAsRequest(new ByteBuffer(bytes));
      const generated = v.get(r)!;
      const at = byteVectorStart(r, byteVectorFields[v.name]);
      assert.equal(at, generated.byteOffset - bytes.byteOffset, `${v.name} of ${length}: start`);
      assert.equal(byteVectorLength(r, at), length, `${v.name} of ${length}: length`);
      assert.deepEqual(bytes.subarray(at, at + length), generated, `${v.name} of ${length}: content`);
      for (const other of vectors.filter((o) => o !== v)) {
        assert.equal(byteVectorStart(r, byteVectorFields[other.name]), -1, `${other.name} absent beside ${v.name}`);
        assert.equal(byteVectorLength(r, byteVectorStart(r, byteVectorFields[other.name])), 0);
      }
    }
  }
});
