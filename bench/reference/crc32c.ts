// A pure-TypeScript CRC-32C (slicing-by-8 tables, the same algorithm as the addon's software
// path), used only by bench/native.bench.ts as the baseline the addon is measured against. It is
// deliberately not in src/: the store always uses the addon.

const POLY = 0x82f63b78;

function makeTables(): Int32Array[] {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    tables[0]![i] = c;
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const prev = tables[k - 1]![i]!;
      tables[k]![i] = (prev >>> 8) ^ tables[0]![prev & 0xff]!;
    }
  }
  return tables;
}

const [t0, t1, t2, t3, t4, t5, t6, t7] = makeTables() as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];

/** CRC-32C of data extending the finished CRC `crc`, as an unsigned 32-bit number. */
export function crc32cReference(data: Uint8Array, crc = 0): number {
  let c = ~crc;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    const lo = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) ^ c;
    c =
      t7[lo & 0xff]! ^
      t6[(lo >>> 8) & 0xff]! ^
      t5[(lo >>> 16) & 0xff]! ^
      t4[lo >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
  }
  for (; i < data.length; i++) c = t0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
