// The order in which replicas of a key are asked, once they are ranked: the ones that rank as well
// as the best take turns at the front, so the reads of a hot key are spread over them rather than
// all sent to the first (design.md §10 scenario 5, "read replicas"). The client does it when it
// picks a coordinator, a coordinator when it picks the replicas a read asks.

/**
 * `ranked` (best first by `cost`) with the leading replicas of equal cost rotated to start at
 * `turn` modulo their number; the others stay as they are. `ranked` itself, not a copy, when the
 * rotation changes nothing.
 */
export function takeTurns<T>(ranked: readonly T[], cost: (x: T) => number, turn: number): readonly T[] {
  let best = 1;
  while (best < ranked.length && cost(ranked[best]!) === cost(ranked[0]!)) best++;
  const start = turn % best;
  return start === 0 ? ranked : [...ranked.slice(start, best), ...ranked.slice(0, start), ...ranked.slice(best)];
}
