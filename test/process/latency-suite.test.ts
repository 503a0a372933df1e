// The latency suite (`ringkv bench`) stopped with a TERM to its own process: the servers it
// started are its children, not killed with it, so it must stop them itself (and remove their
// data dirs) before it goes. A real node, started by the suite, measured until the TERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const bin = path.resolve(__dirname, '..', '..', '..', 'bin', 'ringkv.js');

/** The pids whose parent is `ppid` (Linux /proc). */
function childrenOf(ppid: number): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The fields after the command (in parentheses, which may hold spaces): state, ppid, ...
      const ppidField = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      if (Number(ppidField) === ppid) pids.push(Number(entry));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a TERM to the latency suite stops the node it started and removes its data dir', { timeout: 60_000 }, async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rkv-latency-term-'));
  try {
    const suite = spawn(process.execPath, [bin, 'bench', '--targets', 'ringkv', '--workloads', 'C', '--records', '100', '--rate', '50', '--compare-seconds', '60', '--md', '', '--out', out], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => suite.once('exit', (code, signal) => resolve({ code, signal })));
    // Once it measures, the node is up and loaded: that is when a user would give up on a run.
    await new Promise<void>((resolve, reject) => {
      suite.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('measure: workload C')) resolve();
      });
      void exited.then(() => reject(new Error(`the suite exited before measuring: ${stderr}`)));
    });
    const servers = childrenOf(suite.pid!);
    assert.equal(servers.length, 1, `one server started (children ${servers.join(', ')})`);
    const node = servers[0]!;
    const cmdline = fs.readFileSync(`/proc/${node}/cmdline`, 'utf8').split('\0');
    const dataDir = cmdline[cmdline.indexOf('--data-dir') + 1]!;
    assert.ok(fs.existsSync(dataDir), `the node's data dir ${dataDir} exists while it runs`);

    suite.kill('SIGTERM');
    const { signal } = await exited;
    assert.equal(signal, 'SIGTERM', 'the suite ended by the TERM it was sent');
    assert.equal(alive(node), false, `node ${node} was stopped`);
    assert.equal(fs.existsSync(dataDir), false, `its data dir ${dataDir} was removed`);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
