// The failure detector, apart from gossip (Cassandra keeps them apart too): it only turns "how long
// since this node's heartbeat last advanced" into a status. design.md §7.5 asks for fixed
// timeouts (SUSPECT after suspectAfterMs, DEAD after deadAfterMs); an accrual detector (Hayashibara
// et al., "The phi accrual failure detector", 2004) could replace `classify` without touching the
// gossiper.
import { assert } from '../errors';
import type { MemberStatus } from './types';

export interface FailureDetectorOptions {
  suspectAfterMs: number;
  deadAfterMs: number;
}

export function validateFailureDetectorOptions(o: FailureDetectorOptions): void {
  assert(Number.isFinite(o.suspectAfterMs) && o.suspectAfterMs > 0, 'suspectAfterMs must be positive');
  assert(o.deadAfterMs > o.suspectAfterMs, 'deadAfterMs must exceed suspectAfterMs');
}

/** The status of a node whose heartbeat has not advanced for `silentMs`. */
export function classify(silentMs: number, o: FailureDetectorOptions): MemberStatus {
  if (silentMs >= o.deadAfterMs) return 'DEAD';
  if (silentMs >= o.suspectAfterMs) return 'SUSPECT';
  return 'ALIVE';
}
