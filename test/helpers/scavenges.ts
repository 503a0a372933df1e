// Runs a script in a child node with --trace-gc-nvp and reads, per scavenge, the bytes of the new
// generation that survived it: what V8's young-generation collector had to copy. For tests that
// pin down what a hot path leaves alive between scavenges.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

/** The median bytes surviving a scavenge while `script` runs (it must cause at least 10 scavenges). */
export function medianScavengeSurvivedBytes(script: string): number {
  const r = spawnSync(process.execPath, ['--max-semi-space-size=64', '--trace-gc-nvp', '-e', script], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  const survived = r.stdout
    .split('\n')
    .filter((l) => l.includes('gc=s '))
    .map((l) => Number(/ new_space_survived=(\d+)/.exec(l)?.[1]));
  assert.ok(survived.length >= 10 && survived.every((n) => Number.isFinite(n)), `parsed ${survived.length} scavenges`);
  return [...survived].sort((a, b) => a - b)[Math.floor(survived.length / 2)]!;
}
