// Runs a test's child script (compiled JS) inside a private mount namespace (`unshare -rm`: no
// privilege needed where user namespaces are allowed, and no mount left behind) on a fresh tmpfs
// of `fsBytes` at `mountPoint`, optionally with a `ballast` file of `ballastBytes` in it first,
// and hands back what the child printed. The child gets the mount point as its argument.
import { spawn } from 'node:child_process';

export interface ChildRun {
  /** Exit code, or the signal that ended it. */
  code: number | string;
  stdout: string;
  stderr: string;
}

export function runChildOnTmpfs(childScript: string, mountPoint: string, fsBytes: number, ballastBytes = 0): Promise<ChildRun> {
  const ballast = ballastBytes > 0 ? ` && head -c ${ballastBytes} /dev/zero > '${mountPoint}/ballast'` : '';
  const script = `mount -t tmpfs -o size=${fsBytes} tmpfs '${mountPoint}'${ballast} && exec '${process.execPath}' '${childScript}' '${mountPoint}'`;
  const proc = spawn('unshare', ['-r', '-m', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => proc.once('exit', (c, signal) => resolve({ code: c ?? signal ?? 'unknown', stdout, stderr })));
}
