// The change model: one commit (or push, or pull request head) seen by a change source, as the
// schedulers read it and the storage keeps it.
import { z } from 'zod';
import { KeelError } from '../../errors.js';
import type { NewChange } from '../../storage/storage.js';

/** Where a change came from; the schedulers and the UI may tell them apart. */
const CHANGE_SOURCES = ['poller', 'github', 'gitlab', 'generic', 'api'] as const;
export type ChangeSource = (typeof CHANGE_SOURCES)[number];

/** A change as a source reports it, before storage gives it an id: storage's NewChange, from a known source. */
export interface Change extends NewChange {
  source: ChangeSource;
}

/** A change once stored: what the schedulers and build requests hold. */
export interface RecordedChange extends Change {
  id: number;
}

const nonEmpty = z.string().min(1);

export const changeSchema = z.object({
  repository: nonEmpty,
  branch: nonEmpty,
  revision: nonEmpty.max(200),
  author: z.string().default(''),
  committer: z.string().optional(),
  time: z.number().int().nonnegative(),
  message: z.string().default(''),
  files: z.array(z.string()).default([]),
  link: z.string().optional(),
  category: z.string().optional(),
  source: z.enum(CHANGE_SOURCES),
  project: z.string().optional(),
  properties: z.record(z.string(), z.unknown()).optional(),
}).strict();

export type ChangeValidation = { ok: true; change: Change } | { ok: false; problems: string[] };

/** Checks a change from outside (a webhook body, the API); every problem names its field. */
export function validateChange(input: unknown): ChangeValidation {
  const parsed = changeSchema.safeParse(input);
  if (parsed.success) return { ok: true, change: parsed.data };
  return { ok: false, problems: parsed.error.issues.map(describeIssue) };
}

/** As validateChange, but throws KEEL_ERR_CHANGE_INVALID listing the problems. */
export function parseChange(input: unknown): Change {
  const result = validateChange(input);
  if (!result.ok) throw new KeelError('KEEL_ERR_CHANGE_INVALID', `invalid change: ${result.problems.join('; ')}`);
  return result.change;
}

export function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
  return `${where}: ${issue.message}`;
}

/** `Name <email>`, or whichever of the two is known. */
export function formatPerson(name: string | undefined, email: string | undefined): string {
  if (name && email) return `${name} <${email}>`;
  return name || (email ? `<${email}>` : '');
}
