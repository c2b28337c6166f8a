// How the CLI shows an error: a KeelError is the user's problem and gets one clear line with its
// code; anything else is Keel's bug and gets its stack.
import { isKeelError } from '../errors.js';

/** Prints the error and returns the exit code to use. */
export function reportCliError(err: unknown): number {
  if (isKeelError(err)) {
    process.stderr.write(`keel: error: ${err.message} [${err.code}]\n`);
    return 2;
  }
  process.stderr.write(`keel: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}
