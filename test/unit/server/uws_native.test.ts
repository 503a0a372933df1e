// Proves the native check accepts the real uWebSockets.js binary in this process (the refusal of
// the fallback is proven end to end in test/process/server-http.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkUwsNative, loadUws } from '../../../src/server/uws';

test('uWebSockets.js loads its native binary here', () => {
  const uws = loadUws();
  const check = checkUwsNative(uws);
  assert.equal(check.native, true);
  assert.match(check.binaryPath ?? '', /binaries[\\/]uws_.+\.node$/);
  assert.equal(check.appIsNativeCode, true);
});

test('a pure-JS module with the same exports is not taken for native', () => {
  const fake = { App: function App() {} } as unknown as Parameters<typeof checkUwsNative>[0];
  assert.equal(checkUwsNative(fake).native, false);
});
