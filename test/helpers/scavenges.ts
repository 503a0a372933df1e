// Runs a script in a child node with --trace-gc-nvp and reads, per scavenge, the bytes of the new
// generation that survived it: what V8's young-generation collector had to copy. For tests that
// pin down what a hot path leaves alive between scavenges.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

export interface ScavengeOptions {
  /**
   * Only the scavenges of the script's own thread count, not its workers' (each line names its
   * isolate; the main thread's collects first).
   */
  mainThreadOnly?: boolean;
  /**
   * A full collection follows each of the main thread's scavenges (as a busy node has one now
   * and then between them): what it moves to the old generation is what a young object can be
   * kept alive from by a structure that is garbage itself (shard_client.ts, BatchesById).
   */
  fullGcAfterScavenges?: boolean;
}

const fullGcAfterScavenges = `
{
  const { PerformanceObserver, constants } = require('node:perf_hooks');
  let due = false;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.detail.kind !== constants.NODE_PERFORMANCE_GC_MINOR || due) continue;
      due = true;
      setImmediate(() => { due = false; gc(); });
    }
  }).observe({ entryTypes: ['gc'] });
}
`;

/**
 * The median bytes surviving a scavenge while `script` runs (it must cause at least 10 scavenges).
 */
export function medianScavengeSurvivedBytes(script: string, options: ScavengeOptions = {}): number {
  const flags = ['--max-semi-space-size=64', '--trace-gc-nvp', ...(options.fullGcAfterScavenges === true ? ['--expose-gc'] : [])];
  const code = options.fullGcAfterScavenges === true ? fullGcAfterScavenges + script : script;
  const r = spawnSync(process.execPath, [...flags, '-e', code], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  let lines = r.stdout.split('\n').filter((l) => l.includes('gc=s '));
  if (options.mainThreadOnly === true) {
    const isolate = (l: string) => /^\[\d+:(0x[0-9a-f]+)\]/.exec(l)?.[1];
    const main = isolate(lines[0] ?? '');
    assert.ok(main !== undefined, 'a scavenge line names its isolate');
    lines = lines.filter((l) => isolate(l) === main);
  }
  const survived = lines.map((l) => Number(/ new_space_survived=(\d+)/.exec(l)?.[1]));
  assert.ok(survived.length >= 10 && survived.every((n) => Number.isFinite(n)), `parsed ${survived.length} scavenges`);
  return [...survived].sort((a, b) => a - b)[Math.floor(survived.length / 2)]!;
}

/**
 * The bytes all of `script`'s scavenges promoted to the old generation together (it must cause
 * at least 10): what outlived two scavenges. An object kept per write shows here even where the
 * median of survived bytes hides it (it is promoted in bursts as the young generation grows).
 */
export function scavengePromotedBytes(script: string): number {
  const r = spawnSync(process.execPath, ['--max-semi-space-size=64', '--trace-gc-nvp', '-e', script], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  const promoted = r.stdout
    .split('\n')
    .filter((l) => l.includes('gc=s '))
    .map((l) => Number(/ promoted=(\d+)/.exec(l)?.[1]));
  assert.ok(promoted.length >= 10 && promoted.every((n) => Number.isFinite(n)), `parsed ${promoted.length} scavenges`);
  return promoted.reduce((sum, n) => sum + n, 0);
}

/** Runs of the script a bound gets before it is judged exceeded (see scavengeSurvivedUnder). */
const scavengeRunsMax = 3;

/**
 * The lowest median of up to scavengeRunsMax runs of `script`, stopping at the first under
 * `boundBytes`. One run's median can be several times the usual when the machine stalls the child
 * mid-run (seen in a full suite: 224 KB where runs alone give 12-130 KB), while what these tests
 * guard against, an object kept alive per key or per op, shows in every run.
 */
export function scavengeSurvivedUnder(script: string, boundBytes: number, options: ScavengeOptions = {}): { bytes: number; runs: number } {
  let bytes = Infinity;
  let runs = 0;
  while (runs < scavengeRunsMax && bytes >= boundBytes) {
    bytes = Math.min(bytes, medianScavengeSurvivedBytes(script, options));
    runs++;
  }
  return { bytes, runs };
}

