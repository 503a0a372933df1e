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

export interface PutEvent {
  kind: 'put';
  key: string;
  value: string;
  invokedAt: number;
  completedAt: number;
  ok: boolean;
}

export interface GetEvent {
  kind: 'get';
  key: string;
  /** Values returned (all siblings); empty = not found. */
  values: string[];
  invokedAt: number;
  completedAt: number;
  ok: boolean;
}

export type HistoryEvent = PutEvent | GetEvent;

export interface Violation {
  read: GetEvent;
  why: string;
}

export function checkReadYourWrites(history: readonly HistoryEvent[]): Violation[] {
  const puts = new Map<string, PutEvent[]>();
  const byValue = new Map<string, PutEvent>();
  for (const e of history) {
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
      // A failed put may have been applied at any later time, so it is never strictly older.
      const satisfied = returned.some((p) => p !== undefined && p.key === r.key && (p === q || !((p.ok ? p.completedAt : Infinity) < q.invokedAt)));
      if (!satisfied) {
        out.push({ read: r, why: `stale: ${q.value} (acknowledged before the read began) is missing, got [${r.values.join(', ') || 'not found'}]` });
        break;
      }
    }
  }
  return out;
}
