// Starts and stops real `ringkv start` processes for the front-end process tests: a free port,
// a temp data dir, waiting for the start log line, and cleanup that never leaves a process or a
// directory behind.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { killCli } from '../helpers/cli';
import { spawnOwnSession } from '../helpers/own_session';
import { freePort } from '../helpers/ports';
import os from 'node:os';
import path from 'node:path';

export { runCli } from '../helpers/cli';

const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'ringkv.js');


export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `ringkv-${prefix}-`));
}

export interface NodeProcess {
  proc: ChildProcess;
  port: number;
  url: string;
  stderr(): string;
  /** Sends `signal` and resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

const running = new Set<ChildProcess>();


/** Starts a node on a free port (retrying if the port was taken meanwhile). */
export async function startNode(dataDir: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<NodeProcess> {
  let lastErr = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = spawnOwnSession(process.execPath, [bin, 'start', '--port', String(port), '--data-dir', dataDir, '--shards', '2', ...extraArgs], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(proc);
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.stdout!.resume();
    const exited = new Promise<number | string>((resolve) =>
      proc.once('exit', (code, signal) => {
        running.delete(proc);
        resolve(code ?? signal ?? 'unknown');
      }),
    );
    const up = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 30_000);
      const check = (): void => {
        if (/listening on http:\/\//.test(err)) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      proc.stderr!.on('data', check);
      void exited.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (up) {
      return {
        proc,
        port,
        url: `http://127.0.0.1:${port}`,
        stderr: () => err,
        stop: async (signal = 'SIGTERM') => {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
          return exited;
        },
      };
    }
    proc.kill('SIGKILL');
    await exited;
    lastErr = err;
    if (!/cannot listen/.test(err)) break;
  }
  throw new Error(`node did not start: ${lastErr}`);
}

/** Kills every process this file started and still running (for `after`). */
export async function killAll(): Promise<void> {
  killCli();
  await Promise.all(
    [...running].map(
      (p) =>
        new Promise<void>((resolve) => {
          p.once('exit', () => resolve());
          p.kill('SIGKILL');
        }),
    ),
  );
}

/** Resident set size of a process, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
