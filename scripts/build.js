#!/usr/bin/env node
'use strict';
// Builds everything a fresh clone needs: the Rust addon (through @napi-rs/cli) and the
// TypeScript (tsc to dist/). Run by `npm start`, `npm test` and `npm run build`, so the
// README's two command lines need no install scripts of their own.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const nativeOnly = process.argv.includes('--native-only');

function withCargoOnPath(env) {
  // rustup installs cargo in ~/.cargo/bin, which a non-login shell (CI) may not have on PATH.
  const cargoBin = path.join(os.homedir(), '.cargo', 'bin');
  const parts = (env.PATH || '').split(path.delimiter);
  if (!parts.includes(cargoBin) && fs.existsSync(cargoBin)) parts.push(cargoBin);
  return { ...env, PATH: parts.join(path.delimiter) };
}

function run(cmd, args) {
  const started = Date.now();
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: withCargoOnPath(process.env) });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    process.stderr.write(`build: ${path.basename(cmd)} ${args.join(' ')} failed with status ${result.status}\n`);
    process.exit(result.status ?? 1);
  }
  process.stderr.write(`build: ${path.basename(cmd)} ${args[0]} done in ${Date.now() - started} ms\n`);
}

run(bin('napi'), ['build', '--platform', '--release', '--no-js', '--output-dir', 'native']);
if (!nativeOnly) run(bin('tsc'), ['-p', 'tsconfig.json']);
