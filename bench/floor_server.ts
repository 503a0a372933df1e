// The floor of the open-loop latency figures: a uWebSockets.js server on /api/v1/ws that speaks
// ringkv's client protocol (docs/wire-protocol.md) and answers every operation at once, without a
// store: a GET gets a 1 KiB value, a PUT a version. It decodes and encodes frames with ringkv's own
// codec, on one thread, so what bench/floor.bench.ts measures against it is the load generator,
// uWS, the codec and this machine's scheduling, and nothing of the shards, WAL or coordinator.
//   node dist/bench/floor_server.js PORT   (prints "floor server listening on PORT"; SIGTERM stops it)
import { wsFrameBytesMax, wsResponseFrameBytesTarget } from '../src/constants';
import { decodeRequestFrame } from '../src/protocol/client_request';
import { encodeResponseFrames, type ClientResult } from '../src/protocol/client_response';
import { WireErrorCode } from '../src/protocol/client_codes';
import { wsPath } from '../src/server/ws_api';
import { loadUws, type us_listen_socket } from '../src/server/uws';
import { benchValueBytes } from './harness';

function main(): void {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`usage: floor_server PORT (not "${process.argv[2]}")`);
  const uws = loadUws();
  const value = new Uint8Array(benchValueBytes).fill(0x61);
  const nowMs = Date.now();
  let listen: us_listen_socket | null = null;
  uws
    .App()
    .ws(wsPath, {
      compression: uws.DISABLED,
      maxPayloadLength: wsFrameBytesMax,
      message: (ws, message) => {
        const results: ClientResult[] = decodeRequestFrame(new Uint8Array(message)).ops.map((d) =>
          !d.ok
            ? { id: d.id, status: 'error', error: WireErrorCode.InvalidArgument, message: d.error.message }
            : d.request.op === 'get'
              ? { id: d.request.id, status: 'ok', version: 'v1_0_floor', timestampMs: nowMs, value }
              : { id: d.request.id, status: 'ok', version: 'v1_0_floor', timestampMs: nowMs },
        );
        ws.cork(() => {
          for (const f of encodeResponseFrames(results, wsResponseFrameBytesTarget)) ws.send(f, true);
        });
      },
    })
    .listen('127.0.0.1', port, (s) => {
      if (s === false) {
        process.stderr.write(`floor server: cannot listen on ${port}\n`);
        process.exit(1);
      }
      listen = s;
      process.stdout.write(`floor server listening on ${port}\n`);
    });
  process.once('SIGTERM', () => {
    if (listen !== null) uws.us_listen_socket_close(listen);
    process.exit(0);
  });
}

main();
