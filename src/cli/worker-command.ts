// `keel worker --master ws://HOST:PORT --name N --secret S [--basedir D] [--max-builds N]`:
// runs the worker daemon until interrupted.
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { collectWorkerInfo } from '../worker/worker-info.js';
import { WorkerClient } from '../worker/worker-client.js';

interface WorkerCliOptions {
  master: string;
  name: string;
  secret?: string;
  basedir: string;
  maxBuilds?: string;
}

export function registerWorkerCommand(program: Command): void {
  program.command('worker')
    .description('run a worker: connect to a master and run the builds it sends')
    .requiredOption('--master <url>', 'the master, ws://HOST:PORT')
    .requiredOption('--name <name>', 'this worker\'s name, as in the master\'s config')
    .option('--secret <secret>', 'this worker\'s secret (default: $KEEL_WORKER_SECRET)')
    .option('--basedir <dir>', 'folder for builders\' checkouts', './keel-worker')
    .option('--max-builds <n>', 'builds to run at once at most (default: the worker\'s maxBuilds in the master\'s config)')
    .action(async (opts: WorkerCliOptions) => {
      const secret = opts.secret ?? process.env['KEEL_WORKER_SECRET'];
      if (!secret) throw new KeelError('KEEL_ERR_USAGE', 'a worker needs --secret or $KEEL_WORKER_SECRET');
      const maxBuilds = opts.maxBuilds === undefined ? undefined : Number(opts.maxBuilds);
      if (maxBuilds !== undefined && (!Number.isInteger(maxBuilds) || maxBuilds < 1)) throw new KeelError('KEEL_ERR_USAGE', `--max-builds must be a positive integer, got "${opts.maxBuilds}"`);
      try {
        new URL(opts.master);
      } catch {
        throw new KeelError('KEEL_ERR_USAGE', `--master must be a URL like ws://HOST:8010, got "${opts.master}"`);
      }
      const log = {
        info: (m: string) => process.stderr.write(`keel worker ${opts.name}: ${m}\n`),
        warn: (m: string) => process.stderr.write(`keel worker ${opts.name}: warning: ${m}\n`),
      };
      const worker = new WorkerClient({ masterUrl: opts.master, name: opts.name, secret, basedir: opts.basedir, ...(maxBuilds !== undefined ? { maxBuilds } : {}), info: collectWorkerInfo(), log });
      await new Promise<void>((resolve, reject) => {
        worker.onFatal((err) => reject(new KeelError('KEEL_ERR_WORKER_AUTH', err.message)));
        for (const signal of ['SIGINT', 'SIGTERM'] as const) {
          process.once(signal, () => void worker.stop().then(resolve));
        }
        worker.start();
      });
    });
}
