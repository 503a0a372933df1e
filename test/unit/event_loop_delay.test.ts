// Proves the event loop sampler sees this thread's loop held up: 60 ms of synchronous work holds
// back the sample due in the middle of it by at least 40 ms, and the samples keep coming after it
// (one timer, refreshed). The lower bounds come from the blocking itself, not from timing luck.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventLoopSampleIntervalMs } from '../../src/constants';
import { eventLoopDelaySnapshot, startEventLoopTiming } from '../../src/event_loop_delay';
import { latencyBucketsSeconds, snapshotDelta } from '../../src/histogram';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test('a loop held up by synchronous work shows as a late sample; sampling goes on after it', async () => {
  startEventLoopTiming();
  startEventLoopTiming(); // a second start changes nothing
  await sleep(3 * eventLoopSampleIntervalMs);
  const before = eventLoopDelaySnapshot();
  const blockMs = 60;
  busyFor(blockMs);
  await sleep(3 * eventLoopSampleIntervalMs);
  const held = snapshotDelta(eventLoopDelaySnapshot(), before);
  // A sample was due at most one interval into the block, so it ran at least this late.
  const lateSeconds = (blockMs - eventLoopSampleIntervalMs) / 1000;
  const firstBucketOver = latencyBucketsSeconds.findIndex((b) => b >= lateSeconds);
  const lateOnes = held.counts.slice(firstBucketOver).reduce((n, c) => n + c, 0);
  assert.ok(lateOnes >= 1, `a sample ${lateSeconds * 1000} ms late or more: ${JSON.stringify(held.counts)}`);
  assert.ok(held.sumSeconds >= lateSeconds);
  const after = eventLoopDelaySnapshot();
  await sleep(5 * eventLoopSampleIntervalMs);
  assert.ok(eventLoopDelaySnapshot().count > after.count, 'samples go on after the block');
});
