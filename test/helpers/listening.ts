// Waits for a starting ringkv node process to print its "listening on" line, keeping the last
// lines of its output in `log` (for the error when it does not start, and for later failures).
import type { ChildProcess } from 'node:child_process';

/** Lines of a node's output kept in `log`. */
const logLinesMax = 400;

export function waitListening(proc: ChildProcess, name: string, log: string[], timeoutMs = 15_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${log.join('')}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      log.push(text);
      if (log.length > logLinesMax) log.splice(0, log.length - logLinesMax);
      if (text.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal ?? code}) while starting:\n${log.join('')}`));
    });
  });
}
