// The shape of one `ringkv` subcommand, and a small helper for flags with environment-variable
// fallbacks, shared by every command module under src/cli/.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ErrorCode, RingkvError } from '../errors';

export interface CliCommand {
  /** One line for `ringkv --help`. */
  readonly summary: string;
  /**
   * Runs with the arguments after the command name; resolves with the exit code. A long-running
   * command (start) resolves once it is up and keeps the process alive by itself.
   */
  run(argv: string[]): Promise<number>;
}

/** node:util parseArgs, with its errors (an unknown flag, a missing value) as usage errors. */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
}

/** A usage error: main() prints it and exits 2. */
export function usageError(message: string): RingkvError {
  return new RingkvError(ErrorCode.InvalidArgument, message, { details: { usage: true } });
}

/** Parses a whole number in [min, max], naming the flag or variable in the error. */
export function parseIntOption(name: string, text: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(text.trim())) throw usageError(`${name} must be a whole number, not "${text}"`);
  const n = Number(text.trim());
  if (n < min || n > max) throw usageError(`${name} must be ${min}..${max}, not ${n}`);
  return n;
}
