// Runs the `ringkv` command line to completion (the commands that exit: get/put/del, the admin
// commands), with a time bound, for the process and cluster tests alike.
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'ringkv.js');
const running = new Set<ChildProcess>();

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ringkv ARGS`; rejects (after killing it) when it has not exited in `timeoutMs`. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`ringkv ${args.join(' ')} did not exit in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      running.delete(proc);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Kills every CLI process still running (for `after`, when a test failed while one ran). */
export function killCli(): void {
  for (const p of running) p.kill('SIGKILL');
}
