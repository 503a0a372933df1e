// Which quarantined tables nobody has reported and repaired yet. A table is quarantined by a
// scrub, or on its own by a compaction or a read that meets its damage (LsmEngine); the node only
// sees the shards' running total (tablesQuarantined, polled with gossip). A scrub reports and
// repairs what it quarantined itself; the rest, found by a compaction or a read, the cluster
// coordinator reports and repairs at the next poll, or, while scrubs run, when the last of them
// ends (a table found then is in neither scrub's report).
import { assert } from '../errors';

export class QuarantineWatch {
  /** The total already reported, by a poll or by scrubs. */
  private seen = 0;
  private scrubs = 0;
  /** What the scrubs that ended while others ran reported as their own. */
  private scrubbedMeanwhile = 0;

  /** A poll of the total: how many tables to report and repair now (0 while a scrub runs). */
  polled(total: number): number {
    if (this.scrubs > 0 || total <= this.seen) return 0;
    const fresh = total - this.seen;
    this.seen = total;
    return fresh;
  }

  scrubStarted(): void {
    this.scrubs++;
  }

  /**
   * A scrub ended having quarantined `own` tables, and the total is now `total`: how many
   * others were quarantined (by a compaction or a read) since the last report, to report and
   * repair now. 0 while other scrubs still run: the last to end counts them. A total that could
   * not be read (null) counts none; the next poll reports them (and the scrubs' own again).
   */
  scrubEnded(own: number, total: number | null): number {
    assert(this.scrubs > 0 && own >= 0, 'a scrub ended that had not started');
    this.scrubs--;
    this.scrubbedMeanwhile += own;
    if (this.scrubs > 0) return 0;
    if (total === null) {
      this.scrubbedMeanwhile = 0;
      return 0;
    }
    const others = Math.max(0, total - this.seen - this.scrubbedMeanwhile);
    this.seen = Math.max(this.seen, total);
    this.scrubbedMeanwhile = 0;
    return others;
  }
}
