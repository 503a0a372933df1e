// A history checker for read-your-writes under quorums (W + R > N): records every put and get a
// concurrent workload made (invocation and completion times from one monotonic clock, values
// unique per put) and checks each read against the writes that had completed before it began.
//
// For a read R of key k and a put Q of k that completed before R was invoked, R must return
// (among its siblings) Q's value, or the value of some put Q' that is not strictly older than Q
// (Q' did not complete before Q was invoked): Q' may have superseded Q or be concurrent with it,
// and either is a correct answer, but a value only strictly older writes produced, or "not
// found", is a stale read. Every value returned must also have been written by a put invoked
// before the read completed (no phantoms). Failed operations are recorded as failed: a failed put
// may or may not have been applied, so it can justify a value but never demand one.
//
// A delete only ever excuses: Q may be missing from R when a delete of k invoked before R completed
// is not strictly older than Q (it may have superseded Q). It demands nothing, since under vector
// clocks a delete that did not see a version leaves that version standing beside its tombstone,
// and a read shows that version alone.

export interface PutEvent {
  kind: 'put';
  key: string;
  value: string;
  invokedAt: number;
  completedAt: number;
  ok: boolean;
  /** What a failure's report shows of it (who coordinated it, what it answered); not checked. */
  note?: string;
}

export interface GetEvent {
  kind: 'get';
  key: string;
  /** Values returned (all siblings); empty = not found. */
  values: string[];
  invokedAt: number;
  completedAt: number;
  ok: boolean;
  /** What a failure's report shows of it (who coordinated it, what it answered); not checked. */
  note?: string;
}

export interface DeleteEvent {
  kind: 'delete';
  key: string;
  invokedAt: number;
  completedAt: number;
  ok: boolean;
  /** What a failure's report shows of it (who coordinated it, what it answered); not checked. */
  note?: string;
}

export type HistoryEvent = PutEvent | GetEvent | DeleteEvent;

export interface Violation {
  read: GetEvent;
  why: string;
  /** The acknowledged put a stale read missed. */
  missed?: PutEvent;
}

export function checkReadYourWrites(history: readonly HistoryEvent[]): Violation[] {
  const puts = new Map<string, PutEvent[]>();
  const deletes = new Map<string, DeleteEvent[]>();
  const byValue = new Map<string, PutEvent>();
  /** Not strictly older than q: it did not complete before q was invoked (failed: it may apply at any time). */
  const notOlder = (e: PutEvent | DeleteEvent, q: PutEvent): boolean => !((e.ok ? e.completedAt : Infinity) < q.invokedAt);
  for (const e of history) {
    if (e.kind === 'delete') {
      if (!deletes.has(e.key)) deletes.set(e.key, []);
      deletes.get(e.key)!.push(e);
    }
    if (e.kind !== 'put') continue;
    if (!puts.has(e.key)) puts.set(e.key, []);
    puts.get(e.key)!.push(e);
    byValue.set(e.value, e);
  }
  const out: Violation[] = [];
  for (const r of history) {
    if (r.kind !== 'get' || !r.ok) continue;
    const returned = r.values.map((v) => byValue.get(v));
    for (let i = 0; i < returned.length; i++) {
      const p = returned[i];
      if (p === undefined || p.key !== r.key) out.push({ read: r, why: `returned ${r.values[i]}, which no put of ${r.key} wrote` });
      else if (p.invokedAt > r.completedAt) out.push({ read: r, why: `returned ${p.value} before it was written` });
    }
    for (const q of puts.get(r.key) ?? []) {
      if (!q.ok || q.completedAt >= r.invokedAt) continue;
      const satisfied = returned.some((p) => p !== undefined && p.key === r.key && (p === q || notOlder(p, q)));
      const excused = (deletes.get(r.key) ?? []).some((d) => d.invokedAt < r.completedAt && notOlder(d, q));
      if (!satisfied && !excused) {
        out.push({ read: r, missed: q, why: `stale: ${q.value} (acknowledged before the read began) is missing, got [${r.values.join(', ') || 'not found'}]` });
        break;
      }
    }
  }
  return out;
}
