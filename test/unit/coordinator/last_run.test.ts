// A cluster node's LAST_RUN: a data dir away longer than the tombstone grace is refused at start
// unless allowed; a new data dir, a recent one, one that does not parse and a clock behind the
// record are not.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkLastRun, lastRunFileName, readLastRun, writeLastRun } from '../../../src/coordinator/last_run';
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
  checkLastRun(dataDir(), t0, graceMs, false, (l) => lines.push(l));
  checkLastRun(dataDir(`${t0}\n`), t0 + graceMs, graceMs, false, (l) => lines.push(l));
  checkLastRun(dataDir(`${t0}\n`), t0 - 3 * graceMs, graceMs, false, (l) => lines.push(l)); // our clock is behind the record: no absence
  assert.deepEqual(lines, []);
});

test('away longer than the grace: refused, saying when it last ran and what to do; allowed, a WARN', () => {
  const d = dataDir(`${t0}\n`);
  assert.throws(
    () => checkLastRun(d, t0 + graceMs + dayMs, graceMs, false, () => undefined),
    (e: unknown) =>
      isRingkvError(e, ErrorCode.InvalidArgument) &&
      e.message.includes(`last ran in the cluster at ${new Date(t0).toISOString()}, 11.0 days ago, longer than the tombstone grace (10.0 days, --tombstone-grace-seconds)`) &&
      /new, empty data dir under the same --node-id/.test(e.message) &&
      /--allow-stale-data on/.test(e.message) &&
      e.details['last_run_ms'] === t0,
  );
  const lines: string[] = [];
  checkLastRun(d, t0 + graceMs + dayMs, graceMs, true, (l) => lines.push(l));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^WARN data dir .* 11\.0 days ago.*starting as --allow-stale-data says: run POST \/api\/v1\/admin\/repair/);
});

test('the grace is the node\'s own (--tombstone-grace-seconds): 7 hours away passes 10 days and is refused under 6 hours', () => {
  const hourMs = 3_600_000;
  const d = dataDir(`${t0}\n`);
  checkLastRun(d, t0 + 7 * hourMs, graceMs, false, () => undefined);
  assert.throws(
    () => checkLastRun(d, t0 + 7 * hourMs, 6 * hourMs, false, () => undefined),
    (e: unknown) => isRingkvError(e, ErrorCode.InvalidArgument) && e.message.includes('7.0 hours ago, longer than the tombstone grace (6.0 hours, --tombstone-grace-seconds)') && e.details['tombstone_grace_ms'] === 6 * hourMs,
  );
});

test('a record that does not parse is reported, and the start goes ahead', () => {
  for (const text of ['', 'yesterday\n', '-5\n', '1.5\n', '99999999999999999\n']) {
    const lines: string[] = [];
    checkLastRun(dataDir(text), t0, graceMs, false, (l) => lines.push(l));
    assert.equal(lines.length, 1, JSON.stringify(text));
    assert.match(lines[0]!, /holds no time/);
  }
});
