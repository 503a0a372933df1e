// The table of requests in flight by id (src/protocol/inflight_table.ts): ids map to their own
// entries only, a reused slot never answers for the id that held it before, and churning requests
// through it leaves nothing alive at a scavenge even with full collections in between (which a
// Map churned the same way does not: every request since the last full collection stays alive).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { InflightTable } from '../../../src/protocol/inflight_table';
import { medianScavengeSurvivedBytes } from '../../helpers/scavenges';

test('an entry is found by its own id only, and a slot is free again once its entry is deleted', () => {
  const t = new InflightTable<string>(4); // 8 slots
  t.add(1, 'one');
  t.add(2, 'two');
  assert.equal(t.size, 2);
  assert.equal(t.get(1), 'one');
  assert.equal(t.get(9), undefined, 'id 9 shares slot 1 but is not in flight');
  assert.equal(t.isFree(9), false, 'its slot is taken, so id 9 is skipped when ids are handed out');
  assert.equal(t.delete(9), false);
  assert.equal(t.delete(1), true);
  assert.equal(t.delete(1), false, 'deleted once');
  assert.equal(t.isFree(9), true);
  t.add(9, 'nine');
  assert.equal(t.get(1), undefined, 'a late answer for id 1 does not find the request now in its slot');
  assert.equal(t.get(9), 'nine');
  assert.equal(t.size, 2);
});

test('takeAll returns every entry and leaves the table empty', () => {
  const t = new InflightTable<number>(3);
  for (const id of [5, 6, 0xffffffff]) t.add(id, id * 2);
  assert.deepEqual(t.takeAll().sort((a, b) => a - b), [10, 12, 0xffffffff * 2]);
  assert.equal(t.size, 0);
  assert.equal(t.get(5), undefined);
  assert.deepEqual(t.takeAll(), []);
});

test('an id whose slot is taken, or that is not a uint32, is refused', () => {
  const t = new InflightTable<string>(2);
  t.add(3, 'a');
  assert.throws(() => t.add(3, 'b'), /slot taken twice/);
  assert.throws(() => t.add(2 ** 32, 'c'), /not a uint32/);
  assert.throws(() => new InflightTable<string>(0), /in-flight bound/);
});

const table = path.resolve(__dirname, '..', '..', '..', 'src', 'protocol', 'inflight_table.js');

/** Requests of ~2 KB each go in and out, about three in flight; `map`: a Map in the table's place. */
const churn = (map: boolean) => `
const { InflightTable } = require(${JSON.stringify(table)});
const t = ${map ? 'new Map()' : 'new InflightTable(16)'};
let id = 0;
let n = 0;
function tick() {
  for (let i = 0; i < 64 && n < 150000; i++, n++) {
    id++;
    const request = { id, graph: Array.from({ length: 40 }, (_, j) => ({ j, text: 'v' + j })) };
    ${map ? 't.set(id, request); t.delete(id - 3);' : 't.add(id, request); t.delete(id - 3);'}
  }
  if (n < 150000) setImmediate(tick);
}
tick();
`;

test('requests churned through the table leave almost nothing alive at a scavenge, with full collections between', () => {
  const bytes = medianScavengeSurvivedBytes(churn(false), { fullGcAfterScavenges: true });
  assert.ok(bytes < 256 * 1024, `median ${bytes} bytes alive per scavenge`);
});

test('the same churn through a Map keeps the requests alive (why the table is not a Map)', () => {
  const bytes = medianScavengeSurvivedBytes(churn(true), { fullGcAfterScavenges: true });
  assert.ok(bytes > 1024 * 1024, `median ${bytes} bytes alive per scavenge`);
});
