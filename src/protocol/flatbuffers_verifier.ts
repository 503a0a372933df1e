// A bounds verifier for FlatBuffers messages received from the network. The flatbuffers
// JavaScript runtime has no verifier: its accessors read past the end of a buffer as zeros and
// trust every offset, so a malformed or hostile frame would decode into garbage instead of
// failing. Each decoder describes its schema here (which vtable slot holds what) and calls
// verifyFlatBuffer before touching a generated accessor; after it passes, every offset, vector and
// string the accessors follow is inside the buffer.
//
// Byte layout checked (FlatBuffers binary format, little-endian):
//   buffer:  [u32 root offset][4-byte file identifier]...
//   table:   at T, an i32 soffset; its vtable is at T - soffset
//   vtable:  [u16 vtable bytes][u16 table inline bytes][u16 field offset]*  (0 = field absent)
//   field:   scalar inline at T + off; or a u32 uoffset at P = T + off pointing to P + u32
//   vector:  [u32 length][elements]; string: [u32 length][bytes][0]
import { isUtf8 } from 'node:buffer';
import { ErrorCode, RingkvError } from '../errors';

export type FieldSpec =
  | { readonly kind: 'scalar'; readonly bytes: 1 | 2 | 4 | 8 }
  | { readonly kind: 'bytes'; readonly lengthMax: number }
  | { readonly kind: 'string'; readonly bytesMax: number }
  | { readonly kind: 'table'; readonly table: TableSpec }
  | { readonly kind: 'tables'; readonly table: TableSpec; readonly lengthMax: number }
  | { readonly kind: 'strings'; readonly bytesMax: number; readonly lengthMax: number };

export interface TableSpec {
  readonly name: string;
  /** Indexed by field id (declaration order in the schema); null for a deprecated slot. */
  readonly fields: readonly (FieldSpec | null)[];
}

/** Nesting deeper than this is refused; ringkv's schemas nest at most 3 tables deep. */
const depthMax = 16;
/** Tables visited per buffer; bounds the work a small frame of shared offsets can cause. */
const tablesVisitedMax = 1 << 20;

function malformed(message: string): RingkvError {
  return new RingkvError(ErrorCode.MalformedFrame, message);
}

class Verifier {
  private readonly view: DataView;
  private tablesVisited = 0;
  /**
   * Bytes of the tables' inline data, vectors and strings visited so far. Each has bytes of its own
   * in a buffer a builder made (only vtables are shared), so they cannot add up to more than the
   * buffer: offsets that point many fields at one vector would make a decoder copy it for each,
   * and a 32 MiB frame decode into hundreds of GiB.
   */
  private claimedBytes = 0;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  // A check names where it is as (table, field id or -1, part), made into text only when it
  // fails: building it per check was a string per field of every frame on the hot path.
  private need(pos: number, size: number, table: string, id: number, part: string): void {
    if (!Number.isInteger(pos) || pos < 0 || pos + size > this.bytes.byteLength) {
      throw malformed(`${where(table, id, part)} at ${pos} (+${size}) is outside the ${this.bytes.byteLength}-byte frame`);
    }
  }

  u32(pos: number, table: string, id: number, part: string): number {
    this.need(pos, 4, table, id, part);
    return this.view.getUint32(pos, true);
  }

  private claim(bytes: number, table: string, id: number, part: string): void {
    this.claimedBytes += bytes;
    if (this.claimedBytes > this.bytes.byteLength) {
      throw malformed(`${where(table, id, part)}: tables, vectors and strings add up to more than the ${this.bytes.byteLength}-byte frame (offsets that share them)`);
    }
  }

  /** Follows a uoffset at pos; returns the position it points to. */
  private deref(pos: number, table: string, id: number, part: string): number {
    const target = pos + this.u32(pos, table, id, part);
    this.need(target, 4, table, id, part);
    return target;
  }

  table(pos: number, spec: TableSpec, depth: number): void {
    if (depth > depthMax) throw malformed(`${spec.name}: nested deeper than ${depthMax}`);
    if (++this.tablesVisited > tablesVisitedMax) throw malformed(`more than ${tablesVisitedMax} tables in a frame`);
    this.need(pos, 4, spec.name, -1, 'table');
    const vtable = pos - this.view.getInt32(pos, true);
    this.need(vtable, 4, spec.name, -1, 'vtable');
    const vtableBytes = this.view.getUint16(vtable, true);
    const inlineBytes = this.view.getUint16(vtable + 2, true);
    // The flatbuffers runtime reads vtable entries as signed 16-bit numbers: one of 0x8000 or more
    // would be checked here at one place and read there at another, 64 KiB before it.
    if (vtableBytes < 4 || vtableBytes % 2 !== 0 || vtableBytes >= 0x8000) throw malformed(`${spec.name}: vtable size ${vtableBytes}`);
    this.need(vtable, vtableBytes, spec.name, -1, 'vtable');
    if (inlineBytes < 4 || inlineBytes >= 0x8000) throw malformed(`${spec.name}: inline size ${inlineBytes}`);
    this.need(pos, inlineBytes, spec.name, -1, 'inline data');
    this.claim(inlineBytes, spec.name, -1, 'inline data');
    const slots = (vtableBytes - 4) / 2;
    for (let id = 0; id < slots && id < spec.fields.length; id++) {
      const field = spec.fields[id];
      if (field === null || field === undefined) continue;
      const off = this.view.getUint16(vtable + 4 + 2 * id, true);
      if (off === 0) continue;
      const size = field.kind === 'scalar' ? field.bytes : 4;
      if (off < 4 || off + size > inlineBytes) throw malformed(`${where(spec.name, id, '')}: offset ${off} outside inline size ${inlineBytes}`);
      const at = pos + off;
      switch (field.kind) {
        case 'scalar':
          break;
        case 'bytes': {
          const v = this.deref(at, spec.name, id, '');
          const n = this.view.getUint32(v, true);
          if (n > field.lengthMax) throw malformed(`${where(spec.name, id, '')}: ${n} bytes, more than ${field.lengthMax}`);
          this.need(v + 4, n, spec.name, id, 'bytes');
          this.claim(4 + n, spec.name, id, 'bytes');
          break;
        }
        case 'string':
          this.string(this.deref(at, spec.name, id, ''), field.bytesMax, spec.name, id, '');
          break;
        case 'table':
          this.table(this.deref(at, spec.name, id, ''), field.table, depth + 1);
          break;
        case 'tables': {
          const v = this.deref(at, spec.name, id, '');
          const n = this.view.getUint32(v, true);
          if (n > field.lengthMax) {
            // Too many elements is a frame over its limits, not a broken one: the sender can fix it by splitting.
            throw new RingkvError(ErrorCode.FrameTooLarge, `${where(spec.name, id, '')}: ${n} elements, more than ${field.lengthMax}`, {
              details: { elements: n, elements_max: field.lengthMax },
            });
          }
          this.need(v + 4, 4 * n, spec.name, id, 'elements');
          this.claim(4 + 4 * n, spec.name, id, 'elements');
          for (let i = 0; i < n; i++) this.table(this.deref(v + 4 + 4 * i, spec.name, id, 'element'), field.table, depth + 1);
          break;
        }
        case 'strings': {
          const v = this.deref(at, spec.name, id, '');
          const n = this.view.getUint32(v, true);
          if (n > field.lengthMax) throw malformed(`${where(spec.name, id, '')}: ${n} strings, more than ${field.lengthMax}`);
          this.need(v + 4, 4 * n, spec.name, id, 'elements');
          this.claim(4 + 4 * n, spec.name, id, 'elements');
          for (let i = 0; i < n; i++) this.string(this.deref(v + 4 + 4 * i, spec.name, id, 'element'), field.bytesMax, spec.name, id, 'element');
          break;
        }
      }
    }
  }

  /** The string at `v`: its length within bytesMax, its bytes and terminating zero inside the buffer, valid UTF-8. */
  private string(v: number, bytesMax: number, table: string, id: number, part: string): void {
    const n = this.view.getUint32(v, true);
    if (n > bytesMax) throw malformed(`${where(table, id, part)}: string of ${n} bytes, more than ${bytesMax}`);
    this.need(v + 4, n + 1, table, id, 'string');
    this.claim(4 + n + 1, table, id, part === '' ? 'string' : part);
    const text = this.bytes.subarray(v + 4, v + 4 + n);
    if (!isUtf8(text)) throw malformed(`${where(table, id, part)}: string is not valid UTF-8`);
  }
}

function where(table: string, id: number, part: string): string {
  if (id < 0) return `${table} ${part}`;
  return part === '' ? `${table} field ${id}` : `${table} field ${id} ${part}`;
}

/**
 * Checks that `bytes` is a well-formed FlatBuffer whose root is a `root` table (and carries
 * `identifier` at bytes 4..8 when given). Throws RingkvError RKV_ERR_MALFORMED_FRAME naming the
 * first problem found, or RKV_ERR_FRAME_TOO_LARGE when a vector of tables holds more elements than
 * its spec allows (the sender can split such a frame; a broken one it cannot fix).
 */
export function verifyFlatBuffer(bytes: Uint8Array, root: TableSpec, identifier?: string): void {
  if (bytes.byteLength < 8) throw malformed(`frame of ${bytes.byteLength} bytes is shorter than a FlatBuffer header`);
  if (identifier !== undefined) {
    for (let i = 0; i < 4; i++) {
      if (bytes[4 + i] !== identifier.charCodeAt(i)) throw malformed(`frame does not carry the file identifier "${identifier}"`);
    }
  }
  const v = new Verifier(bytes);
  v.table(v.u32(0, root.name, -1, 'root offset'), root, 0);
}
