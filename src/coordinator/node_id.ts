// A node's id: chosen once and kept in `<dataDir>/NODE_ID`, because versions written by this node
// carry its id in their dots (versioning/sibling.ts) and version strings, so the id must survive
// restarts. A configured id that disagrees with the recorded one is refused: the data would then
// carry two ids for one node.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, RingkvError } from '../errors';
import { assertNodeId } from '../versioning';

export const nodeIdFileName = 'NODE_ID';

export function loadOrCreateNodeId(dataDir: string, configured?: string): string {
  if (configured !== undefined) assertNodeId(configured);
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, nodeIdFileName);
  let recorded: string | null = null;
  try {
    recorded = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new RingkvError(ErrorCode.Io, `cannot read ${file}`, { cause: err });
  }
  if (recorded !== null) {
    try {
      assertNodeId(recorded);
    } catch (cause) {
      throw new RingkvError(ErrorCode.Corruption, `${file} holds no valid node id`, { cause });
    }
    if (configured !== undefined && configured !== recorded) {
      throw new RingkvError(ErrorCode.InvalidArgument, `data dir ${dataDir} belongs to node ${recorded}, not ${configured}`, {
        details: { recorded_node_id: recorded, configured_node_id: configured },
      });
    }
    return recorded;
  }
  const id = configured ?? `n${crypto.randomBytes(5).toString('hex')}`;
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, `${id}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return id;
}
