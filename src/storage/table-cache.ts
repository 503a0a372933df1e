// A bounded LRU of open SSTables (file descriptor + index + filter), LevelDB's db/table_cache.
// A table evicted here is simply reopened on its next use; readers never hold a Table across an
// await, so eviction cannot close a file under a read in progress. The engine thread and the
// background thread each have their own (a compaction job opens one for its inputs and closes
// it before replying).
import { assert } from '../errors';
import { tablePath } from './filenames';
import { Table } from './table';

export class TableCache {
  private readonly open = new Map<number, Table>();
  /** Sum of the open tables' heldBytes. */
  private bytes = 0;

  constructor(
    private readonly dir: string,
    private readonly capacity: number,
  ) {
    assert(capacity >= 1, 'table cache needs room for one file');
  }

  get(number: number): Table {
    let t = this.open.get(number);
    if (t !== undefined) {
      this.open.delete(number);
      this.open.set(number, t);
      return t;
    }
    t = Table.open(tablePath(this.dir, number), number);
    this.open.set(number, t);
    this.bytes += t.heldBytes;
    while (this.open.size > this.capacity) this.evict(this.open.keys().next().value as number);
    return t;
  }

  evict(number: number): void {
    const t = this.open.get(number);
    if (t !== undefined) {
      t.close();
      this.open.delete(number);
      this.bytes -= t.heldBytes;
    }
  }

  closeAll(): void {
    for (const t of this.open.values()) t.close();
    this.open.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.open.size;
  }

  /** Memory the open tables keep: their filter blocks and decoded indexes. */
  get heldBytes(): number {
    return this.bytes;
  }
}
