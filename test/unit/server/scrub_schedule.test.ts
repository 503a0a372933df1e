// Proves the background scrub's schedule (server/scrub_schedule.ts) with a scripted scrub: it
// runs every interval at the configured rate, records when each one finished in LAST_SCRUB, a
// restart times the next one from that record (not from the start), a failed scrub is logged and
// the schedule goes on, and stop() waits for the scrub in progress. And the pacing rule a
// scheduled scrub keeps (storage/table-scrub.ts scrubPaceMs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ScrubSummary } from '../../../src/coordinator/types';
import { ErrorCode, RingkvError } from '../../../src/errors';
import { lastScrubFileName, readLastScrub, ScrubSchedule } from '../../../src/server/scrub_schedule';
import { scrubPaceMs } from '../../../src/storage/table-scrub';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const summary = (over: Partial<ScrubSummary> = {}): ScrubSummary => ({ tables: 3, entries: 30, bytesRead: 3000, quarantined: [], corrupt: [], cutShort: false, durationMs: 5, repair: null, ...over });

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-scrub-schedule-'));
}

test('scrubPaceMs: no wait under the rate or without one, the lag behind it when over, at most a second', () => {
  assert.equal(scrubPaceMs(10 * 1024 * 1024, 500, 0), 0, 'no rate: no wait');
  assert.equal(scrubPaceMs(1024 * 1024, 2000, 1024 * 1024), 0, 'under the rate');
  assert.equal(scrubPaceMs(1024 * 1024, 250, 2 * 1024 * 1024), 250, 'half a second of bytes read in a quarter');
  assert.equal(scrubPaceMs(100 * 1024 * 1024, 0, 1024 * 1024), 1000, 'capped so a stop is noticed');
});

test('runs every interval at its rate and records each finish; a restart times the next from the record', async () => {
  const dir = tempDir();
  const lines: string[] = [];
  const rates: number[] = [];
  try {
    const s = new ScrubSchedule({ dataDir: dir, intervalMs: 40, bytesPerSecond: 12345, scrub: async (rate) => (rates.push(rate), summary()), log: (l) => lines.push(l) });
    const startedMs = Date.now();
    s.start();
    const first = readLastScrub(dir);
    assert.ok(first !== null && Math.abs(first - startedMs) < 1000, 'a node that never scrubbed counts from its start');
    for (let i = 0; i < 100 && rates.length < 3; i++) await sleep(20);
    await s.stop();
    assert.ok(rates.length >= 3, `${rates.length} scrubs`);
    assert.ok(rates.every((r) => r === 12345));
    assert.ok(readLastScrub(dir)! > first!, 'each finish recorded');
    assert.match(lines[0]!, /^storage: scheduled scrub: 3 tables, 30 entries, 3000 bytes read in 5 ms; 0 quarantined, 0 corrupt left in place$/);

    // A restart with the last scrub long past is due at once; one with a recent one waits.
    fs.writeFileSync(path.join(dir, lastScrubFileName), `${new Date(Date.now() - 3_600_000).toISOString()}\n`);
    let overdue = 0;
    const late = new ScrubSchedule({ dataDir: dir, intervalMs: 60_000, bytesPerSecond: 0, scrub: async () => (overdue++, summary()), log: () => undefined });
    late.start();
    for (let i = 0; i < 50 && overdue === 0; i++) await sleep(20);
    await late.stop();
    assert.equal(overdue, 1, 'due since long ago: runs at once');
    let early = 0;
    const recent = new ScrubSchedule({ dataDir: dir, intervalMs: 60_000, bytesPerSecond: 0, scrub: async () => (early++, summary()), log: () => undefined });
    recent.start();
    await sleep(200);
    await recent.stop();
    assert.equal(early, 0, 'the last scrub was just now: not due for a minute');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('damage is logged per table, a failed scrub is logged and the schedule goes on, and stop() waits for a scrub in progress', async () => {
  const dir = tempDir();
  const lines: string[] = [];
  let calls = 0;
  let release: () => void = () => undefined;
  try {
    const s = new ScrubSchedule({
      dataDir: dir,
      intervalMs: 30,
      bytesPerSecond: 0,
      scrub: async () => {
        calls++;
        if (calls === 1) throw new RingkvError(ErrorCode.Io, 'disk gone');
        if (calls === 2) return summary({ corrupt: [{ shard: 1, file: '/d/shard-001/000007.sst', level: 2, entries: 9, reason: 'block checksum mismatch' }] });
        await new Promise<void>((r) => (release = r));
        return summary();
      },
      log: (l) => lines.push(l),
    });
    s.start();
    for (let i = 0; i < 100 && calls < 3; i++) await sleep(20);
    assert.equal(calls, 3);
    assert.ok(lines.includes('storage: ERROR scheduled scrub failed: disk gone'), lines.join('\n'));
    assert.ok(lines.includes('storage: ERROR scrub: shard 1: /d/shard-001/000007.sst (level 2, 9 entries) is corrupt, left in place (the only copy): block checksum mismatch'), lines.join('\n'));
    let stopped = false;
    const stopping = s.stop().then(() => void (stopped = true));
    await sleep(50);
    assert.equal(stopped, false, 'waits for the scrub in progress');
    release();
    await stopping;
    await sleep(80);
    assert.equal(calls, 3, 'none after stop');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a finish that cannot be recorded is logged, and the schedule goes on', async () => {
  // LAST_SCRUB a folder: its write fails as on a full disk; thrown from the scrub's handler it was
  // a rejection nothing handled, which ends the process.
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, lastScrubFileName));
  const lines: string[] = [];
  let calls = 0;
  try {
    const s = new ScrubSchedule({ dataDir: dir, intervalMs: 20, bytesPerSecond: 0, scrub: async () => (calls++, summary()), log: (l) => lines.push(l) });
    s.start();
    for (let i = 0; i < 100 && calls < 3; i++) await sleep(20);
    await s.stop();
    assert.ok(calls >= 3, `${calls} scrubs`);
    assert.ok(lines.some((l) => l.startsWith(`storage: ERROR could not record the scrub's finish in ${lastScrubFileName}`)), lines.join('\n'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
