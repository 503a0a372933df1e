// The Piscina task handler of one shard's worker thread (its pool has exactly one thread, so this
// thread alone owns the shard's engine). The engine opens on the first task (the router sends
// 'open' at start so an open failure surfaces there) and closes on 'close'.
//
// Batches arrive on the shard's lane (the MessagePort the 'open' task brings; shard_client.ts says
// why not as Piscina tasks) as one transferred ArrayBuffer and leave as one; so do stats requests
// (messages.ts StatsRequest says why), answered with plain objects; control tasks are
// Piscina tasks with small typed objects. Nothing is thrown across the boundary: errors travel as WireError
// values so their code and details survive.
import * as path from 'node:path';
import { type MessagePort, workerData } from 'node:worker_threads';
import { move } from 'piscina';
import { ErrorCode, RingkvError } from '../errors';
import { eventLoopDelaySnapshot, startEventLoopTiming } from '../event_loop_delay';
import { gcSnapshots, startGcTiming } from '../gc_pauses';
import { threadMemory } from '../thread_memory';
import type { StorageEngine, StorageOptions } from '../storage/types';
import { decodeRequests, encodeResults, encodeScan, encodeScanError } from './batch_codec';
import { laneClockMs } from './lane_timing';
import type { BatchRequest, ControlReply, ControlTask, LaneMessage, LaneRequest, OpResult, ShardStats, ShardWorkerData } from './messages';
import { durableResults, ShardCore, toWireError } from './shard_core';

type OpenStorage = (options: StorageOptions) => Promise<StorageEngine>;

// This thread's V8 heap pauses it alone, and its event loop is its own; from the start, so
// stats show all of it.
startGcTiming();
startEventLoopTiming();

let core: Promise<ShardCore> | null = null;
let closed = false;
/** Where batches come from and their answers go (given by the 'open' task). */
let lane: MessagePort | null = null;

function loadOpenStorage(data: ShardWorkerData): OpenStorage {
  const file = data.storageModule ?? path.join(__dirname, '..', 'storage', 'index.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file) as { openStorage?: OpenStorage };
  if (typeof mod.openStorage !== 'function') throw new RingkvError(ErrorCode.Internal, `${file} exports no openStorage`);
  return mod.openStorage;
}

async function open(): Promise<ShardCore> {
  const data = workerData as ShardWorkerData;
  const openStorage = loadOpenStorage(data);
  const engine = await openStorage({ ...data.storage, dir: data.dir });
  return new ShardCore(engine, {
    nodeId: data.nodeId,
    conflictMode: data.conflictMode,
    idempotencyKeysMax: data.idempotencyKeysMax,
    idempotencyTtlMs: data.idempotencyTtlMs,
  });
}

function getCore(): Promise<ShardCore> {
  if (closed) return Promise.reject(new RingkvError(ErrorCode.Closed, 'shard is closed'));
  core ??= open();
  return core;
}

async function control<T>(fn: (c: ShardCore) => Promise<T> | T): Promise<ControlReply<T>> {
  try {
    return { ok: true, value: await fn(await getCore()) };
  } catch (err) {
    return { ok: false, error: toWireError(err) };
  }
}

function post(port: MessagePort, m: LaneMessage): void {
  port.postMessage(m, m.kind === 'answer' ? [m.buffer] : []);
}

/** One batch from the lane; an answer always goes back, per-op errors when the batch failed. */
async function runBatch(port: MessagePort, req: BatchRequest): Promise<void> {
  const receivedAtMs = laneClockMs();
  let ops: ReturnType<typeof decodeRequests>;
  try {
    ops = decodeRequests(req.buffer);
  } catch (err) {
    post(port, { kind: 'failed', id: req.id, error: toWireError(err) });
    return;
  }
  let results: OpResult[];
  let appliedAtMs: number;
  let durableAtMs: number | null = null;
  try {
    const c = await getCore();
    const applied = c.applyBatch(ops);
    appliedAtMs = laneClockMs();
    if (req.early) {
      // Posted before the notice below can be: one port keeps the order the client relies on.
      const buffer = encodeResults(applied.results);
      post(port, { kind: 'answer', id: req.id, buffer, times: { receivedAtMs, appliedAtMs, durableAtMs, postedAtMs: laneClockMs() } });
      applied.durable.then(
        () => post(port, { kind: 'durable', id: req.id, error: null, postedAtMs: laneClockMs() }),
        (err: unknown) => post(port, { kind: 'durable', id: req.id, error: toWireError(err), postedAtMs: laneClockMs() }),
      );
      return;
    }
    results = await durableResults(applied.results, applied.durable);
    if (ops.some((op) => op.op !== 'get')) durableAtMs = laneClockMs();
  } catch (err) {
    const error = toWireError(err);
    results = ops.map(() => ({ ok: false as const, error }));
    appliedAtMs = laneClockMs();
  }
  const buffer = encodeResults(results);
  post(port, { kind: 'answer', id: req.id, buffer, times: { receivedAtMs, appliedAtMs, durableAtMs, postedAtMs: laneClockMs() } });
}

function statsOf(c: ShardCore): ShardStats {
  const data = workerData as ShardWorkerData;
  return {
    shardIndex: data.shardIndex,
    storage: c.engine.stats(),
    ...c.counters,
    idempotencyKeys: c.idempotencyKeys,
    gcSeconds: gcSnapshots(),
    loopDelaySeconds: eventLoopDelaySnapshot(),
    memory: threadMemory(),
  };
}

/** ClosingNotice: the engine's close begins (the close task waits for it to end). */
function beginClose(): void {
  if (core === null || closed) return;
  core.then((c) => c.engine.close()).catch(() => undefined);
}

export default async function handle(task: ControlTask): Promise<unknown> {
  switch (task.kind) {
    case 'scan': {
      try {
        const c = await getCore();
        return move(encodeScan(await c.scan(task.scan)));
      } catch (err) {
        return move(encodeScanError(toWireError(err)));
      }
    }
    case 'open': {
      const port = task.lane;
      lane?.close();
      lane = port;
      port.on('message', (req: LaneRequest) => {
        if (req.kind === 'batch') void runBatch(port, req);
        else if (req.kind === 'closing') beginClose();
        else void control(statsOf).then((reply) => post(port, { kind: 'stats', id: req.id, reply }));
      });
      return control(() => true);
    }
    case 'merkle':
      return control((c) => c.merkleLeaves(task.merkle));
    case 'flush':
      return control((c) => c.engine.flush().then(() => true));
    case 'compact':
      return control((c) => c.engine.compact().then(() => true));
    case 'scrub':
      return control((c) => c.engine.scrub({ bytesPerSecond: task.bytesPerSecond, salvage: task.salvage }));
    case 'snapshot':
      return control((c) => c.engine.snapshot(task.dir));
    case 'cleanup':
      return control((c) => c.engine.cleanup(task.owned));
    case 'close': {
      if (core === null || closed) {
        closed = true;
        return { ok: true, value: true } satisfies ControlReply<boolean>;
      }
      const reply = await control((c) => c.engine.close().then(() => true));
      closed = true;
      return reply;
    }
  }
}
