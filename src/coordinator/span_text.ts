// Spans of time in log lines and errors, as a person reads them: hours under two days, days from
// then on (a tombstone grace, how long a node was away, how long ago a range was synced).
export function spanText(ms: number): string {
  return ms >= 2 * 86_400_000 ? `${(ms / 86_400_000).toFixed(1)} days` : `${(ms / 3_600_000).toFixed(1)} hours`;
}
