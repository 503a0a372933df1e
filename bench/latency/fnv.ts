// YCSB's 64-bit FNV-1a over the 8 little-endian bytes of a long, then the absolute value of the
// signed result. YCSB uses it to scatter record numbers into key names ("user" + hash) and to
// scramble the zipfian ranks over the key space; matching it keeps our key popularity and key
// names comparable with published YCSB numbers.

const fnvOffsetBasis64 = 0xcbf29ce484222325n;
const fnvPrime64 = 1099511628211n;
const mask64 = (1n << 64n) - 1n;

export function fnvHash64(value: number): bigint {
  let val = BigInt.asUintN(64, BigInt(value));
  let hash = fnvOffsetBasis64;
  for (let i = 0; i < 8; i++) {
    const octet = val & 0xffn;
    val >>= 8n;
    hash ^= octet;
    hash = (hash * fnvPrime64) & mask64;
  }
  const signed = BigInt.asIntN(64, hash);
  return signed < 0n ? -signed : signed;
}
