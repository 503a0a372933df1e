// The V8 flags a node is launched with (constants.ts nodeRuntimeFlags, which asks to keep the
// launchers in step with it): the bin's first line and `npm start` pass exactly that list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { nodeRuntimeFlags } from '../../../src/constants';

const root = path.resolve(__dirname, '..', '..', '..', '..');

test('bin/ringkv.js and npm start pass exactly nodeRuntimeFlags', () => {
  assert.ok(nodeRuntimeFlags.length > 0);
  const shebang = fs.readFileSync(path.join(root, 'bin', 'ringkv.js'), 'utf8').split('\n')[0]!;
  assert.equal(shebang, `#!/usr/bin/env -S node ${nodeRuntimeFlags.join(' ')}`);
  const start = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start']!;
  assert.ok(start.includes(`exec node ${nodeRuntimeFlags.join(' ')} bin/ringkv.js start`), start);
});
