// Child processes a test may SIGSTOP run in a session of their own (spawn's `detached`), not in
// the test runner's process group. The kernel sends SIGHUP (then SIGCONT) to every process of a
// group that becomes orphaned while one of its members is stopped, and the runner's group is
// orphaned whenever the suite was started in the background by a shell that has exited since: a
// node stopped at that moment was killed by the SIGHUP (its default action), and the tests after
// it failed on a node that was gone. In a session of its own a child's group is never orphaned
// that way. Such children no longer get the terminal's Ctrl-C either, so every one still running
// is SIGKILLed when the test process exits, or is stopped itself by SIGINT or SIGTERM.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const alive = new Set<ChildProcess>();
let guarded = false;

function killAlive(): void {
  for (const p of alive) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

function guard(): void {
  if (guarded) return;
  guarded = true;
  process.on('exit', killAlive);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      killAlive();
      process.exit(code);
    });
  }
}

/** spawn() in a session of its own, SIGKILLed with the test process if it outlives it. */
export function spawnOwnSession(command: string, args: readonly string[], options: Omit<SpawnOptions, 'detached'>): ChildProcess {
  guard();
  const proc = spawn(command, args, { ...options, detached: true });
  alive.add(proc);
  proc.once('exit', () => alive.delete(proc));
  return proc;
}
