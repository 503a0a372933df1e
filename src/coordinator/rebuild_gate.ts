// This node's replica while it rebuilds, for keys no other live replica holds: a node that joins
// at N = 1 (or whose key's other replicas are down) takes over ranges whose keys are still only on
// the node that owned them before; its full pass pulls each range from there (anti_entropy.ts),
// but until it has, a read would find nothing and a write would issue a version beside the old
// one instead of after it (siblings). So, as Riak forwards a vnode's requests to its old owner
// during handoff, this replica, asked for such a key, first merges in what the previous owner
// holds of it and only then answers. And a version it issues is applied on the previous owner
// too before it is acknowledged: a coordinator whose ring does not hold this node yet reads the
// key there (Cassandra writes to a joining range's old and new owners alike); a previous owner
// that does not take it is counted, and the write stands. A node that joined does the same, as a
// best effort, for keys whose other replicas are up, with the owners its join displaced: a read
// that reaches it and a stale settled replica (the up-to-date one down) counts its answer toward
// the quorum, and a write a quorum acknowledged may be on that owner and the replica that is down
// alone; if the displaced owner does not answer, the read goes on. Every way to this node's
// replica goes through here: reads and writes coordinated here and those other coordinators send.
// Merged-in records (apply) pass straight through: they issue no version. When the node is not
// rebuilding this costs one boolean per call.
import { ErrorCode, isRingkvError, RingkvError } from '../errors';
import type { AnswerCallback } from '../shards';
import type { ShardOp, WireRecord } from '../shards/messages';
import type { ConflictMode } from '../versioning';
import type { RebuildSources } from './anti_entropy';
import type { LocalReplica } from './cluster_replica';
import { answerOf, mergeAnswers, recordOf, type ReplicaAnswer } from './read_repair';

export interface PullDeps {
  conflictMode: ConflictMode;
  /** Reads `key` on another node's replica (ReplicaClient.read). */
  read(nodeId: string, key: Uint8Array, timeoutMs: number, done: (record: WireRecord | null, err: unknown) => void): void;
  /** Merges a record into this node's replica. */
  apply(key: Uint8Array, record: WireRecord, timeoutMs: number): Promise<boolean>;
}

/**
 * Reads `key` on every node of `sources` and merges what they hold into this node's replica.
 * Resolves with how many answered (0: none did, and nothing was merged), within `timeoutMs` with
 * those that answered by then: a read's own bound is its batch's, the latest deadline of the
 * requests it went with (replica_batcher.ts), and one source that does not answer would hold the
 * caller that long.
 */
export async function pullKey(d: PullDeps, sources: readonly string[], key: Uint8Array, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  // A record that does not decode is a replica that did not answer. The callback must not throw:
  // it runs in the replica batcher's promise reaction, where a throw ends the process.
  const answerOrNull = (id: string, record: WireRecord | null): ReplicaAnswer | null => {
    try {
      return answerOf(id, record, undefined);
    } catch {
      return null;
    }
  };
  const answers = await new Promise<Array<ReplicaAnswer | null>>((resolve) => {
    const out = new Array<ReplicaAnswer | null>(sources.length).fill(null);
    let left = sources.length;
    if (left === 0) return resolve(out);
    // A copy: answers that come after it are not merged.
    const timer = setTimeout(() => resolve([...out]), timeoutMs);
    sources.forEach((id, i) =>
      d.read(id, key, timeoutMs, (record, err) => {
        out[i] = err === null ? answerOrNull(id, record) : null;
        if (--left === 0) {
          clearTimeout(timer);
          resolve(out);
        }
      }),
    );
  });
  const got = answers.filter((a): a is ReplicaAnswer => a !== null);
  const merged = mergeAnswers(got, d.conflictMode, Date.now());
  if (merged.length > 0) await d.apply(key, recordOf(merged), Math.max(1, deadline - Date.now()));
  return got.length;
}

export interface RebuildGateDeps extends PullDeps {
  /** Whether this node rebuilds its replica. */
  rebuilding(): boolean;
  /** The live nodes to pull `key` from first, and whether one must answer (anti_entropy.ts rebuildSources). */
  sourcesFor(key: Uint8Array): RebuildSources;
  /** Merges a record into another node's replica (ReplicaClient.apply); rejects when it does not take it. */
  push(nodeId: string, key: Uint8Array, record: WireRecord, timeoutMs: number): Promise<void>;
  readonly counters: { rebuildPulls: number; rebuildPushFailures: number };
}

/** A read of a key this node does not hold yet, whose holders are all down: not a "not found". */
function holdersDown(): RingkvError {
  return new RingkvError(ErrorCode.Unavailable, 'this node is rebuilding its replica and does not hold the key yet; the nodes that hold it are down', {
    details: { needed: 1, answered: 0, alive: 0, rebuilding: true },
  });
}

type Sources = Exclude<RebuildSources, 'down'>;
const noSources: Sources = { nodes: [], required: false };

/** `store` with its reads and coordinated writes gated as above. */
export function rebuildGate(store: LocalReplica, d: RebuildGateDeps): LocalReplica {
  /** Pulls `key` from `from.nodes` first; throws RKV_ERR_UNAVAILABLE when none answers and one must. */
  const pullFirst = async (key: Uint8Array, from: Sources, timeoutMs: number): Promise<void> => {
    d.counters.rebuildPulls++;
    if ((await pullKey(d, from.nodes, key, timeoutMs)) === 0 && from.required) {
      throw new RingkvError(ErrorCode.Unavailable, `this node is rebuilding its replica and reads the key from the node that held it before (${from.nodes.join(', ')}) first; none answered`, {
        details: { needed: 1, answered: 0, alive: from.nodes.length, rebuilding: true },
      });
    }
  };
  return {
    ...store,
    get: async (key, timeoutMs) => {
      const sources = d.rebuilding() ? d.sourcesFor(key) : noSources;
      if (sources === 'down') {
        const record = await store.get(key, timeoutMs);
        if (record === null) throw holdersDown();
        return record;
      }
      if (sources.nodes.length === 0) return store.get(key, timeoutMs);
      const started = Date.now();
      await pullFirst(key, sources, timeoutMs);
      return store.get(key, Math.max(1, timeoutMs - (Date.now() - started)));
    },
    submitMany: (ops, timeoutMs, onAnswer, onApplied) => {
      // Merged-in records issue no version; a key another live replica holds needs nothing. A
      // write whose key's holders are all down goes ahead here, as any write with replicas down;
      // a read of it that finds nothing here is no answer.
      const found = d.rebuilding() ? ops.map((op) => (op.op === 'apply' ? noSources : d.sourcesFor(op.key))) : null;
      const answer: AnswerCallback =
        found !== null && found.some((s, j) => s === 'down' && ops[j]!.op === 'get')
          ? (j, result, error) => (found[j] === 'down' && result !== null && result.ok && result.op === 'get' && result.record === null ? onAnswer(j, null, holdersDown()) : onAnswer(j, result, error))
          : onAnswer;
      const sources = found === null ? null : found.map((s) => (s === 'down' ? noSources : s));
      if (sources === null || sources.every((s) => s.nodes.length === 0)) return store.submitMany(ops, timeoutMs, answer, onApplied);
      const started = Date.now();
      const pulls = ops.map((op, j) => (sources[j]!.nodes.length === 0 ? null : pullFirst(op.key, sources[j]!, timeoutMs).then(() => null, (e: unknown) => e)));
      void Promise.all(pulls).then((errors) => {
        const at: number[] = [];
        const pass: ShardOp[] = [];
        errors.forEach((e, j) => {
          if (e === null) {
            at.push(j);
            pass.push(ops[j]!);
          } else {
            answer(j, null, isRingkvError(e) ? e : new RingkvError(ErrorCode.Internal, String(e)));
          }
        });
        if (pass.length === 0) return;
        store.submitMany(
          pass,
          Math.max(1, timeoutMs - (Date.now() - started)),
          (k, result, error) => {
            const j = at[k]!;
            const to = sources[j]!.nodes;
            if (to.length === 0 || result === null || !result.ok || result.op === 'get' || result.op === 'apply' || result.record === null) {
              answer(j, result, error);
              return;
            }
            const record = result.record;
            const leftMs = Math.max(1, timeoutMs - (Date.now() - started));
            void Promise.allSettled(to.map((id) => d.push(id, ops[j]!.key, record, leftMs))).then((pushed) => {
              d.counters.rebuildPushFailures += pushed.filter((p) => p.status === 'rejected').length;
              answer(j, result, error);
            });
          },
          onApplied && ((k, result) => onApplied(at[k]!, result)),
        );
      });
    },
  };
}
