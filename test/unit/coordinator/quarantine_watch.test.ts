// The cluster coordinator's account of quarantined tables (quarantine_watch.ts): a table that a
// compaction or a read quarantines is reported (and repaired) once, whether a storage poll or a
// scrub's end finds it, and a scrub's own quarantines are its own to report, never counted twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuarantineWatch } from '../../../src/coordinator/quarantine_watch';

test('polls report each growth of the total once', () => {
  const w = new QuarantineWatch();
  assert.equal(w.polled(0), 0);
  assert.equal(w.polled(2), 2);
  assert.equal(w.polled(2), 0);
  assert.equal(w.polled(3), 1);
});

test("a scrub's own quarantines are its own; a compaction's or a read's during the scrub are reported when it ends", () => {
  const w = new QuarantineWatch();
  assert.equal(w.polled(1), 1);
  w.scrubStarted();
  // During the scrub: it quarantines 2, a compaction 1; the polls leave them to the scrub.
  assert.equal(w.polled(2), 0);
  assert.equal(w.polled(4), 0);
  assert.equal(w.scrubEnded(2, 4), 1, 'the compaction\'s one, in no scrub report');
  assert.equal(w.polled(4), 0, 'reported once');
  // A scrub that quarantines everything that was found: nothing else.
  w.scrubStarted();
  assert.equal(w.scrubEnded(3, 7), 0);
  assert.equal(w.polled(7), 0);
});

test('overlapping scrubs: the last to end counts what neither quarantined', () => {
  const w = new QuarantineWatch();
  w.scrubStarted();
  w.scrubStarted();
  // One scrub ends with 1 of its own while a read had quarantined 1 and the other scrub 1.
  assert.equal(w.scrubEnded(1, 3), 0);
  assert.equal(w.polled(3), 0, 'a scrub still runs');
  assert.equal(w.scrubEnded(1, 3), 1, 'the read\'s one');
  assert.equal(w.polled(3), 0);
});

test('a total that could not be read after a scrub leaves the count to the next poll', () => {
  const w = new QuarantineWatch();
  w.scrubStarted();
  assert.equal(w.scrubEnded(1, null), 0);
  assert.equal(w.polled(2), 2, 'reported, the scrub\'s one again rather than the read\'s never');
});
