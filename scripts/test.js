#!/usr/bin/env node
'use strict';
// Runs the addon's Rust unit tests (cargo test), then node:test over the compiled tests in
// dist/test. Unit tests (test/unit) run first and fast; multi-process tests (test/cluster,
// test/process) run after, one file at a time, because each starts real node processes and the
// CI machine has two cores.
//   node scripts/test.js            all tests
//   node scripts/test.js --unit     unit tests only (Rust and TypeScript)
//   node scripts/test.js FILTER...  only the TypeScript test files whose path under test/
//                                   (e.g. unit/ring/ring.test.ts) contains a filter
// The files run are those of test/ (the sources), each from its build in dist/test: a test
// deleted or moved in test/ does not run from a dist/ left by an earlier build.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const sourceRoot = path.join(root, 'test');
const testRoot = path.join(root, 'dist', 'test');
// Per test (node --test's --test-timeout; a test may set its own): a test that hangs fails by
// name, with time left in CI's 30 minutes for the rest, instead of the run being killed silently.
const testTimeoutMs = 10 * 60 * 1000;

const args = process.argv.slice(2);
const unknown = args.filter((a) => a.startsWith('-') && a !== '--unit');
if (unknown.length > 0) {
  process.stderr.write(`test: unknown option ${unknown.join(' ')} (usage: scripts/test.js [--unit] [FILTER...])\n`);
  process.exit(2);
}
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('-'));

/** The test sources under `dir`, as paths relative to test/ with '/' separators. */
function listSources(dir, prefix = '') {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...listSources(path.join(dir, entry.name), rel));
    else if (entry.name.endsWith('.test.ts')) out.push(rel);
  }
  return out.sort();
}

const sources = listSources(sourceRoot).filter((rel) => filters.length === 0 || filters.some((s) => rel.includes(s)));
const isHeavy = (rel) => /^(cluster|process)\//.test(rel);
const chosen = [...sources.filter((rel) => !isHeavy(rel)), ...(unitOnly ? [] : sources.filter(isHeavy))];
if (chosen.length === 0) {
  process.stderr.write(`test: no test file under test/ matches ${filters.length === 0 ? '(no filter)' : filters.join(' ')}\n`);
  process.exit(1);
}
const files = chosen.map((rel) => path.join(testRoot, ...rel.replace(/\.ts$/, '.js').split('/')));
const unbuilt = chosen.filter((rel, i) => !fs.existsSync(files[i]));
if (unbuilt.length > 0) {
  process.stderr.write(`test: not built (run \`npm run build\`): ${unbuilt.join(', ')}\n`);
  process.exit(1);
}

if (filters.length === 0) {
  // The crate's own tests (block layout, bloom, varints, CRC paths) run on the same release
  // profile the addon is built with, so they reuse its build cache.
  const cargoBin = path.join(os.homedir(), '.cargo', 'bin');
  const env = { ...process.env, PATH: [process.env.PATH ?? '', cargoBin].join(path.delimiter) };
  const cargo = spawnSync('cargo', ['test', '--release', '--lib', '--quiet'], { cwd: root, stdio: 'inherit', env });
  if (cargo.error) throw cargo.error;
  if (cargo.status !== 0) {
    process.stderr.write(`test: cargo test failed with status ${cargo.status}\n`);
    process.exit(cargo.status ?? 1);
  }
}

const child = spawn(process.execPath, ['--test', '--test-concurrency=1', `--test-timeout=${testTimeoutMs}`, '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: process.env,
});
// Passed on, so that the tests' own handlers stop the nodes they started (a runner that died
// alone would leave node --test and its nodes running).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('error', (err) => {
  process.stderr.write(`test: could not run node --test: ${err.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal !== null) process.stderr.write(`test: node --test ended by ${signal}\n`);
  process.exit(code ?? 1);
});
