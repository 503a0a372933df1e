// The only module that loads uWebSockets.js. The npm package `uWebSockets.js` here is an alias of
// @trufflesuite/uws-js-unofficial, which silently falls back to a pure-Node implementation
// (its dist/index.js) when the native binary does not load or when UWS_USE_FALLBACK is set. That
// fallback is many times slower and behaves differently under load, so a node refuses to start on
// it: loadUws() checks that the native `binaries/uws_*.node` was loaded and that App is native code.
import path from 'node:path';
import type * as Uws from 'uWebSockets.js';
import { ErrorCode, RingkvError } from '../errors';

export type UwsModule = typeof Uws;
export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';

let loaded: UwsModule | undefined;

/** What the check saw; exported so a test can state why the module was refused. */
export interface UwsNativeCheck {
  native: boolean;
  binaryPath: string | null;
  appIsNativeCode: boolean;
}

export function checkUwsNative(mod: UwsModule): UwsNativeCheck {
  const binaryPath =
    Object.keys(require.cache).find((p) => /[\\/]binaries[\\/]uws_[^\\/]+\.node$/.test(p) && require.cache[p]?.exports === mod) ?? null;
  const appIsNativeCode = typeof mod.App === 'function' && Function.prototype.toString.call(mod.App).includes('[native code]');
  return { native: binaryPath !== null && appIsNativeCode, binaryPath, appIsNativeCode };
}

/**
 * Loads uWebSockets.js and returns it only if it is the native build. Throws
 * RKV_ERR_NATIVE_UNAVAILABLE otherwise, with a message that says what to do.
 */
export function loadUws(): UwsModule {
  if (loaded !== undefined) return loaded;
  // Required lazily so importing server/ has no side effect (the package loads a binary).
  const mod = require('uWebSockets.js') as UwsModule;
  const check = checkUwsNative(mod);
  if (!check.native) {
    const abi = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
    const why =
      process.env['UWS_USE_FALLBACK'] !== undefined && process.env['UWS_USE_FALLBACK'] !== ''
        ? `UWS_USE_FALLBACK=${process.env['UWS_USE_FALLBACK']} is set; unset it`
        : `its native binary ${abi} did not load (Node ${process.version}, ${process.platform}-${process.arch}); ` +
          `use a Node version the package ships a binary for`;
    throw new RingkvError(
      ErrorCode.NativeUnavailable,
      `uWebSockets.js is running its pure-Node fallback instead of its native binary: ${why}. ` +
        `ringkv refuses to serve on the fallback (much slower, different back-pressure behaviour).`,
      { details: { binary: check.binaryPath, app_is_native_code: check.appIsNativeCode, expected: path.join('binaries', abi) } },
    );
  }
  loaded = mod;
  return mod;
}

/**
 * app.listen on host:port without SO_REUSEPORT, which uSockets sets on every listen socket by
 * default: with it, a second node started on a port in use listens there too, and the kernel
 * deals each new connection to one of the two, so clients would read and write two different
 * stores at random. Exclusive, the second node's listen fails: RKV_ERR_IO. The binding takes
 * (host, port, options, cb); the package's types declare options only without a host.
 */
export function listenExclusive(mod: UwsModule, app: Uws.TemplatedApp, host: string, port: number): Promise<Uws.us_listen_socket> {
  const exclusive = (mod as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number }).LIBUS_LISTEN_EXCLUSIVE_PORT;
  if (typeof exclusive !== 'number') return Promise.reject(new RingkvError(ErrorCode.NativeUnavailable, 'uWebSockets.js has no LIBUS_LISTEN_EXCLUSIVE_PORT'));
  type Cb = (socket: Uws.us_listen_socket | false) => void;
  const listen = app.listen as unknown as (this: Uws.TemplatedApp, h: string, p: number, o: number, c: Cb) => Uws.TemplatedApp;
  return new Promise((resolve, reject) => {
    listen.call(app, host, port, exclusive, (socket) => {
      if (socket === false) reject(new RingkvError(ErrorCode.Io, `cannot listen on ${host}:${port} (in use, or not allowed)`));
      else resolve(socket);
    });
  });
}

/**
 * Listens on host:port the way the server will and lets go at once; RKV_ERR_IO when the port is
 * taken. For checks before the server can start (node.ts says why).
 */
export async function checkPortFree(mod: UwsModule, host: string, port: number): Promise<void> {
  mod.us_listen_socket_close(await listenExclusive(mod, mod.App(), host, port));
}
