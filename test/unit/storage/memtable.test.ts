// Proves the memtable (typed-array skip list plus hash index) keeps exactly a sorted Map's
// contents under random puts and overwrites: lookups through the hash index, order through the
// list, both checked after growth and rehashing; that keys sharing a token still order by their
// bytes; that a cursor taken before inserts sees the later keys that land after it; and that a
// flush packs an immutable memtable in slices that yield to the event loop, into the same run,
// whose payloads stay in the memtable's shared arena chunks (private ones copied).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Arena, ArenaPool } from '../../../src/storage/arena';
import type { PackedRun } from '../../../src/storage/background-messages';
import { Memtable } from '../../../src/storage/memtable';
import { sortKeyOf } from '../../../src/storage/sort-key';
import { packMemtable } from '../../../src/storage/flush';
import { prng } from './helpers';

function entries(m: Memtable): [string, string][] {
  const out: [string, string][] = [];
  for (let n = m.first(); n !== 0; n = m.nextOf(n)) out.push([m.keyOf(n).toString('hex'), m.payloadOf(n).toString()]);
  return out;
}

test('random puts and overwrites: same contents and order as a sorted model, through growth', () => {
  for (const seed of [1, 2, 3]) {
    const rnd = prng(seed);
    const m = new Memtable(1);
    const model = new Map<string, string>();
    for (let i = 0; i < 20_000; i++) {
      // 3000 distinct keys, so most puts after the first few thousand are overwrites.
      const key = Buffer.from(`k${Math.floor(rnd() * 3000)}`);
      const sk = sortKeyOf(key);
      const payload = `p${i}`;
      m.put(sk, Buffer.from(payload));
      model.set(sk.toString('hex'), payload);
      if (i % 5000 === 4999) m.checkInvariants();
    }
    m.checkInvariants();
    assert.equal(m.count, model.size, `seed ${seed}: one node per key`);
    const want = [...model.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a, 'hex'), Buffer.from(b, 'hex')));
    assert.deepEqual(entries(m), want, `seed ${seed}: order and newest payloads`);
    for (const [skHex, payload] of want) assert.equal(m.get(Buffer.from(skHex, 'hex'))?.toString(), payload);
    assert.equal(m.get(sortKeyOf(Buffer.from('absent'))), null);
  }
});

test('keys whose tokens are equal still order by key bytes (the token is only a prefix)', () => {
  // Hand-made sort keys sharing one token: the list must fall back to comparing the key bytes.
  const token = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x01]);
  const sk = (k: string): Buffer => Buffer.concat([token, Buffer.from(k)]);
  const m = new Memtable(1);
  for (const k of ['m', 'c', 'x', 'a', 'q']) m.put(sk(k), Buffer.from(k.toUpperCase()));
  m.put(sk('c'), Buffer.from('C2'));
  m.checkInvariants();
  assert.deepEqual(
    entries(m).map(([, p]) => p),
    ['A', 'C2', 'M', 'Q', 'X'],
  );
  assert.equal(m.get(sk('q'))?.toString(), 'Q');
  assert.equal(m.get(sk('b')), null);
  assert.equal(m.keyOf(m.seek(sk('b'))).toString(), sk('c').toString());
});

test('a cursor keeps going through keys inserted after it was taken', () => {
  // Scans hold a node while writes continue; nodes never move, so the cursor stays valid.
  const m = new Memtable(1);
  const sks = Array.from({ length: 200 }, (_, i) => sortKeyOf(Buffer.from(`key-${i}`))).sort(Buffer.compare);
  for (let i = 0; i < sks.length; i += 2) m.put(sks[i]!, Buffer.from('even'));
  let n = m.seek(sks[0]!);
  const seen: Buffer[] = [];
  for (let step = 0; n !== 0; step++) {
    seen.push(m.keyOf(n));
    // Insert the odd keys as the cursor walks (and grow the arrays past their first capacity).
    if (2 * step + 1 < sks.length) m.put(sks[2 * step + 1]!, Buffer.from('odd'));
    for (let j = 0; j < 3; j++) m.put(sortKeyOf(Buffer.from(`filler-${step}-${j}`)), Buffer.from('f'));
    n = m.nextOf(n);
  }
  m.checkInvariants();
  const seenSet = new Set(seen.map((b) => b.toString('hex')));
  for (const sk of sks) assert.ok(seenSet.has(sk.toString('hex')), 'every key, old or inserted ahead of the cursor, is visited');
  for (let i = 1; i < seen.length; i++) assert.ok(Buffer.compare(seen[i - 1]!, seen[i]!) < 0, 'in order');
});

test('packMemtable in slices: yields to the event loop between slices and packs the same run as in one go', async () => {
  const m = new Memtable(1);
  const rnd = prng(7);
  for (let i = 0; i < 20_000; i++) m.put(sortKeyOf(Buffer.from(`k${Math.floor(rnd() * 50_000)}`)), Buffer.alloc(200 + (i % 50), i & 0xff));
  let turns = 0;
  const ticker = setInterval(() => turns++, 0);
  // sliceMs 0: every check is over its slice, so the pack yields every packEntriesPerCheck entries.
  const sliced = await packMemtable(m, [], 0).finally(() => clearInterval(ticker));
  const whole = await packMemtable(m, [], Number.MAX_SAFE_INTEGER);
  assert.equal(whole.slices, 1, 'an unbounded slice never yields');
  assert.ok(sliced.slices > m.count / 512, `sliced pack yielded ${sliced.slices} times for ${m.count} entries`);
  assert.ok(turns > 0, 'timers ran while the pack was in progress');
  assert.equal(sliced.run.count, m.count);
  assert.deepEqual([...sliced.run.keyOffsets], [...whole.run.keyOffsets]);
  assert.deepEqual([...sliced.run.valueLengths], [...whole.run.valueLengths]);
  assert.ok(Buffer.from(sliced.run.keys).equals(Buffer.from(whole.run.keys)));
  // And in memtable order: entry i of the run is node i of the list, its payload where the run says.
  const payloadOf = (run: PackedRun, i: number): Buffer => Buffer.from(run.valueBuffers[run.valueBuffer[i]!]!, run.valueOffsets[i], run.valueLengths[i]);
  let i = 0;
  for (let n = m.first(); n !== 0; n = m.nextOf(n), i++) {
    assert.ok(Buffer.from(sliced.run.keys).subarray(sliced.run.keyOffsets[i], sliced.run.keyOffsets[i + 1]).equals(m.keyOf(n)), `key ${i}`);
    assert.ok(payloadOf(sliced.run, i).equals(m.payloadOf(n)) && payloadOf(whole.run, i).equals(m.payloadOf(n)), `payload ${i}`);
  }
});

test('packMemtable: payloads in shared memory go as places in it, private ones are copied into one shared buffer', async () => {
  const pool = new ArenaPool(16 * 1024, 64 * 1024, 'shared');
  const m = new Memtable(1, new Arena(pool));
  const arena = m.arena!;
  const expected = new Map<string, Buffer>();
  for (let i = 0; i < 300; i++) {
    const key = sortKeyOf(Buffer.from(`k${i}`));
    // Every third payload is private memory (as a memtable rebuilt from the WAL holds); one is over a quarter chunk (its own buffer).
    const bytes = i === 7 ? 6000 : 100 + i;
    const payload = i % 3 === 0 ? Buffer.alloc(bytes) : arena.alloc(bytes);
    payload.fill(i & 0xff);
    m.put(key, payload);
    expected.set(key.toString('hex'), Buffer.from(payload));
  }
  const { run, transfer } = await packMemtable(m);
  assert.equal(run.count, 300);
  assert.ok(run.valueBuffers.every((b) => b instanceof SharedArrayBuffer));
  assert.ok(!transfer.some((b) => (b as unknown) instanceof SharedArrayBuffer), 'shared memory is not in the transfer list');
  const copied = run.valueBuffers[run.valueBuffers.length - 1]!;
  let privateBytes = 0;
  for (let i = 0; i < 300; i += 3) privateBytes += 100 + i;
  assert.equal(copied.byteLength, privateBytes, 'only the private payloads are copied');
  const chunksAndLarge = new Set(run.valueBuffers.slice(0, -1));
  assert.equal(chunksAndLarge.size, run.valueBuffers.length - 1, 'each buffer once');
  for (let i = 0; i < run.count; i++) {
    const key = Buffer.from(run.keys).subarray(run.keyOffsets[i], run.keyOffsets[i + 1]).toString('hex');
    const got = Buffer.from(run.valueBuffers[run.valueBuffer[i]!]!, run.valueOffsets[i], run.valueLengths[i]);
    assert.ok(got.equals(expected.get(key)!), `payload of entry ${i}`);
  }
});
