// What was kept of a quarantined table, in the words the node's log and the CLI both use. Its
// own module, with no imports: the CLI prints it without loading the engine (or the addon).

/**
 * "990 salvaged, 1 block(s) lost"; with `blocksLost` null (its index unreadable, and a scan for
 * its blocks could not tell whether it reached the end of them), what the scan kept.
 */
export function salvageNote(q: { salvagedEntries: number; blocksLost: number | null }): string {
  if (q.blocksLost !== null) return `${q.salvagedEntries} salvaged, ${q.blocksLost} block(s) lost`;
  return `${q.salvagedEntries} salvaged by a scan (its index is unreadable); blocks after the first it could not read, if any, are lost`;
}
