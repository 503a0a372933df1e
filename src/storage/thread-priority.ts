// Lowers the calling thread's CPU priority, for threads whose work can wait while requests are
// served (an engine's flushes and compactions). Linux schedules threads, not processes:
// setpriority(PRIO_PROCESS, tid) changes one thread's nice value, Node exposes it as
// os.setPriority, and a thread finds its own id in /proc/thread-self. The increment is relative
// to the thread's current nice value (inherited from whoever started the process), as nice(1)
// is, so a node started under `nice` keeps its background threads below its other threads
// rather than raising them. Raising a nice value needs no privilege.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assert } from '../errors';

/** The calling thread's kernel thread id (Linux), or null where /proc/thread-self is missing. */
export function currentThreadId(): number | null {
  try {
    const tid = Number(path.basename(fs.readlinkSync('/proc/thread-self')));
    return Number.isSafeInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

/**
 * Adds `increment` to the calling thread's nice value (capped at 19). Returns null when done,
 * else why not (the thread then runs at its old priority, which costs latency, not correctness).
 */
export function lowerThreadPriority(increment: number): string | null {
  assert(Number.isInteger(increment) && increment >= 1 && increment <= 19, 'a nice increment is 1..19');
  const tid = currentThreadId();
  if (tid === null) return 'no /proc/thread-self (not Linux?)';
  try {
    os.setPriority(tid, Math.min(19, os.getPriority(tid) + increment));
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
