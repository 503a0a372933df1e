// The version string clients see and send back in If-Match: `v<counter>_<unixSeconds>_<nodeId>`
// (design.md §5, e.g. `v3_1706234567_nodeA`). It names one version of a key uniquely: `nodeId`
// and `counter` are the version's dot, the event that created it (sibling.ts), and a node
// never issues the same dot twice for one key, across restarts and restores too: counters follow
// the clock (dot_counter.ts), so they are long. The seconds are for people reading it.
import { versionStringBytesMax } from '../constants';
import { ErrorCode, RingkvError } from '../errors';
import { isValidNodeId } from './vector_clock';

export interface VersionParts {
  counter: number;
  unixSeconds: number;
  nodeId: string;
}

export function formatVersion(counter: number, timestampMs: number, nodeId: string): string {
  return `v${counter}_${Math.floor(timestampMs / 1000)}_${nodeId}`;
}

const pattern = /^v([1-9][0-9]{0,15})_(0|[1-9][0-9]{0,15})_(.+)$/;

/** Parses a version string; anything malformed is RKV_ERR_INVALID_ARGUMENT. */
export function parseVersion(text: string): VersionParts {
  const m = text.length <= versionStringBytesMax ? pattern.exec(text) : null;
  const counter = m ? Number(m[1]) : NaN;
  const unixSeconds = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(counter) || !Number.isSafeInteger(unixSeconds) || !isValidNodeId(m[3]!)) {
    throw new RingkvError(ErrorCode.InvalidArgument, `not a version string (v<counter>_<seconds>_<node>): ${JSON.stringify(text.slice(0, versionStringBytesMax))}`);
  }
  return { counter, unixSeconds, nodeId: m[3]! };
}
