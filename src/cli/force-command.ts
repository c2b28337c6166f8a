// `keel force BUILDER [--branch B] [--revision R] [--reason TEXT] [--param k=v …]`: asks a
// running master to build, through its API; with --wait, follows the build and exits by its result.
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { KeelError } from '../errors.js';
import { parseParamAssignments } from '../master/schedulers/force-scheduler.js';

interface ForceCliOptions {
  branch?: string;
  revision?: string;
  reason?: string;
  master: string;
  token?: string;
  wait?: boolean;
  param: string[];
  owner?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function defaultOwner(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
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
    .option('--param <name=value>', 'a parameter of the builder\'s force scheduler (repeatable); the master checks it', collect, [])
    .option('--owner <name>', 'who asks (the build\'s owner property; default: your user name)')
    .option('--wait', 'wait for the build and exit 0 only if it succeeded (or warned)')
    .action(async (builder: string, opts: ForceCliOptions) => {
      const token = opts.token ?? process.env['KEEL_TOKEN'];
      let params: Record<string, string>;
      try {
        params = parseParamAssignments(opts.param);
      } catch (err) {
        throw new KeelError('KEEL_ERR_USAGE', (err as Error).message);
      }
      const owner = opts.owner ?? defaultOwner();
      const body = {
        ...(opts.branch ? { branch: opts.branch } : {}), ...(opts.revision ? { revision: opts.revision } : {}),
        reason: opts.reason ?? 'forced from the command line', ...(owner ? { owner } : {}),
        ...(Object.keys(params).length > 0 ? { params } : {}),
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
