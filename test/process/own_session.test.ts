// Why the tests' stoppable children run in sessions of their own (helpers/own_session.ts): a
// stopped process whose group becomes orphaned gets SIGHUP, then SIGCONT, from the kernel, and
// dies of the SIGHUP. Here a script plays the test process, started in the background by a shell
// with job control that then exits (as a suite started with `( npm test ) &` does when its shell
// is done): the script stops a child, and once the shell is gone it reports whether the child is
// still there. A plain spawn()ed child is killed by SIGHUP; spawnOwnSession's is left stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const helper = path.join(__dirname, '..', 'helpers', 'own_session.js');

/** What became of a stopped child of a background job whose shell exited: its exit signal, or 'stopped'. */
function stoppedChildFate(how: 'spawn' | 'spawnOwnSession'): string {
  const script = `
    const { spawn } = require('node:child_process');
    const { spawnOwnSession } = require(${JSON.stringify(helper)});
    const child = (${how === 'spawn' ? 'spawn' : 'spawnOwnSession'})(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    let fate = 'stopped';
    child.once('exit', (code, signal) => (fate = signal ?? String(code)));
    child.once('spawn', () => child.kill('SIGSTOP'));
    // The shell exits ~0.3 s after starting this script; look well after that.
    setTimeout(() => {
      process.stdout.write(fate + '\\n');
      child.kill('SIGKILL');
      process.exit(0);
    }, 1500);
  `;
  const out = path.join(os.tmpdir(), `own-session-${process.pid}-${how}.out`);
  // set -m: the script is a job with its own process group, whose parent is the shell.
  const r = spawnSync('bash', ['-c', `set -m; "${process.execPath}" -e '${script.replace(/'/g, `'\\''`)}' > '${out}' & sleep 0.3; exit 0`], { stdio: 'ignore' });
  assert.equal(r.status, 0);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
    if (text.endsWith('\n')) {
      fs.rmSync(out);
      return text.trim();
    }
    spawnSync('sleep', ['0.1']);
  }
  throw new Error(`the ${how} script did not report`);
}

test('a stopped child spawned plainly dies of SIGHUP when its group is orphaned; one in its own session stays stopped', () => {
  assert.equal(stoppedChildFate('spawn'), 'SIGHUP');
  assert.equal(stoppedChildFate('spawnOwnSession'), 'stopped');
});
