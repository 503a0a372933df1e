// The log line a node writes when the tombstone grace that decides is another node's, shorter
// than its own (coordinator/grace_notice.ts), and when it is its own again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tombstoneGraceNotice } from '../../../src/coordinator/grace_notice';

const day = 86_400_000;

test('a shorter grace elsewhere is a WARN naming the node and both graces; back to ours, one line only after a WARN', () => {
  const warn = tombstoneGraceNotice(10 * day, { nodeId: 'node-2', ms: 3 * day }, false);
  assert.equal(
    warn,
    'WARN tombstone grace: node node-2 purges tombstones 3.0 days after their deletes, this node 10.0 days after (--tombstone-grace-seconds differs between nodes): ' +
      'the shortest decides, so deletes here report its expiry and every range must sync within it. Give every node one grace',
  );
  assert.match(tombstoneGraceNotice(10 * day, { nodeId: 'node-3', ms: 12 * 3_600_000 }, true)!, /^WARN .* node node-3 purges tombstones 12\.0 hours after/, 'another node, still shorter: said again');
  assert.equal(tombstoneGraceNotice(10 * day, { nodeId: 'node-1', ms: 10 * day }, true), 'tombstone grace: no node purges tombstones sooner than this node (10.0 days after their deletes) again');
  assert.equal(tombstoneGraceNotice(10 * day, { nodeId: 'node-1', ms: 10 * day }, false), null, 'nothing was wrong: nothing to say');
});
