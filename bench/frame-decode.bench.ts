// Frame decoding on this machine: what keeping a frame's values costs when each value is copied
// into its own ArrayBuffer (what the decoders did) against views into one copy of the frame
// (src/protocol/frame_copy.ts, what they do). A node decodes every WebSocket request frame
// (decodeRequestFrame), a client every response frame (decodeResponseFrame). Rows, per 32-op
// frame of 1 KiB values (the benchmarks' WS 32 ops/frame shape): the bare allocations (32
// stand-alone 1 KiB Uint8Arrays; 32 copies from Node's Buffer pool, as peer messages' fields are
// kept; one 32 KiB copy and 32 views), and each decoder as shipped, then as shipped followed by
// a copy of each value alone (the old decoders' cost, overstated by the one frame copy and the
// views the old ones did not make: ~0.2 us per value). Rounds interleave the rows; each row
// decodes framesPerRow frames after as many of warm-up.
//   flock /tmp/ringkv-heavy.lock npm run bench:frame-decode -- [--write] [--rounds 3]   (--seconds and --warmup do not apply)
// --write replaces the section between <!-- frame-decode-bench:start --> and
// <!-- frame-decode-bench:end --> in BENCHMARKS.md.
import { decodeRequestFrame, encodeRequestFrame, type ClientRequest } from '../src/protocol/client_request';
import { decodeResponseFrame, encodeResponseFrames, type ClientResult } from '../src/protocol/client_response';
import { copyField } from '../src/protocol/frame_copy';
import { assert } from '../src/errors';
import { emitSection, median, parseBenchArgs, runMain, sectionHead } from './comparison';
import { BenchRun, benchValueBytes, markdownTable } from './harness';

const opsPerFrame = 32;
const framesPerRow = 5000;

function requestFrame(): Uint8Array {
  const ops: ClientRequest[] = [];
  for (let i = 0; i < opsPerFrame; i++) ops.push({ id: i, op: 'put', key: Buffer.from(`bench:${i}`), value: new Uint8Array(benchValueBytes).fill(i), consistency: 'QUORUM' });
  return encodeRequestFrame(ops);
}

function responseFrame(): Uint8Array {
  const results: ClientResult[] = [];
  for (let i = 0; i < opsPerFrame; i++) results.push({ id: i, status: 'ok', version: `v1_1_n${i}`, timestampMs: 1, value: new Uint8Array(benchValueBytes).fill(i) });
  const frames = encodeResponseFrames(results, 1 << 20);
  assert(frames.length === 1, 'one response frame');
  return frames[0]!;
}

/** Microseconds per frame of `fn` over framesPerRow frames (after as many of warm-up). */
function usPerFrame(fn: () => number): number {
  let sink = 0;
  for (let i = 0; i < framesPerRow; i++) sink += fn();
  const t = process.hrtime.bigint();
  for (let i = 0; i < framesPerRow; i++) sink += fn();
  const us = Number(process.hrtime.bigint() - t) / 1e3 / framesPerRow;
  assert(sink > 0, 'the work was done');
  return us;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { rounds, write } = parseBenchArgs(argv, false);
  const run = new BenchRun('ringkv-frame-decode-bench-');
  try {
    const request = requestFrame();
    const response = responseFrame();
    const value = new Uint8Array(benchValueBytes).fill(7);
    const rows: Array<[string, string, () => number]> = [
      ['allocation', `${opsPerFrame} stand-alone ${benchValueBytes} B Uint8Arrays (copies of a value)`, () => {
        let n = 0;
        for (let i = 0; i < opsPerFrame; i++) n += value.slice().length;
        return n;
      }],
      ['allocation', `${opsPerFrame} copies from Node's Buffer pool (copyField: what a peer message's fields get)`, () => {
        let n = 0;
        for (let i = 0; i < opsPerFrame; i++) n += copyField(value).length;
        return n;
      }],
      ['allocation', `one ${(opsPerFrame * benchValueBytes) / 1024} KiB copy and ${opsPerFrame} views into it`, () => {
        const copy = new Uint8Array(opsPerFrame * benchValueBytes);
        let n = 0;
        for (let i = 0; i < opsPerFrame; i++) {
          const v = copy.subarray(i * benchValueBytes, (i + 1) * benchValueBytes);
          v.set(value);
          n += v.length;
        }
        return n;
      }],
      ['node: decodeRequestFrame', 'as shipped (values are views into one copy of the frame)', () => decodeRequestFrame(request).ops.length],
      ['node: decodeRequestFrame', 'then each value copied alone (the old decoder)', () => {
        let n = 0;
        for (const d of decodeRequestFrame(request).ops) if (d.ok) n += d.request.value!.slice().length;
        return n;
      }],
      ['client: decodeResponseFrame', 'as shipped', () => decodeResponseFrame(response).results.length],
      ['client: decodeResponseFrame', 'then each value copied alone (the old decoder)', () => {
        let n = 0;
        for (const r of decodeResponseFrame(response).results) n += r.value!.slice().length;
        return n;
      }],
    ];
    const us = new Map<string, number[]>();
    for (let round = 1; round <= rounds; round++) {
      process.stderr.write(`round ${round} of ${rounds}\n`);
      for (const [what, how, fn] of rows) {
        const k = `${what}|${how}`;
        us.set(k, [...(us.get(k) ?? []), usPerFrame(fn)]);
      }
    }
    const f = (x: number): string => x.toFixed(1);
    const med = (what: string, how: string): number => median(us.get(`${what}|${how}`)!);
    const table = rows.map(([what, how]) => {
      const all = us.get(`${what}|${how}`)!;
      return [what, how, f(median(all)), (median(all) / opsPerFrame).toFixed(2), all.map(f).join(' / ')];
    });
    const ratio = (what: string, shipped: string, old: string): string => (med(what, old) / med(what, shipped)).toFixed(1);
    const section = [
      ...sectionHead('Frame decoding (bench/frame-decode.bench.ts)', 'bench:frame-decode', 'dist/bench/frame-decode.bench.js', argv, run),
      '',
      `Per ${opsPerFrame}-op frame of ${benchValueBytes} B values, ${framesPerRow} frames per row and round after as many of warm-up, ${rounds} rounds interleaved, medians (µs).`,
      '',
      markdownTable(['what', 'how', 'µs per frame', 'µs per op', 'µs per frame, per round'], table, [false, false, true, true, false]),
      '',
      `- The old decoders cost ${ratio('node: decodeRequestFrame', 'as shipped (values are views into one copy of the frame)', 'then each value copied alone (the old decoder)')}x the shipped request decoder and ${ratio('client: decodeResponseFrame', 'as shipped', 'then each value copied alone (the old decoder)')}x the shipped response decoder; a stand-alone ArrayBuffer of over 64 bytes (V8 keeps smaller typed arrays on its heap) is what costs.`,
    ].join('\n');
    emitSection(section, 'frame-decode-bench', write);
  } finally {
    await run.close();
  }
}

if (require.main === module) runMain('frame-decode bench', main);
