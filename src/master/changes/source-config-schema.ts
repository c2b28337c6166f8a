// The zod schema of the `sources` entries of a config (the git poller and the webhooks), so that a
// wrong field is reported with its path; gitPoller and the hook handlers take what it outputs.
import { z } from 'zod';

/** A secret written in the config, or the name of the environment variable holding it. */
export const secretSchema = z.union([z.string().min(1), z.object({ env: z.string().min(1) }).strict()]);

/** A function-valued option (only in a .ts or .mjs config); `what` says its shape in the message. */
export const functionSchema = <T extends (...args: never[]) => unknown>(what: string) =>
  z.custom<T>((v) => typeof v === 'function', { message: `expected a function (${what})` });

const gitPollerConfigSchema = z.object({
  type: z.literal('gitPoller'),
  repo: z.string().min(1),
  branches: z.union([z.array(z.string().min(1)).min(1), z.literal('all'), functionSchema<(branch: string) => boolean>('branch => boolean')]).optional(),
  interval: z.number().positive().default(60),
  category: z.string().optional(),
  project: z.string().optional(),
  revlink: functionSchema<(revision: string) => string | undefined>('revision => url').optional(),
  maxChangesPerBranch: z.number().int().positive().optional(),
}).strict();

const skipPatterns = z.array(z.instanceof(RegExp)).optional();

/** POST /hooks/github; without `secret` anyone who can reach the port can report changes. */
const githubHookConfigSchema = z.object({
  type: z.literal('githubHook'),
  secret: secretSchema.optional(),
  pullRequestRef: z.enum(['merge', 'head']).optional(),
  skipPatterns,
  category: z.string().optional(),
}).strict();

/** POST /hooks/gitlab, checked with X-Gitlab-Token when `token` is set. */
const gitlabHookConfigSchema = z.object({
  type: z.literal('gitlabHook'),
  token: secretSchema.optional(),
  skipPatterns,
  category: z.string().optional(),
}).strict();

/** POST /hooks/generic, with a bearer token: at least one, as an open endpoint that starts builds is never wanted. */
const genericHookConfigSchema = z.object({
  type: z.literal('genericHook'),
  tokens: z.array(secretSchema).min(1, 'at least one token'),
}).strict();

export const sourceConfigSchema = z.discriminatedUnion('type', [gitPollerConfigSchema, githubHookConfigSchema, gitlabHookConfigSchema, genericHookConfigSchema]);

export type GitPollerConfig = z.input<typeof gitPollerConfigSchema>;
export type GithubHookConfig = z.input<typeof githubHookConfigSchema>;
export type GitlabHookConfig = z.input<typeof gitlabHookConfigSchema>;
export type GenericHookConfig = z.input<typeof genericHookConfigSchema>;

