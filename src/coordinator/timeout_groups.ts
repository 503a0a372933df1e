// A batch's items grouped by their timeout: a frame's requests nearly all carry the default, so a
// batch needs one deadline timer (and one local submission) per distinct timeout, not per item.
// quorum_reads.ts and quorum_writes.ts use it.

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
