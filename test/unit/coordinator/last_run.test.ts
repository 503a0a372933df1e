// A cluster node's LAST_RUN: a data dir away longer than the tombstone grace is refused at start
// unless allowed; a new data dir, a recent one, one that does not parse and a clock behind the
// record are not. So is one back in time whose ranges were last all synced longer ago than the
// grace (SYNCED_SINCE): it ran since, but not long enough to sync them.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkLastRun, lastRunFileName, readLastRun, startGrace, writeLastRun } from '../../../src/coordinator/last_run';
import type { RememberedPeer } from '../../../src/coordinator/peers_file';
import { syncedSinceFileName } from '../../../src/coordinator/sync_coverage';
import { ErrorCode, isRingkvError } from '../../../src/errors';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-last-run-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const dataDir = (lastRun?: string): string => {
  const d = path.join(root, `d${++dirs}`);
  fs.mkdirSync(d);
  if (lastRun !== undefined) fs.writeFileSync(path.join(d, lastRunFileName), lastRun);
  return d;
};
const dayMs = 86_400_000;
const graceMs = 10 * dayMs;
const t0 = 1_796_000_000_000;

test('written and read back: a whole ms time on one line', () => {
  const d = dataDir();
  assert.equal(readLastRun(d, () => undefined), null, 'none yet');
  writeLastRun(path.join(d, lastRunFileName), t0 + 0.7);
  assert.equal(fs.readFileSync(path.join(d, lastRunFileName), 'utf8'), `${t0}\n`);
  assert.equal(readLastRun(d, () => undefined), t0);
});

test('within the grace, or with no record, a start goes ahead and says nothing', () => {
  const lines: string[] = [];
  checkLastRun(dataDir(), t0, { ms: graceMs }, false, (l) => lines.push(l));
  checkLastRun(dataDir(`${t0}\n`), t0 + graceMs, { ms: graceMs }, false, (l) => lines.push(l));
  checkLastRun(dataDir(`${t0}\n`), t0 - 3 * graceMs, { ms: graceMs }, false, (l) => lines.push(l)); // our clock is behind the record: no absence
  assert.deepEqual(lines, []);
});

test('away longer than the grace: refused, saying when it last ran and what to do; allowed, a WARN', () => {
  const d = dataDir(`${t0}\n`);
  assert.throws(
    () => checkLastRun(d, t0 + graceMs + dayMs, { ms: graceMs }, false, () => undefined),
    (e: unknown) =>
      isRingkvError(e, ErrorCode.InvalidArgument) &&
      e.message.includes(`last ran in the cluster at ${new Date(t0).toISOString()}, 11.0 days ago, longer than the tombstone grace (10.0 days, --tombstone-grace-seconds)`) &&
      /new, empty data dir under the same --node-id/.test(e.message) &&
      /--allow-stale-data on/.test(e.message) &&
      e.details['last_run_ms'] === t0,
  );
  const lines: string[] = [];
  checkLastRun(d, t0 + graceMs + dayMs, { ms: graceMs }, true, (l) => lines.push(l));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^WARN data dir .* 11\.0 days ago.*starting as --allow-stale-data says: run POST \/api\/v1\/admin\/repair/);
});

test('back within the grace but stopped before its ranges were all synced: its SYNCED_SINCE, past the grace, refuses the next start', () => {
  // Away 9 days (within 10), it wrote LAST_RUN at once, ran 20 minutes, and stopped: the deletes
  // it missed are as old as its last sync, not as its last run.
  const d = dataDir(`${t0 + 9 * dayMs}\n`);
  fs.writeFileSync(path.join(d, syncedSinceFileName), `${t0}\n`);
  const now = t0 + 15 * dayMs;
  assert.throws(
    () => checkLastRun(d, now, { ms: graceMs }, false, () => undefined),
    (e: unknown) =>
      isRingkvError(e, ErrorCode.InvalidArgument) &&
      e.message.includes(`last had every range synced with the other replicas at ${new Date(t0).toISOString()}, 15.0 days ago (its SYNCED_SINCE`) &&
      /new, empty data dir under the same --node-id/.test(e.message) &&
      e.details['synced_since_ms'] === t0,
  );
  const lines: string[] = [];
  checkLastRun(d, now, { ms: graceMs }, true, (l) => lines.push(l));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^WARN data dir .* 15\.0 days ago \(its SYNCED_SINCE.*starting as --allow-stale-data says/);
  // Synced within the grace: it starts.
  fs.writeFileSync(path.join(d, syncedSinceFileName), `${now - 5 * dayMs}\n`);
  checkLastRun(d, now, { ms: graceMs }, false, (l) => lines.push(l));
  assert.equal(lines.length, 1);
});

test('the grace is the node\'s own (--tombstone-grace-seconds): 7 hours away passes 10 days and is refused under 6 hours', () => {
  const hourMs = 3_600_000;
  const d = dataDir(`${t0}\n`);
  checkLastRun(d, t0 + 7 * hourMs, { ms: graceMs }, false, () => undefined);
  assert.throws(
    () => checkLastRun(d, t0 + 7 * hourMs, { ms: 6 * hourMs }, false, () => undefined),
    (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && e.message.includes('7.0 hours ago, longer than the tombstone grace (6.0 hours, --tombstone-grace-seconds)') && e.details['tombstone_grace_ms'] === 6 * hourMs,
  );
});

test('a record that does not parse is reported, and the start goes ahead', () => {
  for (const text of ['', 'yesterday\n', '-5\n', '1.5\n', '99999999999999999\n']) {
    const lines: string[] = [];
    checkLastRun(dataDir(text), t0, { ms: graceMs }, false, (l) => lines.push(l));
    assert.equal(lines.length, 1, JSON.stringify(text));
    assert.match(lines[0]!, /holds no time/);
  }
});

test('the grace a start is judged by: the shortest of its own and those PEERS recorded of the others; refused, the message names whose', () => {
  const hourMs = 3_600_000;
  const peer = (nodeId: string, tombstoneGraceMs?: number): RememberedPeer => ({ nodeId, host: '127.0.0.1', httpPort: 7000, peerPort: 8000, vnodes: 8, ...(tombstoneGraceMs !== undefined && { tombstoneGraceMs }) });
  assert.deepEqual(startGrace(graceMs, [], null), { ms: graceMs });
  assert.deepEqual(startGrace(graceMs, [peer('a'), peer('b', graceMs)], 'self'), { ms: graceMs }, 'a peer that did not say, and a tie: its own');
  const peers = [peer('self', 6 * hourMs), peer('a', 7 * dayMs), peer('b', 8 * dayMs)];
  assert.deepEqual(startGrace(graceMs, peers, 'self'), { ms: 7 * dayMs, nodeId: 'a' }, 'its own entry is an earlier run\'s: left out');
  assert.deepEqual(startGrace(graceMs, peers, null), { ms: 6 * hourMs, nodeId: 'self' }, 'an id it cannot tell is anyone\'s');
  const d = dataDir(`${t0}\n`);
  assert.throws(
    () => checkLastRun(d, t0 + 8 * dayMs, startGrace(12 * dayMs, peers, 'self'), false, () => undefined),
    (e: unknown) =>
      isRingkvError(e, ErrorCode.InvalidArgument) &&
      e.message.includes("8.0 days ago, longer than the tombstone grace (7.0 days, a's --tombstone-grace-seconds as this node last knew it, shorter than its own)") &&
      e.details['tombstone_grace_node'] === 'a',
  );
});
