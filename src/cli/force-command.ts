// `keel force BUILDER [--branch B] [--revision R] [--reason TEXT]`: asks a running master to
// build, through its API; with --wait, follows the build and exits by its result.
import type { Command } from 'commander';
import { KeelError } from '../errors.js';

interface ForceCliOptions {
  branch?: string;
  revision?: string;
  reason?: string;
  master: string;
  token?: string;
  wait?: boolean;
}

async function call(base: string, path: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${base.replace(/\/$/, '')}/api/v1${path}`, init);
  } catch (err) {
    throw new KeelError('KEEL_ERR_USAGE', `cannot reach the master at ${base}: ${(err as Error).message}`, { cause: err });
  }
  const body = (await res.json()) as { error?: { code: string; message: string } };
  if (!res.ok) throw new KeelError('KEEL_ERR_USAGE', `the master answered ${res.status}: ${body.error?.message ?? JSON.stringify(body)}${body.error ? ` [${body.error.code}]` : ''}`);
  return body;
}

export function registerForceCommand(program: Command): void {
  program.command('force')
    .description('ask a running master to build BUILDER now')
    .argument('<builder>', 'builder name')
    .option('--branch <branch>', 'branch to build')
    .option('--revision <rev>', 'revision to build')
    .option('--reason <text>', 'why (shown with the build)')
    .option('--master <url>', 'the master\'s HTTP address', 'http://127.0.0.1:8010')
    .option('--token <token>', 'API token (default: $KEEL_TOKEN)')
    .option('--wait', 'wait for the build and exit 0 only if it succeeded (or warned)')
    .action(async (builder: string, opts: ForceCliOptions) => {
      const token = opts.token ?? process.env['KEEL_TOKEN'];
      const body = {
        ...(opts.branch ? { branch: opts.branch } : {}), ...(opts.revision ? { revision: opts.revision } : {}),
        reason: opts.reason ?? 'forced from the command line',
      };
      const headers: Record<string, string> = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
      const { requestId } = (await call(opts.master, `/builders/${encodeURIComponent(builder)}/force`, { method: 'POST', headers, body: JSON.stringify(body) })) as { requestId: number };
      process.stdout.write(`request ${requestId} queued for ${builder}\n`);
      if (!opts.wait) return;
      for (;;) {
        const req = (await call(opts.master, `/requests/${requestId}`, {})) as { buildIds: number[] };
        const last = req.buildIds[req.buildIds.length - 1];
        if (last !== undefined) {
          const build = (await call(opts.master, `/builds/${last}`, {})) as { number: number; result: string | null };
          if (build.result !== null && build.result !== 'retry') {
            process.stdout.write(`${builder} #${build.number} (build ${last}): ${build.result}\n`);
            process.exitCode = build.result === 'success' || build.result === 'warnings' ? 0 : 1;
            return;
          }
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    });
}
