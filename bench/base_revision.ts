// A base git revision built beside this tree, for benches that measure a change against its own
// reference in one run (revision.bench.ts: two nodes; hints.bench.ts --base: two HintStores in
// one process). The base is `git archive REV` unpacked under the run's temp dir, sharing this
// tree's node_modules (so its package-lock.json must be this tree's), built by its own
// scripts/build.js.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, RingkvError } from '../src/errors';
import { markdownTable, repoRoot } from './harness';

export const git = (...args: string[]): string => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();

export interface BaseRevision {
  commit: string;
  /** Where it is unpacked and built (its dist/ beside its sources). */
  dir: string;
  /** "base 1234abc", as tables name it. */
  name: string;
  /** Its commit's subject line. */
  subject: string;
}

/** "this tree 1234abc", with a + when the build has uncommitted changes (BENCHMARKS.md aside). */
export function thisTree(): { name: string; dirty: boolean } {
  const head = git('rev-parse', '--short=7', 'HEAD');
  // BENCHMARKS.md is what the benches write: a change there is not a change to the build.
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)BENCHMARKS.md') !== '';
  return { name: `this tree ${head}${dirty ? '+' : ''}`, dirty };
}

/** Unpacks `rev` into `dir` and builds it there. */
export function buildBaseRevision(rev: string, dir: string, log: (s: string) => void): BaseRevision {
  const commit = git('rev-parse', '--verify', `${rev}^{commit}`);
  if (git('diff', '--name-only', commit, '--', 'package-lock.json') !== '') {
    throw new RingkvError(ErrorCode.InvalidArgument, `package-lock.json differs between ${rev} and this tree: the base would build against the wrong dependencies`);
  }
  fs.mkdirSync(dir, { recursive: true });
  const archive = spawnSync('git', ['archive', '--format=tar', commit], { cwd: repoRoot, maxBuffer: 1 << 30 });
  if (archive.status !== 0) throw new RingkvError(ErrorCode.InvalidArgument, `git archive ${commit} failed: ${archive.stderr.toString()}`);
  execFileSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  log(`building ${commit.slice(0, 10)} in ${dir}`);
  execFileSync(process.execPath, [path.join(dir, 'scripts', 'build.js')], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  return { commit, dir, name: `base ${commit.slice(0, 7)}`, subject: git('log', '-1', '--format=%s', commit) };
}

/** The V8 flags a build's nodes run with (its constants.ts), read from its dist/ under `dir`. */
export function runtimeFlagsOf(dir: string): readonly string[] {
  const constants = require(path.join(dir, 'dist', 'src', 'constants.js')) as { nodeRuntimeFlags?: readonly string[] };
  return constants.nodeRuntimeFlags ?? [];
}

/** One build's export under test, as a side-by-side table names it. */
export interface Build<T> {
  /** "base 1234abc" or "this tree 1234abc". */
  name: string;
  /** The export itself, from that build's dist. */
  impl: T;
  /** Its name with the commit's subject (base) or HEAD (this tree), for a section's text. */
  note: string;
}

/**
 * `impl` (this tree's export), after the same export of `rev`'s build when `rev` is given: base
 * first. `distModule` is the module's path under dist/ (e.g. src/client/read_cache.js).
 */
export function buildsOf<T>(rev: string | undefined, runDir: string, distModule: string, exportName: string, impl: T, log: (s: string) => void): Array<Build<T>> {
  const roots = distRootsOf(rev, runDir, log);
  return roots.map((b, i) => {
    if (i === roots.length - 1) return { ...b, impl };
    const exported = (require(path.join(b.impl, distModule)) as Record<string, T | undefined>)[exportName];
    if (exported === undefined) throw new RingkvError(ErrorCode.InvalidArgument, `${rev}'s dist/${distModule} has no ${exportName}`);
    return { ...b, impl: exported };
  });
}

/**
 * Each build's dist/ directory (base first when `rev` is given, then this tree's), for benches that
 * load a build in processes of its own: two builds in one process share whatever both load from
 * node_modules (`ws`, `flatbuffers`), and V8's feedback on that shared code then depends on which
 * build ran first (bench:client measured the same client code 1.7x apart that way, ad hoc).
 */
export function distRootsOf(rev: string | undefined, runDir: string, log: (s: string) => void): Array<Build<string>> {
  const builds: Array<Build<string>> = [];
  if (rev !== undefined) {
    const base = buildBaseRevision(rev, path.join(runDir, 'base-build'), log);
    builds.push({ name: base.name, impl: path.join(base.dir, 'dist'), note: `${base.name} ("${base.subject}")` });
  }
  const head = thisTree();
  builds.push({ name: head.name, impl: path.join(repoRoot, 'dist'), note: `${head.name} (HEAD${head.dirty ? ' with uncommitted changes' : ''})` });
  return builds;
}

/**
 * Measures every row on every build, `rounds` times: within a round each row's builds run one
 * after the other, taking turns to go first (so neither always runs on a heap the other left).
 * Returns results[build][row], one per round in round order.
 */
export async function sideBySide<T, R, M>(builds: ReadonlyArray<Build<T>>, rows: readonly R[], rounds: number, measure: (impl: T, row: R, r: number) => M | Promise<M>): Promise<M[][][]> {
  const results = builds.map(() => rows.map((): M[] => []));
  for (let round = 1; round <= rounds; round++) {
    process.stderr.write(`round ${round} of ${rounds}\n`);
    const order = builds.map((_, i) => i);
    if (round % 2 === 0) order.reverse();
    for (let r = 0; r < rows.length; r++) {
      for (const b of order) results[b]![r]!.push(await measure(builds[b]!.impl, rows[r]!, r));
    }
  }
  return results;
}

/**
 * The body of a side-by-side bench's section: "Two builds side by side" naming them (when there
 * are two), then `about`, then a table of `cells(row, r, build)` for every row and build, a build
 * column first when there are two.
 */
export function sideBySideBody<T, R>(
  builds: ReadonlyArray<Build<T>>,
  about: string,
  columns: readonly string[],
  right: readonly boolean[],
  rows: readonly R[],
  cells: (row: R, r: number, build: number) => string[],
): string[] {
  const two = builds.length > 1;
  const table = rows.flatMap((row, r) => builds.map((b, i) => [...(two ? [b.name] : []), ...cells(row, r, i)]));
  return [
    `${two ? `Two builds side by side in one process: ${builds.map((b) => b.note).join(' and ')}. ` : ''}${about}`,
    '',
    markdownTable([...(two ? ['build'] : []), ...columns], table, [...(two ? [false] : []), ...right]),
  ];
}

/** One line per row comparing the second build with the first (`against` names the two); none with one build. */
export function versusLines<T, R>(builds: ReadonlyArray<Build<T>>, rows: readonly R[], line: (row: R, r: number, against: string) => string): string[] {
  if (builds.length < 2) return [];
  const against = `${builds[1]!.name} against ${builds[0]!.name}`;
  return rows.map((row, r) => line(row, r, against));
}
