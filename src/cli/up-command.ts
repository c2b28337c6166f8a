// `keel up`: a master, one local worker and SQLite under ./.keel/ in one process — the demo and
// the single-machine setup. Without a config of its own it builds examples/demo-project.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { findConfigFile } from '../master/config-loader.js';
import type { ResolvedConfig } from '../master/config.js';
import { collectWorkerInfo } from '../worker/worker-info.js';
import { WorkerClient } from '../worker/worker-client.js';
import { parsePort } from './master-command.js';
import { consoleLog, startMasterRuntime, untilSignal } from './master-runtime.js';

interface UpCliOptions {
  config?: string;
  db?: string;
  port: string;
  host: string;
}

const LOCAL_WORKER = 'local';
const EXAMPLE_CONFIG = fileURLToPath(new URL('../../../examples/keel.config.mjs', import.meta.url));

/** Gives the config a worker named `local` with this process's secret. */
function withLocalWorker(config: ResolvedConfig, secret: string): ResolvedConfig {
  const others = config.workers.filter((w) => w.name !== LOCAL_WORKER);
  const existing = config.workers.find((w) => w.name === LOCAL_WORKER);
  return { ...config, workers: [...others, { name: LOCAL_WORKER, secret, maxBuilds: existing?.maxBuilds ?? 2, tags: existing?.tags ?? [] }] };
}

export function registerUpCommand(program: Command): void {
  program.command('up')
    .description('run a master and a local worker with SQLite under ./.keel/ (the example project if no config)')
    .option('--config <file>', 'config file (default: keel.config.* here, else Keel\'s example)')
    .option('--db <url>', 'sqlite:PATH or postgres://… (default: sqlite:./.keel/keel.sqlite)')
    .option('--port <port>', 'HTTP and WebSocket port', '8010')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (opts: UpCliOptions) => {
      const dataDir = resolve('.keel');
      const own = findConfigFile(process.cwd(), opts.config);
      const configPath = own ?? EXAMPLE_CONFIG;
      const secret = process.env['KEEL_LOCAL_SECRET'] ?? randomBytes(16).toString('hex');
      process.env['KEEL_LOCAL_SECRET'] = secret;
      const log = consoleLog('keel: ');
      const rt = await startMasterRuntime({
        configPath, dbUrl: opts.db ?? `sqlite:${resolve(dataDir, 'keel.sqlite')}`, port: parsePort(opts.port), host: opts.host,
        masterName: 'up', workdir: resolve(dataDir, 'master'), adjust: (c) => withLocalWorker(c, secret),
      }, log);
      const worker = new WorkerClient({
        masterUrl: `ws://127.0.0.1:${rt.port}`, name: LOCAL_WORKER, secret, basedir: resolve(dataDir, 'worker'),
        maxBuilds: rt.master.resolvedConfig.workers.find((w) => w.name === LOCAL_WORKER)?.maxBuilds ?? 2,
        info: collectWorkerInfo(), log: consoleLog('keel worker local: '),
      });
      worker.start();
      await worker.whenConnected();
      process.stdout.write([
        `Keel is up: http://${opts.host}:${rt.port}/  (API http://${opts.host}:${rt.port}/api/v1/)`,
        `config: ${configPath}${own ? '' : ' (the example; write a keel.config.ts here to build your own)'}`,
        `data:   ${dataDir}`,
        '',
      ].join('\n'));
      if (!own && (await rt.storage.listBuilds({ limit: 1 })).total === 0) {
        // First run of the demo: build once so there is something to look at.
        for (const b of rt.master.resolvedConfig.builders) await rt.master.submit(b.name, { reason: 'first keel up' });
      }
      await untilSignal();
      await worker.stop();
      await rt.close();
    });
}
