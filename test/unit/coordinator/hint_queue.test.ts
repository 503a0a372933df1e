// One target's hint queue (src/coordinator/hint_queue.ts): random pushes, replacements and
// removals agree with a model of an insertion-ordered map, through its compactions;
// and a hint store churning a few hot keys (a replica down while they are written) leaves
// almost nothing alive at a scavenge with full collections in between, which its Map did not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { HintQueue, type Queueable } from '../../../src/coordinator/hint_queue';
import { medianScavengeSurvivedBytes } from '../../helpers/scavenges';
import { mulberry32 } from '../../helpers/prng';

interface Item extends Queueable {
  n: number;
}

for (const seed of [1, 2, 3]) {
  test(`random pushes, replacements and removals keep the model's order (seed ${seed})`, () => {
    const random = mulberry32(seed);
    const q = new HintQueue<Item>();
    /** The model: key → item, oldest first (a replaced key keeps its place, as in the store). */
    const model = new Map<string, Item>();
    // Few keys at first (replacements, holes), then many (growth, removals past the slack).
    for (let step = 0; step < 30_000; step++) {
      const keySpace = step < 10_000 ? 8 : 3_000;
      const ks = `k${Math.floor(random() * keySpace)}`;
      const roll = random();
      const known = model.get(ks);
      if (roll < 0.6) {
        const item: Item = { ks, queueAt: -1, n: step };
        if (known !== undefined && random() < 0.5) {
          q.push(item, known);
        } else {
          if (known !== undefined) q.remove(known);
          q.push(item);
          model.delete(ks); // removed and queued again: to the back
        }
        model.set(ks, item);
      } else if (roll < 0.8 && known !== undefined) {
        q.remove(known);
        model.delete(ks);
      } else if (roll < 0.9) {
        const oldest = q.oldest();
        assert.equal(oldest, model.values().next().value, `step ${step}: the oldest`);
        if (oldest !== undefined && random() < 0.5) {
          q.remove(oldest);
          model.delete(oldest.ks);
        }
      } else {
        assert.equal(q.get(ks), known, `step ${step}: ${ks}`);
      }
      assert.equal(q.size, model.size);
      if (step % 500 === 0) {
        q.checkInvariants();
        assert.deepEqual([...q.values()].map((x) => x.n), [...model.values()].map((x) => x.n), `step ${step}: the order`);
      }
    }
    for (let h = q.oldest(); h !== undefined; h = q.oldest()) q.remove(h);
    q.checkInvariants();
    assert.equal(q.size, 0);
    assert.deepEqual([...q.values()], []);
  });
}

test('a key is queued once: a second hint for it must name the one it replaces, and only a queued hint can be removed', () => {
  const q = new HintQueue<Item>();
  const a: Item = { ks: 'a', queueAt: -1, n: 1 };
  q.push(a);
  assert.throws(() => q.push(a), /in two queues/);
  assert.throws(() => q.push({ ks: 'a', queueAt: -1, n: 2 }), /queued twice/);
  assert.throws(() => q.remove({ ks: 'a', queueAt: 0, n: 3 }), /not queued/);
  const b: Item = { ks: 'b', queueAt: -1, n: 4 };
  q.push(b);
  assert.throws(() => q.push({ ks: 'b', queueAt: -1, n: 5 }, a), /of another key/);
  const a2: Item = { ks: 'a', queueAt: -1, n: 6 };
  q.push(a2, a);
  assert.deepEqual([...q.values()].map((x) => x.n), [6, 4], 'the replacement takes its place');
  assert.equal(q.get('a'), a2);
  assert.throws(() => q.remove(a), /not queued/);
  q.remove(a2);
  assert.equal(q.get('a'), undefined);
  q.checkInvariants();
  assert.equal(q.size, 1);
});

test('hints replaced again and again keep their places and leave no holes in the order', () => {
  const q = new HintQueue<Item>();
  const latest = new Map<string, Item>();
  for (let n = 0; n < 10_000; n++) {
    const ks = `hot-${n % 10}`;
    const item: Item = { ks, queueAt: -1, n };
    q.push(item, latest.get(ks));
    latest.set(ks, item);
  }
  q.checkInvariants();
  assert.deepEqual([...q.values()].map((x) => x.n), Array.from({ length: 10 }, (_, i) => 9_990 + i));
});

const store = path.resolve(__dirname, '..', '..', '..', 'src', 'coordinator', 'hinted_handoff.js');

/** A replica down while 10 hot keys are written again and again: each write's hint replaces the key's last. */
const hotKeys = `
const { HintStore } = require(${JSON.stringify(store)});
const hints = new HintStore({ merge: (older, newer) => newer });
const keys = Array.from({ length: 10 }, (_, i) => Buffer.from('hot-' + i));
let n = 0;
function tick() {
  for (let i = 0; i < 500 && n < 200000; i++, n++) {
    hints.add('node-b', keys[n % keys.length], { versionVector: new Uint8Array(24), value: new Uint8Array(1024), tombstone: false });
  }
  if (n < 200000) setImmediate(tick);
}
tick();
`;

test('hot keys hinted again and again leave almost nothing alive at a scavenge, with full collections between', () => {
  // A Map deleted from and set again kept every replaced hint since the last full collection:
  // a median of ~1.3 MB per scavenge here (ad hoc), against ~7 KB without full collections.
  const bytes = medianScavengeSurvivedBytes(hotKeys, { fullGcAfterScavenges: true });
  assert.ok(bytes < 256 * 1024, `median ${bytes} bytes alive per scavenge`);
});
