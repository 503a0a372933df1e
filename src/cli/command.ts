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

/** What a KEY argument is: UTF-8 text, or base64 of bytes that are not (the HTTP API's `key_encoding`). */
export const keyEncodings = ['utf8', 'base64'] as const;
export type KeyEncoding = (typeof keyEncodings)[number];

const base64Re = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parses --key-encoding (absent: utf8). */
export function parseKeyEncoding(text: string | undefined): KeyEncoding {
  if (text === undefined) return 'utf8';
  if (!(keyEncodings as readonly string[]).includes(text)) throw usageError(`--key-encoding must be ${keyEncodings.join(' or ')}, not "${text}"`);
  return text as KeyEncoding;
}

/**
 * A KEY argument's bytes. Argv is text, and a key is any byte string: base64 names the others,
 * as the HTTP API's answers name them (`"key_encoding": "base64"`). Checked strictly:
 * Buffer.from skips what is not base64, which would name another key.
 */
export function keyArgument(text: string, encoding: KeyEncoding): Uint8Array {
  if (encoding === 'utf8') return Buffer.from(text, 'utf8');
  if (text.length === 0 || text.length % 4 !== 0 || !base64Re.test(text)) throw usageError(`KEY must be base64 with --key-encoding base64, not "${text}"`);
  return Buffer.from(text, 'base64');
}

/** A key as one path segment of the HTTP API: every byte percent-encoded (the node decodes once). */
export function keyPathSegment(key: Uint8Array): string {
  let out = '';
  for (const b of key) out += `%${b.toString(16).padStart(2, '0')}`;
  return out;
}

