// What a node says when the tombstone grace that decides is not its own: nodes started with
// different --tombstone-grace-seconds (a rolling change of the flag passes through that). Every
// replica purges a tombstone its own grace after the delete, so the node keeping the shortest
// decides when a delete another replica missed can come back: this node's deletes report that
// expiry, and its ranges must sync within it (sync_coverage.ts). A warning, not a refusal to
// join: a refusal would make a rolling change of the flag impossible.
import type { TombstoneGraceHolder } from '../membership';
import { spanText } from './span_text';

/**
 * The log line for a new shortest grace, or null when there is nothing to say: `warned` is
 * whether the last line said another node's grace is shorter than this node's `ownMs`.
 */
export function tombstoneGraceNotice(ownMs: number, shortest: TombstoneGraceHolder, warned: boolean): string | null {
  if (shortest.ms < ownMs) {
    return (
      `WARN tombstone grace: node ${shortest.nodeId} purges tombstones ${spanText(shortest.ms)} after their deletes, this node ${spanText(ownMs)} after ` +
      `(--tombstone-grace-seconds differs between nodes): the shortest decides, so deletes here report its expiry and every range must sync within it. ` +
      `Give every node one grace`
    );
  }
  return warned ? `tombstone grace: no node purges tombstones sooner than this node (${spanText(ownMs)} after their deletes) again` : null;
}
