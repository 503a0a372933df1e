// The composition root of one node: build the coordinator, start the server in front of it, and
// shut both down in order on SIGTERM/SIGINT/SIGHUP. The coordinator comes from a factory so a
// cluster node can pass its cluster coordinator instead of the single-node one; nothing else here
// knows which kind it runs.
import type { SyncMode } from '../storage/types';
import type { Coordinator } from '../coordinator/types';
import { shutdownCloseMsMax, shutdownGraceMsDefault } from '../constants';
import { ScrubSchedule } from './scrub_schedule';
import { startServer, type RunningServer, type ServerOptions } from './server';
import { checkPortFree, loadUws } from './uws';

export interface NodeOptions {
  host: string;
  port: number;
  dataDir: string;
  /** Default: the count the data dir was created with, else one per CPU but one. */
  shardCount?: number;
  syncMode: SyncMode;
  /** Default: chosen by the coordinator (kept in the data dir). */
  nodeId?: string;
  limits?: ServerOptions['limits'];
  log?: (line: string) => void;
  /** Background scrubbing (scrub_schedule.ts); absent or intervalMs 0: none. */
  scrub?: { intervalMs: number; bytesPerSecond: number };
  /** Default: tombstoneGraceMsDefault. */
  tombstoneGraceMs?: number;
  /** Each shard's memtable limit and block cache; default: the engine's. */
  memtableBytes?: number;
  blockCacheBytes?: number;
}

export interface CoordinatorOptions {
  dataDir: string;
  shardCount?: number;
  syncMode: SyncMode;
  nodeId?: string;
  /** host:port the node serves on, for clusterStatus. */
  address: string;
  /** How long tombstones are kept before compaction may purge them; default tombstoneGraceMsDefault. */
  tombstoneGraceMs?: number;
  memtableBytes?: number;
  blockCacheBytes?: number;
}

export type CoordinatorFactory = (options: CoordinatorOptions) => Promise<Coordinator>;

export interface RunningNode {
  readonly server: RunningServer;
  readonly coordinator: Coordinator;
  /** Graceful: stop accepting, finish in-flight requests, close the coordinator (syncs WALs). */
  close(graceMs?: number): Promise<void>;
}

/** The single-node coordinator (shards + LSM engines in this process). */
export const localCoordinatorFactory: CoordinatorFactory = async (options) => {
  // Required lazily: the coordinator starts worker threads, which importing node.ts must not.
  const mod = require('../coordinator/index') as typeof import('../coordinator/index');
  return mod.createLocalCoordinator(options);
};

export async function startNode(options: NodeOptions, factory: CoordinatorFactory = localCoordinatorFactory): Promise<RunningNode> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Refuse the uWS fallback before any data is opened.
  const uws = loadUws();
  // And a port in use: a cluster node gossips as soon as its coordinator starts, so one that
  // failed to listen only afterwards would stay in every node's ring as a DEAD member, its
  // tokens with it. (Another process can still take the port in between; then it fails as
  // before.) Port 0 asks for any free port, which cannot be taken.
  if (options.port !== 0) await checkPortFree(uws, options.host, options.port);
  const coordinator = await factory({
    dataDir: options.dataDir,
    syncMode: options.syncMode,
    address: `${options.host}:${options.port}`,
    ...(options.shardCount !== undefined && { shardCount: options.shardCount }),
    ...(options.nodeId !== undefined && { nodeId: options.nodeId }),
    ...(options.tombstoneGraceMs !== undefined && { tombstoneGraceMs: options.tombstoneGraceMs }),
    ...(options.memtableBytes !== undefined && { memtableBytes: options.memtableBytes }),
    ...(options.blockCacheBytes !== undefined && { blockCacheBytes: options.blockCacheBytes }),
  });
  let server: RunningServer;
  try {
    server = await startServer({
      coordinator,
      host: options.host,
      port: options.port,
      log,
      ...(options.limits !== undefined && { limits: options.limits }),
    });
  } catch (err) {
    await coordinator.close().catch(() => undefined);
    throw err;
  }
  let schedule: ScrubSchedule | undefined;
  if (options.scrub !== undefined && options.scrub.intervalMs > 0) {
    schedule = new ScrubSchedule({ dataDir: options.dataDir, ...options.scrub, scrub: (rate) => coordinator.scrub({ bytesPerSecond: rate }), log });
    schedule.start();
  }
  let closing: Promise<void> | undefined;
  return {
    server,
    coordinator,
    close: (graceMs = shutdownGraceMsDefault) =>
      (closing ??= (async () => {
        const scrubbing = schedule?.stop();
        await server.close(graceMs);
        await coordinator.close();
        await scrubbing;
      })()),
  };
}

/**
 * SIGTERM/SIGINT close the node gracefully and exit 0 (1 if closing failed, or did not finish
 * within `closeDeadlineMs`: shutdownCloseMsMax past the grace); a second signal while closing
 * exits at once with 130. So does SIGHUP: the terminal a node was started from closing (or its
 * process group orphaned while stopped) would otherwise end it at once, with the requests in
 * flight unanswered.
 */
export function exitOnSignals(node: RunningNode, log: (line: string) => void, closeDeadlineMs = shutdownGraceMsDefault + shutdownCloseMsMax): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      log(`ringkv: ${signal} again; exiting without finishing shutdown`);
      process.exit(130);
    }
    signalled = true;
    log(`ringkv: ${signal}: finishing in-flight requests, closing shards`);
    // Not unref'd: a close stuck on a promise nothing will settle leaves no other handle, and the
    // process would then end on its own with 0, as if it had closed.
    setTimeout(() => {
      log(`ringkv: WARN shutdown did not finish within ${closeDeadlineMs} ms (a shard or its disk does not answer); exiting without finishing it`);
      process.exit(1);
    }, closeDeadlineMs);
    node.close().then(
      () => {
        log('ringkv: stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log(`ringkv: shutdown failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onSignal);
}
