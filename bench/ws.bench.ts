// WebSocket load generator for ringkv's binary protocol (docs/wire-protocol.md), used by
// bench/node.bench.ts and bench/cluster.bench.ts. It measures PUT or GET of fixed-size values
// in frames of `batch` operations over `connections` sockets (spread round-robin over the given
// nodes), either closed loop (each socket keeps `depth` frames in flight: peak throughput) or
// open loop (frames due at a fixed rate; latency from each frame's SCHEDULED send time, so a
// stall is charged to every frame that should have gone out during it: no coordinated omission).
// Latency is per frame: every op of a frame shares it. Each run has a warm-up that is not
// recorded, a measured window, and a bounded drain.
//
// The load runs in `procs` child processes (this file, forked), each with its own sockets and
// HdrHistogram; the parent adds the histograms and reports each child's CPU (process.cpuUsage),
// so a reader can tell whether the generator or the server was the limit.
// Standalone, against a running node:
//   node dist/bench/ws.bench.js --url ws://127.0.0.1:7000/api/v1/ws --op put --batch 32 \
//     --connections 4 --depth 4 --seconds 5 [--rate FRAMES_PER_S] [--procs 2] [--random-masks]
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import type { ConsistencyLevel } from '../src/coordinator/types';
import { assert, ErrorCode, RingkvError } from '../src/errors';
import { type ClientRequest, encodeRequestFrame } from '../src/protocol/client_request';
import { decodeResponseFrame } from '../src/protocol/client_response';
import { quantileSeconds, snapshotDelta } from '../src/histogram';
import { type OpenMeasured, type OpenRow, type RowSet } from './comparison';
import { fmtInt, fmtMs, newHistogram, nodeHistograms, percentiles, toMicros, withServerCpu } from './harness';

export interface WsLoadOptions {
  /** ws:// URLs of the nodes; connection i goes to urls[i % urls.length]. */
  urls: string[];
  op: 'put' | 'get';
  batch: number;
  valueBytes: number;
  /** Keys are `bench:<n>` for n in [0, keySpace). */
  keySpace: number;
  consistency: ConsistencyLevel;
  /** Per process. */
  connections: number;
  /** Closed loop: frames in flight per connection. */
  depth: number;
  /** Length of the measured window. */
  seconds: number;
  /** Before the window: sent, answered, not recorded. */
  warmupSeconds: number;
  /** Open loop: frames per second over all processes (undefined = closed loop). */
  framesPerSecond?: number;
  /** Each PUT carries an idempotency key of its own, as the TypeScript client's writes do (the shard remembers each). */
  idempotencyKeys?: boolean;
  /** Frames masked with random keys, as `ws` does by default (and the TypeScript client), instead of zero keys (zeroMask says why). */
  randomMasks?: boolean;
}

/** What one process measured; the histogram travels as compressed base64 between processes. */
interface ProcResult {
  ops: number;
  notFound: number;
  errors: number;
  droppedFrames: number;
  unanswered: number;
  cpuS: number;
  histogram: string;
}

export interface LoadResult extends OpenMeasured {
  notFound: number;
}

/** Frame ids: frame number in the high 22 bits, op index in the low 10 (a frame has at most 1024 ops). */
const opIndexBits = 10;
const frameNoMask = (1 << (32 - opIndexBits)) - 1;
/** Ops a connection may have in flight (the node's own cap is 4096, wsInflightOpsPerConnectionMax). */
const inflightOpsPerConnectionMax = 2048;
const drainMsMax = 10_000;
const connectTimeoutMs = 10_000;

/**
 * The generator's frames go out with an all-zero masking key, which `ws` then skips applying. With
 * a random key `ws` copies every frame to mask it: with 32 KiB PUT frames that doubled the
 * generator's ArrayBuffer allocation, and V8 answered with ~10 mark-compacts a second in the
 * generator (41 against 1 in 4 s at 48,000 PUTs/s, ad hoc), whose pauses were charged to the
 * server as latency: BENCHMARKS.md "Latency floor: ... the generator's masking keys", the floor
 * server's PUT p99 4.5-5.1x lower with zero keys. RFC 6455 has clients mask with unpredictable keys so that
 * a script in a browser cannot choose the bytes a proxy sees; this generator's bytes are its own,
 * sent over loopback. The TypeScript client (src/client/connection.ts) keeps random keys;
 * WsLoadOptions.randomMasks puts them back here (bench:floor --masks measures the difference).
 */
const zeroMask = (mask: Buffer): void => void mask.fill(0);

function connect(url: string, randomMasks = false): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, maxPayload: 64 * 1024 * 1024, handshakeTimeout: connectTimeoutMs, ...(!randomMasks && { generateMask: zeroMask }) });
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function keyBytes(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => new Uint8Array(Buffer.from(`bench:${i}`)));
}

interface FrameRec {
  /** When it was due (open loop) or sent (closed loop), performance.now() ms. */
  at: number;
  conn: number;
  left: number;
  ok: number;
}

/** Runs the load in THIS process; the sockets must already be open. */
async function runInProcess(o: WsLoadOptions, sockets: WebSocket[], framesPerSecond: number | undefined): Promise<ProcResult> {
  assert(o.batch >= 1 && o.batch <= 1 << opIndexBits, 'batch must be 1..1024');
  const keys = keyBytes(o.keySpace);
  const value = new Uint8Array(o.valueBytes).fill(0x61);
  const hist = newHistogram();
  const frames = new Map<number, FrameRec>();
  const inflight = new Array<number>(sockets.length).fill(0);
  /**
   * Open loop: the scheduled times of frames due while their connection was at its cap, sent (so
   * stamped) as its frames are answered. Dropped, they were never timed: the frames that would
   * have waited longest left out of the latency (coordinated omission, 36% of a round once).
   * Bounded by the frames the run schedules.
   */
  const backlog: number[][] = sockets.map(() => []);
  let backlogged = 0;
  const framesPerConnMax = Math.max(1, Math.floor(inflightOpsPerConnectionMax / o.batch));
  let frameNo = 0;
  let keyCursor = Math.floor(Math.random() * o.keySpace);
  // The client's form: a prefix per client and a counter in base 36 (src/client/client.ts).
  const idempotencyPrefix = Math.floor(Math.random() * 0x1_0000_0000).toString(16);
  let idempotencyCounter = 0;
  let ops = 0;
  let notFound = 0;
  let errors = 0;
  let totalInflight = 0;
  const t0 = performance.now();
  const recordFrom = t0 + o.warmupSeconds * 1000;
  const endAt = recordFrom + o.seconds * 1000;
  let cpuAtWindow: NodeJS.CpuUsage | null = null;
  let cpuS = 0;
  /** Set while the drain waits; called when the last frame in flight is answered. */
  let onIdle: (() => void) | null = null;

  const send = (conn: number, at: number): void => {
    const no = frameNo;
    frameNo = (frameNo + 1) & frameNoMask;
    const reqs: ClientRequest[] = new Array(o.batch);
    for (let i = 0; i < o.batch; i++) {
      keyCursor = (keyCursor + 7919) % o.keySpace;
      const id = ((no << opIndexBits) | i) >>> 0;
      if (o.op === 'get') reqs[i] = { id, op: 'get', key: keys[keyCursor]!, consistency: o.consistency };
      else if (o.idempotencyKeys === true) reqs[i] = { id, op: 'put', key: keys[keyCursor]!, value, consistency: o.consistency, idempotencyKey: `${idempotencyPrefix}-${(idempotencyCounter++).toString(36)}` };
      else reqs[i] = { id, op: 'put', key: keys[keyCursor]!, value, consistency: o.consistency };
    }
    frames.set(no, { at, conn, left: o.batch, ok: 0 });
    inflight[conn]!++;
    totalInflight++;
    sockets[conn]!.send(encodeRequestFrame(reqs));
  };

  const frameDone = (rec: FrameRec, now: number): void => {
    inflight[rec.conn]!--;
    totalInflight--;
    // Latency: every frame due (or sent) inside the window, however late its answer.
    // Throughput: every op answered inside the window, whenever it was sent.
    if (rec.at >= recordFrom && rec.at < endAt) hist.recordValue(toMicros(now - rec.at));
    if (now >= recordFrom && now <= endAt) ops += rec.ok;
    if (framesPerSecond === undefined && now < endAt) send(rec.conn, performance.now());
    else if (backlog[rec.conn]!.length > 0) {
      backlogged--;
      send(rec.conn, backlog[rec.conn]!.shift()!);
    } else if (totalInflight === 0 && backlogged === 0) onIdle?.();
  };

  sockets.forEach((ws, conn) => {
    ws.on('message', (data: Buffer) => {
      const now = performance.now();
      const frame = decodeResponseFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (frame.error !== 0) {
        // A refused frame carries no ids: count a frame's worth of errors and free its slot.
        errors += o.batch;
        frameDone({ at: -1, conn, left: 0, ok: 0 }, now);
        return;
      }
      for (const r of frame.results) {
        const no = r.id >>> opIndexBits;
        const rec = frames.get(no);
        if (rec === undefined) continue;
        if (r.status === 'ok') rec.ok++;
        else if (r.status === 'not_found') {
          rec.ok++;
          notFound++;
        } else if (rec.at >= recordFrom && rec.at < endAt) errors++;
        if (--rec.left === 0) {
          frames.delete(no);
          frameDone(rec, now);
        }
      }
    });
  });

  const window = setTimeout(() => {
    cpuAtWindow = process.cpuUsage();
  }, o.warmupSeconds * 1000);
  const windowEnd = new Promise<void>((resolve) =>
    setTimeout(() => {
      const d = process.cpuUsage(cpuAtWindow ?? undefined);
      cpuS = (d.user + d.system) / 1e6;
      resolve();
    }, endAt - t0),
  );

  if (framesPerSecond === undefined) {
    sockets.forEach((_, conn) => {
      for (let d = 0; d < o.depth; d++) send(conn, performance.now());
    });
  } else {
    const intervalMs = 1000 / framesPerSecond;
    let due = 0;
    let conn = 0;
    // Every millisecond, send each frame whose time has come, stamped with that time.
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const now = performance.now();
        for (let at = t0 + due * intervalMs; at <= now && at < endAt; at = t0 + due * intervalMs) {
          due++;
          if (inflight[conn]! < framesPerConnMax) send(conn, at);
          else {
            backlog[conn]!.push(at);
            backlogged++;
          }
          conn = (conn + 1) % sockets.length;
        }
        if (now >= endAt) {
          clearInterval(tick);
          resolve();
        }
      }, 1);
    });
  }
  await windowEnd;
  clearTimeout(window);
  // The drain starts only now: the last tick may have sent frames due just before the end after
  // everything earlier was answered (a promise settled then would end the drain at once, and
  // such frames were counted as unanswered errors with their latency unrecorded).
  if (totalInflight + backlogged > 0) {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      onIdle = resolve;
      timer = setTimeout(resolve, drainMsMax);
    });
    clearTimeout(timer);
    onIdle = null;
  }
  // What the drain did not see answered, or sent, waited at least until now: recorded so, not
  // left out (the slowest frames would be missing from the tail).
  const drainedAt = performance.now();
  const stillWaiting = [...frames.values()].map((r) => r.at).concat(...backlog);
  for (const at of stillWaiting) if (at >= recordFrom && at < endAt) hist.recordValue(toMicros(drainedAt - at));
  const unanswered = totalInflight;
  const dropped = backlogged;
  return { ops, notFound, errors: errors + (unanswered + dropped) * o.batch, droppedFrames: dropped, unanswered, cpuS, histogram: hdr.encodeIntoCompressedBase64(hist) };
}

// ---- processes ------------------------------------------------------------------------------

type ToChild = { kind: 'go' };
type FromChild = { kind: 'ready' } | { kind: 'result'; result: ProcResult } | { kind: 'failed'; message: string };

async function childMain(): Promise<void> {
  const o = JSON.parse(process.argv[3]!) as WsLoadOptions & { procs: number };
  const send = (m: FromChild, then?: () => void): void => void process.send!(m, undefined, {}, () => then?.());
  // A parent that dies without killing us (SIGKILL) must not leave us running.
  process.once('disconnect', () => process.exit(1));
  const finish = (m: FromChild): void =>
    send(m, () => {
      process.removeAllListeners('disconnect');
      process.disconnect();
    });
  try {
    const sockets = await Promise.all(Array.from({ length: o.connections }, (_, i) => connect(o.urls[i % o.urls.length]!, o.randomMasks === true)));
    const go = new Promise<void>((resolve) => process.once('message', (m: ToChild) => m.kind === 'go' && resolve()));
    send({ kind: 'ready' });
    await go;
    const result = await runInProcess(o, sockets, o.framesPerSecond === undefined ? undefined : o.framesPerSecond / o.procs);
    sockets.forEach((s) => s.terminate());
    finish({ kind: 'result', result });
  } catch (err) {
    finish({ kind: 'failed', message: err instanceof Error ? err.message : String(err) });
  }
}

/**
 * Runs the load from `procs` child processes started together; resolves with the merged figures.
 * Every child is killed before this returns, on success or error. `onGo` is called as they are
 * told to start (connected): their warm-up begins then.
 */
export async function runWsLoad(o: WsLoadOptions, procs: number, onGo?: () => void): Promise<LoadResult> {
  assert(Number.isInteger(procs) && procs >= 1 && procs <= 16, 'procs must be 1..16');
  const children: ChildProcess[] = [];
  const boundMs = (o.warmupSeconds + o.seconds) * 1000 + drainMsMax + 30_000;
  try {
    const results: Promise<ProcResult>[] = [];
    const ready: Promise<void>[] = [];
    for (let p = 0; p < procs; p++) {
      const child = fork(__filename, ['--child', JSON.stringify({ ...o, procs })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      let onReady: () => void = () => undefined;
      ready.push(new Promise<void>((r) => (onReady = r)));
      results.push(
        new Promise<ProcResult>((resolve, reject) => {
          const timer = setTimeout(() => reject(new RingkvError(ErrorCode.Timeout, `ws load process ${p} gave no result within ${boundMs} ms`)), boundMs);
          child.on('message', (m: FromChild) => {
            if (m.kind === 'ready') onReady();
            else {
              clearTimeout(timer);
              if (m.kind === 'result') resolve(m.result);
              else reject(new RingkvError(ErrorCode.Unavailable, `ws load process ${p}: ${m.message}`));
            }
          });
          child.once('exit', (code) => {
            clearTimeout(timer);
            reject(new RingkvError(ErrorCode.Internal, `ws load process ${p} exited (${code}) before its result`));
          });
        }),
      );
    }
    // A failure while connecting surfaces through its result promise.
    await Promise.race([Promise.all(ready), Promise.all(results)]);
    for (const c of children) c.send({ kind: 'go' } satisfies ToChild);
    onGo?.();
    const all = await Promise.all(results);
    const merged = newHistogram();
    for (const r of all) merged.add(hdr.decodeFromCompressedBase64(r.histogram));
    const ops = all.reduce((n, r) => n + r.ops, 0);
    return {
      opsPerSecond: ops / o.seconds,
      ...percentiles(merged),
      ops,
      errors: all.reduce((n, r) => n + r.errors, 0),
      droppedFrames: all.reduce((n, r) => n + r.droppedFrames, 0),
      notFound: all.reduce((n, r) => n + r.notFound, 0),
      clientCpu: all.map((r) => `${Math.round((100 * r.cpuS) / o.seconds)}%`).join(' + '),
    };
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

/** Runs one closed-loop load and adds it to `rows` under `key`, with the server's CPU (`pids`). */
export async function measureWs(rows: RowSet, key: string, cells: string[], pids: readonly number[], o: WsLoadOptions, procs: number, log: (s: string) => void): Promise<void> {
  const m = await withServerCpu(pids, () => runWsLoad(o, procs));
  rows.add(key, cells, m.value, m.cpu);
  log(`  ${key}: ${fmtInt(m.value.opsPerSecond)} ops/s, p99 ${fmtMs(m.value.p99Ms)} ms, errors ${m.value.errors}, client CPU ${m.value.clientCpu}, server CPU ${m.cpu}`);
}

/**
 * Runs every open-loop row once per round (rounds interleaved), at its rate, with the server's
 * CPU (`pids`). With `metricsUrls` (the nodes' HTTP addresses), each row also records the p99 of
 * the WAL syncs and of the GC pauses (main threads, shard threads) the nodes had while it ran
 * (warm-up included, the wait for quiet before it not), from their /metrics histograms: NaN
 * where none.
 */
export async function openLoopRounds(
  open: OpenRow[],
  options: (o: OpenRow) => WsLoadOptions,
  pids: readonly number[],
  rounds: number,
  log: (s: string) => void,
  metricsUrls: readonly string[] = [],
): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    for (const o of open) {
      const opts = options(o);
      // The histograms are read inside the measured span, once the nodes are quiet.
      const m = await withServerCpu(pids, async () => {
        const before = metricsUrls.length > 0 ? await nodeHistograms(metricsUrls) : null;
        const startedMs = performance.now();
        const load = await runWsLoad({ ...opts, framesPerSecond: o.rate / opts.batch }, 1);
        return { before, spanSeconds: (performance.now() - startedMs) / 1000, load };
      });
      const { before, spanSeconds, load } = m.value;
      o.runs.push(load);
      o.serverCpu.push(m.cpu);
      let wal = '';
      if (before !== null) {
        const after = await nodeHistograms(metricsUrls);
        const p99Ms = (k: 'walSync' | 'gcMain' | 'gcShard'): number => quantileSeconds(snapshotDelta(after[k], before[k]), 0.99) * 1000;
        const [walSync, gcMain, gcShard] = [p99Ms('walSync'), p99Ms('gcMain'), p99Ms('gcShard')];
        const fullGcsPerSecond = (after.fullGcs - before.fullGcs) / spanSeconds;
        o.walSyncP99Ms.push(walSync);
        o.gcMainP99Ms.push(gcMain);
        o.gcShardP99Ms.push(gcShard);
        o.fullGcsPerSecond.push(fullGcsPerSecond);
        const f = (ms: number): string => (Number.isNaN(ms) ? '-' : fmtMs(ms));
        wal = `, WAL sync p99 ${f(walSync)} ms, GC pause p99 main ${f(gcMain)} / shard ${f(gcShard)} ms, full GCs ${fullGcsPerSecond.toFixed(1)}/s`;
      }
      const r = load;
      log(`  open loop ${o.cells.join(' ')} at ${fmtInt(o.rate)} ops/s: p50 ${fmtMs(r.p50Ms)} ms, p99 ${fmtMs(r.p99Ms)} ms, p99.9 ${fmtMs(r.p999Ms)} ms, dropped ${r.droppedFrames}, errors ${r.errors}${wal}, client CPU ${r.clientCpu}, server CPU ${m.cpu}`);
    }
  }
}

/** Writes keys bench:0..n-1 with values of `valueBytes` (frames of 64 PUTs, 4 in flight), so GETs find data. */
export async function preload(url: string, n: number, valueBytes: number, consistency: ConsistencyLevel): Promise<void> {
  const ws = await connect(url);
  const keys = keyBytes(n);
  const value = new Uint8Array(valueBytes).fill(0x62);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RingkvError(ErrorCode.Timeout, `preload of ${n} keys took over 120 s`)), 120_000);
      let next = 0;
      let inflight = 0;
      const pump = (): void => {
        while (inflight < 4 && next < n) {
          const reqs: ClientRequest[] = [];
          for (let i = 0; i < 64 && next < n; i++, next++) reqs.push({ id: next, op: 'put', key: keys[next]!, value, consistency });
          inflight++;
          ws.send(encodeRequestFrame(reqs));
        }
        if (inflight === 0 && next >= n) {
          clearTimeout(timer);
          resolve();
        }
      };
      ws.on('message', (data: Buffer) => {
        const f = decodeResponseFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        const bad = f.error !== 0 ? `frame error ${f.error}` : f.results.find((r) => r.status !== 'ok')?.message;
        if (bad !== undefined) {
          clearTimeout(timer);
          reject(new RingkvError(ErrorCode.Internal, `preload write failed: ${bad}`));
          return;
        }
        inflight--;
        pump();
      });
      ws.once('error', reject);
      pump();
    });
  } finally {
    ws.terminate();
  }
}

if (require.main === module) {
  if (process.argv[2] === '--child') {
    void childMain();
  } else {
    const { values } = parseArgs({
      options: {
        url: { type: 'string', default: 'ws://127.0.0.1:7000/api/v1/ws' },
        op: { type: 'string', default: 'put' },
        batch: { type: 'string', default: '32' },
        connections: { type: 'string', default: '4' },
        depth: { type: 'string', default: '4' },
        seconds: { type: 'string', default: '5' },
        rate: { type: 'string' },
        procs: { type: 'string', default: '1' },
        consistency: { type: 'string', default: 'ONE' },
        'random-masks': { type: 'boolean', default: false },
      },
    });
    runWsLoad(
      {
        urls: values.url!.split(','),
        op: values.op === 'get' ? 'get' : 'put',
        batch: Number(values.batch),
        valueBytes: 1024,
        keySpace: 10_000,
        consistency: values.consistency as ConsistencyLevel,
        connections: Number(values.connections),
        depth: Number(values.depth),
        seconds: Math.min(60, Number(values.seconds)),
        warmupSeconds: 1,
        ...(values.rate !== undefined && { framesPerSecond: Number(values.rate) }),
        ...(values['random-masks'] === true && { randomMasks: true }),
      },
      Number(values.procs),
    ).then(
      (r) => console.log(JSON.stringify(r)),
      (err: unknown) => {
        console.error(err);
        process.exitCode = 1;
      },
    );
  }
}
