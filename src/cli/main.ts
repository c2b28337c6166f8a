#!/usr/bin/env node
// The `keel` command. Thin: each subcommand lives in its own file and calls into the parts.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { reportCliError } from './cli-errors.js';
import { registerTestCommand } from './test-command.js';
import { registerParseCommand } from './parse-command.js';
import { registerCheckconfigCommand } from './checkconfig-command.js';
import { registerWorkerCommand } from './worker-command.js';
import { registerUpCommand } from './up-command.js';
import { registerMasterCommand } from './master-command.js';
import { registerForceCommand } from './force-command.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('keel')
  .description('Keel: CI server, regression test runner and test intelligence for Node.js projects')
  .version(pkg.version)
  .showHelpAfterError();

// One line per subcommand; the order is the order of `keel --help`.
registerTestCommand(program);
registerParseCommand(program);
registerCheckconfigCommand(program);
registerUpCommand(program);
registerMasterCommand(program);
registerWorkerCommand(program);
registerForceCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportCliError(err);
}
