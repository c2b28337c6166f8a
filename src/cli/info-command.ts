// `keel info`: the environment a build or test ran in (CPython's python -m test.pythoninfo).
import type { Command } from 'commander';
import { collectEnvironmentInfo, formatEnvironmentInfo } from '../runner/environment-info.js';

export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('print the environment tests run in: Node.js and its build, OS, CPU, memory, locale, env, ulimits, tools, dependencies')
    .option('--json', 'print one JSON object instead of key: value lines', false)
    .action(async (o: { json: boolean }) => {
      const info = await collectEnvironmentInfo({ cwd: process.cwd() });
      process.stdout.write(o.json ? JSON.stringify(info, null, 2) + '\n' : formatEnvironmentInfo(info));
    });
}
