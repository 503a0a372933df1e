// Entry point of `npm run bench:latency` (node dist/bench/latency/main.js [options]); the same
// suite runs as `ringkv bench`. All the work is in cli.ts.
import { isRingkvError } from '../../src/errors';
import { runLatencyCli } from './cli';

if (require.main === module) {
  runLatencyCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`bench: ${isRingkvError(err) ? `${err.message} [${err.code}]` : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
