#!/usr/bin/env node
'use strict';
// Runs the addon's Rust unit tests (cargo test), then node:test over the compiled tests in
// dist/test. Unit tests (test/unit) run first and fast; multi-process tests (test/cluster,
// test/process) run after, one file at a time, because each starts real node processes and the
// CI machine has two cores.
//   node scripts/test.js            all tests
//   node scripts/test.js --unit     unit tests only (Rust and TypeScript)
//   node scripts/test.js FILTER...  only TypeScript test files whose path contains a filter
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const testRoot = path.join(root, 'dist', 'test');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

function listTests(dir) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTests(full));
    else if (entry.name.endsWith('.test.js')) out.push(full);
  }
  return out.sort();
}

const all = listTests(testRoot).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
const isHeavy = (f) => /[\\/](cluster|process)[\\/]/.test(f);
const unit = all.filter((f) => !isHeavy(f));
const heavy = unitOnly ? [] : all.filter(isHeavy);
if (unit.length + heavy.length === 0) {
  process.stderr.write('test: no test files found under dist/test (did the build run?)\n');
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
const files = [...unit, ...heavy];
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: process.env,
});
process.exit(result.status ?? 1);
