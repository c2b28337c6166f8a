// `keel checkconfig [--config F]`: loads and validates the config without starting anything.
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { findConfigFile, loadConfig } from '../master/config-loader.js';

export function registerCheckconfigCommand(program: Command): void {
  program.command('checkconfig')
    .description('validate the config (keel.config.ts/.js/.mjs/.json) and list every problem')
    .option('--config <file>', 'config file (default: keel.config.* in the current folder)')
    .action(async (opts: { config?: string }) => {
      const path = findConfigFile(process.cwd(), opts.config);
      if (!path) throw new KeelError('KEEL_ERR_CONFIG_LOAD', `no config file found (looked for keel.config.{ts,mts,js,mjs,json} in ${process.cwd()})`);
      const config = await loadConfig(path);
      const steps = config.builders.reduce((n, b) => n + b.steps.length, 0);
      process.stdout.write(`${path}: OK — ${config.workers.length} worker(s), ${config.builders.length} builder(s), ${steps} step(s), ${config.sources.length} source(s), ${config.schedulers.length} scheduler(s)\n`);
    });
}
