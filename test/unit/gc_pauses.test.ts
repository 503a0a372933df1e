// Proves the GC pause timing sees this thread's real collections, by kind: a forced full
// collection shows up as a major pause, and a burst of short-lived garbage as minor ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gcSnapshots, startGcTiming } from '../../src/gc_pauses';
import { forceFullGc } from '../helpers/full_gc';

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

test('full and young-generation collections are timed as major and minor pauses', async () => {
  startGcTiming();
  startGcTiming(); // a second start changes nothing
  const before = gcSnapshots();
  forceFullGc();
  let keep = 0;
  for (let i = 0; i < 200_000; i++) keep += [i, { i }].length; // short-lived garbage
  assert.ok(keep > 0);
  await settle(); // entries reach the observer asynchronously
  const after = gcSnapshots();
  assert.ok(after.major.count > before.major.count, 'the forced full collection was seen');
  assert.ok(after.minor.count > before.minor.count, 'young-generation collections were seen');
  assert.ok(after.major.sumSeconds > before.major.sumSeconds);
  for (const kind of ['minor', 'major', 'incremental', 'weakcb'] as const) {
    assert.equal(after[kind].counts.reduce((n, c) => n + c, 0), after[kind].count, kind);
  }
});
