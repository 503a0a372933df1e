// Packing of shard batches into single ArrayBuffers, so one batch crosses the thread boundary as
// one transferred buffer each way (no structured-clone copy of each value). All integers are
// little-endian; strings are UTF-8.
//
// Request buffer:
//   u32 magic 0x31424b52 ("RKB1"), u32 opCount
//   per op:
//     u8 opcode (1 get, 2 put, 3 delete, 4 apply), u8 flags, u16 keyLength, key bytes
//     put/delete: u32 ttlSeconds (0 = none)
//                 [flags&1] u16 length + If-Match version string
//                 [flags&2] u16 length + context bytes
//                 [flags&4] u16 length + idempotency key
//                 (flags&8 = return the resulting record)
//                 [flags&32] f64 notAfterMs
//                 u32 valueLength + value bytes (0 for delete)
//     apply:      record (flags&16 = the record's tombstone flag)
//   record = u16 versionVectorLength + bytes, u32 valueLength + bytes
//
// Result buffer:
//   u32 magic 0x31524b52 ("RKR1"), u32 resultCount (= opCount, same order)
//   per result: u8 status
//     0 get:    u8 found, [found] u8 tombstone + record
//     1 write:  u8 flags (1 record follows, 2 replayed), u16 length + version string,
//               f64 timestampMs, [flags&1] u8 tombstone + record
//     2 apply:  u8 changed
//     255 error: u16 length + code, u32 length + message, u32 length + details as JSON
//
// Scan buffer (a scan's reply):
//   u32 magic 0x31534b52 ("RKS1"), u8 status (0 ok, 255 error then the error body as above)
//   ok: u32 count, then per entry: u16 keyLength + key, f64 timestampMs, f64 expiresAtMs,
//       u8 tombstone, record
//
// Decoders check every length against the buffer and fail with RKV_ERR_INTERNAL: these buffers
// are made by our own code on the other thread, so damage is a bug, not bad input.
import { ErrorCode, RingkvError, assert } from '../errors';
import { utf8Length, writeUtf8 } from '../utf8';
import type { ApplyDone, GetDone, OpResult, ShardOp, WireError, WireRecord, WriteDone } from './messages';

const requestMagic = 0x31424b52;
const resultMagic = 0x31524b52;
const scanMagic = 0x31534b52;

const opcodes = { get: 1, put: 2, delete: 3, apply: 4 } as const;
const flagIfMatch = 1;
const flagContext = 2;
const flagIdempotency = 4;
const flagReturnRecord = 8;
const flagTombstone = 16;
const flagNotAfter = 32;

const statusGet = 0;
const statusWrite = 1;
const statusApply = 2;
const statusError = 255;

const encoder = new TextEncoder();

class Writer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos = 0;

  constructor(size: number) {
    // Not zero-filled (new ArrayBuffer's 160 KiB of zeros took ~8 us, this ~1.6 us): done()
    // checks that every byte was written. Its own ArrayBuffer, never a pooled one: it is transferred.
    const buf = Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer;
    assert(buf.byteLength === size, 'an unpooled buffer of its own');
    this.bytes = new Uint8Array(buf);
    this.view = new DataView(buf);
  }

  u8(v: number): void {
    this.view.setUint8(this.pos, v);
    this.pos += 1;
  }
  u16(v: number): void {
    assert(v <= 0xffff, 'u16 overflow');
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  u32(v: number): void {
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  f64(v: number): void {
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  raw(b: Uint8Array): void {
    this.bytes.set(b, this.pos);
    this.pos += b.length;
  }
  blob16(b: Uint8Array): void {
    this.u16(b.length);
    this.raw(b);
  }
  blob32(b: Uint8Array): void {
    this.u32(b.length);
    this.raw(b);
  }
  /** A u16 length and the UTF-8 bytes (2 + utf8Length(s) bytes; the length is filled in after, not measured twice). */
  str16(s: string): void {
    const at = this.pos;
    const n = writeUtf8(s, this.bytes, at + 2);
    this.pos = at;
    this.u16(n);
    this.pos += n;
  }
  done(): ArrayBuffer {
    assert(this.pos === this.bytes.length, () => `packed ${this.pos} bytes into a buffer of ${this.bytes.length}`);
    return this.bytes.buffer as ArrayBuffer;
  }
}

class Reader {
  private readonly bytes: Buffer;
  private readonly view: DataView;
  private pos = 0;

  constructor(buf: ArrayBuffer) {
    // A Buffer over the whole message (a view, no copy) so strings decode from it in place, with
    // no view made per string (str16); fields handed out stay plain Uint8Arrays (raw).
    this.bytes = Buffer.from(buf);
    this.view = new DataView(buf);
  }

  private need(n: number): void {
    if (this.pos + n > this.bytes.length) {
      throw new RingkvError(ErrorCode.Internal, `shard message truncated at ${this.pos} (+${n} of ${this.bytes.length})`);
    }
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** A view into the buffer (no copy). */
  raw(n: number): Uint8Array {
    this.need(n);
    const out = new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + this.pos, n);
    this.pos += n;
    return out;
  }
  /** n bytes of UTF-8 as a string, decoded in place. */
  private text(n: number): string {
    this.need(n);
    const out = this.bytes.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  blob16(): Uint8Array {
    return this.raw(this.u16());
  }
  blob32(): Uint8Array {
    return this.raw(this.u32());
  }
  str16(): string {
    return this.text(this.u16());
  }
  str32(): string {
    return this.text(this.u32());
  }
  magic(expected: number, what: string): void {
    if (this.u32() !== expected) throw new RingkvError(ErrorCode.Internal, `not a ${what} buffer`);
  }
  end(): void {
    if (this.pos !== this.bytes.length) throw new RingkvError(ErrorCode.Internal, `shard message has ${this.bytes.length - this.pos} trailing bytes`);
  }
}

/** A record's size in the lane encoding (writeRecord); wire_record.ts's recordBytes is a budget's count, not this. */
function laneRecordBytes(r: WireRecord): number {
  return 2 + r.versionVector.length + 4 + r.value.length;
}

function writeRecord(w: Writer, r: WireRecord): void {
  w.blob16(r.versionVector);
  w.blob32(r.value);
}

function readRecord(r: Reader, tombstone: boolean): WireRecord {
  const versionVector = r.blob16();
  const value = r.blob32();
  return { versionVector, value, tombstone };
}

/** Bytes one op takes in a request buffer; the router uses it to cut batches by size. */
export function opBytes(op: ShardOp): number {
  let n = 4 + op.key.length;
  if (op.op === 'get') return n;
  if (op.op === 'apply') return n + laneRecordBytes(op.record);
  n += 4;
  if (op.ifMatch !== null) n += 2 + utf8Length(op.ifMatch);
  if (op.context !== null) n += 2 + op.context.length;
  if (op.idempotencyKey !== null) n += 2 + utf8Length(op.idempotencyKey);
  if (op.notAfterMs !== 0) n += 8;
  return n + 4 + op.value.length;
}

export function encodeRequests(ops: readonly ShardOp[]): ArrayBuffer {
  let size = 8;
  for (const op of ops) size += opBytes(op);
  const w = new Writer(size);
  w.u32(requestMagic);
  w.u32(ops.length);
  for (const op of ops) {
    w.u8(opcodes[op.op]);
    let flags = 0;
    if (op.op === 'put' || op.op === 'delete') {
      if (op.ifMatch !== null) flags |= flagIfMatch;
      if (op.context !== null) flags |= flagContext;
      if (op.idempotencyKey !== null) flags |= flagIdempotency;
      if (op.returnRecord) flags |= flagReturnRecord;
      if (op.notAfterMs !== 0) flags |= flagNotAfter;
    } else if (op.op === 'apply' && op.record.tombstone) {
      flags |= flagTombstone;
    }
    w.u8(flags);
    w.blob16(op.key);
    if (op.op === 'put' || op.op === 'delete') {
      w.u32(op.ttlSeconds);
      if (op.ifMatch !== null) w.str16(op.ifMatch);
      if (op.context !== null) w.blob16(op.context);
      if (op.idempotencyKey !== null) w.str16(op.idempotencyKey);
      if (op.notAfterMs !== 0) w.f64(op.notAfterMs);
      w.blob32(op.value);
    } else if (op.op === 'apply') {
      writeRecord(w, op.record);
    }
  }
  return w.done();
}

/** The ops of a request buffer; keys, values and records are views into `buf`. */
export function decodeRequests(buf: ArrayBuffer): ShardOp[] {
  const r = new Reader(buf);
  r.magic(requestMagic, 'shard request');
  const count = r.u32();
  const ops: ShardOp[] = [];
  for (let i = 0; i < count; i++) {
    const code = r.u8();
    const flags = r.u8();
    const key = r.blob16();
    if (code === opcodes.get) {
      ops.push({ op: 'get', key });
    } else if (code === opcodes.put || code === opcodes.delete) {
      const ttlSeconds = r.u32();
      const ifMatch = (flags & flagIfMatch) !== 0 ? r.str16() : null;
      const context = (flags & flagContext) !== 0 ? r.blob16() : null;
      const idempotencyKey = (flags & flagIdempotency) !== 0 ? r.str16() : null;
      const notAfterMs = (flags & flagNotAfter) !== 0 ? r.f64() : 0;
      const value = r.blob32();
      ops.push({ op: code === opcodes.put ? 'put' : 'delete', key, value, ttlSeconds, ifMatch, context, idempotencyKey, returnRecord: (flags & flagReturnRecord) !== 0, notAfterMs });
    } else if (code === opcodes.apply) {
      ops.push({ op: 'apply', key, record: readRecord(r, (flags & flagTombstone) !== 0) });
    } else {
      throw new RingkvError(ErrorCode.Internal, `unknown shard opcode ${code}`);
    }
  }
  r.end();
  return ops;
}

function errorBytes(e: WireError, details: Uint8Array, message: Uint8Array): number {
  return 2 + utf8Length(e.code) + 4 + message.length + 4 + details.length;
}

function resultBytes(res: OpResult, scratch: Map<OpResult, [Uint8Array, Uint8Array]>): number {
  if (!res.ok) {
    const pair: [Uint8Array, Uint8Array] = [encoder.encode(res.error.message), encoder.encode(JSON.stringify(res.error.details))];
    scratch.set(res, pair);
    return 1 + errorBytes(res.error, pair[1], pair[0]);
  }
  switch (res.op) {
    case 'get':
      return 1 + 1 + (res.record === null ? 0 : 1 + laneRecordBytes(res.record));
    case 'put':
    case 'delete':
      return 1 + 1 + 2 + utf8Length(res.version) + 8 + (res.record === null ? 0 : 1 + laneRecordBytes(res.record));
    case 'apply':
      return 2;
  }
}

function writeError(w: Writer, e: WireError, message: Uint8Array, details: Uint8Array): void {
  w.str16(e.code);
  w.blob32(message);
  w.blob32(details);
}

function readError(r: Reader): WireError {
  const code = r.str16() as ErrorCode;
  const message = r.str32();
  let details: WireError['details'] = {};
  try {
    details = JSON.parse(r.str32()) as WireError['details'];
  } catch {
    details = {};
  }
  return { code, message, details };
}

export function encodeResults(results: readonly OpResult[]): ArrayBuffer {
  const scratch = new Map<OpResult, [Uint8Array, Uint8Array]>();
  let size = 8;
  for (const res of results) size += resultBytes(res, scratch);
  const w = new Writer(size);
  w.u32(resultMagic);
  w.u32(results.length);
  for (const res of results) {
    if (!res.ok) {
      const [message, details] = scratch.get(res)!;
      w.u8(statusError);
      writeError(w, res.error, message, details);
      continue;
    }
    switch (res.op) {
      case 'get':
        w.u8(statusGet);
        w.u8(res.record === null ? 0 : 1);
        if (res.record !== null) {
          w.u8(res.record.tombstone ? 1 : 0);
          writeRecord(w, res.record);
        }
        break;
      case 'put':
      case 'delete':
        w.u8(statusWrite);
        w.u8((res.record === null ? 0 : 1) | (res.replayed ? 2 : 0));
        w.str16(res.version);
        w.f64(res.timestampMs);
        if (res.record !== null) {
          w.u8(res.record.tombstone ? 1 : 0);
          writeRecord(w, res.record);
        }
        break;
      case 'apply':
        w.u8(statusApply);
        w.u8(res.changed ? 1 : 0);
        break;
    }
  }
  return w.done();
}

/**
 * The results of a result buffer, in op order. `ops` gives each write's op kind (put or delete),
 * which the buffer does not repeat. Records are views into `buf`.
 */
export function decodeResults(buf: ArrayBuffer, ops: readonly ShardOp[]): OpResult[] {
  const r = new Reader(buf);
  r.magic(resultMagic, 'shard result');
  const count = r.u32();
  if (count !== ops.length) throw new RingkvError(ErrorCode.Internal, `shard answered ${count} results for ${ops.length} ops`);
  const out: OpResult[] = [];
  for (let i = 0; i < count; i++) {
    const status = r.u8();
    const op = ops[i]!;
    if (status === statusError) {
      out.push({ ok: false, error: readError(r) });
    } else if (status === statusGet && op.op === 'get') {
      const found = r.u8() === 1;
      const res: GetDone = { ok: true, op: 'get', record: found ? readRecord(r, r.u8() === 1) : null };
      out.push(res);
    } else if (status === statusWrite && (op.op === 'put' || op.op === 'delete')) {
      const flags = r.u8();
      const version = r.str16();
      const timestampMs = r.f64();
      const record = (flags & 1) !== 0 ? readRecord(r, r.u8() === 1) : null;
      const res: WriteDone = { ok: true, op: op.op, version, timestampMs, record, replayed: (flags & 2) !== 0 };
      out.push(res);
    } else if (status === statusApply && op.op === 'apply') {
      const res: ApplyDone = { ok: true, op: 'apply', changed: r.u8() === 1 };
      out.push(res);
    } else {
      throw new RingkvError(ErrorCode.Internal, `shard result ${i}: status ${status} does not answer a ${op.op}`);
    }
  }
  r.end();
  return out;
}

/** One entry of a scan: the storage entry with its sibling set as a record. */
export interface ScannedEntry {
  key: Uint8Array;
  timestampMs: number;
  expiresAtMs: number;
  record: WireRecord;
}

export function encodeScan(entries: readonly ScannedEntry[]): ArrayBuffer {
  let size = 4 + 1 + 4;
  for (const e of entries) size += 2 + e.key.length + 8 + 8 + 1 + laneRecordBytes(e.record);
  const w = new Writer(size);
  w.u32(scanMagic);
  w.u8(0);
  w.u32(entries.length);
  for (const e of entries) {
    w.blob16(e.key);
    w.f64(e.timestampMs);
    w.f64(e.expiresAtMs);
    w.u8(e.record.tombstone ? 1 : 0);
    writeRecord(w, e.record);
  }
  return w.done();
}

export function encodeScanError(e: WireError): ArrayBuffer {
  const message = encoder.encode(e.message);
  const details = encoder.encode(JSON.stringify(e.details));
  const w = new Writer(4 + 1 + errorBytes(e, details, message));
  w.u32(scanMagic);
  w.u8(statusError);
  writeError(w, e, message, details);
  return w.done();
}

/** The entries of a scan buffer, or the error it carries. */
export function decodeScan(buf: ArrayBuffer): { ok: true; entries: ScannedEntry[] } | { ok: false; error: WireError } {
  const r = new Reader(buf);
  r.magic(scanMagic, 'shard scan');
  if (r.u8() === statusError) {
    const error = readError(r);
    r.end();
    return { ok: false, error };
  }
  const count = r.u32();
  const entries: ScannedEntry[] = [];
  for (let i = 0; i < count; i++) {
    const key = r.blob16();
    const timestampMs = r.f64();
    const expiresAtMs = r.f64();
    const tombstone = r.u8() === 1;
    entries.push({ key, timestampMs, expiresAtMs, record: readRecord(r, tombstone) });
  }
  r.end();
  return { ok: true, entries };
}
