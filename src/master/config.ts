// The config's public face and its resolution: `defineConfig` and the step/plugin helpers users
// import from 'keel', and `resolveConfig`, which validates a loaded config (every problem, with
// its path) and turns it into the `ResolvedConfig` the master runs on.
import type { z } from 'zod';
import { KeelError } from '../errors.js';
import type { GenericHookConfig, GithubHookConfig, GitlabHookConfig, GitPollerConfig } from './changes/source-config-schema.js';
import { configSchema } from './config-schema.js';
import type {
  GitStepConfig, KeelConfig, ParsedConfig, ParsedStep, SecretConfig, ShellStepConfig, TestStepConfig,
} from './config-schema.js';
import { createSchedulers } from './schedulers/create-schedulers.js';
import type { SchedulerConfig } from './schedulers/create-schedulers.js';
import type { ForceConfig, NightlyConfig, OnChangeConfig, PeriodicConfig } from './schedulers/scheduler-config-schema.js';

export type {
  BuilderConfig, GitStepConfig, KeelConfig, ShellStepConfig, StepCommandContext, StepCommandFunction, StepConfig, TestStepConfig, WorkerConfig,
} from './config-schema.js';
export type { GenericHookConfig, GithubHookConfig, GitlabHookConfig, GitPollerConfig } from './changes/source-config-schema.js';
export type { ForceConfig, NightlyConfig, OnChangeConfig, PeriodicConfig } from './schedulers/scheduler-config-schema.js';

/** Identity, for types: `export default defineConfig({ ... })`. */
export function defineConfig(config: KeelConfig): KeelConfig {
  return config;
}

type Helper<T extends { type: string }> = (options: Omit<T, 'type'>) => T;

export const shell: Helper<ShellStepConfig> = (options) => ({ type: 'shell', ...options });
export const git: Helper<GitStepConfig> = (options) => ({ type: 'git', ...options });
export const test: Helper<TestStepConfig> = (options) => ({ type: 'test', ...options });

// Change sources (docs/changes-and-schedulers.md).
export const gitPoller: Helper<GitPollerConfig> = (options) => ({ type: 'gitPoller', ...options });
export const githubHook: Helper<GithubHookConfig> = (options) => ({ type: 'githubHook', ...options });
export const gitlabHook: Helper<GitlabHookConfig> = (options) => ({ type: 'gitlabHook', ...options });
export const genericHook: Helper<GenericHookConfig> = (options) => ({ type: 'genericHook', ...options });

// Schedulers.
export const onChange: Helper<OnChangeConfig> = (options) => ({ type: 'onChange', ...options });
export const periodic: Helper<PeriodicConfig> = (options) => ({ type: 'periodic', ...options });
export const nightly: Helper<NightlyConfig> = (options) => ({ type: 'nightly', ...options });
export const force: Helper<ForceConfig> = (options) => ({ type: 'force', ...options });

/** One thing wrong with a config, at the path of its field (`builders[2].steps[0].timeout`). */
export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigInvalidError extends KeelError {
  constructor(readonly problems: ConfigProblem[], source?: string) {
    const where = source ? ` in ${source}` : '';
    const list = problems.map((p) => `  ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n');
    super('KEEL_ERR_CONFIG_INVALID', `the configuration${where} has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${list}`);
  }
}

export type ResolvedStep = ParsedStep & { name: string };

export interface ResolvedWorker {
  name: string;
  secret: string;
  maxBuilds: number;
  tags: string[];
}

export interface ResolvedBuilder {
  name: string;
  description: string | null;
  tags: string[];
  workers: string[];
  env: Record<string, string>;
  properties: Record<string, unknown>;
  collapse: boolean;
  cancelSuperseded: boolean;
  steps: ResolvedStep[];
}

type ParsedSource = ParsedConfig['sources'][number];

/** A source with its secrets read from the environment. */
export type ResolvedSource =
  | Extract<ParsedSource, { type: 'gitPoller' }>
  | (Omit<Extract<ParsedSource, { type: 'githubHook' }>, 'secret'> & { secret?: string })
  | (Omit<Extract<ParsedSource, { type: 'gitlabHook' }>, 'token'> & { token?: string })
  | (Omit<Extract<ParsedSource, { type: 'genericHook' }>, 'tokens'> & { tokens: string[] });

export interface ResolvedConfig {
  title: string;
  workers: ResolvedWorker[];
  builders: ResolvedBuilder[];
  sources: ResolvedSource[];
  schedulers: SchedulerConfig[];
  reporters: ParsedConfig['reporters'];
  authTokens: string[];
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  if (text === undefined) return typeof value;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const ARTICLE: Record<string, string> = { number: 'a number', string: 'a string', boolean: 'a boolean', array: 'an array', object: 'an object', int: 'an integer' };

function problemOf(issue: z.core.$ZodIssue): ConfigProblem {
  const path = formatPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_type':
      return { path, message: input === undefined ? `required: expected ${ARTICLE[issue.expected] ?? issue.expected}` : `expected ${ARTICLE[issue.expected] ?? issue.expected}, got ${describeValue(input)}` };
    case 'invalid_value':
      return { path, message: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(input)}` };
    case 'unrecognized_keys':
      return { path, message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` };
    case 'invalid_union': {
      const options = (issue as { options?: unknown[] }).options;
      if (options) {
        const got = (input as Record<string, unknown> | undefined)?.['type'];
        return { path, message: `expected one of ${options.map((o) => JSON.stringify(o)).join(', ')}, got ${describeValue(got)}` };
      }
      return { path, message: `${issue.message}, got ${describeValue(input)}` };
    }
    default:
      return { path, message: `${issue.message}${input !== undefined && typeof input !== 'object' ? `, got ${describeValue(input)}` : ''}` };
  }
}

function defaultStepName(step: ParsedStep): string {
  if (step.type === 'git') return 'git';
  if (typeof step.command === 'function') return step.type;
  const command = typeof step.command === 'string' ? step.command : step.command.join(' ');
  return command.split(/\s+/)[0] ?? step.type;
}

/**
 * Validates and resolves a loaded config. Collects every problem, schema and cross-field
 * (duplicate names, unknown workers, unset secret variables), before throwing one
 * ConfigInvalidError listing them all.
 */
export function resolveConfig(input: unknown, options: { env?: NodeJS.ProcessEnv; source?: string } = {}): ResolvedConfig {
  const env = options.env ?? process.env;
  const parsed = configSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new ConfigInvalidError(parsed.error.issues.map(problemOf), options.source);
  const config = parsed.data;
  const problems: ConfigProblem[] = [];

  const secret = (value: SecretConfig, path: string): string => {
    if (typeof value === 'string') return value;
    const found = env[value.env];
    if (!found) problems.push({ path, message: `environment variable ${value.env} is not set` });
    return found ?? '';
  };

  const workerNames = new Set<string>();
  const workers = config.workers.map((w, i): ResolvedWorker => {
    if (workerNames.has(w.name)) problems.push({ path: `workers[${i}].name`, message: `duplicate worker name "${w.name}"` });
    workerNames.add(w.name);
    return { name: w.name, secret: secret(w.secret, `workers[${i}].secret`), maxBuilds: w.maxBuilds, tags: w.tags };
  });

  const builderNames = new Set<string>();
  const builders = config.builders.map((b, i): ResolvedBuilder => {
    if (builderNames.has(b.name)) problems.push({ path: `builders[${i}].name`, message: `duplicate builder name "${b.name}"` });
    builderNames.add(b.name);
    b.workers.forEach((w, j) => {
      if (!workerNames.has(w)) problems.push({ path: `builders[${i}].workers[${j}]`, message: `no worker named "${w}" in workers` });
    });
    const stepNames = new Map<string, number>();
    const steps = b.steps.map((s): ResolvedStep => {
      // Step names are how the API addresses steps, so they are made unique: "make", "make_2".
      const base = s.name ?? defaultStepName(s);
      const seen = (stepNames.get(base) ?? 0) + 1;
      stepNames.set(base, seen);
      return { ...s, name: seen === 1 ? base : `${base}_${seen}` };
    });
    b.steps.forEach((s, j) => {
      for (const [prop, pattern] of Object.entries(s.setProperties ?? {})) {
        try {
          new RegExp(pattern);
        } catch (err) {
          problems.push({ path: `builders[${i}].steps[${j}].setProperties.${prop}`, message: `invalid regular expression: ${(err as Error).message}` });
        }
      }
    });
    return {
      name: b.name, description: b.description ?? null, tags: b.tags, workers: b.workers, env: b.env, properties: b.properties,
      collapse: b.collapse, cancelSuperseded: b.cancelSuperseded, steps,
    };
  });

  const polled = new Set<string>();
  const hooks = new Set<string>();
  const sources = config.sources.map((s, i): ResolvedSource => {
    if (s.type === 'gitPoller') {
      if (polled.has(s.repo)) problems.push({ path: `sources[${i}].repo`, message: `${s.repo} is polled twice` });
      polled.add(s.repo);
      return s;
    }
    if (hooks.has(s.type)) problems.push({ path: `sources[${i}].type`, message: `a second ${s.type}: one per master` });
    hooks.add(s.type);
    switch (s.type) {
      case 'githubHook': {
        const { secret: given, ...rest } = s;
        return given === undefined ? rest : { ...rest, secret: secret(given, `sources[${i}].secret`) };
      }
      case 'gitlabHook': {
        const { token, ...rest } = s;
        return token === undefined ? rest : { ...rest, token: secret(token, `sources[${i}].token`) };
      }
      case 'genericHook':
        return { ...s, tokens: s.tokens.map((t, j) => secret(t, `sources[${i}].tokens[${j}]`)) };
    }
  });

  const schedulers = config.schedulers as SchedulerConfig[];
  schedulers.forEach((sc, i) => sc.builders.forEach((name, j) => {
    if (!builderNames.has(name)) problems.push({ path: `schedulers[${i}].builders[${j}]`, message: `no builder named "${name}" in builders` });
  }));
  try {
    // Made and dropped, never started: what only a scheduler itself checks (a cron expression, a
    // time zone, duplicate names) is reported with every other problem, and by keel checkconfig.
    const noop = { clock: { now: () => 0, setTimer: () => () => {} }, submitter: { submit: async () => {} }, log: { info() {}, warn() {}, error() {} } };
    createSchedulers(schedulers, noop);
  } catch (err) {
    if (!(err instanceof KeelError)) throw err;
    const m = /^schedulers\.(\d+): (.*)$/s.exec(err.message);
    problems.push(m ? { path: `schedulers[${m[1]}]`, message: m[2]! } : { path: 'schedulers', message: err.message });
  }

  const authTokens = config.auth.tokens.map((t, i) => secret(t, `auth.tokens[${i}]`));
  if (problems.length > 0) throw new ConfigInvalidError(problems, options.source);
  return { title: config.title ?? 'Keel', workers, builders, authTokens, sources, schedulers, reporters: config.reporters };
}
