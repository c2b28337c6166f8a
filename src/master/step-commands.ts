// Turns a resolved step into the command a worker runs. Git steps become a small shell script so
// the worker stays a plain command runner with no knowledge of step kinds.
import { KeelError } from '../errors.js';
import type { StepCommandFunction } from './config-schema.js';
import type { ResolvedBuilder, ResolvedStep } from './config.js';
import type { CommandRequest } from './worker-registry.js';

/** The builder's folder under the worker's basedir: its name with anything odd replaced. */
function builderDir(builder: string): string {
  return builder.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_') || '_';
}

// Arguments: $1 repo, $2 ref to check out, $3 mode, $4 a ref outside refs/heads to fetch first
// (a pull request's refs/pull/N/merge), or nothing. Incremental keeps the checkout and its
// untracked build products; full starts from an empty folder.
const GIT_SCRIPT = `set -e
repo="$1"; ref="$2"; mode="$3"; extra="$4"
if [ "$mode" = full ]; then find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +; fi
if [ ! -d .git ]; then git init -q .; git remote add origin "$repo"; fi
git remote set-url origin "$repo"
git fetch -q --tags --force origin "+refs/heads/*:refs/remotes/origin/*"
if [ -n "$extra" ]; then git fetch -q --force origin "+$extra:refs/keel/fetched"; fi
if [ "$ref" = FETCH_HEAD ]; then git fetch -q origin HEAD; fi
git -c advice.detachedHead=false checkout -q -f "$ref"
echo "got_revision: $(git rev-parse HEAD)"
`;

export interface StepContext {
  builder: ResolvedBuilder;
  branch: string | null;
  revision: string | null;
  env: Record<string, string>;
  /** The build's properties when the step starts: what a function-valued command is given. */
  props: Readonly<Record<string, unknown>>;
}

/**
 * What the git step checks out. A branch under refs/ that is not a branch head (a pull or merge
 * request, a tag) is fetched by its ref. A merge ref is built at its own tip, the test merge
 * GitHub made: the change's revision is the pull request's head (where a commit status goes),
 * which is not what the merge ref holds.
 */
function gitTarget(branch: string | null, revision: string | null): { ref: string; extra: string } {
  if (branch?.startsWith('refs/') && !branch.startsWith('refs/heads/')) {
    if (branch.endsWith('/merge') || revision === null) return { ref: 'refs/keel/fetched', extra: branch };
    return { ref: revision, extra: branch };
  }
  const name = branch?.startsWith('refs/heads/') ? branch.slice('refs/heads/'.length) : branch;
  return { ref: revision ?? (name ? `origin/${name}` : 'FETCH_HEAD'), extra: '' };
}

export function commandForStep(step: ResolvedStep, ctx: StepContext): CommandRequest {
  const workdir = `${builderDir(ctx.builder.name)}/${step.workdir ?? 'build'}`;
  const env = { ...ctx.env, ...ctx.builder.env, ...(step.env ?? {}) };
  const limits = { timeout: step.timeout, ...(step.maxTime !== undefined ? { maxTime: step.maxTime } : {}), killGraceMs: 5000 };
  if (step.type === 'git') {
    const { ref, extra } = gitTarget(ctx.branch ?? step.branch ?? null, ctx.revision);
    return { argv: ['sh', '-c', GIT_SCRIPT, 'keel-git', step.repo, ref, step.mode, extra], workdir, env, ...limits };
  }
  const argv = commandArgv(typeof step.command === 'function' ? renderCommand(step.command, ctx.props) : step.command);
  const reports = step.type === 'test' && step.reports !== undefined && step.reports.length > 0 ? { reports: step.reports } : {};
  return { argv, workdir, env, ...limits, ...reports };
}

function commandArgv(command: string | readonly string[]): string[] {
  return typeof command === 'string' ? ['sh', '-c', command] : [...command];
}

/**
 * Calls a function-valued command with the build's properties. What it throws or returns amiss
 * is a KEEL_ERR_STEP_COMMAND: the step ends in EXCEPTION with that reason.
 */
function renderCommand(command: StepCommandFunction, props: Readonly<Record<string, unknown>>): string | string[] {
  let out: unknown;
  try {
    out = command({ props });
  } catch (err) {
    throw new KeelError('KEEL_ERR_STEP_COMMAND', `the step's command function threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if ((typeof out === 'string' && out.trim() !== '') || (Array.isArray(out) && out.length > 0 && out.every((a) => typeof a === 'string'))) return out as string | string[];
  throw new KeelError('KEEL_ERR_STEP_COMMAND', `the step's command function must return a command string or a non-empty argv array, got ${JSON.stringify(out) ?? typeof out}`);
}

/** Properties a step sets from its output lines: the config's, plus got_revision for git. */
export function propertyPatterns(step: ResolvedStep): [string, RegExp][] {
  const patterns = Object.entries(step.setProperties ?? {}).map(([k, v]): [string, RegExp] => [k, new RegExp(v)]);
  if (step.type === 'git') patterns.push(['got_revision', /^got_revision: ([0-9a-f]+)$/]);
  return patterns;
}
