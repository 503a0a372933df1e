// The requesting side of replica batches: the replica reads and writes this node sends to one
// peer within one tick leave as one ReplicaReadBatch or ReplicaWriteBatch message, not one
// message each. A 32-op WebSocket frame at QUORUM used to cost, per op and per peer, one
// FlatBuffers frame, one timer, one in-flight slot and one reply on each end; now those are per
// frame and peer, and the peer applies the whole batch with one ShardRouter.submitMany.
//
// Batching adds no wait: a batch is sent at the end of the tick that queued its first item (the
// shard's answers for one frame arrive in one message, so its replica writes are queued in one
// tick). Each item is answered on its own, by callback (a frame's reads would otherwise make a
// promise each); a batch that fails as a whole (timeout, lost connection, error reply) fails each
// of its items with that error. A batch waits a little past its latest item's deadline: the
// quorum state machines keep their own deadlines per request, and theirs must decide. Callbacks
// must not throw: they run inside the reply's promise reaction, where a throw would be an
// unhandled rejection.
import { replicaBatchBytesMax, replicaBatchDeadlineSlackMs, replicaBatchItemsMax } from '../constants';
import { assert, ErrorCode, RingkvError } from '../errors';
import { errorFromReply, type InternodeItem } from '../protocol/internode_codec';
import type { PeerPool, PeerTarget } from '../protocol/internode_pool';

type BatchKind = 'replicaReadBatch' | 'replicaWriteBatch';

/** Hears one item's answer: the reply item, or the error (never both). */
export type ItemCallback = (reply: InternodeItem | null, err: RingkvError | null) => void;

interface Waiter {
  item: InternodeItem;
  deadlineMs: number;
  done: ItemCallback;
}

/** What is queued for one peer in this tick; each list is one batch (or several, past the bounds). */
interface PeerQueue {
  /** In `dirty` (items queued since the last flush). */
  dirty: boolean;
  /** The node's address as gossip knows it now, and its id (the connection's Hello names it). */
  to: PeerTarget;
  reads: Waiter[];
  writes: Waiter[];
}

export interface ReplicaBatcherStats {
  replicaBatchesSent: number;
  replicaBatchItemsSent: number;
  /** Reads a peer had no room for in its reply, sent again. */
  replicaReadsAskedAgain: number;
}

export class ReplicaBatcher {
  /**
   * One queue per peer ever sent to, by node id, kept: a flush swaps each queue's lists for empty
   * ones. It was a Map of fresh queues cleared at each flush, and under QUORUM GETs a cluster
   * node's main thread then kept 10-13 MB alive through each scavenge (batches, their callbacks
   * and the frames those held), promoted them at the next, and ran a mark-compact every ~2 s;
   * with kept queues, ~0.2 MB (ad hoc, --trace-gc-nvp, both versions run twice). Why: Map#clear
   * leaves the old table with its entries and a pointer to the new table, and once a full
   * collection has put a table in the old generation the scavenger takes what it points to as
   * alive (src/protocol/inflight_table.ts; inflight_table.test.ts shows it for a churned Map,
   * which a test sees only with full collections between its scavenges). At most one entry per
   * node ever sent to.
   */
  private readonly peers = new Map<string, PeerQueue>();
  private dirty: PeerQueue[] = [];
  private flushScheduled = false;
  readonly stats: ReplicaBatcherStats = { replicaBatchesSent: 0, replicaBatchItemsSent: 0, replicaReadsAskedAgain: 0 };

  constructor(
    private readonly pool: PeerPool,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads `key` on the peer; `done` hears its reply item (found, record, value, tombstone). */
  read(nodeId: string, peer: { host: string; peerPort: number }, key: Uint8Array, timeoutMs: number, done: ItemCallback): void {
    this.enqueue(nodeId, peer, 'replicaReadBatch', { key }, timeoutMs, done);
  }

  /** Merges a record into the peer's replica (or stores it there as a hint for `item.hintFor`). */
  write(nodeId: string, peer: { host: string; peerPort: number }, item: InternodeItem, timeoutMs: number, done: ItemCallback): void {
    assert(item.key !== undefined && item.record !== undefined, 'a replica write carries a key and a record');
    this.enqueue(nodeId, peer, 'replicaWriteBatch', item, timeoutMs, done);
  }

  private enqueue(nodeId: string, peer: { host: string; peerPort: number }, kind: BatchKind, item: InternodeItem, timeoutMs: number, done: ItemCallback): void {
    assert(timeoutMs > 0, 'a replica request needs a positive timeout');
    let q = this.peers.get(nodeId);
    if (q === undefined) {
      q = { dirty: false, to: { host: peer.host, peerPort: peer.peerPort, nodeId }, reads: [], writes: [] };
      this.peers.set(nodeId, q);
    }
    // The address gossip knows now (a restarted peer may come back on another port).
    if (q.to.host !== peer.host || q.to.peerPort !== peer.peerPort) q.to = { host: peer.host, peerPort: peer.peerPort, nodeId };
    const list = kind === 'replicaReadBatch' ? q.reads : q.writes;
    list.push({ item, deadlineMs: this.now() + timeoutMs, done });
    this.markDirty(q);
  }

  private flush(): void {
    this.flushScheduled = false;
    const dirty = this.dirty;
    this.dirty = [];
    for (const q of dirty) {
      const reads = q.reads;
      const writes = q.writes;
      q.reads = [];
      q.writes = [];
      q.dirty = false;
      if (reads.length > 0) this.sendAll(q, 'replicaReadBatch', reads);
      if (writes.length > 0) this.sendAll(q, 'replicaWriteBatch', writes);
    }
  }

  /** Sends `waiters` in batches of at most replicaBatchItemsMax items and about replicaBatchBytesMax bytes. */
  private sendAll(q: PeerQueue, kind: BatchKind, waiters: Waiter[]): void {
    let from = 0;
    let bytes = 0;
    for (let i = 0; i < waiters.length; i++) {
      const it = waiters[i]!.item;
      const b = (it.key?.byteLength ?? 0) + (it.record?.byteLength ?? 0) + (it.value?.byteLength ?? 0);
      if (i > from && (i - from >= replicaBatchItemsMax || bytes + b > replicaBatchBytesMax)) {
        this.send(q, kind, waiters.slice(from, i));
        from = i;
        bytes = 0;
      }
      bytes += b;
    }
    this.send(q, kind, from === 0 ? waiters : waiters.slice(from));
  }

  private send(q: PeerQueue, kind: BatchKind, waiters: Waiter[]): void {
    let deadlineMs = 0;
    const items = new Array<InternodeItem>(waiters.length);
    for (let i = 0; i < waiters.length; i++) {
      items[i] = waiters[i]!.item;
      deadlineMs = Math.max(deadlineMs, waiters[i]!.deadlineMs);
    }
    this.stats.replicaBatchesSent++;
    this.stats.replicaBatchItemsSent += items.length;
    const failAll = (err: unknown) => {
      const e = err instanceof RingkvError ? err : new RingkvError(ErrorCode.Internal, err instanceof Error ? err.message : String(err));
      for (const w of waiters) w.done(null, e);
    };
    let sent;
    try {
      sent = this.pool.request(q.to, { kind, items }, Math.max(1, deadlineMs - this.now()) + replicaBatchDeadlineSlackMs);
    } catch (err) {
      failAll(err); // the pool closed under us
      return;
    }
    sent.then((reply) => {
      const answers = reply.items ?? [];
      if (reply.kind !== kind || answers.length !== waiters.length) {
        failAll(new RingkvError(ErrorCode.MalformedFrame, `peer ${q.to.host}:${q.to.peerPort} answered a ${kind} of ${waiters.length} items with ${answers.length}`));
        return;
      }
      const now = this.now();
      for (let i = 0; i < answers.length; i++) {
        const a = answers[i]!;
        const w = waiters[i]!;
        if (a.errorCode === ErrorCode.ReplyFull && kind === 'replicaReadBatch' && now < w.deadlineMs) this.requeue(q, w);
        else if (a.errorCode !== undefined) w.done(null, errorFromReply(a));
        else w.done(a, null);
      }
    }, failAll);
  }

  /** A read the peer had no room for in its reply (cluster_replica.ts replyRoom): in the next batch, same deadline. */
  private requeue(q: PeerQueue, w: Waiter): void {
    this.stats.replicaReadsAskedAgain++;
    q.reads.push(w);
    this.markDirty(q);
  }

  private markDirty(q: PeerQueue): void {
    if (!q.dirty) {
      q.dirty = true;
      this.dirty.push(q);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
  }
}
