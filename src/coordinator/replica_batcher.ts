// The requesting side of replica batches: the replica reads and writes this node sends to one
// peer within one tick leave as one ReplicaReadBatch or ReplicaWriteBatch message, not one
// message each. A 32-op WebSocket frame at QUORUM used to cost, per op and per peer, one
// FlatBuffers frame, one timer, one in-flight slot and one reply on each end; now those are per
// frame and peer, and the peer applies the whole batch with one ShardRouter.submitMany.
//
// Batching adds no wait: a batch is sent at the end of the tick that queued its first item (the
// shard's answers for one frame arrive in one message, so its replica writes are queued in one
// tick). Each item resolves or rejects on its own; a batch that fails as a whole (timeout, lost
// connection, error reply) fails each of its items with that error. A batch waits as long as its
// latest item's deadline; the quorum state machines keep their own deadlines per request.
import { replicaBatchBytesMax, replicaBatchItemsMax } from '../constants';
import { assert, ErrorCode, RingkvError } from '../errors';
import { errorFromReply, type InternodeItem } from '../protocol/internode_codec';
import type { PeerPool } from '../protocol/internode_pool';

type BatchKind = 'replicaReadBatch' | 'replicaWriteBatch';

interface Waiter {
  item: InternodeItem;
  deadlineMs: number;
  resolve: (reply: InternodeItem) => void;
  reject: (err: RingkvError) => void;
}

/** What is queued for one peer in this tick; each list is one batch (or several, past the bounds). */
interface PeerQueue {
  host: string;
  peerPort: number;
  reads: Waiter[];
  writes: Waiter[];
}

export interface ReplicaBatcherStats {
  replicaBatchesSent: number;
  replicaBatchItemsSent: number;
}

export class ReplicaBatcher {
  /** By node id; an entry lives while it has items queued (gone after each flush). */
  private readonly queued = new Map<string, PeerQueue>();
  private flushScheduled = false;
  readonly stats: ReplicaBatcherStats = { replicaBatchesSent: 0, replicaBatchItemsSent: 0 };

  constructor(
    private readonly pool: PeerPool,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads `key` on the peer; resolves with its reply item (found, record, value, tombstone). */
  read(nodeId: string, peer: { host: string; peerPort: number }, key: Uint8Array, timeoutMs: number): Promise<InternodeItem> {
    return this.enqueue(nodeId, peer, 'replicaReadBatch', { key }, timeoutMs);
  }

  /** Merges a record into the peer's replica (or stores it there as a hint for `item.hintFor`). */
  write(nodeId: string, peer: { host: string; peerPort: number }, item: InternodeItem, timeoutMs: number): Promise<InternodeItem> {
    assert(item.key !== undefined && item.record !== undefined, 'a replica write carries a key and a record');
    return this.enqueue(nodeId, peer, 'replicaWriteBatch', item, timeoutMs);
  }

  private enqueue(nodeId: string, peer: { host: string; peerPort: number }, kind: BatchKind, item: InternodeItem, timeoutMs: number): Promise<InternodeItem> {
    assert(timeoutMs > 0, 'a replica request needs a positive timeout');
    let q = this.queued.get(nodeId);
    if (q === undefined) {
      q = { host: peer.host, peerPort: peer.peerPort, reads: [], writes: [] };
      this.queued.set(nodeId, q);
    }
    const list = kind === 'replicaReadBatch' ? q.reads : q.writes;
    const deadlineMs = this.now() + timeoutMs;
    const p = new Promise<InternodeItem>((resolve, reject) => list.push({ item, deadlineMs, resolve, reject }));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
    return p;
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const q of this.queued.values()) {
      if (q.reads.length > 0) this.sendAll(q, 'replicaReadBatch', q.reads);
      if (q.writes.length > 0) this.sendAll(q, 'replicaWriteBatch', q.writes);
    }
    this.queued.clear();
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
      for (const w of waiters) w.reject(e);
    };
    let sent;
    try {
      sent = this.pool.request(q.host, q.peerPort, { kind, items }, Math.max(1, deadlineMs - this.now()));
    } catch (err) {
      failAll(err); // the pool closed under us
      return;
    }
    sent.then((reply) => {
      const answers = reply.items ?? [];
      if (reply.kind !== kind || answers.length !== waiters.length) {
        failAll(new RingkvError(ErrorCode.MalformedFrame, `peer ${q.host}:${q.peerPort} answered a ${kind} of ${waiters.length} items with ${answers.length}`));
        return;
      }
      for (let i = 0; i < answers.length; i++) {
        const a = answers[i]!;
        if (a.errorCode !== undefined) waiters[i]!.reject(errorFromReply(a));
        else waiters[i]!.resolve(a);
      }
    }, failAll);
  }
}
