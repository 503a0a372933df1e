// Response frames of the client WebSocket protocol: encode (node side) and decode (client side).
// The results of one request frame normally travel in one response frame; a response larger than
// the soft target (many large GET values) is split across several frames, so a client matches
// results by request id, never by position or frame.
import { type Builder, ByteBuffer } from 'flatbuffers';
import type { Sibling } from '../coordinator/types';
import { assert, ErrorCode, RingkvError } from '../errors';
import { utf8Scratch } from '../utf8';
import { type StatusName, statusFromWire, statusToWire, WireErrorCode } from './client_codes';
import { clientFileIdentifier, responseFrameSpec, wireStringBytesMax, wireStringFits } from './client_schema';
import { verifyFlatBuffer } from './flatbuffers_verifier';
import { FrameCopy } from './frame_copy';
import { ResponseFrame } from './generated/client/ringkv/client/response-frame';
import { Result } from './generated/client/ringkv/client/result';
import { Sibling as WireSibling } from './generated/client/ringkv/client/sibling';
import { withSharedBuilder } from './shared_builder';
import { addUint64Field, readUint64Field, uint64Fields } from './field_access';

export interface ClientResult {
  id: number;
  status: StatusName;
  version?: string;
  timestampMs?: number;
  value?: Uint8Array;
  /** Present only when a get found two or more concurrent versions, newest first. */
  siblings?: Sibling[];
  context?: Uint8Array;
  tombstoneExpiryMs?: number;
  /** Set when status is 'error'. */
  error?: WireErrorCode;
  message?: string;
  /** Conflict errors: the version the store holds now. */
  currentVersion?: string;
}

export interface DecodedResponseFrame {
  results: ClientResult[];
  /** Frame-level error (the request frame was refused whole); None otherwise. */
  error: WireErrorCode;
  message?: string;
}

/** Error messages longer than this are cut, so a message never makes a frame invalid. */
const messageCharsMax = 1024;

function clip(s: string): string {
  return s.length <= messageCharsMax ? s : `${s.slice(0, messageCharsMax - 3)}...`;
}

/** Bytes a result adds to a frame, near enough to split frames by. */
function estimateBytes(r: ClientResult): number {
  let n = 96 + (r.value?.byteLength ?? 0) + (r.context?.byteLength ?? 0) + (r.version?.length ?? 0) + (r.message?.length ?? 0);
  for (const s of r.siblings ?? []) n += 48 + s.value.byteLength + s.version.length;
  return n;
}

function addResult(b: Builder, r: ClientResult): number {
  assert(Number.isInteger(r.id) && r.id >= 0 && r.id <= 0xffffffff, () => `result id ${r.id} is not a uint32`);
  assert(wireStringFits(r.version) && wireStringFits(r.currentVersion), () => `a version string is over ${wireStringBytesMax} bytes`);
  // Bytes, not the string: the builder's own TextEncoder call costs more than the copy (utf8.ts).
  const version = r.version === undefined ? 0 : b.createString(utf8Scratch(r.version));
  const value = r.value === undefined ? 0 : b.createByteVector(r.value);
  let siblings = 0;
  if (r.siblings !== undefined && r.siblings.length > 1) {
    const offs = r.siblings.map((s) => {
      const sv = b.createByteVector(s.value);
      const sver = b.createString(utf8Scratch(s.version));
      WireSibling.startSibling(b);
      WireSibling.addValue(b, sv);
      WireSibling.addVersion(b, sver);
      addUint64Field(b, uint64Fields.clientSiblingTimestampMs, s.timestampMs);
      return WireSibling.endSibling(b);
    });
    siblings = Result.createSiblingsVector(b, offs);
  }
  const context = r.context === undefined ? 0 : b.createByteVector(r.context);
  const message = r.message === undefined ? 0 : b.createString(clip(r.message));
  const current = r.currentVersion === undefined ? 0 : b.createString(utf8Scratch(r.currentVersion));
  Result.startResult(b);
  Result.addId(b, r.id);
  Result.addStatus(b, statusToWire(r.status));
  if (version) Result.addVersion(b, version);
  if (r.timestampMs !== undefined) addUint64Field(b, uint64Fields.clientResultTimestampMs, r.timestampMs);
  if (value) Result.addValue(b, value);
  if (siblings) Result.addSiblings(b, siblings);
  if (context) Result.addContext(b, context);
  if (r.tombstoneExpiryMs !== undefined) addUint64Field(b, uint64Fields.clientResultTombstoneExpiryMs, r.tombstoneExpiryMs);
  if (r.error !== undefined) Result.addError(b, r.error);
  if (message) Result.addMessage(b, message);
  if (current) Result.addCurrentVersion(b, current);
  return Result.endResult(b);
}

function finishFrame(b: Builder, results: number[], error: WireErrorCode, message: string | undefined): Uint8Array {
  const vec = results.length === 0 ? 0 : ResponseFrame.createResultsVector(b, results);
  const msg = message === undefined ? 0 : b.createString(clip(message));
  ResponseFrame.startResponseFrame(b);
  if (vec) ResponseFrame.addResults(b, vec);
  if (error !== WireErrorCode.None) ResponseFrame.addError(b, error);
  if (msg) ResponseFrame.addMessage(b, msg);
  b.finish(ResponseFrame.endResponseFrame(b), clientFileIdentifier);
  return b.asUint8Array();
}

/**
 * Encodes results into one frame, or several when they add up to more than `frameBytesTarget`
 * (a single result larger than the target still goes out alone in one frame).
 */
export function encodeResponseFrames(results: readonly ClientResult[], frameBytesTarget: number): Uint8Array[] {
  assert(results.length > 0, 'a response frame carries at least one result');
  const frames: Uint8Array[] = [];
  let i = 0;
  while (i < results.length) {
    let size = 64;
    let j = i;
    while (j < results.length && (j === i || size + estimateBytes(results[j]!) <= frameBytesTarget)) {
      size += estimateBytes(results[j]!);
      j++;
    }
    const from = i;
    frames.push(
      withSharedBuilder(size, (b) => {
        const offs: number[] = [];
        for (let k = from; k < j; k++) offs.push(addResult(b, results[k]!));
        // Copied out: the frame waits in its connection's queue while the builder moves on.
        return finishFrame(b, offs, WireErrorCode.None, undefined).slice();
      }),
    );
    i = j;
  }
  return frames;
}

/** A frame-level error: the request frame was refused whole. */
export function encodeErrorFrame(error: WireErrorCode, message: string): Uint8Array {
  assert(error !== WireErrorCode.None, 'an error frame carries an error');
  return withSharedBuilder(256, (b) => finishFrame(b, [], error, message).slice());
}

/**
 * Decodes a response frame (client side). Throws RKV_ERR_MALFORMED_FRAME on broken bytes. Values
 * and contexts are views into one copy of the frame (frame_copy.ts): `bytes` may be reused.
 */
export function decodeResponseFrame(bytes: Uint8Array): DecodedResponseFrame {
  verifyFlatBuffer(bytes, responseFrameSpec, clientFileIdentifier);
  const frame = ResponseFrame.getRootAsResponseFrame(new ByteBuffer(bytes));
  const copy = new FrameCopy(bytes);
  const results: ClientResult[] = [];
  const r = new Result();
  const s = new WireSibling();
  for (let i = 0; i < frame.resultsLength(); i++) {
    frame.results(i, r);
    const status = statusFromWire(r.status());
    if (status === undefined) throw new RingkvError(ErrorCode.MalformedFrame, `unknown status code ${r.status()}`);
    const out: ClientResult = { id: r.id(), status };
    const version = r.version();
    if (version !== null) out.version = version;
    if (status !== 'error' && status !== 'not_found') out.timestampMs = readUint64Field(r, uint64Fields.clientResultTimestampMs);
    const value = r.valueArray();
    if (value !== null) out.value = copy.keep(value);
    if (r.siblingsLength() > 0) {
      out.siblings = [];
      for (let k = 0; k < r.siblingsLength(); k++) {
        r.siblings(k, s);
        const sv = s.valueArray();
        out.siblings.push({ value: sv === null ? new Uint8Array(0) : copy.keep(sv), version: s.version() ?? '', timestampMs: readUint64Field(s, uint64Fields.clientSiblingTimestampMs) });
      }
    }
    const context = r.contextArray();
    if (context !== null) out.context = copy.keep(context);
    const tomb = readUint64Field(r, uint64Fields.clientResultTombstoneExpiryMs);
    if (tomb !== 0) out.tombstoneExpiryMs = tomb;
    if (r.error() !== WireErrorCode.None) out.error = r.error();
    const message = r.message();
    if (message !== null) out.message = message;
    const current = r.currentVersion();
    if (current !== null) out.currentVersion = current;
    results.push(out);
  }
  const decoded: DecodedResponseFrame = { results, error: frame.error() };
  const message = frame.message();
  if (message !== null) decoded.message = message;
  return decoded;
}
