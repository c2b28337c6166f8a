#!/usr/bin/env node
// The `keel` command. Thin: each subcommand lives in its own file and calls into the parts.
import { reportCliError } from './cli-errors.js';
import { buildProgram, COMMANDS } from './program.js';

try {
  // Only the subcommand asked for is loaded; help and unknown commands load them all.
  const asked = process.argv[2];
  const program = await buildProgram(asked !== undefined && asked in COMMANDS ? [asked] : undefined);
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportCliError(err);
}
