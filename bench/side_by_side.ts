// Two or more servers that speak ringkv's client protocol, measured side by side in one run with
// the same WebSocket load (bench/v8-flags.bench.ts, bench/floor.bench.ts): per round, each
// server's closed-loop WS 32 ops/frame PUT and GET peak; then, open loop, WS 32 ops/frame PUT and
// GET at 20%, 40%, 60% and 80% of one reference server's median peak, the same target rates on
// every server, rounds interleaved (every row on every server in each round).
//
// Fairness between servers: a server's rows start once every server is quiet, not only itself
// (a write-heavy row leaves its server flushing and compacting for seconds, on the cores the next
// server's row needs), and the servers take turns going first (round 1 in the given order, round
// 2 reversed, ...). Always measured second, with only its own node waited for, one build showed
// 1.3-3x its base's PUT p99 near saturation in 5 rounds of 5; the same two builds in ABBA order,
// both nodes quiet before each run, were within noise of each other (ad hoc ws.bench runs at
// 59.5k PUT/s, 2026-12-06).
import { assert } from '../src/errors';
import { fmtShare, median, openLoadShare, openP99Ms, openRow, ops, RowSet, sweepShares, type BenchArgs, type Op, type OpenRow } from './comparison';
import { benchKeySpace, benchValueBytes, fmtInt, fmtMs, waitQuiet } from './harness';
import { measureWs, openLoopRounds, type WsLoadOptions } from './ws.bench';

export const sideBySideShares: readonly number[] = [...sweepShares, openLoadShare];
export const sideBySideShape = { connections: 4, depth: 4 };

export interface Server {
  /** Row label; rows are keyed `${name}-${op}`. */
  name: string;
  ws: string;
  /** A ringkv node's HTTP address: its open-loop rows then read the node's /metrics (GC, WAL sync). */
  http?: string;
  pid: number;
  /** The row cells after the system name: durability, protocol, op, consistency, concurrency. */
  durability: string;
  /** This server's load, over what the run gives every server (e.g. another generator setting on the same server). */
  load?: SideBySideLoad;
}

/** What the load sends beyond the shape every side-by-side run shares. */
export interface SideBySideLoad {
  /** PUTs carry an idempotency key each (WsLoadOptions.idempotencyKeys). */
  idempotencyKeys?: boolean;
  /** The generator masks frames with random keys (WsLoadOptions.randomMasks). */
  randomMasks?: boolean;
}

export function ws32Options(ws: string, op: Op, a: BenchArgs, load: SideBySideLoad = {}): WsLoadOptions {
  return {
    urls: [ws],
    op: op === 'PUT' ? 'put' : 'get',
    batch: 32,
    valueBytes: benchValueBytes,
    keySpace: benchKeySpace,
    consistency: 'QUORUM',
    ...sideBySideShape,
    seconds: a.seconds,
    warmupSeconds: a.warmupSeconds,
    ...(load.idempotencyKeys === true && { idempotencyKeys: true }),
    ...(load.randomMasks === true && { randomMasks: true }),
  };
}

/** The open-loop row of `server` for `op` at `share`. */
export function openRowOf(open: readonly OpenRow[], server: string, op: Op, share: number): OpenRow {
  const row = open.find((o) => o.cells[0] === server && o.cells[1] === op && o.share === share);
  assert(row !== undefined, () => `no open-loop row for ${server} ${op} at ${share}`);
  return row;
}

/** Runs the closed-loop peaks and the open-loop rows (see the header); `reference` names the server whose peaks set the rates. */
export async function measureSideBySide(servers: readonly Server[], reference: string, a: BenchArgs, log: (s: string) => void, load: SideBySideLoad = {}): Promise<{ rows: RowSet; open: OpenRow[] }> {
  const rows = new RowSet();
  const open: OpenRow[] = [];
  const { connections, depth } = sideBySideShape;
  const allPids = servers.map((s) => s.pid);
  const inTurn = (round: number): readonly Server[] => (round % 2 === 1 ? servers : [...servers].reverse());
  for (let round = 1; round <= a.rounds; round++) {
    log(`round ${round} of ${a.rounds}: closed-loop peaks`);
    for (const s of inTurn(round)) {
      for (const op of ops) {
        await waitQuiet(allPids);
        const cells = [s.name, s.durability, 'WebSocket, 32 ops/frame', op, 'QUORUM', `${connections} sockets × ${depth} frames × 32 ops`];
        await measureWs(rows, `${s.name}-${op}`, cells, [s.pid], ws32Options(s.ws, op, a, { ...load, ...s.load }), 1, log);
      }
    }
  }
  for (const s of servers) for (const op of ops) for (const share of sideBySideShares) open.push(openRow([s.name, op, '32'], rows.medianOps(`${reference}-${op}`), share));
  for (let round = 1; round <= a.rounds; round++) {
    log(`round ${round} of ${a.rounds}: open loop`);
    for (const s of inTurn(round)) {
      // The server before it may still be flushing what its rows wrote; its own rows wait for it alone.
      await waitQuiet(allPids);
      await openLoopRounds(
        open.filter((o) => o.cells[0] === s.name),
        (o) => ws32Options(s.ws, o.cells[1] as Op, a, { ...load, ...s.load }),
        [s.pid],
        1,
        log,
        s.http === undefined ? [] : [s.http],
      );
    }
  }
  return { rows, open };
}

/**
 * Lines comparing the median open-loop p99 of every server with the first one's at each share,
 * "- GET 32/frame at 40% (44,860 ops/s), median p99: A 26.2 ms; B 7.75 ms (0.30x).", and per
 * server after the first, the median of its ratios over the shares.
 */
export function compareP99(open: OpenRow[], names: readonly string[]): string[] {
  const p99 = (name: string, op: Op, share: number): number => openP99Ms(openRowOf(open, name, op, share));
  const base = names[0]!;
  const out: string[] = [];
  for (const op of ops) {
    for (const share of sideBySideShares) {
      const b = p99(base, op, share);
      const cells = names.map((n, i) => `${n} ${fmtMs(p99(n, op, share))} ms${i === 0 ? '' : ` (${(p99(n, op, share) / b).toFixed(2)}x)`}`);
      out.push(`- ${op} 32/frame at ${fmtShare(share)} (${fmtInt(openRowOf(open, base, op, share).rate)} ops/s), median p99: ${cells.join('; ')}.`);
    }
  }
  for (const n of names.slice(1)) {
    const ratio = (op: Op): number => median(sideBySideShares.map((share) => p99(n, op, share) / p99(base, op, share)));
    out.push(`- ${n}: median of its p99 ratios to ${base} over the ${sideBySideShares.length} shares: PUT ${ratio('PUT').toFixed(2)}x, GET ${ratio('GET').toFixed(2)}x.`);
  }
  return out;
}

/** The load generator's command line, for a section's tail. */
export function ws32Command(a: BenchArgs): string {
  const { connections, depth } = sideBySideShape;
  return `node dist/bench/ws.bench.js --url ws://127.0.0.1:PORT/api/v1/ws --op put|get --consistency QUORUM --batch 32 --connections ${connections} --depth ${depth} --seconds ${a.seconds} [--rate FRAMES_PER_S]`;
}
