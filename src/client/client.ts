// RingkvClient: put/get/delete/batch over the binary WebSocket protocol, ring-aware. Each
// operation goes to a node of its key's preference list (learned from cluster status), over one
// pipelined connection per node; operations issued in the same tick share a frame. A failed
// attempt that may succeed elsewhere (node down, timeout, busy) is retried on the next replica;
// writes carry an idempotency key, generated once per call and reused by every retry, so a write
// whose first attempt did apply is not applied again by that attempt's node (design.md §12 Q3;
// the keys are per node: a retry through another replica may apply it a second time). With
// readCache, reads of hot keys are answered again from the client for a short TTL (read_cache.ts).
import { randomBytes } from 'node:crypto';
import {
  clientAttemptTimeoutMsDefault,
  clientConnectTimeoutMsDefault,
  clientNodeDownMsDefault,
  clientRetriesMaxDefault,
  clientRetryBackoffMs,
  clientRingRefreshMsDefault,
  timerDelayMsMax,
} from '../constants';
import { checkContext, checkIdempotencyKey, checkIfMatch, checkKey, checkTtl, checkValue } from '../coordinator/request_checks';
import { type ConsistencyLevel, consistencyLevels } from '../coordinator/types';
import { assert, ErrorCode, RingkvError } from '../errors';
import type { ClientResult } from '../protocol/client_response';
import { fetchClusterStatus, isNodeAddress } from './cluster_status';
import { ReadCache, type ReadCacheOptions } from './read_cache';
import { type ConnectionCounters, NodeConnection, type OutgoingRequest } from './connection';
import { isSpreadRead, Topology, type NodeAddress } from './topology';
import type {
  BatchEntry,
  BatchOp,
  ClientStats,
  DeleteOptions,
  DeleteResult,
  GetResult,
  KeyInput,
  OpOptions,
  PutOptions,
  PutResult,
  ValueInput,
} from './types';
import { errorFromWire, isNodeFailure, isRetryable } from './wire_errors';

export interface ClientOptions {
  /** host:port of one or more nodes; the rest of the cluster is learned from them. */
  nodes: string[];
  /** Default consistency for operations that name none (absent: the node's default, QUORUM). */
  consistency?: ConsistencyLevel;
  /**
   * How long one attempt waits for its node (6 s default: past the node's own 5 s request
   * timeout). The node learns what is left of it with each operation and answers a little before
   * it runs out (a Timeout naming how many replicas answered), so a shorter one still gets the
   * node's answer rather than a timeout of this client's own.
   */
  timeoutMs?: number;
  retries?: number;
  connectTimeoutMs?: number;
  nodeDownMs?: number;
  /** 0 turns periodic ring refresh off (it still refreshes after node failures). */
  ringRefreshMs?: number;
  /** false: ignore the ring and spread requests over the given nodes (for benchmarks). */
  ringAware?: boolean;
  /**
   * The cluster the client means (a node's --cluster-name): a cluster status from a node of
   * another cluster is refused. Absent: the first status that names one fixes it.
   */
  clusterName?: string;
  /**
   * The zone the client runs in (a node's --zone): requests go to a replica in it first, which
   * then reads its own copy first, so most reads stay in the zone.
   */
  zone?: string;
  /**
   * The datacenter the client runs in (a node's --datacenter): requests go to a replica in it
   * before any other datacenter's, so LOCAL_QUORUM and LOCAL_ONE are that datacenter's. Absent:
   * any replica, whichever datacenter (the coordinator's datacenter is then the one LOCAL_* means).
   */
  datacenter?: string;
  /**
   * Answer a read of a key read less than `ttlMs` ago (at the same level or a stronger one) from
   * the client, without a request (design.md §10, hot keys). Writes through this client are always
   * seen; another client's write may be missed for up to `ttlMs`. Absent: every read is sent.
   */
  readCache?: ReadCacheOptions;
}

const utf8 = new TextEncoder();

/** Strings as UTF-8. The types say string or bytes; a JavaScript caller may pass anything. */
function toBytes(name: 'key' | 'value', v: KeyInput | ValueInput): Uint8Array {
  if (typeof v === 'string') return utf8.encode(v);
  if (!(v instanceof Uint8Array)) throw new RingkvError(ErrorCode.InvalidArgument, `${name} must be a string or a Uint8Array, not ${v === null ? 'null' : typeof v}`);
  return v;
}

/**
 * A span of time given to the client: whole ms, at least `min`, and within what a timer can wait
 * (a longer one would fire at once). Options come from JavaScript callers and config files too,
 * where the types do not hold: a bad one is a typed error, never a timer gone wrong.
 */
function checkMs(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= timerDelayMsMax)) {
    throw new RingkvError(ErrorCode.InvalidArgument, `${name} must be a whole number of ms in ${min}..${timerDelayMsMax}, not ${String(v)}`);
  }
}

/** A node's HTTP address as options.nodes lists it (cluster_status.ts isNodeAddress). */
function checkNodeAddress(v: unknown): void {
  if (!isNodeAddress(v)) {
    throw new RingkvError(ErrorCode.InvalidArgument, `options.nodes: ${JSON.stringify(v)} is not host:port (a host name or IPv4 address, and a port in 1..65535)`);
  }
}

/** A level outside the list would travel as none at all, and the node would apply its default instead. */
function checkConsistency(name: string, v: ConsistencyLevel | undefined): void {
  if (v !== undefined && !consistencyLevels.includes(v)) {
    throw new RingkvError(ErrorCode.InvalidArgument, `${name} must be one of ${consistencyLevels.join(', ')}, not ${JSON.stringify(v)}`);
  }
}

/**
 * What every operation takes, checked as the node checks it (coordinator/request_checks.ts) but
 * before it is queued: a bad argument is this call's typed error, not a frame the node refuses
 * with the other operations of its tick in it, nor a throw while the frame is built.
 */
function checkOp(key: Uint8Array, o: OpOptions): void {
  checkKey(key);
  checkConsistency('consistency', o.consistency);
  checkMs('timeoutMs', o.timeoutMs, 1);
}

function checkWrite(o: PutOptions | DeleteOptions): void {
  checkIfMatch(o.expectedVersion);
  checkContext(o.context);
  checkIdempotencyKey(o.idempotencyKey);
}

export class RingkvClient {
  private readonly topology: Topology;
  private readonly connections = new Map<string, NodeConnection>();
  private readonly counters: ConnectionCounters = { framesSent: 0, opsSent: 0, timeouts: 0 };
  private retries = 0;
  private ringLoads = 0;
  private closed = false;
  private refreshing: Promise<void> | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private readonly idPrefix = randomBytes(8).toString('hex');
  private idCounter = 0;
  private readonly timeoutMs: number;
  private readonly retriesMax: number;
  private readonly connectTimeoutMs: number;
  private readonly ringAware: boolean;
  private readonly readCache: ReadCache | null;

  private constructor(private readonly opts: ClientOptions) {
    if (!Array.isArray(opts.nodes) || opts.nodes.length === 0) throw new RingkvError(ErrorCode.InvalidArgument, 'options.nodes must list at least one host:port');
    // Checked here: a WebSocket URL made of a bad one throws later, where no caller can catch it.
    for (const n of opts.nodes as unknown[]) checkNodeAddress(n);
    this.timeoutMs = opts.timeoutMs ?? clientAttemptTimeoutMsDefault;
    this.retriesMax = opts.retries ?? clientRetriesMaxDefault;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? clientConnectTimeoutMsDefault;
    this.ringAware = opts.ringAware ?? true;
    this.readCache = opts.readCache === undefined ? null : new ReadCache(opts.readCache);
    checkMs('options.timeoutMs', this.timeoutMs, 1);
    checkMs('options.connectTimeoutMs', this.connectTimeoutMs, 1);
    checkMs('options.nodeDownMs', opts.nodeDownMs, 0);
    checkMs('options.ringRefreshMs', opts.ringRefreshMs, 0);
    checkConsistency('options.consistency', opts.consistency);
    if (!(Number.isInteger(this.retriesMax) && this.retriesMax >= 0 && this.retriesMax <= 10)) {
      throw new RingkvError(ErrorCode.InvalidArgument, 'options.retries must be an integer in 0..10');
    }
    this.topology = new Topology(opts.nodes, opts.nodeDownMs ?? clientNodeDownMsDefault, opts.clusterName, opts.zone, opts.datacenter);
  }

  /**
   * Creates a client and, when ring-aware, loads the ring from the first node that answers. If
   * none answers the client still works, routing to the given nodes, and keeps trying.
   */
  static async connect(opts: ClientOptions): Promise<RingkvClient> {
    const c = new RingkvClient(opts);
    if (c.ringAware) {
      await c.refreshRing().catch(() => undefined);
      const every = opts.ringRefreshMs ?? clientRingRefreshMsDefault;
      if (every > 0) {
        c.refreshTimer = setInterval(() => void c.refreshRing().catch(() => undefined), every);
        c.refreshTimer.unref();
      }
    }
    return c;
  }

  /** Re-reads cluster status; rebuilds the ring when its version changed. */
  refreshRing(): Promise<void> {
    if (this.refreshing !== null) return this.refreshing;
    this.refreshing = (async () => {
      let lastErr: unknown = null;
      for (const address of this.topology.statusSources()) {
        try {
          const status = await fetchClusterStatus(address, this.connectTimeoutMs);
          if (this.topology.apply(status)) this.ringLoads++;
          this.closeConnectionsNotInUse();
          return;
        } catch (err) {
          lastErr = err;
        }
      }
      throw lastErr instanceof Error ? lastErr : new RingkvError(ErrorCode.Unavailable, 'no node answered cluster status');
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /**
   * Closes the connections to addresses no node has any more (a node that moved, or left), once
   * nothing waits on them: a long-lived client whose nodes come back at new addresses would
   * otherwise keep one per address it ever used, each with its in-flight table and socket.
   */
  private closeConnectionsNotInUse(): void {
    const inUse = this.topology.addressesInUse();
    for (const [address, c] of this.connections) {
      if (inUse.has(address) || c.pendingCount > 0) continue;
      c.close();
      this.connections.delete(address);
    }
  }

  /** The key's preference list as the client computes it (node ids; [] before a ring is known). */
  preferenceList(key: KeyInput): string[] {
    return this.topology.preferenceList(toBytes('key', key));
  }

  async get(key: KeyInput, options: OpOptions = {}): Promise<GetResult> {
    const k = toBytes('key', key);
    checkOp(k, options);
    const cache = this.readCache;
    const level = options.consistency ?? this.opts.consistency ?? 'QUORUM';
    if (cache !== null && !this.closed) {
      // A closed client refuses work, cached or not.
      const hit = cache.lookup(k, level);
      if (hit !== undefined) return { ...hit, cached: true };
      // No await unless there is a read to join: a read sent in this tick shares its frame.
      const flight = cache.joinable(k, level, options.timeoutMs ?? this.timeoutMs);
      const joined = flight === undefined ? null : await flight;
      if (joined !== null) return { ...joined, cached: true };
    }
    const began = cache?.readBegins() ?? 0;
    const read = this.read(k, options);
    cache?.flying(k, level, options.timeoutMs ?? this.timeoutMs, read);
    const r = await read;
    cache?.store(k, level, began, r);
    return r;
  }

  private async read(k: Uint8Array, options: OpOptions): Promise<GetResult> {
    const { result, node } = await this.execute(this.request('get', k, undefined, options), options.timeoutMs);
    if (result.status === 'not_found') return { found: false, key: k, node };
    const value = result.value ?? new Uint8Array(0);
    const version = result.version ?? '';
    const timestampMs = result.timestampMs ?? 0;
    return { found: true, key: k, value, version, timestampMs, siblings: result.siblings ?? [{ value, version, timestampMs }], context: result.context ?? new Uint8Array(0), node };
  }

  async put(key: KeyInput, value: ValueInput, options: PutOptions = {}): Promise<PutResult> {
    const k = toBytes('key', key);
    checkOp(k, options);
    const v = checkValue(toBytes('value', value));
    // 0 is no expiry here, as absent is.
    if (options.ttlSeconds !== 0) checkTtl(options.ttlSeconds);
    checkWrite(options);
    const { result, node } = await this.written(k, () => this.execute(this.request('put', k, v, options), options.timeoutMs));
    return { key: k, version: result.version ?? '', timestampMs: result.timestampMs ?? 0, node };
  }

  async delete(key: KeyInput, options: DeleteOptions = {}): Promise<DeleteResult> {
    const k = toBytes('key', key);
    checkOp(k, options);
    checkWrite(options);
    const { result, node } = await this.written(k, () => this.execute(this.request('delete', k, undefined, options), options.timeoutMs));
    return { key: k, version: result.version ?? '', timestampMs: result.timestampMs ?? 0, tombstoneExpiryMs: result.tombstoneExpiryMs ?? 0, node };
  }

  /**
   * Many operations at once: they are issued together, so those bound for the same node travel in
   * one frame. Not atomic: every entry succeeds or fails on its own, in the order given.
   */
  batch(ops: readonly BatchOp[]): Promise<BatchEntry[]> {
    const settle = (p: Promise<GetResult | PutResult | DeleteResult>): Promise<BatchEntry> =>
      p.then(
        (result) => ({ ok: true as const, result }),
        (error: unknown) => ({ ok: false as const, error: error instanceof Error ? error : new Error(String(error)) }),
      );
    return Promise.all(
      ops.map((op) => {
        switch (op.op) {
          case 'get':
            return settle(this.get(op.key, op));
          case 'put':
            return settle(this.put(op.key, op.value, op));
          case 'delete':
            return settle(this.delete(op.key, op));
          default:
            return settle(Promise.reject(new RingkvError(ErrorCode.InvalidArgument, `a batch op is get, put or delete, not ${JSON.stringify((op as { op: unknown }).op)}`)));
        }
      }),
    );
  }

  stats(): ClientStats {
    const cache = this.readCache?.stats();
    return {
      framesSent: this.counters.framesSent,
      opsSent: this.counters.opsSent,
      retries: this.retries,
      timeouts: this.counters.timeouts,
      ringLoads: this.ringLoads,
      ringVersion: this.topology.ringVersion,
      readCacheHits: cache?.hits ?? 0,
      readCacheMisses: cache?.misses ?? 0,
      readCacheJoined: cache?.joined ?? 0,
      readCacheEntries: cache?.entries ?? 0,
    };
  }

  /** Runs a write of `key`; the read cache drops the key as it is sent and as it is answered. */
  private async written<T>(key: Uint8Array, send: () => Promise<T>): Promise<T> {
    this.readCache?.invalidate(key);
    try {
      return await send();
    } finally {
      this.readCache?.invalidate(key);
    }
  }

  close(): void {
    this.closed = true;
    if (this.refreshTimer !== null) clearInterval(this.refreshTimer);
    this.refreshTimer = null;
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }

  private request(op: 'get' | 'put' | 'delete', key: Uint8Array, value: Uint8Array | undefined, o: PutOptions): OutgoingRequest {
    const req: OutgoingRequest = { op, key };
    if (value !== undefined) req.value = value;
    const consistency = o.consistency ?? this.opts.consistency;
    if (consistency !== undefined) req.consistency = consistency;
    if (op === 'put' && o.ttlSeconds !== undefined && o.ttlSeconds > 0) req.ttlSeconds = o.ttlSeconds;
    if (op !== 'get') {
      if (o.expectedVersion !== undefined) req.expectedVersion = o.expectedVersion;
      if (o.context !== undefined) req.context = o.context;
      // One key per logical write, shared by all its attempts.
      req.idempotencyKey = o.idempotencyKey ?? `${this.idPrefix}-${(this.idCounter++).toString(36)}`;
    }
    return req;
  }

  private connection(node: NodeAddress): NodeConnection {
    let c = this.connections.get(node.address);
    if (c === undefined) {
      c = new NodeConnection(node.address, node.id, this.counters, this.connectTimeoutMs);
      this.connections.set(node.address, c);
    }
    return c;
  }

  /**
   * Runs one operation with failover. The first attempt is sent synchronously (before any await),
   * which is what lets operations issued in one tick share a frame.
   */
  private async execute(req: OutgoingRequest, timeoutMs: number | undefined): Promise<{ result: ClientResult; node: string }> {
    if (this.closed) throw new RingkvError(ErrorCode.Closed, 'client is closed');
    const perAttempt = timeoutMs ?? this.timeoutMs;
    // A GET at QUORUM or ALL reads the same replicas wherever it starts: spread over them.
    const candidates = this.topology.candidates(req.key, performance.now(), isSpreadRead(req.op, req.consistency), this.retriesMax + 1, req.consistency?.startsWith('LOCAL_') === true);
    let lastErr: unknown = null;
    for (let attempt = 0; attempt <= this.retriesMax; attempt++) {
      // Each retry moves to the next candidate: Q3's "on timeout, pick a new coordinator".
      const node = candidates[attempt % candidates.length]!;
      if (attempt > 0) {
        this.retries++;
        await new Promise<void>((r) => setTimeout(r, clientRetryBackoffMs * 2 ** (attempt - 1)));
        if (this.closed) break;
      }
      try {
        const result = await this.connection(node).send(req, perAttempt);
        if (result.status === 'error') throw errorFromWire(result.error ?? 0, result.message, node.id, result.currentVersion);
        this.topology.markUp(node.address);
        return { result, node: node.id };
      } catch (err) {
        lastErr = err;
        // Not once closed: close() fails what is in flight with Closed, which says nothing of the node.
        if (isNodeFailure(err) && !this.closed) {
          this.topology.markDown(node.address, performance.now());
          // The ring may have changed (a node left); look again, without waiting for it.
          if (this.ringAware) void this.refreshRing().catch(() => undefined);
        }
        if (!isRetryable(err)) throw err;
      }
    }
    assert(lastErr !== null, 'the loop ran at least once');
    throw lastErr;
  }
}
