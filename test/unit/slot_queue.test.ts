// The FIFO with removal from anywhere (src/slot_queue.ts): random pushes, removals of the oldest
// and of members anywhere agree with a model array through its compactions, the holes stay
// bounded, and a queue with a standing backlog (pushed at the back, taken from the front for
// ever) keeps its array bounded too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlotQueue, type Slotted } from '../../src/slot_queue';
import { mulberry32, testSeed } from '../helpers/prng';

interface Item extends Slotted {
  n: number;
}

const item = (n: number): Item => ({ n, queueAt: -1 });

test('random pushes and removals keep the model order, with holes bounded', () => {
  const seed = testSeed();
  const random = mulberry32(seed);
  const q = new SlotQueue<Item>();
  const model: Item[] = [];
  for (let step = 0; step < 40_000; step++) {
    // Phases: growth, removals from anywhere (holes), draining from the front, and an emptying.
    const phase = Math.floor(step / 5_000) % 4;
    const roll = random();
    if (phase === 3 && step % 5_000 === 4_999) {
      assert.deepEqual(q.takeAll(), model, `seed ${seed} step ${step}: takeAll`);
      for (const x of model) assert.equal(x.queueAt, -1);
      model.length = 0;
    } else if (roll < (phase === 0 ? 0.8 : 0.45)) {
      const x = item(step);
      q.push(x);
      model.push(x);
    } else if (model.length > 0 && (phase === 2 || roll < 0.6)) {
      assert.equal(q.peek(), model[0], `seed ${seed} step ${step}: the oldest`);
      q.remove(model.shift()!);
    } else if (model.length > 0) {
      const [x] = model.splice(Math.floor(random() * model.length), 1);
      q.remove(x!);
      assert.equal(x!.queueAt, -1);
    }
    assert.equal(q.size, model.length);
    assert.equal(q.peek(), model[0]);
    if (step % 250 === 0) {
      q.checkInvariants();
      assert.deepEqual([...q.values()], model, `seed ${seed} step ${step}: the order`);
    }
  }
  q.checkInvariants();
});

test('a standing backlog taken from the front and pushed at the back keeps its array bounded', () => {
  const q = new SlotQueue<Item>();
  for (let n = 0; n < 1_000; n++) q.push(item(n));
  for (let n = 1_000; n < 200_000; n++) {
    const oldest = q.peek()!;
    assert.equal(oldest.n, n - 1_000);
    q.remove(oldest);
    q.push(item(n));
  }
  q.checkInvariants();
  // Every member's index is under twice the backlog plus the slack: the front's holes were reclaimed.
  for (const x of q.values()) assert.ok(x.queueAt < 2 * 1_000 + 64, `member ${x.n} at ${x.queueAt}`);
});

test('only a member can be removed, and a member cannot be pushed twice', () => {
  const q = new SlotQueue<Item>();
  const a = item(1);
  q.push(a);
  assert.throws(() => q.push(a), /already in a queue/);
  assert.throws(() => q.remove(item(2)), /not queued/);
  const other = new SlotQueue<Item>();
  const b = item(3);
  other.push(b);
  assert.throws(() => q.remove(b), /not queued/, 'a member of another queue at an index this one has');
  q.remove(a);
  assert.throws(() => q.remove(a), /not queued/);
  assert.equal(q.size, 0);
  assert.equal(q.peek(), undefined);
  q.checkInvariants();
});
