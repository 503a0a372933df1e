// CRC-32C for every on-disk structure (WAL records, SSTable blocks, footer, manifest), through the
// addon's SSE4.2 path. One wrapper so the format docs can name a single function.
import { native } from '../native';

export function crc32c(data: Uint8Array): number {
  return native.crc32c(data, 0) >>> 0;
}
