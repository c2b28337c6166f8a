#!/usr/bin/env node
// The `keel` command. Thin: each subcommand lives in its own file and calls into the parts.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { reportCliError } from './cli-errors.js';

type Register = (program: Command) => void;

// Subcommands, loaded lazily: `keel test` must not pay for the master's web server and database
// drivers at every start (it is started once per CI job, and its speed is measured). The order
// is the order of `keel --help`.
const COMMANDS: Record<string, () => Promise<Register>> = {
  test: async () => (await import('./test-command.js')).registerTestCommand,
  bisect: async () => (await import('./bisect-command.js')).registerBisectCommand,
  info: async () => (await import('./info-command.js')).registerInfoCommand,
  parse: async () => (await import('./parse-command.js')).registerParseCommand,
  checkconfig: async () => (await import('./checkconfig-command.js')).registerCheckconfigCommand,
  up: async () => (await import('./up-command.js')).registerUpCommand,
  master: async () => (await import('./master-command.js')).registerMasterCommand,
  worker: async () => (await import('./worker-command.js')).registerWorkerCommand,
  force: async () => (await import('./force-command.js')).registerForceCommand,
};

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('keel')
  .description('Keel: CI server, regression test runner and test intelligence for Node.js projects')
  .version(pkg.version)
  .showHelpAfterError();

try {
  const asked = process.argv[2];
  const names = asked !== undefined && asked in COMMANDS ? [asked] : Object.keys(COMMANDS);
  for (const name of names) (await COMMANDS[name]!())(program);
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportCliError(err);
}
