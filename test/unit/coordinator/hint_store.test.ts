// The hint store with its files (hinted_handoff.ts over hint_log.ts), on a real temp directory:
// hints come back after a clean close and after a crash (the directory copied as the process left
// it), coalesced and in order; damage is classified as in the WAL; delivered, replaced and
// expired hints leave the disk; segments roll and mostly-dead ones are rewritten, so disk stays
// bounded by the live hints.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { coordinateWrite, type StoredSibling } from '../../../src/versioning';
import { mergeRecords, recordOf, siblingsOf } from '../../../src/coordinator/read_repair';
import { type Hint, HintStore, type HintStoreOptions } from '../../../src/coordinator/hinted_handoff';

const write = (stored: StoredSibling[], nodeId: string, value: string, tombstone = false) =>
  coordinateWrite(stored, { nodeId, nowMs: 1000, mode: 'vclock', value: Buffer.from(value), tombstone, ttlMs: 0, context: null }).siblings;
const rec = (value: string, nodeId = 'a', tombstone = false) => recordOf(write([], nodeId, value, tombstone));
const values = (h: Hint) => siblingsOf(h.record).map((x) => Buffer.from(x.value).toString()).sort();
const keys = (hs: Hint[]) => hs.map((h) => Buffer.from(h.key).toString());
const turn = () => new Promise((r) => setImmediate(r));

let dir: string;
let lines: string[];
let nowMs: number;
const stores: HintStore[] = [];
const options = (o: Partial<HintStoreOptions> = {}): HintStoreOptions => ({ merge: (a, b) => mergeRecords(a, b, 'vclock', 5000), now: () => nowMs, ...o });
function open(at = dir, o: Partial<HintStoreOptions> = {}, segmentBytesMax?: number, syncIntervalMs?: number): HintStore {
  const s = HintStore.open(options(o), {
    dir: at,
    log: (l) => lines.push(l),
    ...(segmentBytesMax !== undefined && { segmentBytesMax }),
    ...(syncIntervalMs !== undefined && { syncIntervalMs }),
  });
  stores.push(s);
  return s;
}
const segments = (at = dir) => fs.readdirSync(at).filter((n) => n.endsWith('.log')).sort();

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-hints-'));
  lines = [];
  nowMs = 1_000_000;
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('hints come back after a close: per target, oldest first, coalesced, tombstones kept', async () => {
  const s = open();
  s.add('n1', Buffer.from('k1'), rec('v1'));
  s.add('n2', Buffer.from('k1'), rec('other'));
  nowMs += 10;
  s.add('n1', Buffer.from('k2'), rec('', 'a', true));
  s.add('n1', Buffer.from('k1'), rec('v1b', 'b'));
  await s.close();
  assert.ok(segments().length >= 1, 'hints on disk after close');

  const t = open();
  assert.deepEqual(t.stats().hintsRecovered, 3);
  assert.deepEqual(t.targets().sort(), ['n1', 'n2']);
  const n1 = t.peek('n1', 10);
  assert.deepEqual(keys(n1), ['k1', 'k2'], 'k1 merged keeps its place');
  assert.equal(n1[1]!.record.tombstone, true);
  assert.deepEqual(values(n1[0]!), ['v1', 'v1b']);
  assert.equal(n1[0]!.createdMs, 1_000_000, 'and the age of its oldest write');
  assert.deepEqual(values(t.peek('n2', 10)[0]!), ['other']);
  assert.match(lines.join('\n'), /3 hints for 2 nodes recovered from \d+ files/);
});

test('a crash loses nothing written: the directory as the process left it, without close or sync', async () => {
  const s = open();
  for (let i = 0; i < 50; i++) s.add(`n${i % 3}`, Buffer.from(`k${i}`), rec(`v${i}`));
  await turn();
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-hints-crash-'));
  try {
    fs.cpSync(dir, copy, { recursive: true });
    const t = open(copy);
    assert.equal(t.size(), 50);
    for (let n = 0; n < 3; n++) assert.deepEqual(keys(t.peek(`n${n}`, 100)), Array.from({ length: 50 }, (_, i) => i).filter((i) => i % 3 === n).map((i) => `k${i}`));
    await t.close();
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
});

test('delivered hints leave the disk; when none are left no file is', async () => {
  const s = open();
  for (let i = 0; i < 10; i++) s.add('n1', Buffer.from(`k${i}`), rec(`v${i}`));
  await turn();
  assert.ok(s.stats().hintsDiskBytes > 0);
  for (const h of s.peek('n1', 6)) s.delivered('n1', h);
  await s.close();
  const t = open();
  assert.deepEqual(keys(t.peek('n1', 10)), ['k6', 'k7', 'k8', 'k9']);
  for (const h of t.peek('n1', 10)) t.delivered('n1', h);
  assert.equal(t.stats().hintsDiskBytes, 0);
  await t.close();
  assert.deepEqual(segments(), []);
});

test('a hint replaced while its delivery is in flight stays queued, and on disk', async () => {
  const s = open();
  s.add('n1', Buffer.from('k'), rec('old'));
  const inFlight = s.peek('n1', 1)[0]!;
  s.add('n1', Buffer.from('k'), rec('new', 'b'));
  s.delivered('n1', inFlight);
  assert.equal(s.size('n1'), 1);
  await s.close();
  assert.deepEqual(values(open().peek('n1', 1)[0]!), ['new', 'old']);
});

test('a torn last record is cut off; a damaged record mid-file is skipped and the rest recovered', async () => {
  const s = open();
  for (let i = 0; i < 5; i++) s.add('n1', Buffer.from(`k${i}`), rec(`v${i}`));
  await s.close();
  const [file] = segments();
  const p = path.join(dir, file!);
  const bytes = fs.readFileSync(p);
  const recordBytes = bytes.length / 5;
  assert.ok(Number.isInteger(recordBytes), 'five records of one size');
  // Damage the second record's payload, and leave half of a sixth record at the end.
  bytes[recordBytes + 20] = bytes[recordBytes + 20]! ^ 0xff;
  fs.writeFileSync(p, Buffer.concat([bytes, bytes.subarray(0, recordBytes / 2)]));

  const t = open();
  assert.deepEqual(keys(t.peek('n1', 10)), ['k0', 'k2', 'k3', 'k4']);
  assert.match(lines.join('\n'), /1 damaged skipped, 1 torn tails cut/);
  await t.close();
  // Recovery rewrote the good hints and removed the damaged file.
  assert.ok(!fs.existsSync(p));
  assert.equal(open().size(), 4);
});

test('hints expire after ageMsMax, in memory and when read back', async () => {
  const s = open(dir, { ageMsMax: 1000 });
  s.add('n1', Buffer.from('old'), rec('o'));
  nowMs += 600;
  s.add('n1', Buffer.from('young'), rec('y'));
  nowMs += 500;
  s.expire();
  assert.deepEqual(keys(s.peek('n1', 10)), ['young']);
  assert.equal(s.stats().hintsExpired, 1);
  // The loss is reported once per target, and the queue says how far behind n1 is.
  assert.deepEqual(s.takeLosses(), [{ target: 'n1', dropped: 0, expired: 1 }]);
  assert.deepEqual(s.takeLosses(), []);
  assert.deepEqual(s.targetStats(), [{ target: 'n1', queued: 1, bytes: s.peek('n1', 1)[0]!.key.length + s.peek('n1', 1)[0]!.record.versionVector.length + 1, oldestAgeSeconds: 1 }]);
  await s.close();
  nowMs += 1000;
  const t = open(dir, { ageMsMax: 1000 });
  assert.equal(t.size(), 0);
  assert.equal(t.stats().hintsExpired, 1);
  assert.deepEqual(t.takeLosses(), [{ target: 'n1', dropped: 0, expired: 1 }], 'hints found expired at start are a loss too');
  assert.deepEqual(t.targetStats(), []);
});

test('a hint handed on with its age expires as it would have at its first holder, and says its age', async () => {
  const s = open(dir, { ageMsMax: 1000 });
  s.add('n1', Buffer.from('handed'), rec('h'), 800);
  s.add('n1', Buffer.from('new'), rec('n'));
  assert.equal(s.ageMsOf(s.peek('n1', 1)[0]!), 800);
  nowMs += 300;
  s.expire();
  assert.deepEqual(keys(s.peek('n1', 10)), ['new'], 'gone 200 ms after it was handed on, 1,000 ms after it was made');
  await s.close();
});

test('a hint handed on behind younger ones, or merged into a younger one, still expires on time and counts as the oldest; one handed on expired is not kept', async () => {
  const s = open(dir, { ageMsMax: 1000 });
  s.add('n1', Buffer.from('fresh'), rec('f'));
  s.add('n1', Buffer.from('handed'), rec('h'), 900);
  s.add('n1', Buffer.from('hot'), rec('first', 'a'));
  s.add('n1', Buffer.from('hot'), rec('second', 'b'), 950);
  assert.equal(s.targetStats()[0]!.oldestAgeSeconds, 1, 'the oldest is 950 ms old, not the first one queued');
  nowMs += 200;
  s.expire();
  assert.deepEqual(keys(s.peek('n1', 10)), ['fresh'], '1,100 and 1,150 ms after they were made, behind one made 200 ms ago');
  assert.deepEqual(s.takeLosses(), [{ target: 'n1', dropped: 0, expired: 2 }]);
  // Once in order again, the front alone is looked at: a later hint queued behind expires with it.
  s.add('n1', Buffer.from('later'), rec('l'));
  nowMs += 1000;
  s.expire();
  assert.deepEqual(keys(s.peek('n1', 10)), ['later']);
  s.add('n1', Buffer.from('stale'), rec('s'), 1000);
  assert.deepEqual(keys(s.peek('n1', 10)), ['later'], 'handed on as old as ageMsMax: expired on arrival');
  assert.deepEqual(s.takeLosses(), [{ target: 'n1', dropped: 0, expired: 2 }]);
  await s.close();
});

test("a hint merged again keeps its oldest write's age: a key written on and on cannot carry that write past ageMsMax, in memory or read back", async () => {
  const s = open(dir, { ageMsMax: 1000 });
  s.add('n1', Buffer.from('hot'), rec('first', 'a'));
  nowMs += 900;
  // Concurrent with the first (another coordinator's, no context): the merge keeps both.
  s.add('n1', Buffer.from('hot'), rec('second', 'b'));
  s.add('n1', Buffer.from('cold'), rec('c'));
  assert.deepEqual(values(s.peek('n1', 1)[0]!), ['first', 'second']);
  await s.close();
  nowMs += 200; // 1,100 ms after the first write, 200 ms after the second
  const t = open(dir, { ageMsMax: 1000 });
  assert.deepEqual(keys(t.peek('n1', 10)), ['cold'], 'the merged hint expired with its oldest write');
  assert.equal(t.stats().hintsExpired, 1);
  t.add('n1', Buffer.from('hot'), rec('third', 'c'));
  nowMs += 500;
  t.add('n1', Buffer.from('hot'), rec('fourth', 'd'));
  nowMs += 600;
  t.expire();
  assert.deepEqual(keys(t.peek('n1', 10)), [], "in memory too: 'hot' went with 'third', 1,100 ms old");
});

test('bounds: hint count and bytes per target drop the oldest', () => {
  const s = open(dir, { perNodeMax: 100, perNodeBytesMax: 3000 });
  const big = Buffer.alloc(900, 1).toString();
  for (let i = 0; i < 5; i++) s.add('n1', Buffer.from(`k${i}`), rec(big));
  assert.ok(s.size('n1') <= 3, `${s.size('n1')} hints of ~1 KB under a 3000-byte bound`);
  assert.deepEqual(keys(s.peek('n1', 10)).at(-1), 'k4');
  assert.equal(s.stats().hintsDropped, 5 - s.size('n1'));
  assert.deepEqual(s.takeLosses(), [{ target: 'n1', dropped: 5 - s.size('n1'), expired: 0 }]);
});

test('bounds: a write merged into the oldest hint is never the one dropped for it, in memory or on disk', async () => {
  // k0's hint is the oldest; a larger write to k0 merges into it (which keeps k0's place) and
  // takes the queue over its bytes. Before, the merged hint itself went, with the write it had
  // just taken, and its record was still written: a file no live hint would ever free.
  const s = open(dir, { perNodeBytesMax: 3000 });
  const small = Buffer.alloc(500, 1).toString();
  for (let i = 0; i < 4; i++) s.add('n1', Buffer.from(`k${i}`), rec(small));
  assert.equal(s.size('n1'), 4);
  s.add('n1', Buffer.from('k0'), rec(Buffer.alloc(1500, 2).toString(), 'b'));
  const held = s.peek('n1', 10);
  assert.deepEqual(keys(held), ['k0', 'k3'], 'k1 and k2 went, the oldest other than the hint just queued');
  assert.deepEqual(values(held[0]!), [small, Buffer.alloc(1500, 2).toString()].sort());
  assert.deepEqual(s.takeLosses(), [{ target: 'n1', dropped: 2, expired: 0 }]);
  await s.close();
  const t = open();
  assert.deepEqual(keys(t.peek('n1', 10)), ['k0', 'k3'], 'the files hold what the queue held');
  assert.equal(t.stats().hintsRecovered, 2);
});

test('bounds: all targets together; the largest queue gives way', () => {
  const s = open(dir, { perNodeBytesMax: 100_000, totalBytesMax: 10_000 });
  const kb = Buffer.alloc(1000, 1).toString();
  for (let i = 0; i < 6; i++) s.add('big', Buffer.from(`b${i}`), rec(kb));
  for (let i = 0; i < 3; i++) s.add('small', Buffer.from(`s${i}`), rec(kb));
  // Nine ~1 KB hints under a 10,000-byte total: still all there. Each one more pushes out the
  // oldest hint of whichever queue is largest then: 'big' until 'small' has caught up.
  assert.equal(s.size(), 9);
  s.add('small', Buffer.from('s3'), rec(kb));
  assert.deepEqual([s.size('big'), s.size('small')], [5, 4]);
  assert.deepEqual(keys(s.peek('big', 10)), ['b1', 'b2', 'b3', 'b4', 'b5'], 'the oldest went first');
  s.add('small', Buffer.from('s4'), rec(kb));
  s.add('small', Buffer.from('s5'), rec(kb));
  assert.deepEqual([s.size('big'), s.size('small')], [4, 5]);
  const total = s.targetStats().reduce((n, t) => n + t.bytes, 0);
  assert.ok(total <= 10_000, `${total} bytes held`);
  assert.deepEqual(s.takeLosses(), [{ target: 'big', dropped: 2, expired: 0 }, { target: 'small', dropped: 1, expired: 0 }]);
});

test('segments roll; mostly-dead ones are rewritten, so disk follows the live hints', async () => {
  const s = open(dir, {}, 4096, 10);
  const value = Buffer.alloc(200, 7).toString();
  // Each round leaves one hint live and delivers the rest, so without rewrites every segment
  // would stay, pinned by a hint or two.
  let maxBytes = 0;
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 50; i++) s.add('n1', Buffer.from(`r${round}-${i}`), rec(value));
    await turn();
    maxBytes = Math.max(maxBytes, s.stats().hintsDiskBytes);
    for (const h of s.peek('n1', 100)) if (!Buffer.from(h.key).toString().endsWith('-0')) s.delivered('n1', h);
  }
  await turn();
  // 40 live hints of ~300 bytes: files within twice that plus two segments, whatever went through.
  assert.ok(s.stats().hintsDiskBytes <= 2 * 40 * 300 + 2 * 4096, `${s.stats().hintsDiskBytes} bytes on disk`);
  assert.ok(maxBytes <= 2 * 40 * 300 + 2 * 4096 + 50 * 300, `at most ${maxBytes} bytes on disk at once`);
  // The files whose hints all went are deleted by the background sync (every 10 ms here).
  // ~600 KB went through in 4 KiB segments (~150 files); the bytes in use above fit in a few.
  const filesMax = 12;
  for (let i = 0; i < 500 && segments().length > filesMax; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(segments().length <= filesMax, `${segments().length} segment files for ${s.stats().hintsDiskBytes} bytes of segments in use`);
  await s.close();
  const t = open();
  assert.deepEqual(keys(t.peek('n1', 100)), Array.from({ length: 40 }, (_, r) => `r${r}-0`));
});

test('a new segment that cannot be opened is logged and the current one goes on; hints keep reaching the disk', async () => {
  const s = open(dir, {}, 4096, 10);
  await turn();
  const first = segments();
  assert.equal(first.length, 1);
  // Where the next segment would go, a directory: its open fails (EISDIR), as EMFILE or a
  // read-only disk would fail it. The roll ran in a timer, where a throw ended the process.
  const next = first[0]!.replace(/(\d+)/, (d) => String(Number(d) + 1).padStart(d.length, '0'));
  fs.mkdirSync(path.join(dir, next));
  const value = Buffer.alloc(200, 7).toString();
  for (let i = 0; i < 40; i++) {
    s.add('n1', Buffer.from(`k${i}`), rec(value));
    await turn();
  }
  assert.ok(lines.some((l) => l.startsWith(`WARN hints: could not start a new hint file after ${path.join(dir, first[0]!)}`)), lines.join('\n'));
  assert.ok(s.stats().hintWriteFailures >= 1);
  assert.deepEqual(segments().filter((n) => n !== next), first, 'still the one file');
  assert.ok(fs.statSync(path.join(dir, first[0]!)).size > 4096, 'past its size: no hint left out');
  // Room again: the next roll goes ahead.
  fs.rmdirSync(path.join(dir, next));
  for (let i = 40; i < 60; i++) {
    s.add('n1', Buffer.from(`k${i}`), rec(value));
    await turn();
  }
  assert.ok(segments().length > 1, segments().join(','));
  await s.close();
  const t = open();
  assert.deepEqual(keys(t.peek('n1', 100)), Array.from({ length: 60 }, (_, i) => `k${i}`));
});

test('a segment whose last live hint was replaced stays until the replacement is synced', async () => {
  // The merged record is pending when the old one stops being live: a crash right then must find the old file.
  const s = open(dir, {}, 4096);
  s.add('n1', Buffer.from('x'), rec('old'));
  for (let i = 0; i < 30; i++) s.add('n2', Buffer.from(`f${i}`), rec(Buffer.alloc(200, 1).toString()));
  await turn();
  assert.ok(segments().length >= 2, 'the first segment rolled');
  for (const h of s.peek('n2', 100)) s.delivered('n2', h);
  s.add('n1', Buffer.from('x'), rec('new', 'b'));
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-hints-crash-'));
  try {
    fs.cpSync(dir, copy, { recursive: true });
    const t = open(copy);
    assert.deepEqual(values(t.peek('n1', 1)[0]!), ['old']);
    await t.close();
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
  await s.close();
  assert.deepEqual(values(open().peek('n1', 1)[0]!), ['new', 'old']);
});

test('a target dropped (it left the ring) loses its hints in memory and on disk; others keep theirs', async () => {
  const s = open();
  for (let i = 0; i < 4; i++) s.add('gone', Buffer.from(`k${i}`), rec(`v${i}`));
  s.add('stays', Buffer.from('k'), rec('v'));
  s.dropTarget('gone');
  assert.deepEqual(s.targets(), ['stays']);
  assert.equal(s.stats().hintsDropped, 4);
  assert.deepEqual(s.takeLosses(), [], 'the hints of a node that left are no loss to report');
  await s.close();
  const t = open();
  assert.deepEqual(t.targets(), ['stays']);
  assert.equal(t.size(), 1);
});

test('records larger than a write chunk and small ones mixed in one turn come back whole, in order', async () => {
  // A turn's records are encoded into shared 64 KiB chunks; a larger one gets a buffer of its own.
  const s = open();
  const sizes = [10, 70_000, 20, 65_536, 300_000, 5];
  sizes.forEach((n, i) => s.add('n1', Buffer.from(`k${i}`), rec(String.fromCharCode(97 + i).repeat(n))));
  await turn();
  for (let i = 0; i < 200; i++) s.add('n2', Buffer.from(`small${i}`), rec(`s${i}`.padEnd(900, '.')));
  await s.close();
  const t = open();
  const back = t.peek('n1', 10);
  assert.deepEqual(keys(back), sizes.map((_, i) => `k${i}`));
  back.forEach((h, i) => assert.deepEqual(values(h), [String.fromCharCode(97 + i).repeat(sizes[i]!)]));
  assert.deepEqual(t.peek('n2', 300).map((h) => values(h)[0]), Array.from({ length: 200 }, (_, i) => `s${i}`.padEnd(900, '.')));
});

test('hints read back after a crash are queued oldest first, though a segment rewrite wrote an older one after a newer: expiry finds it', async () => {
  const ageMsMax = 60_000;
  const s = open(dir, { ageMsMax }, 4096);
  const t0 = nowMs;
  s.add('n1', Buffer.from('a'), rec('older'));
  nowMs = t0 + 10;
  for (let i = 0; i < 30; i++) s.add('n2', Buffer.from(`f${i}`), rec(Buffer.alloc(200, 1).toString()));
  await turn();
  nowMs = t0 + 20;
  s.add('n1', Buffer.from('b'), rec('newer'));
  // The first segment, mostly n2's hints, goes sparse once they are delivered: the next roll
  // writes 'a' again, after 'b'.
  for (const h of s.peek('n2', 100)) s.delivered('n2', h);
  for (let i = 0; i < 30; i++) s.add('n3', Buffer.from(`g${i}`), rec(Buffer.alloc(200, 1).toString()));
  await turn();
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'ringkv-hints-crash-'));
  try {
    fs.cpSync(dir, copy, { recursive: true });
    const t = open(copy, { ageMsMax });
    assert.deepEqual(keys(t.peek('n1', 10)), ['a', 'b'], 'oldest first');
    nowMs = t0 + ageMsMax + 15;
    t.expire();
    assert.deepEqual(keys(t.peek('n1', 10)), ['b'], 'the older hint expired on time');
    await t.close();
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
});
