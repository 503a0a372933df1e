// The `ringkv` command line: dispatches `ringkv <command> [args]` to the command's own module.
// bin/ringkv.js calls main(argv) with the arguments after the script name.
//
// To add a command, write src/cli/<name>.ts exporting `command: CliCommand` and add one line to
// `commands` below. Commands are loaded lazily, so `ringkv get` never loads the server.
import { isRingkvError } from '../errors';
import type { CliCommand } from './command';

export type { CliCommand } from './command';

const commands: Record<string, () => Promise<CliCommand>> = {
  start: async () => (await import('./start')).command,
  cluster: async () => (await import('./cluster')).command,
  get: async () => (await import('./client_commands')).getCommand,
  put: async () => (await import('./client_commands')).putCommand,
  del: async () => (await import('./client_commands')).delCommand,
  status: async () => (await import('./admin_commands')).statusCommand,
  repair: async () => (await import('./admin_commands')).repairCommand,
  scrub: async () => (await import('./admin_commands')).scrubCommand,
  cleanup: async () => (await import('./admin_commands')).cleanupCommand,
  flush: async () => (await import('./admin_commands')).flushCommand,
  snapshot: async () => (await import('./admin_commands')).snapshotCommand,
  decommission: async () => (await import('./admin_commands')).decommissionCommand,
  addnode: async () => (await import('./admin_commands')).addnodeCommand,
  removenode: async () => (await import('./admin_commands')).removenodeCommand,
  replica: async () => (await import('./admin_commands')).replicaCommand,
  bench: async () => (await import('./bench')).command,
};

async function usage(): Promise<string> {
  const lines = ['usage: ringkv <command> [options]', '', 'commands:'];
  const width = Math.max(...Object.keys(commands).map((n) => n.length)) + 2;
  for (const [name, load] of Object.entries(commands)) lines.push(`  ${name.padEnd(width)}${(await load()).summary}`);
  lines.push('', 'Run `ringkv <command> --help` for a command\'s options.');
  return lines.join('\n');
}

/** Runs one command; sets process.exitCode (0 ok, 1 failure, 2 usage error). */
export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${await usage()}\n`);
    process.exitCode = name === undefined ? 2 : 0;
    return;
  }
  const load = Object.prototype.hasOwnProperty.call(commands, name) ? commands[name] : undefined;
  if (load === undefined) {
    process.stderr.write(`ringkv: unknown command "${name}"\n${await usage()}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    const command = await load();
    process.exitCode = await command.run(rest);
  } catch (err) {
    // Operating errors get one clear line; anything else is a bug and keeps its stack.
    if (isRingkvError(err)) process.stderr.write(`ringkv ${name}: ${err.message} [${err.code}]\n`);
    else process.stderr.write(`ringkv ${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = isRingkvError(err) && err.details['usage'] === true ? 2 : 1;
  }
}
