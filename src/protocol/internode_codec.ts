// Encoding and decoding of inter-node messages (internode.fbs). Decoding is a node's defence
// against a broken or hostile peer: the whole flatbuffer is bounds-verified before any accessor
// runs, so a bad frame throws RKV_ERR_MALFORMED_FRAME (and the connection that carried it is
// closed) instead of decoding into garbage. Decoded byte fields are copies, because the receive
// buffer is reused and values may be transferred to shard workers.
import { Builder, ByteBuffer } from 'flatbuffers';
import { clusterNodesMax, gossipHintTargetsMax, internodeFrameBytesMax, merkleDepthMax, nodeIdBytesMax, rangeScanPageEntriesMax, replicaBatchItemsMax, tombstoneGraceMsMax, vnodesPerNodeMax } from '../constants';
import { assert, ErrorCode, RingkvError } from '../errors';
import type { MemberInfo, MemberStatus, StorageTrouble } from '../membership/types';
import { isValidZone } from '../ring';
import { type TableSpec, verifyFlatBuffer } from './flatbuffers_verifier';
import { copyField } from './frame_copy';
import { frame } from './internode_framing';
import { withSharedBuilder } from './shared_builder';
import { addUint64Field, readUint64Field, uint64Fields } from './field_access';
import { Entry } from './generated/internode/ringkv/internode/entry';
import { Item } from './generated/internode/ringkv/internode/item';
import { Kind } from './generated/internode/ringkv/internode/kind';
import { Member } from './generated/internode/ringkv/internode/member';
import { Message } from './generated/internode/ringkv/internode/message';
import { Op } from './generated/internode/ringkv/internode/op';

export const internodeFileIdentifier = 'RKVN';
const stringBytesMax = 4096;

const bytes = { kind: 'bytes', lengthMax: internodeFrameBytesMax } as const;
const str = { kind: 'string', bytesMax: stringBytesMax } as const;
const nodeIdStr = { kind: 'string', bytesMax: nodeIdBytesMax } as const;
const u8 = { kind: 'scalar', bytes: 1 } as const;
const u16 = { kind: 'scalar', bytes: 2 } as const;
const u32 = { kind: 'scalar', bytes: 4 } as const;
const u64 = { kind: 'scalar', bytes: 8 } as const;

const memberSpec: TableSpec = {
  name: 'Member',
  // node_id, host, http_port, peer_port, vnodes, incarnation, heartbeat, status, key_estimate, load, settings, storage, zone, rebuilding, data_bytes,
  // disk_size_bytes, disk_free_bytes, rebuild_ranges_left, hints_for, datacenter, tombstone_grace_ms, ring_digest, leaving, cleaning_up,
  // fresh_data_dir, rebuild_replaced
  fields: [nodeIdStr, str, u16, u16, u16, u64, u64, u8, u64, u32, str, u8, str, u8, u64, u64, u64, u32, { kind: 'strings', bytesMax: nodeIdBytesMax, lengthMax: gossipHintTargetsMax }, str, u64, u32, u8, u8, u8, u8],
};

const entrySpec: TableSpec = {
  name: 'Entry',
  // key, record, value, tombstone
  fields: [bytes, bytes, bytes, u8],
};

const itemSpec: TableSpec = {
  name: 'Item',
  // key, record, value, tombstone, found, hint_for, error_code, error_message, hint_age_ms
  fields: [bytes, bytes, bytes, u8, u8, str, str, str, u32],
};

const messageSpec: TableSpec = {
  name: 'Message',
  // id, kind, is_reply, timeout_ms, members, key, record, found, hint_for, op, consistency, value,
  // ttl_seconds, if_match, context, idempotency_key, version, timestamp_ms, acks,
  // tombstone_expiry_ms, error_code, error_message, error_details, record_tombstone, forwarded,
  // range_from, range_to, depth, leaves, leaf_entries, has_after, after_token, after_key,
  // entries, more, items, cluster_name, from_node, to_node, sent_at_ms (f64: 8 bytes, like u64), wall_clock_ms, admitted
  fields: [
    u32, u8, u8, u32, { kind: 'tables', table: memberSpec, lengthMax: clusterNodesMax }, bytes, bytes, u8, str, u8, u8, bytes, u32, str, bytes, str, str, u64, u8, u64, str, str, str, u8, u8,
    u64, u64, u8, { kind: 'bytes', lengthMax: 8 << merkleDepthMax }, u64, u8, u64, bytes, { kind: 'tables', table: entrySpec, lengthMax: rangeScanPageEntriesMax }, u8,
    { kind: 'tables', table: itemSpec, lengthMax: replicaBatchItemsMax }, str, str, str, u64, u64, u8,
  ],
};

export type InternodeKind = 'gossip' | 'replicaWrite' | 'replicaRead' | 'forward' | 'error' | 'ping' | 'merkleLeaves' | 'rangeScan' | 'replicaWriteBatch' | 'replicaReadBatch' | 'hello';
export type InternodeOp = 'get' | 'put' | 'delete';

const kindToWire: Record<InternodeKind, Kind> = {
  gossip: Kind.Gossip,
  replicaWrite: Kind.ReplicaWrite,
  replicaRead: Kind.ReplicaRead,
  forward: Kind.Forward,
  error: Kind.Error,
  ping: Kind.Ping,
  merkleLeaves: Kind.MerkleLeaves,
  rangeScan: Kind.RangeScan,
  replicaWriteBatch: Kind.ReplicaWriteBatch,
  replicaReadBatch: Kind.ReplicaReadBatch,
  hello: Kind.Hello,
};
const kindFromWire = new Map<number, InternodeKind>(Object.entries(kindToWire).map(([k, v]) => [v, k as InternodeKind]));
const opToWire: Record<InternodeOp, Op> = { get: Op.Get, put: Op.Put, delete: Op.Delete };
const opFromWire = new Map<number, InternodeOp>(Object.entries(opToWire).map(([k, v]) => [v, k as InternodeOp]));
const statusToWire: Record<MemberStatus, number> = { ALIVE: 0, SUSPECT: 1, DEAD: 2, LEFT: 3 };
const statusFromWire: MemberStatus[] = ['ALIVE', 'SUSPECT', 'DEAD', 'LEFT'];
const storageToWire: Record<StorageTrouble, number> = { full: 1, failed: 2 };
/** 0: takes writes; a value from a newer node that this one does not know is ignored the same way. */
const storageFromWire: Array<StorageTrouble | undefined> = [undefined, 'full', 'failed'];

/** One inter-node message, request or reply; which fields matter depends on `kind` (see the schema). */
export interface InternodeMessage {
  id: number;
  kind: InternodeKind;
  isReply: boolean;
  timeoutMs?: number;
  members?: MemberInfo[];
  key?: Uint8Array;
  record?: Uint8Array;
  found?: boolean;
  hintFor?: string;
  op?: InternodeOp;
  /** 1 ONE, 2 QUORUM, 3 ALL. */
  consistency?: number;
  value?: Uint8Array;
  ttlSeconds?: number;
  ifMatch?: string;
  context?: Uint8Array;
  idempotencyKey?: string;
  version?: string;
  timestampMs?: number;
  acks?: number;
  tombstoneExpiryMs?: number;
  errorCode?: string;
  errorMessage?: string;
  errorDetails?: string;
  /** With `record`: the storage entry's tombstone flag. */
  recordTombstone?: boolean;
  forwarded?: boolean;
  /** Anti-entropy: a token range, both ends inclusive. */
  rangeFrom?: bigint;
  rangeTo?: bigint;
  /** MerkleLeaves: 2^depth leaves. */
  depth?: number;
  leaves?: BigUint64Array;
  leafEntries?: number;
  /** RangeScan: start after this (token, key). */
  after?: { token: bigint; key: Uint8Array };
  entries?: InternodeEntry[];
  more?: boolean;
  /** ReplicaWriteBatch, ReplicaReadBatch: one per key, replies in request order. */
  items?: InternodeItem[];
  /** Hello: the requester's cluster (request) or the answerer's (reply). */
  clusterName?: string;
  /** Hello: the requester's node id (request) or the answerer's (reply). */
  fromNode?: string;
  /** Hello request: the node the requester means to reach; absent for a seed address. */
  toNode?: string;
  /**
   * Request: when the requester sent it, by its steady clock (performance.now(), any origin);
   * absent or 0: not said. The answering side measures how late it arrived (frame_lateness.ts).
   */
  sentAtMs?: number;
  /** Gossip reply: the answering node's wall clock (Date.now()) as it answered; absent or 0: not said. */
  wallClockMs?: number;
  /** Gossip request: the sender takes the receiver in (addnode; Membership.admit). */
  admitted?: boolean;
}

/** One entry of a RangeScan page. */
export interface InternodeEntry {
  key: Uint8Array;
  record: Uint8Array;
  value: Uint8Array;
  tombstone: boolean;
}

/**
 * One key of a replica batch. Request: `key`, and for a write `record`, `value`, `tombstone`
 * (and `hintFor`). Reply: `found` (read: the key is stored, with `record`...; write: the replica
 * changed), or `errorCode` and `errorMessage` when this item failed.
 */
export interface InternodeItem {
  key?: Uint8Array;
  record?: Uint8Array;
  value?: Uint8Array;
  tombstone?: boolean;
  found?: boolean;
  hintFor?: string;
  errorCode?: string;
  errorMessage?: string;
  /** With hintFor: the hint's age at its sender (ms), so that handing it on does not make it new. */
  hintAgeMs?: number;
}

function estimateSize(m: FixedMessage): number {
  let size = 256 + (m.key?.byteLength ?? 0) + (m.record?.byteLength ?? 0) + (m.value?.byteLength ?? 0) + (m.context?.byteLength ?? 0);
  size += (m.members?.length ?? 0) * 128;
  size += (m.leaves?.byteLength ?? 0) + (m.after?.key.byteLength ?? 0);
  for (const e of m.entries ?? []) size += 32 + e.key.byteLength + e.record.byteLength + e.value.byteLength;
  for (const x of m.items ?? []) size += 48 + (x.key?.byteLength ?? 0) + (x.record?.byteLength ?? 0) + (x.value?.byteLength ?? 0) + (x.errorMessage?.length ?? 0);
  return size;
}

function checkString(s: string | undefined, what: string): void {
  assert(s === undefined || Buffer.byteLength(s) <= stringBytesMax, () => `${what} is over ${stringBytesMax} bytes`);
}

/** Encodes one message (without the length prefix), as bytes of its own. */
export function encodeInternode(m: InternodeMessage): Uint8Array {
  const fixed = fixedShape(m);
  return withSharedBuilder(estimateSize(fixed), (b) => build(b, fixed).slice());
}

/** Encodes one message as the frame to write: length prefix and payload in one buffer. */
export function encodeInternodeFrame(m: InternodeMessage, frameBytesMax: number = internodeFrameBytesMax): Buffer {
  const fixed = fixedShape(m);
  return withSharedBuilder(estimateSize(fixed), (b) => frame(build(b, fixed), frameBytesMax));
}

/** Every field of InternodeMessage, present (undefined when unset): one hidden class for all messages. */
type FixedMessage = Pick<InternodeMessage, 'id' | 'kind' | 'isReply'> & {
  [K in Exclude<keyof InternodeMessage, 'id' | 'kind' | 'isReply'> as K]: InternodeMessage[K] | undefined;
};

/**
 * The message copied into one fixed shape. Callers make messages with spreads and optional
 * fields, so they arrive in dozens of hidden classes, and build() reads every field of the
 * schema: on such objects each read (most of them of an absent field) is a megamorphic lookup,
 * and encoding a small replica message took 10-14 us instead of about 1. for...in visits only
 * the fields present; build() then reads one shape.
 */
function fixedShape(m: InternodeMessage): FixedMessage {
  const o: FixedMessage = {
    id: 0, kind: 'ping', isReply: false, timeoutMs: undefined, members: undefined, key: undefined, record: undefined, found: undefined,
    hintFor: undefined, op: undefined, consistency: undefined, value: undefined, ttlSeconds: undefined, ifMatch: undefined, context: undefined,
    idempotencyKey: undefined, version: undefined, timestampMs: undefined, acks: undefined, tombstoneExpiryMs: undefined, errorCode: undefined,
    errorMessage: undefined, errorDetails: undefined, recordTombstone: undefined, forwarded: undefined, rangeFrom: undefined, rangeTo: undefined,
    depth: undefined, leaves: undefined, leafEntries: undefined, after: undefined, entries: undefined, more: undefined, items: undefined,
    clusterName: undefined, fromNode: undefined, toNode: undefined, sentAtMs: undefined, wallClockMs: undefined, admitted: undefined,
  };
  const from = m as unknown as Record<string, unknown>;
  const to = o as unknown as Record<string, unknown>;
  for (const k in from) if (k in to) to[k] = from[k];
  return o;
}

/** Builds one message in `b`; the result is a view into it. Asserts the limits a correct sender keeps. */
function build(b: Builder, m: FixedMessage): Uint8Array {
  assert(Number.isInteger(m.id) && m.id >= 0 && m.id <= 0xffffffff, () => `message id ${m.id} is not a uint32`);
  // One call per field, not a loop over an array of pairs: this runs for every inter-node message.
  checkString(m.hintFor, 'hint_for');
  checkString(m.ifMatch, 'if_match');
  checkString(m.idempotencyKey, 'idempotency_key');
  checkString(m.version, 'version');
  checkString(m.errorCode, 'error_code');
  checkString(m.errorDetails, 'error_details');
  checkString(m.clusterName, 'cluster_name');
  checkString(m.fromNode, 'from_node');
  checkString(m.toNode, 'to_node');
  assert(m.sentAtMs === undefined || (Number.isFinite(m.sentAtMs) && m.sentAtMs >= 0), () => `sentAtMs ${m.sentAtMs} is not a time`);
  assert(m.wallClockMs === undefined || (Number.isSafeInteger(m.wallClockMs) && m.wallClockMs >= 0), () => `wallClockMs ${m.wallClockMs} is not a time`);
  let members = 0;
  if (m.members !== undefined) {
    assert(m.members.length <= clusterNodesMax, 'too many members in one gossip message');
    const offs = m.members.map((x) => {
      const nodeId = b.createString(x.nodeId);
      const host = b.createString(x.host);
      const settings = x.settings === undefined ? 0 : b.createString(x.settings);
      const zone = x.zone === undefined ? 0 : b.createString(x.zone);
      const datacenter = x.datacenter === undefined ? 0 : b.createString(x.datacenter);
      assert(x.hintsFor === undefined || (x.hintsFor.length <= gossipHintTargetsMax && x.hintsFor.every((id) => id.length > 0 && id.length <= nodeIdBytesMax)), 'a gossip member names too many hint targets, or a bad id');
      const hintsFor = x.hintsFor === undefined ? 0 : Member.createHintsForVector(b, x.hintsFor.map((id) => b.createString(id)));
      Member.startMember(b);
      Member.addNodeId(b, nodeId);
      Member.addHost(b, host);
      Member.addHttpPort(b, x.httpPort);
      Member.addPeerPort(b, x.peerPort);
      Member.addVnodes(b, x.vnodes);
      addUint64Field(b, uint64Fields.memberIncarnation, x.incarnation);
      addUint64Field(b, uint64Fields.memberHeartbeat, x.heartbeat);
      Member.addStatus(b, statusToWire[x.status]);
      addUint64Field(b, uint64Fields.memberKeyEstimate, Math.max(0, Math.floor(x.keyEstimate)));
      Member.addLoad(b, x.load);
      if (settings !== 0) Member.addSettings(b, settings);
      if (x.storage !== undefined) Member.addStorage(b, storageToWire[x.storage]);
      if (zone !== 0) Member.addZone(b, zone);
      if (x.rebuilding !== undefined) Member.addRebuilding(b, true);
      if (x.rebuilding === 'replaced') Member.addRebuildReplaced(b, true);
      if (x.dataBytes !== undefined) addUint64Field(b, uint64Fields.memberDataBytes, Math.max(0, Math.floor(x.dataBytes)));
      if (x.diskSizeBytes !== undefined) addUint64Field(b, uint64Fields.memberDiskSizeBytes, Math.max(0, Math.floor(x.diskSizeBytes)));
      if (x.diskFreeBytes !== undefined) addUint64Field(b, uint64Fields.memberDiskFreeBytes, Math.max(0, Math.floor(x.diskFreeBytes)));
      if (x.rebuildRangesLeft !== undefined) Member.addRebuildRangesLeft(b, Math.max(0, Math.min(0xffffffff, Math.floor(x.rebuildRangesLeft))));
      if (hintsFor !== 0) Member.addHintsFor(b, hintsFor);
      if (datacenter !== 0) Member.addDatacenter(b, datacenter);
      if (x.tombstoneGraceMs !== undefined) addUint64Field(b, uint64Fields.memberTombstoneGraceMs, x.tombstoneGraceMs);
      if (x.ringDigest !== undefined) Member.addRingDigest(b, x.ringDigest);
      if (x.leaving === true) Member.addLeaving(b, true);
      if (x.cleaningUp === true) Member.addCleaningUp(b, true);
      if (x.freshDataDir === true) Member.addFreshDataDir(b, true);
      return Member.endMember(b);
    });
    members = Message.createMembersVector(b, offs);
  }
  const vec = (x: Uint8Array | undefined) => (x === undefined ? 0 : b.createByteVector(x));
  let entries = 0;
  if (m.entries !== undefined) {
    assert(m.entries.length <= rangeScanPageEntriesMax, 'too many entries in one range-scan page');
    const offs = m.entries.map((e) => {
      const key = b.createByteVector(e.key);
      const record = b.createByteVector(e.record);
      const value = b.createByteVector(e.value);
      Entry.startEntry(b);
      Entry.addKey(b, key);
      Entry.addRecord(b, record);
      Entry.addValue(b, value);
      if (e.tombstone) Entry.addTombstone(b, true);
      return Entry.endEntry(b);
    });
    entries = Message.createEntriesVector(b, offs);
  }
  let items = 0;
  if (m.items !== undefined) {
    assert(m.items.length <= replicaBatchItemsMax, 'too many items in one replica batch');
    const offs = m.items.map((x) => buildItem(b, x));
    items = Message.createItemsVector(b, offs);
  }
  let leaves = 0;
  if (m.leaves !== undefined) {
    assert(m.leaves.length <= 1 << merkleDepthMax, 'too many Merkle leaves');
    const le = new Uint8Array(m.leaves.length * 8);
    const view = new DataView(le.buffer);
    m.leaves.forEach((h, i) => view.setBigUint64(8 * i, h, true));
    leaves = b.createByteVector(le);
  }
  const afterKey = vec(m.after?.key);
  const s = (x: string | undefined) => (x === undefined ? 0 : b.createString(x));
  const key = vec(m.key);
  const record = vec(m.record);
  const value = vec(m.value);
  const context = vec(m.context);
  const hintFor = s(m.hintFor);
  const ifMatch = s(m.ifMatch);
  const idem = s(m.idempotencyKey);
  const version = s(m.version);
  const errCode = s(m.errorCode);
  // Error messages are for people; cut them rather than fail the reply.
  const errMessage = s(m.errorMessage === undefined ? undefined : m.errorMessage.slice(0, 1024));
  const errDetails = s(m.errorDetails);
  const clusterName = s(m.clusterName);
  const fromNode = s(m.fromNode);
  const toNode = s(m.toNode);
  Message.startMessage(b);
  Message.addId(b, m.id);
  Message.addKind(b, kindToWire[m.kind]);
  if (m.isReply) Message.addIsReply(b, true);
  if (m.timeoutMs) Message.addTimeoutMs(b, m.timeoutMs);
  if (members) Message.addMembers(b, members);
  if (key) Message.addKey(b, key);
  if (record) Message.addRecord(b, record);
  if (m.found) Message.addFound(b, true);
  if (hintFor) Message.addHintFor(b, hintFor);
  if (m.op !== undefined) Message.addOp(b, opToWire[m.op]);
  if (m.consistency) Message.addConsistency(b, m.consistency);
  if (value) Message.addValue(b, value);
  if (m.ttlSeconds) Message.addTtlSeconds(b, m.ttlSeconds);
  if (ifMatch) Message.addIfMatch(b, ifMatch);
  if (context) Message.addContext(b, context);
  if (idem) Message.addIdempotencyKey(b, idem);
  if (version) Message.addVersion(b, version);
  if (m.timestampMs) addUint64Field(b, uint64Fields.messageTimestampMs, m.timestampMs);
  if (m.acks) Message.addAcks(b, m.acks);
  if (m.tombstoneExpiryMs) addUint64Field(b, uint64Fields.messageTombstoneExpiryMs, m.tombstoneExpiryMs);
  if (errCode) Message.addErrorCode(b, errCode);
  if (errMessage) Message.addErrorMessage(b, errMessage);
  if (errDetails) Message.addErrorDetails(b, errDetails);
  if (m.recordTombstone) Message.addRecordTombstone(b, true);
  if (m.forwarded) Message.addForwarded(b, true);
  if (m.rangeFrom !== undefined) Message.addRangeFrom(b, m.rangeFrom);
  if (m.rangeTo !== undefined) Message.addRangeTo(b, m.rangeTo);
  if (m.depth) Message.addDepth(b, m.depth);
  if (leaves) Message.addLeaves(b, leaves);
  if (m.leafEntries) addUint64Field(b, uint64Fields.messageLeafEntries, m.leafEntries);
  if (m.after !== undefined) {
    Message.addHasAfter(b, true);
    Message.addAfterToken(b, m.after.token);
    Message.addAfterKey(b, afterKey);
  }
  if (entries) Message.addEntries(b, entries);
  if (m.more) Message.addMore(b, true);
  if (items) Message.addItems(b, items);
  if (clusterName) Message.addClusterName(b, clusterName);
  if (fromNode) Message.addFromNode(b, fromNode);
  if (toNode) Message.addToNode(b, toNode);
  if (m.sentAtMs) Message.addSentAtMs(b, m.sentAtMs);
  if (m.wallClockMs) addUint64Field(b, uint64Fields.messageWallClockMs, m.wallClockMs);
  if (m.admitted === true) Message.addAdmitted(b, true);
  b.finish(Message.endMessage(b), internodeFileIdentifier);
  return b.asUint8Array();
}

function buildItem(b: Builder, x: InternodeItem): number {
  checkString(x.hintFor, 'hint_for');
  assert(x.hintAgeMs === undefined || (Number.isInteger(x.hintAgeMs) && x.hintAgeMs >= 0 && x.hintAgeMs <= 0xffffffff), 'hint_age_ms is a uint32');
  checkString(x.errorCode, 'error_code');
  const key = x.key === undefined ? 0 : b.createByteVector(x.key);
  const record = x.record === undefined ? 0 : b.createByteVector(x.record);
  const value = x.value === undefined ? 0 : b.createByteVector(x.value);
  const hintFor = x.hintFor === undefined ? 0 : b.createString(x.hintFor);
  const errCode = x.errorCode === undefined ? 0 : b.createString(x.errorCode);
  const errMessage = x.errorMessage === undefined ? 0 : b.createString(x.errorMessage.slice(0, 1024));
  Item.startItem(b);
  if (key) Item.addKey(b, key);
  if (record) Item.addRecord(b, record);
  if (value) Item.addValue(b, value);
  if (x.tombstone) Item.addTombstone(b, true);
  if (x.found) Item.addFound(b, true);
  if (hintFor) Item.addHintFor(b, hintFor);
  if (errCode) Item.addErrorCode(b, errCode);
  if (errMessage) Item.addErrorMessage(b, errMessage);
  if (x.hintAgeMs) Item.addHintAgeMs(b, x.hintAgeMs);
  return Item.endItem(b);
}

function decodeItem(x: Item): InternodeItem {
  const out: InternodeItem = {};
  const key = copyKey(x.keyArray());
  if (key !== undefined) out.key = key;
  const record = copy(x.recordArray());
  if (record !== undefined) out.record = record;
  const value = copy(x.valueArray());
  if (value !== undefined) out.value = value;
  if (x.tombstone()) out.tombstone = true;
  if (x.found()) out.found = true;
  const hintFor = x.hintFor();
  if (hintFor) out.hintFor = hintFor;
  const errCode = x.errorCode();
  if (errCode) out.errorCode = errCode;
  const errMessage = x.errorMessage();
  if (errMessage) out.errorMessage = errMessage;
  const hintAgeMs = x.hintAgeMs();
  if (hintAgeMs) out.hintAgeMs = hintAgeMs;
  return out;
}

function malformed(message: string): RingkvError {
  return new RingkvError(ErrorCode.MalformedFrame, message);
}

/** A key: copied alone and small, since a hint may keep it long after its message. */
function copyKey(x: Uint8Array | null): Uint8Array | undefined {
  return x === null ? undefined : Uint8Array.prototype.slice.call(x);
}

/** A record, value or context: from the shared Buffer pool, not an ArrayBuffer each (frame_copy.ts). */
function copy(x: Uint8Array | null): Uint8Array | undefined {
  return x === null ? undefined : copyField(x);
}

/** Decodes one verified message; throws RKV_ERR_MALFORMED_FRAME on anything out of bounds or unknown. */
export function decodeInternode(frame: Uint8Array): InternodeMessage {
  verifyFlatBuffer(frame, messageSpec, internodeFileIdentifier);
  const msg = Message.getRootAsMessage(new ByteBuffer(frame));
  const kind = kindFromWire.get(msg.kind());
  if (kind === undefined) throw malformed(`unknown message kind ${msg.kind()}`);
  const out: InternodeMessage = { id: msg.id(), kind, isReply: msg.isReply() };
  const timeoutMs = msg.timeoutMs();
  if (timeoutMs) out.timeoutMs = timeoutMs;
  const n = msg.membersLength();
  if (n > 0) {
    out.members = [];
    for (let i = 0; i < n; i++) {
      const x = msg.members(i)!;
      const nodeId = x.nodeId();
      const host = x.host();
      const status = statusFromWire[x.status()];
      if (!nodeId || !host || status === undefined) throw malformed('a gossip member lacks node_id, host or a known status');
      out.members.push({
        nodeId,
        host,
        httpPort: x.httpPort(),
        peerPort: x.peerPort(),
        vnodes: x.vnodes(),
        incarnation: readUint64Field(x, uint64Fields.memberIncarnation),
        heartbeat: readUint64Field(x, uint64Fields.memberHeartbeat),
        status,
        keyEstimate: readUint64Field(x, uint64Fields.memberKeyEstimate),
        load: x.load(),
      });
      const m = out.members[out.members.length - 1]!;
      const settings = x.settings();
      if (settings !== null) m.settings = settings;
      const storage = storageFromWire[x.storage()];
      if (storage !== undefined) m.storage = storage;
      const zone = x.zone();
      if (zone) {
        if (!isValidZone(zone)) throw malformed(`gossip member ${nodeId} has a zone that is not a zone name`);
        m.zone = zone;
      }
      const datacenter = x.datacenter();
      if (datacenter) {
        if (!isValidZone(datacenter)) throw malformed(`gossip member ${nodeId} has a datacenter that is not a datacenter name`);
        m.datacenter = datacenter;
      }
      if (x.rebuilding()) m.rebuilding = x.rebuildReplaced() ? 'replaced' : 'joined';
      if (x.leaving()) m.leaving = true;
      if (x.cleaningUp()) m.cleaningUp = true;
      if (x.freshDataDir()) m.freshDataDir = true;
      const dataBytes = readUint64Field(x, uint64Fields.memberDataBytes);
      if (dataBytes > 0) m.dataBytes = dataBytes;
      const diskSizeBytes = readUint64Field(x, uint64Fields.memberDiskSizeBytes);
      const diskFreeBytes = readUint64Field(x, uint64Fields.memberDiskFreeBytes);
      if (diskSizeBytes > 0 && diskFreeBytes <= diskSizeBytes) {
        m.diskSizeBytes = diskSizeBytes;
        m.diskFreeBytes = diskFreeBytes;
      }
      if (x.rebuildRangesLeft() > 0) m.rebuildRangesLeft = x.rebuildRangesLeft();
      const hintTargets = x.hintsForLength();
      if (hintTargets > 0) {
        m.hintsFor = [];
        for (let j = 0; j < hintTargets; j++) {
          const id = x.hintsFor(j);
          if (!id) throw malformed(`gossip member ${nodeId} names an empty node id among those it holds hints for`);
          m.hintsFor.push(id);
        }
      }
      // 0 is "does not say": a node with replication over 1 keeps at least tombstoneGraceMsClusterMin.
      const tombstoneGraceMs = readUint64Field(x, uint64Fields.memberTombstoneGraceMs);
      if (tombstoneGraceMs > tombstoneGraceMsMax) throw malformed(`gossip member ${nodeId} has a tombstone grace of ${tombstoneGraceMs} ms, over ${tombstoneGraceMsMax}`);
      if (tombstoneGraceMs > 0) m.tombstoneGraceMs = tombstoneGraceMs;
      if (x.ringDigest() !== 0) m.ringDigest = x.ringDigest();
      if (m.httpPort === 0 || m.peerPort === 0 || m.vnodes === 0 || !Number.isFinite(m.load)) throw malformed(`gossip member ${nodeId} has a zero port or vnode count`);
      // What the ring and the membership table assert of their members is refused here, at the
      // wire: a member merged into the table and then refused by Ring.build would fail every ring
      // change after it (the gossip timer's too), which stops the node.
      if (m.vnodes > vnodesPerNodeMax) throw malformed(`gossip member ${nodeId} has ${m.vnodes} vnodes, over ${vnodesPerNodeMax}`);
    }
  }
  const key = copyKey(msg.keyArray());
  if (key !== undefined) out.key = key;
  const record = copy(msg.recordArray());
  if (record !== undefined) out.record = record;
  if (msg.found()) out.found = true;
  const hintFor = msg.hintFor();
  if (hintFor) out.hintFor = hintFor;
  if (kind === 'forward' && !out.isReply) {
    const op = opFromWire.get(msg.op());
    if (op === undefined) throw malformed(`unknown op ${msg.op()}`);
    out.op = op;
  }
  const consistency = msg.consistency();
  if (consistency) out.consistency = consistency;
  const value = copy(msg.valueArray());
  if (value !== undefined) out.value = value;
  const ttl = msg.ttlSeconds();
  if (ttl) out.ttlSeconds = ttl;
  const ifMatch = msg.ifMatch();
  if (ifMatch) out.ifMatch = ifMatch;
  const context = copy(msg.contextArray());
  if (context !== undefined) out.context = context;
  const idem = msg.idempotencyKey();
  if (idem) out.idempotencyKey = idem;
  const version = msg.version();
  if (version) out.version = version;
  const ts = readUint64Field(msg, uint64Fields.messageTimestampMs);
  if (ts) out.timestampMs = ts;
  const acks = msg.acks();
  if (acks) out.acks = acks;
  const tomb = readUint64Field(msg, uint64Fields.messageTombstoneExpiryMs);
  if (tomb) out.tombstoneExpiryMs = tomb;
  const errCode = msg.errorCode();
  if (errCode) out.errorCode = errCode;
  const errMessage = msg.errorMessage();
  if (errMessage) out.errorMessage = errMessage;
  const errDetails = msg.errorDetails();
  if (errDetails) out.errorDetails = errDetails;
  if (msg.recordTombstone()) out.recordTombstone = true;
  if (msg.forwarded()) out.forwarded = true;
  if (kind === 'merkleLeaves' || kind === 'rangeScan') {
    out.rangeFrom = msg.rangeFrom();
    out.rangeTo = msg.rangeTo();
    if (out.rangeFrom > out.rangeTo) throw malformed('a token range must not wrap');
  }
  const depth = msg.depth();
  if (depth) out.depth = depth;
  const leaves = msg.leavesArray();
  if (leaves !== null) {
    if (leaves.byteLength % 8 !== 0) throw malformed('Merkle leaves are not a whole number of u64s');
    const view = new DataView(leaves.buffer, leaves.byteOffset, leaves.byteLength);
    out.leaves = new BigUint64Array(leaves.byteLength / 8);
    for (let i = 0; i < out.leaves.length; i++) out.leaves[i] = view.getBigUint64(8 * i, true);
  }
  const leafEntries = readUint64Field(msg, uint64Fields.messageLeafEntries);
  if (leafEntries) out.leafEntries = leafEntries;
  if (msg.hasAfter()) {
    const key = copyKey(msg.afterKeyArray());
    if (key === undefined || key.byteLength === 0) throw malformed('a range-scan cursor lacks its key');
    out.after = { token: msg.afterToken(), key };
  }
  const entries = msg.entriesLength();
  if (entries > 0) {
    out.entries = [];
    for (let i = 0; i < entries; i++) {
      const e = msg.entries(i)!;
      const key = copyKey(e.keyArray());
      const record = copy(e.recordArray());
      if (key === undefined || key.byteLength === 0 || record === undefined) throw malformed('a range-scan entry lacks its key or record');
      out.entries.push({ key, record, value: copy(e.valueArray()) ?? new Uint8Array(0), tombstone: e.tombstone() });
    }
  }
  if (msg.more()) out.more = true;
  const items = msg.itemsLength();
  if (items > 0) {
    out.items = new Array<InternodeItem>(items);
    for (let i = 0; i < items; i++) out.items[i] = decodeItem(msg.items(i)!);
  }
  const clusterName = msg.clusterName();
  if (clusterName) out.clusterName = clusterName;
  const fromNode = msg.fromNode();
  if (fromNode) out.fromNode = fromNode;
  const toNode = msg.toNode();
  if (toNode) out.toNode = toNode;
  const sentAtMs = msg.sentAtMs();
  if (!(Number.isFinite(sentAtMs) && sentAtMs >= 0)) throw malformed(`sent_at_ms ${sentAtMs} is not a time`);
  if (sentAtMs) out.sentAtMs = sentAtMs;
  const wallClockMs = readUint64Field(msg, uint64Fields.messageWallClockMs);
  if (wallClockMs) out.wallClockMs = wallClockMs;
  if (msg.admitted()) out.admitted = true;
  return out;
}

/** An error reply carrying a RingkvError's code, message and details. */
export function errorReply(id: number, err: unknown): InternodeMessage {
  const e = err instanceof RingkvError ? err : new RingkvError(ErrorCode.Internal, err instanceof Error ? err.message : String(err));
  return { id, kind: 'error', isReply: true, errorCode: e.code, errorMessage: e.message, errorDetails: JSON.stringify(e.details) };
}

const knownCodes = new Set<string>(Object.values(ErrorCode));

/** The RingkvError an error reply (or a failed batch item) describes, as the requester sees it. */
export function errorFromReply(m: Pick<InternodeMessage, 'errorCode' | 'errorMessage' | 'errorDetails'>): RingkvError {
  const code = knownCodes.has(m.errorCode ?? '') ? (m.errorCode as ErrorCode) : ErrorCode.Internal;
  let details: Record<string, string | number | boolean | null> = {};
  try {
    const parsed: unknown = JSON.parse(m.errorDetails ?? '{}');
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      for (const [k, v] of Object.entries(parsed)) {
        if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) details[k] = v as string | number | boolean | null;
      }
    }
  } catch {
    details = {};
  }
  return new RingkvError(code, m.errorMessage ?? 'peer error', { details });
}
