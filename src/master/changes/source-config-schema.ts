// The zod schema of the `sources` entries of a config (today the git poller), so that a wrong field
// is reported with its path; gitPoller takes what it outputs (less `type`).
import { z } from 'zod';

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

export const sourceConfigSchema = z.discriminatedUnion('type', [gitPollerConfigSchema]);

