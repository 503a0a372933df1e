// What was kept of a quarantined table, in the words the node's log and the CLI both use. Its
// own module, with no imports: the CLI prints it without loading the engine (or the addon).

/** "990 salvaged, 1 block(s) lost", or why none was. */
export function salvageNote(q: { salvagedEntries: number; blocksLost: number | null }): string {
  return q.blocksLost === null ? 'none salvaged: its index is unreadable' : `${q.salvagedEntries} salvaged, ${q.blocksLost} block(s) lost`;
}
