// A batch's items grouped by their timeout: a frame's requests nearly all carry the default, or
// one of a few steps of their client's time left (answerWithinMs), so a batch needs one deadline
// timer (and one local submission) per distinct timeout, not per item. quorum_reads.ts and
// quorum_writes.ts group by it; the front ends and forwarded writes take their timeouts from
// answerWithinMs.

/** `items` by `timeoutOf(item)`, each group in the items' order, groups in first-seen order. */
export function groupByTimeout<T>(items: readonly T[], timeoutOf: (item: T) => number): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const timeoutMs = timeoutOf(item);
    const list = groups.get(timeoutMs);
    if (list === undefined) groups.set(timeoutMs, [item]);
    else list.push(item);
  }
  return groups;
}

/**
 * The timeout for a request whose requester waits `leftMs` more: a tenth less, so the answer (a
 * Timeout naming how many replicas answered) reaches the requester before it gives up on its own
 * and retries elsewhere; then rounded down to one of 8 steps per power of two (at most 12.5% less
 * again), so that a frame's operations, whose times left differ by the few ms between their
 * sends, share one group above. At least 1 ms.
 */
export function answerWithinMs(leftMs: number): number {
  const ms = Math.floor(leftMs * 0.9);
  if (ms < 16) return Math.max(1, ms);
  const stepMs = 2 ** (Math.floor(Math.log2(ms)) - 3);
  return Math.floor(ms / stepMs) * stepMs;
}
