// The steady background load of the cluster-event benchmarks (ring-change, node-restart): QUORUM
// PUTs and GETs of 1 KiB values at the same time, each open loop at its own rate, in windows of
// 1 s of warm-up and --seconds measured, run one after another while something happens to the
// cluster, until it is over. Each bench records its windows under its own phases.
import { ErrorCode, RingkvError } from '../src/errors';
import { assert } from '../src/errors';
import { batch, depth, nodesN, socketsPerNode } from './cluster.bench';
import { median, ops, RowSet, type BenchArgs, type Op } from './comparison';
import { benchValueBytes, fmtInt, fmtMs, waitQuiet } from './harness';
import { measureWs, runWsLoad, type LoadResult, type WsLoadOptions } from './ws.bench';

/** Warm-up of an open-loop window (not recorded): the generator's sockets and first frames. */
export const windowWarmupSeconds = 1;
/** A cluster event that outlasts this many windows fails the run: every load loop is bounded. */
export const eventWindowsMax = 40;

/**
 * The load's options: the cluster bench's sockets (socketsPerNode × nodesN of them, spread over
 * `urls`), depth and batch, QUORUM. Closed loop (a peak, with --warmup) without `framesPerSecond`.
 */
export function mixedLoadOptions(urls: string[], op: Op, keySpace: number, a: BenchArgs, framesPerSecond?: number): WsLoadOptions {
  return {
    urls,
    op: op === 'PUT' ? 'put' : 'get',
    batch,
    valueBytes: benchValueBytes,
    keySpace,
    consistency: 'QUORUM',
    connections: socketsPerNode * nodesN,
    depth,
    seconds: a.seconds,
    warmupSeconds: framesPerSecond === undefined ? a.warmupSeconds : windowWarmupSeconds,
    ...(framesPerSecond !== undefined && { framesPerSecond }),
  };
}

/** One window: PUT and GET load at the same time, each at its rate (ops/s). */
export async function mixedWindow(urls: string[], rates: Record<Op, number>, keySpace: number, a: BenchArgs): Promise<Record<Op, LoadResult>> {
  const [put, get] = await Promise.all(ops.map((op) => runWsLoad(mixedLoadOptions(urls, op, keySpace, a, rates[op] / batch), 1)));
  return { PUT: put!, GET: get! };
}

/** Runs windows until `done` settles (at least one), recording each; an event that outlasts eventWindowsMax windows fails the run. */
export async function windowsUntil(done: Promise<unknown>, window: () => Promise<Record<Op, LoadResult>>, record: (w: Record<Op, LoadResult>) => void, what: string): Promise<void> {
  let over = false;
  void done.then(
    () => (over = true),
    () => (over = true),
  );
  for (let n = 0; !over || n === 0; n++) {
    if (n >= eventWindowsMax) throw new RingkvError(ErrorCode.Timeout, `${what} still going after ${eventWindowsMax} windows`);
    record(await window());
  }
  await done;
}

/** What one window saw, for the run's log. */
export function windowLine(w: LoadResult): string {
  return `p50 ${fmtMs(w.p50Ms)} ms, p99 ${fmtMs(w.p99Ms)} ms, max ${fmtMs(w.maxMs)} ms, errors ${w.errors}, not found ${w.notFound}, dropped ${w.droppedFrames}`;
}

/**
 * The closed-loop peaks of PUT and GET over `urls` (--rounds each, the nodes `pids` quiet first),
 * as rows named `system`, and the open load's rates: `share` of each.
 */
export async function measurePeaks(system: string, urls: string[], pids: readonly number[], keySpace: number, share: number, a: BenchArgs, log: (s: string) => void): Promise<{ peaks: RowSet; rates: Record<Op, number> }> {
  const peaks = new RowSet();
  for (const op of ops) {
    const cells = [system, 'WAL, fdatasync before ack', `WebSocket, ${batch} ops/frame`, op, 'QUORUM', `${socketsPerNode * nodesN} sockets × ${depth} frames × ${batch} ops`];
    await waitQuiet(pids);
    await measureWs(peaks, op, cells, pids, mixedLoadOptions(urls, op, keySpace, a), 1, log);
  }
  const rates = { PUT: Math.round(peaks.medianOps('PUT') * share), GET: Math.round(peaks.medianOps('GET') * share) };
  log(`open load: PUT ${fmtInt(rates.PUT)} + GET ${fmtInt(rates.GET)} ops/s`);
  return { peaks, rates };
}

/** The columns phaseCells fills, after a bench's own (op, phase, ...). */
export const phaseColumns = ['target ops/s', 'windows', 'achieved ops/s (median)', 'p50 ms', 'p99 ms (median)', 'p99 ms (worst window)', 'max ms', 'errors', 'not found', 'dropped frames'];

/** One phase's windows of one op at `targetOpsPerSecond`, summed up as phaseColumns. */
export function phaseCells(ws: readonly LoadResult[], targetOpsPerSecond: number): string[] {
  assert(ws.length > 0, 'every phase ran at least one window');
  const p99s = ws.map((w) => w.p99Ms);
  return [
    fmtInt(targetOpsPerSecond),
    String(ws.length),
    fmtInt(median(ws.map((w) => w.opsPerSecond))),
    fmtMs(median(ws.map((w) => w.p50Ms))),
    fmtMs(median(p99s)),
    fmtMs(Math.max(...p99s)),
    fmtMs(Math.max(...ws.map((w) => w.maxMs))),
    String(ws.reduce((n, w) => n + w.errors, 0)),
    String(ws.reduce((n, w) => n + w.notFound, 0)),
    String(ws.reduce((n, w) => n + w.droppedFrames, 0)),
  ];
}
