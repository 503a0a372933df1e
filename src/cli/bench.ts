// `ringkv bench`: the latency benchmark suite (bench/latency), the same as `npm run bench:latency`.
import type { CliCommand } from './command';

export const command: CliCommand = {
  summary: 'run the open-loop YCSB latency suite against ringkv and Redis',
  async run(argv: string[]): Promise<number> {
    // Loaded lazily: the suite pulls in ioredis and the HdrHistogram code, which no other command needs.
    const { runLatencyCli } = await import('../../bench/latency/cli');
    return runLatencyCli(argv);
  },
};
