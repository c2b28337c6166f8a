// The force scheduler: builds on request (the force endpoint, `keel force --param k=v`), with
// typed parameters that are checked before anything is queued.
import { KeelError } from '../../errors.js';
import { checkBuilders, type BuildRequestInput, type Scheduler, type SchedulerDeps } from './scheduler.js';

interface ParamCommon {
  /** The property name the value is given to the build under. */
  name: string;
  label?: string;
  /** A parameter with no default must be given. */
  required?: boolean;
}

export type ForceParam =
  | (ParamCommon & { type: 'string'; default?: string; regex?: RegExp; maxLength?: number })
  | (ParamCommon & { type: 'choice'; choices: string[]; default?: string })
  | (ParamCommon & { type: 'boolean'; default?: boolean })
  | (ParamCommon & { type: 'int'; default?: number; min?: number; max?: number });

export type ForceParamValue = string | boolean | number;

export type ForceParamsCheck = { ok: true; values: Record<string, ForceParamValue> } | { ok: false; problems: string[] };

/** Checks a parameter list written in a config; throws KEEL_ERR_SCHEDULER_INVALID naming each problem. */
function checkForceParamSpecs(params: readonly ForceParam[], who: string): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [i, p] of params.entries()) {
    const at = `params.${i}`;
    if (typeof p.name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(p.name)) problems.push(`${at}.name: a property name (letters, digits, _ . -)`);
    else if (seen.has(p.name)) problems.push(`${at}.name: ${p.name} is declared twice`);
    else seen.add(p.name);
    if (p.type === 'choice') {
      if (!Array.isArray(p.choices) || p.choices.length === 0) problems.push(`${at}.choices: at least one choice`);
      else if (p.default !== undefined && !p.choices.includes(p.default)) problems.push(`${at}.default: ${p.default} is not one of the choices`);
    } else if (!['string', 'boolean', 'int'].includes((p as { type: string }).type)) {
      problems.push(`${at}.type: one of string, choice, boolean, int`);
    }
  }
  if (problems.length > 0) throw new KeelError('KEEL_ERR_SCHEDULER_INVALID', `${who}: ${problems.join('; ')}`);
}

/**
 * Checks given parameter values against the declared ones, filling defaults. Values may be typed
 * (a JSON body) or strings (the command line): 'true'/'false', '1'/'0', 'yes'/'no' for a
 * boolean, decimal digits for an int.
 */
export function validateForceParams(params: readonly ForceParam[], given: Record<string, unknown>): ForceParamsCheck {
  const problems: string[] = [];
  const values: Record<string, ForceParamValue> = {};
  const declared = new Set(params.map((p) => p.name));
  for (const key of Object.keys(given)) if (!declared.has(key)) problems.push(`${key}: no such parameter`);
  for (const p of params) {
    const raw = given[p.name];
    if (raw === undefined || raw === '') {
      if (p.default !== undefined) values[p.name] = p.default;
      else if (p.required || p.type === 'choice') problems.push(`${p.name}: required`);
      else if (p.type === 'boolean') values[p.name] = false;
      else if (p.type === 'string') values[p.name] = '';
      continue;
    }
    const value = coerce(p, raw);
    if (typeof value === 'string' && value.startsWith('\0')) problems.push(`${p.name}: ${value.slice(1)}`);
    else values[p.name] = value;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, values };
}

// A problem comes back as a string starting with NUL, which no accepted value can hold.
function coerce(p: ForceParam, raw: unknown): ForceParamValue {
  switch (p.type) {
    case 'string': {
      if (typeof raw !== 'string') return '\0a string';
      if (p.maxLength !== undefined && raw.length > p.maxLength) return `\0at most ${p.maxLength} characters`;
      if (p.regex && !new RegExp(`^(?:${p.regex.source})$`, p.regex.flags.replace('g', '')).test(raw)) return `\0must match /${p.regex.source}/`;
      return raw;
    }
    case 'choice':
      return typeof raw === 'string' && p.choices.includes(raw) ? raw : `\0one of ${p.choices.join(', ')}`;
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const text = typeof raw === 'string' ? raw.toLowerCase() : '';
      if (['true', '1', 'yes', 'on'].includes(text)) return true;
      if (['false', '0', 'no', 'off'].includes(text)) return false;
      return '\0true or false';
    }
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) return '\0an integer';
      if (p.min !== undefined && n < p.min) return `\0at least ${p.min}`;
      if (p.max !== undefined && n > p.max) return `\0at most ${p.max}`;
      return n;
    }
  }
}

export interface ForceOptions {
  name?: string;
  builders: string[];
  params?: ForceParam[];
  properties?: Record<string, unknown>;
}

export interface ForceRequest {
  /** One builder; default all of the scheduler's. */
  builder?: string;
  repository?: string;
  branch?: string;
  revision?: string;
  reason?: string;
  owner?: string;
  params?: Record<string, unknown>;
}

/** What force() submitted, with the queue's id for it when the submitter gave one. */
export type ForcedRequest = BuildRequestInput & { requestId?: number };

/** A Scheduler like the others (its start, addChange and stop do nothing), plus force(). */
export interface ForceScheduler extends Scheduler {
  readonly params: readonly ForceParam[];
  /**
   * Checks the request (KEEL_ERR_FORCE_PARAMS listing every problem, before anything is queued)
   * and submits one request per builder; resolves with what was submitted.
   */
  force(request: ForceRequest): Promise<ForcedRequest[]>;
}

export function forceScheduler(options: ForceOptions, deps: Pick<SchedulerDeps, 'submitter'>): ForceScheduler {
  const name = options.name ?? 'force';
  const who = `force scheduler ${name}`;
  const builders = checkBuilders(options.builders, who);
  const params = options.params ?? [];
  checkForceParamSpecs(params, who);
  return {
    name,
    builders,
    params,
    start() {},
    addChange() {},
    async stop() {},
    async force(request) {
      const problems: string[] = [];
      if (request.builder !== undefined && !builders.includes(request.builder)) problems.push(`builder: ${request.builder} is not one of ${builders.join(', ')}`);
      const checked = validateForceParams(params, request.params ?? {});
      if (!checked.ok) problems.push(...checked.problems.map((p) => `params.${p}`));
      if (problems.length > 0) throw new KeelError('KEEL_ERR_FORCE_PARAMS', `cannot force: ${problems.join('; ')}`);
      const values = checked.ok ? checked.values : {};
      const targets = request.builder !== undefined ? [request.builder] : builders;
      const reason = request.reason?.trim() || `forced${request.owner ? ` by ${request.owner}` : ''}`;
      const base: Omit<BuildRequestInput, 'builder'> = {
        scheduler: name, reason, repository: request.repository, branch: request.branch, revision: request.revision,
        changes: [], owner: request.owner,
        properties: { ...options.properties, ...values, scheduler: name, ...(request.owner ? { owner: request.owner } : {}) },
      };
      // Unlike the timed schedulers, someone is waiting for the answer: a failed submission is theirs to see.
      return Promise.all(targets.map(async (builder): Promise<ForcedRequest> => {
        const request: BuildRequestInput = { ...base, builder };
        const requestId = await deps.submitter.submit(request);
        return typeof requestId === 'number' ? { ...request, requestId } : request;
      }));
    },
  };
}

/**
 * `keel force --param k=v …` into the params object force() takes; the value is everything after
 * the first `=`, so it may hold more. A pair without `=` or a name given twice is refused.
 */
export function parseParamAssignments(pairs: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  const problems: string[] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) { problems.push(`${JSON.stringify(pair)}: write NAME=VALUE`); continue; }
    const name = pair.slice(0, eq);
    if (Object.hasOwn(params, name)) problems.push(`${name}: given twice`);
    params[name] = pair.slice(eq + 1);
  }
  if (problems.length > 0) throw new KeelError('KEEL_ERR_FORCE_PARAMS', `--param: ${problems.join('; ')}`);
  return params;
}
