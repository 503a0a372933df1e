// The imports the docs show a user (README's client, wire-protocol.md's hand-rolled WebSocket
// client) resolve through the package's "exports" map and name what those modules export: a path
// the map leaves out fails at the user's first line with ERR_PACKAGE_PATH_NOT_EXPORTED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../../..');

/** Every `import { a, b } from 'ringkv...'` in the TypeScript blocks of `file`. */
function packageImports(file: string): Array<{ names: string[]; specifier: string }> {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const out: Array<{ names: string[]; specifier: string }> = [];
  for (const m of text.matchAll(/^import \{([^}]+)\} from '(ringkv[^']*)';$/gm)) {
    out.push({ names: m[1]!.split(',').map((n) => n.trim()).filter((n) => n.length > 0), specifier: m[2]! });
  }
  return out;
}

test("the package imports the docs show resolve through package.json's exports and export the names used", () => {
  const found = [...packageImports('README.md'), ...packageImports('docs/wire-protocol.md')];
  assert.ok(found.some((i) => i.specifier === 'ringkv/client'), 'README imports the client');
  assert.ok(found.filter((i) => i.specifier.startsWith('ringkv/protocol')).length >= 2, "wire-protocol.md's example imports the frame codec");
  for (const { names, specifier } of found) {
    // Resolved from the package's own root: Node's self-reference, which applies "exports" as an installed package's would.
    const resolved = require.resolve(specifier, { paths: [root] });
    const mod = require(resolved) as Record<string, unknown>;
    for (const name of names) assert.notEqual(mod[name], undefined, `${specifier} exports ${name}`);
  }
});
