// Anti-entropy's coverage of the ranges a node replicates (coordinator/sync_coverage.ts): the
// oldest complete sync over the ranges with another replica, counted from the process start or
// from SYNCED_SINCE for ranges not synced yet; a WARN once past half the tombstone grace and a
// line when back under; SYNCED_SINCE written as it advances (at most every syncedSinceRecordMs,
// and at a clean stop) and read back by the next process; ranges the ring dropped forgotten.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spanText } from '../../../src/coordinator/span_text';
import { type CoveredRange, SyncCoverage, syncedSinceRecordMs } from '../../../src/coordinator/sync_coverage';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function fileIn(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-cover-'));
  dirs.push(d);
  return path.join(d, 'SYNCED_SINCE');
}

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;
const t0 = 1_700_000_000_000;
const range = (token: bigint, replicas: string[]): CoveredRange => ({ previous: token - 10n, token, replicas });

function coverage(o: { ranges: () => CoveredRange[]; now: () => number; n?: number; file?: string; lines?: string[]; graceMs?: () => number }): SyncCoverage {
  return new SyncCoverage({
    nodeId: 'A',
    replicationFactor: o.n ?? 3,
    tombstoneGraceMs: o.graceMs ?? (() => 10 * dayMs),
    ranges: o.ranges,
    ...(o.file !== undefined && { file: o.file }),
    now: o.now,
    log: (l) => o.lines?.push(l),
  });
}

test('nothing to sync (N = 1, or no range with another replica): no age and no warning', () => {
  let now = t0;
  const lines: string[] = [];
  const single = coverage({ ranges: () => [range(100n, ['A'])], now: () => now, n: 1, lines });
  const alone = coverage({ ranges: () => [range(100n, ['A'])], now: () => now, lines });
  now += 30 * dayMs;
  for (const c of [single, alone]) {
    assert.equal(c.syncedSinceMs(), null);
    assert.equal(c.ageMs(), 0);
    c.check();
  }
  assert.deepEqual(lines, []);
});

test('the oldest sync decides; past half the grace a WARN once, and a line when every range is synced again', () => {
  let now = t0;
  const lines: string[] = [];
  const ranges = [range(100n, ['A', 'B']), range(200n, ['B', 'A']), range(300n, ['A', 'C'])];
  const c = coverage({ ranges: () => ranges, now: () => now, lines });
  now += 2 * dayMs;
  c.synced(ranges[0]!, now);
  c.synced(ranges[1]!, now - hourMs);
  assert.equal(c.ageMs(), 2 * dayMs, 'the third range counts from the start');
  c.synced(ranges[2]!, now);
  assert.equal(c.syncedSinceMs(), now - hourMs);
  c.synced(ranges[1]!, now - 2 * hourMs); // an older sync ending later moves nothing back
  assert.equal(c.syncedSinceMs(), now - hourMs);

  now += 5 * dayMs; // the range synced longest ago: 5 days and an hour, over half of 10 days
  c.check();
  c.check();
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /^WARN anti-entropy: a range this node replicates was last synced with another replica 5\.0 days ago, over half the tombstone grace \(10\.0 days, the shortest --tombstone-grace-seconds of the cluster's nodes\)/);
  for (const r of ranges) c.synced(r, now);
  now += hourMs;
  c.check();
  assert.equal(lines.length, 2);
  assert.equal(lines[1], 'anti-entropy: every range this node replicates synced within the last 1.0 hours again');
});

test('the grace is asked at every check: a node with a shorter one joining brings the warning forward, its leaving takes it back', () => {
  let now = t0;
  const lines: string[] = [];
  let graceMs = 10 * dayMs;
  const ranges = [range(100n, ['A', 'B'])];
  const c = coverage({ ranges: () => ranges, now: () => now, lines, graceMs: () => graceMs });
  now += 2 * dayMs;
  c.check();
  assert.deepEqual(lines, [], '2 days is under half of 10 days');
  graceMs = 3 * dayMs;
  c.check();
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /^WARN anti-entropy: .* 2\.0 days ago, over half the tombstone grace \(3\.0 days, /);
  graceMs = 10 * dayMs;
  c.check();
  assert.equal(lines[1], 'anti-entropy: every range this node replicates synced within the last 2.0 days again');
});

test('SYNCED_SINCE: written as it advances, at most every syncedSinceRecordMs and at a stop; the next process counts from it', () => {
  const file = fileIn();
  let now = t0;
  const ranges = [range(100n, ['A', 'B']), range(200n, ['A', 'B'])];
  const c = coverage({ ranges: () => ranges, now: () => now, file });
  c.check();
  assert.equal(fs.existsSync(file), false, 'nothing synced yet: nothing to record');
  now += hourMs;
  for (const r of ranges) c.synced(r, now);
  c.check();
  assert.equal(fs.readFileSync(file, 'utf8'), `${t0 + hourMs}\n`);
  now += 60_000;
  for (const r of ranges) c.synced(r, now);
  c.check();
  assert.equal(fs.readFileSync(file, 'utf8'), `${t0 + hourMs}\n`, `not rewritten within ${syncedSinceRecordMs} ms`);
  c.flush();
  assert.equal(fs.readFileSync(file, 'utf8'), `${now}\n`, 'a stop records the latest');

  // The next process: ranges it has not synced count from the record, not from its start.
  const recorded = now;
  now += 3 * dayMs;
  const next = coverage({ ranges: () => ranges, now: () => now, file });
  assert.equal(next.syncedSinceMs(), recorded);
  assert.equal(next.ageMs(), 3 * dayMs);
});

test('a SYNCED_SINCE that does not parse is reported, one in the future ignored: both count from the start', () => {
  for (const [text, reported] of [['soon\n', true], [`${t0 + dayMs}\n`, false]] as const) {
    const file = fileIn();
    fs.writeFileSync(file, text);
    const lines: string[] = [];
    const c = coverage({ ranges: () => [range(100n, ['A', 'B'])], now: () => t0, file, lines });
    assert.equal(c.syncedSinceMs(), t0, text);
    assert.equal(lines.length, reported ? 1 : 0, lines.join('\n'));
    if (reported) assert.match(lines[0]!, /holds no time .* ranges count as synced when this process started/);
  }
});

test('ranges the ring no longer gives the node are forgotten; new ones count from the start', () => {
  let now = t0;
  let ranges = [range(100n, ['A', 'B']), range(200n, ['A', 'B'])];
  const c = coverage({ ranges: () => ranges, now: () => now });
  now += dayMs;
  for (const r of ranges) c.synced(r, now);
  assert.equal(c.syncedSinceMs(), now);
  ranges = [range(100n, ['A', 'B']), range(150n, ['A', 'C'])]; // a join split the ring
  assert.equal(c.syncedSinceMs(), t0, 'the new range has not been synced');
  c.synced(ranges[1]!, now);
  assert.equal(c.syncedSinceMs(), now);
  ranges = [range(100n, ['A', 'B']), range(200n, ['A', 'B'])]; // the range comes back: its old sync was forgotten
  assert.equal(c.syncedSinceMs(), t0);
});

test('spans read as hours under two days, days from then on', () => {
  assert.equal(spanText(90 * 60_000), '1.5 hours');
  assert.equal(spanText(47 * hourMs), '47.0 hours');
  assert.equal(spanText(2 * dayMs), '2.0 days');
});
