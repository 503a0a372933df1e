// Child process for test/process/server-restart.test.ts: a real node (HTTP server, one shard, a
// real engine) whose shard cannot close: two scrubs hold both of its worker's control-task slots
// and wait for a file that never comes (test/unit/shards/helpers/held_storage.ts), so the close
// task never runs. It installs the signal handlers with a short shutdown deadline (argv[3], ms)
// and prints "ready" once both scrubs are held; the test then sends SIGTERM.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLocalCoordinator } from '../../../src/coordinator/local_coordinator';
import { exitOnSignals, startNode } from '../../../src/server/node';

const dataDir = process.argv[2]!;
const deadlineMs = Number(process.argv[3]);
const heldStorage = path.join(__dirname, '..', '..', 'unit', 'shards', 'helpers', 'held_storage.js');
const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const node = await startNode({ host: '127.0.0.1', port: 0, dataDir, shardCount: 1, syncMode: 'none', log }, (o) => createLocalCoordinator({ ...o, storageModule: heldStorage }));
  exitOnSignals(node, log, deadlineMs);
  for (let i = 0; i < 2; i++) void node.coordinator.scrub({ bytesPerSecond: 0 }).catch(() => undefined);
  while (!fs.existsSync(path.join(dataDir, 'HELD-scrub'))) await new Promise((r) => setTimeout(r, 10));
  process.stdout.write('ready\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(2);
});
