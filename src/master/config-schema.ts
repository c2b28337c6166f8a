// The zod schema of a Keel config: what the user writes (`KeelConfig`, `BuilderConfig`, step
// configs), with defaults filled on parsing. Resolution and cross-field checks are in config.ts.
import { z } from 'zod';
import { RESULT_FORMATS } from '../results/result-parser.js';
import { functionSchema, secretSchema, sourceConfigSchema } from './changes/source-config-schema.js';
import { RESULTS } from './results.js';
import { schedulerConfigSchema } from './schedulers/scheduler-config-schema.js';

export { secretSchema };

/** What a step's function-valued command is given when the step starts. */
export interface StepCommandContext {
  /** The build's properties so far: branch, revision, buildnumber, the force parameters, got_revision … */
  props: Readonly<Record<string, unknown>>;
}

export type StepCommandFunction = (ctx: StepCommandContext) => string | string[];

const envSchema = z.record(z.string(), z.string());

/** Options every step has. Times are in seconds. */
const stepCommon = {
  name: z.string().min(1).optional(),
  env: envSchema.optional(),
  /** Relative to the builder's folder on the worker; default `build`. */
  workdir: z.string().min(1).optional(),
  /** Seconds without output before the command is killed. */
  timeout: z.number().positive().default(1200),
  /** Seconds the command may run in all, output or not. */
  maxTime: z.number().positive().optional(),
  haltOnFailure: z.boolean().default(false),
  flunkOnFailure: z.boolean().default(true),
  warnOnFailure: z.boolean().default(false),
  alwaysRun: z.boolean().default(false),
  /** Exit code → result; unlisted codes: 0 is success, anything else failure. */
  decodeRC: z.record(z.string().regex(/^-?\d+$/, 'exit codes are integers'), z.enum(RESULTS)).optional(),
  /** Build property name → regular expression over the step's output lines; group 1 (or the match) is the value. */
  setProperties: z.record(z.string(), z.string()).optional(),
};

const commandSchema = z.union([
  z.string().min(1), z.array(z.string()).min(1),
  // Rendered when the step starts, from the build's properties (only in a .ts/.js/.mjs config).
  functionSchema<StepCommandFunction>('({ props }) => command'),
]);

export const shellStepSchema = z.object({ type: z.literal('shell'), command: commandSchema, ...stepCommon }).strict();

export const gitStepSchema = z.object({
  type: z.literal('git'),
  repo: z.string().min(1),
  /** Branch to build when the request names none. */
  branch: z.string().min(1).optional(),
  mode: z.enum(['incremental', 'full']).default('incremental'),
  ...stepCommon,
}).strict();

/** A shell step whose output and report files the test-intelligence code will parse. */
export const testStepSchema = z.object({
  type: z.literal('test'),
  command: commandSchema,
  reports: z.array(z.string().min(1)).optional(),
  /** The format of the step's output; `auto` tells it from the content (src/results/detect-format.ts). */
  format: z.enum(['auto', ...RESULT_FORMATS]).default('auto'),
  ...stepCommon,
}).strict();

export const stepSchema = z.discriminatedUnion('type', [shellStepSchema, gitStepSchema, testStepSchema]);

export const workerSchema = z.object({
  name: z.string().min(1),
  secret: secretSchema,
  maxBuilds: z.number().int().positive().default(1),
  tags: z.array(z.string()).default([]),
}).strict();

export const builderSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  tags: z.array(z.string()).default([]),
  workers: z.array(z.string().min(1)).min(1),
  env: envSchema.default({}),
  properties: z.record(z.string(), z.unknown()).default({}),
  /** Queued requests of one branch merge into one build (the newest revision, all the changes). */
  collapse: z.boolean().default(true),
  /** A newer change on a branch stops the builder's running build of that branch. */
  cancelSuperseded: z.boolean().default(false),
  steps: z.array(stepSchema).min(1),
}).strict();

/** Parts that later issues fill in; for now any object with a `type`. */
const pluginSchema = z.object({ type: z.string().min(1) }).passthrough();


export const configSchema = z.object({
  title: z.string().optional(),
  workers: z.array(workerSchema).default([]),
  builders: z.array(builderSchema).default([]),
  sources: z.array(sourceConfigSchema).default([]),
  schedulers: z.array(schedulerConfigSchema).default([]),
  reporters: z.array(pluginSchema).default([]),
  auth: z.object({ tokens: z.array(secretSchema).default([]) }).strict().default({ tokens: [] }),
}).strict();

export type SecretConfig = z.input<typeof secretSchema>;
export type ShellStepConfig = z.input<typeof shellStepSchema>;
export type GitStepConfig = z.input<typeof gitStepSchema>;
export type TestStepConfig = z.input<typeof testStepSchema>;
export type StepConfig = z.input<typeof stepSchema>;
export type WorkerConfig = z.input<typeof workerSchema>;
export type BuilderConfig = z.input<typeof builderSchema>;
export type KeelConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type ParsedStep = z.output<typeof stepSchema>;
