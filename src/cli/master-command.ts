// `keel master [--config F] [--db URL] [--port 8010]`: the master alone; workers connect to
// ws://HOST:PORT/ws/worker.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { findConfigFile } from '../master/config-loader.js';
import { consoleLog, startMasterRuntime, untilSignal } from './master-runtime.js';

interface MasterCliOptions {
  config?: string;
  db: string;
  port: string;
  host: string;
  name: string;
  workdir: string;
}

export function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new KeelError('KEEL_ERR_USAGE', `--port must be 0-65535, got "${text}"`);
  return port;
}

export function registerMasterCommand(program: Command): void {
  program.command('master')
    .description('run the master: build queue, API on /api/v1, workers on /ws/worker')
    .option('--config <file>', 'config file (default: keel.config.* in the current folder)')
    .option('--db <url>', 'sqlite:PATH or postgres://…', 'sqlite:./keel.sqlite')
    .option('--port <port>', 'HTTP and WebSocket port', '8010')
    .option('--host <host>', 'address to listen on', '0.0.0.0')
    .option('--name <name>', 'this master\'s name: unique among masters sharing a database, and stable (a restart recovers its builds by it)', 'master')
    .option('--workdir <dir>', 'a folder the master may write (the git pollers\' mirrors)', 'keel-master')
    .action(async (opts: MasterCliOptions) => {
      const configPath = findConfigFile(process.cwd(), opts.config);
      if (!configPath) throw new KeelError('KEEL_ERR_CONFIG_LOAD', `no config file found in ${process.cwd()} (keel.config.{ts,mts,js,mjs,json})`);
      const log = consoleLog('keel master: ');
      const rt = await startMasterRuntime({ configPath, dbUrl: opts.db, port: parsePort(opts.port), host: opts.host, masterName: opts.name, workdir: resolve(opts.workdir) }, log);
      process.stdout.write(`keel master listening on http://${opts.host}:${rt.port}/ (API /api/v1, workers ws://${opts.host}:${rt.port}/ws/worker)\n`);
      await untilSignal();
      log.info('shutting down');
      await rt.close();
    });
}
