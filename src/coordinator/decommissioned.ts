// `<dataDir>/DECOMMISSIONED`: the node of this data dir left the cluster after handing its data
// over (decommission.ts), at the time the file holds. Written once the hand-over has succeeded and
// before the node announces LEFT, so no node hears of the leave without it on disk.
// A process started again on such a data dir is refused: its ranges would come back to it without
// any streaming, holding the data of the moment it left, while the writes made since are on the
// nodes that took its place (and, with one replica per key, only there: cleanup would then remove
// them). Cassandra refuses a decommissioned node's restart for the same reason. The way back is a
// new, empty data dir: the node joins as any new one does and streams its ranges first.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, RingkvError } from '../errors';
import { readTimeFile, writeTimeFile } from './time_file';

export const decommissionedFileName = 'DECOMMISSIONED';

/** Records in `file` (a data dir's DECOMMISSIONED) that its node left at `nowMs`. */
export function recordDecommissioned(file: string, nowMs: number): void {
  writeTimeFile(file, nowMs);
}

/** Throws, saying what to do instead, when `dataDir` is that of a node that was decommissioned. */
export function refuseDecommissioned(dataDir: string): void {
  const file = path.join(dataDir, decommissionedFileName);
  if (!fs.existsSync(file)) return;
  let leftMs: number | null = null;
  try {
    leftMs = readTimeFile(file, () => undefined);
  } catch {
    // Unreadable: the file is there, which is what refuses the start; its time only informs.
  }
  const when = leftMs === null ? '' : ` at ${new Date(leftMs).toISOString()}`;
  throw new RingkvError(
    ErrorCode.InvalidArgument,
    `data dir ${dataDir} is that of a node decommissioned${when} (${file}): it handed its data over and left the cluster, and what it still holds misses every write made since. ` +
      `To bring this node back, start it with a new, empty data dir: it joins again and streams its ranges from the others`,
    { details: { data_dir: dataDir, ...(leftMs !== null && { decommissioned_at_ms: leftMs }) } },
  );
}
