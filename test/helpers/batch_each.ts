// Coordinator.batch for a test coordinator whose operations run one by one: every operation
// through put/get/delete, all at once (the in-memory coordinator of the server tests, and the
// one-by-one baseline of the single-node coordinator's batch test), each read held to the
// caller's room for answers as the real coordinators hold it.
import { withinRoom } from '../../src/coordinator/batch_outcome';
import type { AnswerRoom, BatchOp, BatchOutcome, Coordinator } from '../../src/coordinator/types';

function runOne(c: Pick<Coordinator, 'put' | 'get' | 'delete'>, b: BatchOp): Promise<BatchOutcome> {
  switch (b.op) {
    case 'put':
      return c.put(b.req).then((result) => ({ ok: true, op: 'put', result }));
    case 'get':
      return c.get(b.req).then((result) => ({ ok: true, op: 'get', result }));
    case 'delete':
      return c.delete(b.req).then((result) => ({ ok: true, op: 'delete', result }));
  }
}

/** Runs each operation of a batch through put/get/delete; never rejects. */
export function batchEach(c: Pick<Coordinator, 'put' | 'get' | 'delete'>, ops: readonly BatchOp[], room?: AnswerRoom): Promise<BatchOutcome[]> {
  return Promise.all(
    ops.map((b) => {
      try {
        return runOne(c, b).then(
          (o) => withinRoom(o, room),
          (error: unknown): BatchOutcome => ({ ok: false, error }),
        );
      } catch (error) {
        // A method that throws before it returns its promise.
        return Promise.resolve<BatchOutcome>({ ok: false, error });
      }
    }),
  );
}
