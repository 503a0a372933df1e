// HTTP load against one ringkv node with wrk (Debian package `wrk`, a C load generator): PUT or
// GET of 1 KiB values (`PUT/GET /api/v1/keys/bench:<n>`) over `connections` keep-alive
// connections from one wrk thread, closed loop, for a bounded time after a 1 s warm-up run that
// is not recorded. Reports ops/s, p50/p99 (wrk's own histogram, from send to answer) and wrk's
// CPU. Used by bench/node.bench.ts; standalone, against a running node:
//   node dist/bench/http.bench.js --url http://127.0.0.1:7000 --op put --seconds 5 [--connections 50]
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ErrorCode, RingkvError } from '../src/errors';
import { cpuPercent, runTool, tempDir, type Measured } from './harness';

const putScript = (valueBytes: number, keySpace: number): string => `
local counter = math.random(0, ${keySpace - 1})
local body = string.rep("a", ${valueBytes})
local headers = { ["Content-Type"] = "application/octet-stream" }
request = function()
  counter = (counter + 7919) % ${keySpace}
  return wrk.format("PUT", "/api/v1/keys/bench:" .. counter, headers, body)
end
`;

const getScript = (keySpace: number): string => `
local counter = math.random(0, ${keySpace - 1})
local headers = { ["X-Consistency-Level"] = "ONE" }
request = function()
  counter = (counter + 7919) % ${keySpace}
  return wrk.format("GET", "/api/v1/keys/bench:" .. counter, headers)
end
`;

function toMs(text: string): number {
  const m = /^([0-9.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) throw new RingkvError(ErrorCode.Internal, `wrk latency "${text}"`);
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

export interface HttpLoadOptions {
  url: string;
  op: 'put' | 'get';
  connections: number;
  seconds: number;
  valueBytes: number;
  keySpace: number;
}

/** The wrk command line of a run, as the report prints it (the Lua script by its name). */
export function wrkArgs(o: HttpLoadOptions, script: string, seconds: number): string[] {
  return ['-t', '1', '-c', String(o.connections), '-d', `${seconds}s`, '--latency', '--timeout', '10s', '-s', script, o.url];
}

export async function runHttpLoad(o: HttpLoadOptions): Promise<Measured & { command: string }> {
  const tmp = tempDir('ringkv-wrk-');
  try {
    const script = path.join(tmp.dir, `${o.op}.lua`);
    fs.writeFileSync(script, o.op === 'put' ? putScript(o.valueBytes, o.keySpace) : getScript(o.keySpace));
    await runTool('wrk', wrkArgs(o, script, 1), 60_000);
    const args = wrkArgs(o, script, o.seconds);
    const r = await runTool('wrk', args, (o.seconds + 60) * 1000);
    const out = r.stdout;
    const rps = Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)?.[1]);
    const p50 = /^\s+50%\s+(\S+)$/m.exec(out)?.[1];
    const p99 = /^\s+99%\s+(\S+)$/m.exec(out)?.[1];
    const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
    if (!Number.isFinite(rps) || p50 === undefined || p99 === undefined) throw new RingkvError(ErrorCode.Internal, `cannot parse wrk output:\n${out}`);
    return {
      opsPerSecond: rps,
      p50Ms: toMs(p50),
      p99Ms: toMs(p99),
      errors,
      ops: total,
      clientCpu: cpuPercent(r.cpuS, r.wallS),
      command: `wrk ${args.join(' ').replace(script, `${o.op}.lua`)}`,
    };
  } finally {
    tmp.remove();
  }
}

if (require.main === module) {
  const { values } = parseArgs({ options: { url: { type: 'string', default: 'http://127.0.0.1:7000' }, op: { type: 'string', default: 'put' }, seconds: { type: 'string', default: '5' }, connections: { type: 'string', default: '50' } } });
  runHttpLoad({ url: values.url!, op: values.op === 'get' ? 'get' : 'put', connections: Number(values.connections), seconds: Math.min(60, Number(values.seconds)), valueBytes: 1024, keySpace: 10_000 }).then(
    (r) => console.log(JSON.stringify(r)),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
