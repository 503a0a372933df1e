// Runs the `ringkv` command line to completion (the commands that exit: get/put/del, the admin
// commands), with a time bound, for the process and cluster tests alike.
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'ringkv.js');
const running = new Set<ChildProcess>();

export interface CliResult {
  code: number | null;
  stdout: string;
  /** stdout as written (a value `ringkv get` printed is bytes, not necessarily text). */
  stdoutBytes: Buffer;
  stderr: string;
}

/**
 * Runs `ringkv ARGS`, with `stdin` as its standard input (none when absent); rejects (after
 * killing it) when it has not exited in `timeoutMs`.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000, stdin?: Uint8Array): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    running.add(proc);
    if (stdin !== undefined) {
      // A command that exits before reading all of it (a usage error) makes this EPIPE: not a failure here.
      proc.stdin!.on('error', () => {});
      proc.stdin!.end(stdin);
    }
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    proc.stdout!.on('data', (d: Buffer) => stdout.push(d));
    proc.stderr!.on('data', (d: Buffer) => stderr.push(d));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`ringkv ${args.join(' ')} did not exit in ${timeoutMs} ms: ${Buffer.concat(stderr).toString()}`));
    }, timeoutMs);
    // 'close', not 'exit': the output may still be in the pipes when the process exits.
    proc.on('close', (code) => {
      clearTimeout(timer);
      running.delete(proc);
      const stdoutBytes = Buffer.concat(stdout);
      resolve({ code, stdout: stdoutBytes.toString(), stdoutBytes, stderr: Buffer.concat(stderr).toString() });
    });
  });
}

/** Kills every CLI process still running (for `after`, when a test failed while one ran). */
export function killCli(): void {
  for (const p of running) p.kill('SIGKILL');
}
