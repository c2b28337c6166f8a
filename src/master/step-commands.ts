// Turns a resolved step into the command a worker runs. Git steps become a small shell script so
// the worker stays a plain command runner with no knowledge of step kinds.
import type { ResolvedBuilder, ResolvedStep } from './config.js';
import type { CommandRequest } from './worker-registry.js';

/** The builder's folder under the worker's basedir: its name with anything odd replaced. */
function builderDir(builder: string): string {
  return builder.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_') || '_';
}

// Arguments: $1 repo, $2 ref to check out, $3 mode. Incremental keeps the checkout and its
// untracked build products; full starts from an empty folder.
const GIT_SCRIPT = `set -e
repo="$1"; ref="$2"; mode="$3"
if [ "$mode" = full ]; then find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +; fi
if [ ! -d .git ]; then git init -q .; git remote add origin "$repo"; fi
git remote set-url origin "$repo"
git fetch -q --tags --force origin "+refs/heads/*:refs/remotes/origin/*"
if [ "$ref" = FETCH_HEAD ]; then git fetch -q origin HEAD; fi
git -c advice.detachedHead=false checkout -q -f "$ref"
echo "got_revision: $(git rev-parse HEAD)"
`;

export interface StepContext {
  builder: ResolvedBuilder;
  branch: string | null;
  revision: string | null;
  env: Record<string, string>;
}

export function commandForStep(step: ResolvedStep, ctx: StepContext): CommandRequest {
  const workdir = `${builderDir(ctx.builder.name)}/${step.workdir ?? 'build'}`;
  const env = { ...ctx.env, ...ctx.builder.env, ...(step.env ?? {}) };
  const limits = { timeout: step.timeout, ...(step.maxTime !== undefined ? { maxTime: step.maxTime } : {}), killGraceMs: 5000 };
  if (step.type === 'git') {
    const branch = ctx.branch ?? step.branch ?? null;
    const ref = ctx.revision ?? (branch ? `origin/${branch}` : 'FETCH_HEAD');
    return { argv: ['sh', '-c', GIT_SCRIPT, 'keel-git', step.repo, ref, step.mode], workdir, env, ...limits };
  }
  const argv = typeof step.command === 'string' ? ['sh', '-c', step.command] : step.command;
  const reports = step.type === 'test' && step.reports !== undefined && step.reports.length > 0 ? { reports: step.reports } : {};
  return { argv, workdir, env, ...limits, ...reports };
}

/** Properties a step sets from its output lines: the config's, plus got_revision for git. */
export function propertyPatterns(step: ResolvedStep): [string, RegExp][] {
  const patterns = Object.entries(step.setProperties ?? {}).map(([k, v]): [string, RegExp] => [k, new RegExp(v)]);
  if (step.type === 'git') patterns.push(['got_revision', /^got_revision: ([0-9a-f]+)$/]);
  return patterns;
}
