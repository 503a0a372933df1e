// `<dataDir>/DECOMMISSIONED`: the node of this data dir left the cluster after handing its data
// over (decommission.ts), at the time the file holds. Written once the hand-over has succeeded and
// before the node announces LEFT, so no node hears of the leave without it on disk.
// A process started again on such a data dir is refused: its ranges would come back to it without
// any streaming, holding the data of the moment it left, while the writes made since are on the
// nodes that took its place (and, with one replica per key, only there: cleanup would then remove
// them). Cassandra refuses a decommissioned node's restart for the same reason. The way back is a
// new, empty data dir: the node joins as any new one does and streams its ranges first.
// `<dataDir>/REMOVED` does the same for a node the cluster removed (DELETE /api/v1/cluster/nodes)
// while it still ran, recorded once it hears so: without it, its restart was refused only while a
// seed still held it LEFT, and once every node had forgotten that (the longest grace later) it was
// taken back with the data it had when it was removed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, RingkvError } from '../errors';
import { readTimeFile, writeTimeFile } from './time_file';

export const decommissionedFileName = 'DECOMMISSIONED';
export const removedFileName = 'REMOVED';

/** Records in `file` (a data dir's DECOMMISSIONED or REMOVED) when its node left, or heard it was removed. */
export function recordLeft(file: string, nowMs: number): void {
  writeTimeFile(file, nowMs);
}

/** How each record refuses a start: what the node was, as of the time it holds (null: unreadable), and why its data is stale. */
const refusals: ReadonlyArray<{ fileName: string; detail: string; was: (atMs: number | null) => string; because: string }> = [
  {
    fileName: removedFileName,
    detail: 'removed_at_ms',
    was: (atMs) => `the cluster removed (DELETE /api/v1/cluster/nodes) while it still ran${atMs === null ? '' : ` (it heard so at ${new Date(atMs).toISOString()})`}`,
    because: 'its ranges went to the others without a hand-over',
  },
  {
    fileName: decommissionedFileName,
    detail: 'decommissioned_at_ms',
    was: (atMs) => `decommissioned${atMs === null ? '' : ` at ${new Date(atMs).toISOString()}`}`,
    because: 'it handed its data over and left the cluster',
  },
];

/** Throws, saying what to do instead, when `dataDir` is that of a node that was decommissioned or removed. */
export function refuseDecommissioned(dataDir: string): void {
  for (const r of refusals) {
    const file = path.join(dataDir, r.fileName);
    if (!fs.existsSync(file)) continue;
    let atMs: number | null = null;
    try {
      atMs = readTimeFile(file, () => undefined);
    } catch {
      // Unreadable: the file is there, which is what refuses the start; its time only informs.
    }
    throw new RingkvError(
      ErrorCode.InvalidArgument,
      `data dir ${dataDir} is that of a node ${r.was(atMs)} (${file}): ${r.because}, and what it still holds misses every write made since. ` +
        `To bring this node back, start it with a new, empty data dir: it joins again and streams its ranges from the others`,
      { details: { data_dir: dataDir, ...(atMs !== null && { [r.detail]: atMs }) } },
    );
  }
}
