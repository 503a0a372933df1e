// The cluster's write state machine, steps 4-6 of cluster_coordinator.ts's write path, for all the
// writes this node coordinates from one batch at once (design.md §7.2 write path). Per write: this
// node's replica makes the new version; as soon as it is applied (not yet synced) its record goes
// to every other ALIVE replica, so the local WAL sync and the remote writes run side by side, and
// replicas that are down get a hint on a stand-in, as do ALIVE replicas whose write failed or
// timed out (Cassandra hints those too: gossip can have a replica ALIVE that cannot be reached,
// and without a hint only anti-entropy would bring it the write). The write is answered after W
// acknowledgements (this node's counts once durable), fails at once when the rest cannot reach W,
// and times out at its deadline. Past replicaWritesInflightMax replica writes in flight, or
// replicaWriteBytesInflightMax of their records, a write is answered only once all its replicas
// have answered (or its deadline passed): back-pressure.
//
// One machine per batch and callbacks, as quorum_reads.ts, so that a frame's writes go to this
// node's shards as one submission (early answers by index) with one timer per timeout, not a
// promise chain, a shard group and two timers per write.
import { assert, ErrorCode, isRingkvError, RingkvError } from '../errors';
import { fromWireError } from '../shards';
import type { WireRecord, WriteDone, WriteOp } from '../shards/messages';
import { recordBytes } from '../shards/wire_record';
import type { LocalReplica } from './cluster_replica';
import { type DatacenterView, type PartitionMode, type QuorumTally, tallyFor, type TallyState } from './quorum';
import { groupByTimeout } from './timeout_groups';
import type { ConsistencyLevel } from './types';

/** Shared by every write with all its replicas up (most of them): no array each. */
const noneDown: readonly string[] = Object.freeze([]);

/** Errors that say the request itself is bad: replaying it as a hint would fail the same way, forever. */
const requestFaults: ReadonlySet<string> = new Set([ErrorCode.InvalidArgument, ErrorCode.KeyTooLarge, ErrorCode.ValueTooLarge, ErrorCode.MalformedFrame, ErrorCode.FrameTooLarge]);

/** Whether a replica write that failed with `err` may take later (timeouts, a replica down, busy, full, closing). */
function worthAHint(err: unknown): boolean {
  return !isRingkvError(err) || !requestFaults.has(err.code);
}

/** What the write state machine needs from its coordinator. */
export interface QuorumWriteContext {
  readonly nodeId: string;
  /**
   * N, the configured replica count. Quorum math is over it, not over the preference list: a node
   * whose ring is short of N nodes (restarted and not told of its peers yet, or a cluster smaller
   * than N) must not take one copy for a QUORUM.
   */
  readonly replicationFactor: number;
  /** Where the ring has more than one datacenter: which each node is in (LOCAL_* and EACH_QUORUM count by it). */
  datacenters(): DatacenterView | null;
  /** 'cp': every write needs a majority of its replicas, whatever its level (quorum.ts writeReplicasNeeded). */
  readonly partitionMode: PartitionMode;
  readonly hintedHandoff: boolean;
  /** This node, or a member gossip has ALIVE. */
  alive(nodeId: string): boolean;
  readonly local: Pick<LocalReplica, 'submitMany'>;
  /** Merges `record` into a remote replica; `done` hears null once it is durable there, or the error. */
  applyReplica(nodeId: string, key: Uint8Array, record: WireRecord, timeoutMs: number, done: (err: unknown) => void): void;
  /** Hears every write applied here (a leaving node passes them on to its successors). */
  applied(key: Uint8Array, record: WireRecord): void;
  /** Keeps `record` for `target`, a replica that is down or did not take the write (hinted handoff). */
  hint(target: string, key: Uint8Array, record: WireRecord, pref: readonly string[]): void;
  /** Counts an error the client will see (unavailable, timeout) and returns it. */
  count(e: RingkvError): RingkvError;
  /**
   * Replica writes in flight from this node, across batches, and their records' bytes (once per
   * replica: each peer's frame is a copy): the back-pressure bounds count them.
   */
  replicaWrites: { inflight: number; readonly inflightMax: number; bytes: number; readonly bytesMax: number };
  readonly counters: { coordinatedWrites: number; replicaWriteFailures: number; replicationBackPressure: number };
}

/**
 * A write to run here: the shard op (returnRecord set), the key's preference list (the caller
 * looked it up to decide the write runs here), its level and timeout, where its answer goes.
 */
export interface WriteSpec {
  at: number;
  op: WriteOp;
  pref: readonly string[];
  consistency: ConsistencyLevel;
  timeoutMs: number;
}

export interface WriteAnswer {
  version: string;
  timestampMs: number;
  /** Replicas that had acknowledged when the answer left. */
  acks: number;
}

interface Write {
  spec: WriteSpec;
  deadlineMs: number;
  pref: readonly string[];
  /** The other ALIVE replicas, written once this node's replica applied the write. */
  others: string[];
  /**
   * The replicas that were down when the write started: hinted once it is applied. Decided with
   * `others`, not again later: a replica that comes back meanwhile would otherwise be neither
   * written nor hinted.
   */
  down: readonly string[];
  tally: QuorumTally;
  /**
   * This node is one of the key's replicas, so its durable copy counts toward W. Not so for a
   * forwarded write whose ring view here differs from its sender's: stored, but not counted.
   */
  selfCounts: boolean;
  /** Answer only once every replica answered (back-pressure when it started). */
  waitForAll: boolean;
  /** This node's result once applied; null until then. */
  applied: WriteDone | null;
  /** Replica writes sent and not answered. */
  replicating: number;
  /** W was met; the answer waits for `replicating` to reach 0 (waitForAll). */
  met: boolean;
  decided: boolean;
}

/**
 * `op` as this node's replica gets it: its version is issued no later than this coordinator
 * answers (notAfterMs). Past that the write has been answered Timeout and is sent to no replica
 * (its early answer is not heard), so a version issued then would live on this node alone, beside
 * the one its client's retry makes elsewhere.
 */
function issuedBy(op: WriteOp, deadlineMs: number): WriteOp {
  return op.notAfterMs !== 0 && op.notAfterMs <= deadlineMs ? op : { ...op, notAfterMs: deadlineMs };
}

/**
 * Runs `specs` and hands each, by its `at`, its answer or its error, exactly once and within its
 * timeout. The caller forwards a write whose key this node does not replicate, unless it was
 * forwarded here already. A write this node's replica refuses (a conflict, a bad context, a full
 * queue) is answered with that error and replicated nowhere.
 */
export function quorumWrites(ctx: QuorumWriteContext, specs: readonly WriteSpec[], finish: (at: number, answer: WriteAnswer | null, error: unknown) => void): void {
  const now = Date.now();
  const writes: Write[] = [];
  const dcs = ctx.datacenters();
  for (const spec of specs) {
    assert(spec.op.returnRecord, 'a coordinated write returns its record to replicate');
    const pref = spec.pref;
    const up = pref.filter((id) => ctx.alive(id));
    let tally: QuorumTally;
    try {
      // Written to every live replica whatever the level: LOCAL_* only answers before the other
      // datacenters have it (design.md §8: replication between them is asynchronous).
      tally = tallyFor(spec.consistency, ctx.replicationFactor, ctx.partitionMode, up, dcs, spec.op.op);
    } catch (e) {
      finish(spec.at, null, ctx.count(e as RingkvError));
      continue;
    }
    ctx.counters.coordinatedWrites++;
    const rw = ctx.replicaWrites;
    const waitForAll = rw.inflight >= rw.inflightMax || rw.bytes >= rw.bytesMax;
    if (waitForAll) ctx.counters.replicationBackPressure++;
    writes.push({
      spec,
      deadlineMs: now + spec.timeoutMs,
      pref,
      others: up.filter((id) => id !== ctx.nodeId),
      down: up.length === pref.length ? noneDown : pref.filter((id) => !up.includes(id)),
      tally,
      selfCounts: pref.includes(ctx.nodeId),
      waitForAll,
      applied: null,
      replicating: 0,
      met: false,
      decided: false,
    });
  }
  if (writes.length === 0) return;

  // As in quorum_reads.ts: once every write is decided, late replica answers hold their own write
  // only, not the caller's batch.
  let deliver: typeof finish | null = finish;
  const timers: NodeJS.Timeout[] = [];
  let undecided = writes.length;
  const decide = (w: Write, error: unknown): void => {
    assert(!w.decided && deliver !== null, 'a write is decided once');
    w.decided = true;
    if (error === null) {
      assert(w.applied !== null, 'a write is applied before W replicas can have it');
      deliver(w.spec.at, { version: w.applied.version, timestampMs: w.applied.timestampMs, acks: w.tally.answered }, null);
    } else {
      deliver(w.spec.at, null, error);
    }
    if (--undecided === 0) {
      for (const t of timers) clearTimeout(t);
      timers.length = 0;
      deliver = null;
    }
  };
  const settle = (w: Write, state: TallyState): void => {
    if (w.decided) return;
    if (state === 'met') w.met = true;
    if (w.met && (!w.waitForAll || w.replicating === 0)) decide(w, null);
    else if (state === 'failed') decide(w, ctx.count(w.tally.unavailable(w.spec.consistency, w.spec.op.op)));
  };
  const replicate = (w: Write, r: WriteDone): void => {
    if (w.applied !== null) return;
    w.applied = r;
    assert(r.record !== null, 'a coordinated write returns its record when asked');
    const record = r.record;
    const key = w.spec.op.key;
    ctx.applied(key, record);
    const sizeBytes = recordBytes(key, record);
    for (const id of w.others) {
      ctx.replicaWrites.inflight++;
      ctx.replicaWrites.bytes += sizeBytes;
      w.replicating++;
      ctx.applyReplica(id, key, record, Math.max(1, w.deadlineMs - Date.now()), (err) => {
        ctx.replicaWrites.inflight--;
        ctx.replicaWrites.bytes -= sizeBytes;
        w.replicating--;
        if (err === null) {
          settle(w, w.tally.ok(id));
        } else {
          ctx.counters.replicaWriteFailures++;
          if (ctx.hintedHandoff && worthAHint(err)) ctx.hint(id, key, record, w.pref);
          settle(w, w.tally.fail(err, id));
        }
      });
    }
    if (ctx.hintedHandoff) for (const id of w.down) ctx.hint(id, key, record, w.pref);
  };

  for (const [timeoutMs, list] of groupByTimeout(writes, (w) => w.spec.timeoutMs)) {
    timers.push(
      setTimeout(() => {
        for (const w of list) {
          if (w.decided) continue;
          if (w.met) decide(w, null); // back-pressure waits no longer than the deadline
          else if (w.applied === null) {
            decide(w, ctx.count(new RingkvError(ErrorCode.Timeout, `${w.spec.op.op} at ${w.spec.consistency}: the local replica did not answer within ${timeoutMs} ms`, { details: { needed: w.tally.needed, answered: 0, timeout_ms: timeoutMs } })));
          } else decide(w, ctx.count(w.tally.timeout(w.spec.consistency, w.spec.op.op, timeoutMs)));
        }
      }, timeoutMs),
    );
    ctx.local.submitMany(
      list.map((w) => issuedBy(w.spec.op, w.deadlineMs)),
      timeoutMs,
      (i, result, error) => {
        const w = list[i]!;
        const err = error ?? (result!.ok ? null : fromWireError(result!.error));
        if (err === null && result!.ok && (result!.op === 'put' || result!.op === 'delete')) {
          replicate(w, result!);
          if (w.selfCounts) settle(w, w.tally.ok(ctx.nodeId));
        } else if (w.applied === null) {
          if (!w.decided) decide(w, err ?? new RingkvError(ErrorCode.Internal, 'a write answered as another op'));
        } else {
          // Applied here and sent to the other replicas, but not made durable here (a full disk):
          // the others may still meet the level, and this replica gets the write later, as a hint.
          if (ctx.hintedHandoff && worthAHint(err)) ctx.hint(ctx.nodeId, w.spec.op.key, w.applied.record!, w.spec.pref);
          if (w.selfCounts) settle(w, w.tally.fail(err, ctx.nodeId));
        }
      },
      (i, r) => replicate(list[i]!, r),
    );
  }
}
