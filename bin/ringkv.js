#!/usr/bin/env -S node --max-semi-space-size=64 --initial-old-space-size=128
'use strict';
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm run build`. The V8 flags on the
// first line are src/constants.ts's nodeRuntimeFlags (why: see there); `node bin/ringkv.js`
// without them works too, with V8's default heap sizing.
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('ringkv: not built yet; run `npm run build` (or `npm start`) first\n');
  process.exit(1);
}
require(entry).main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`ringkv: ${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
});
