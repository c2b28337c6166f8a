// Checking what an API request brings (params, query, body) against a zod schema: one 400 that
// names every wrong field, the same for every route.
import { z } from 'zod';
import { KeelError } from '../errors.js';

/** A positive integer id from a path segment. */
export const idParam = z.coerce.number().int().positive();

/** The value, parsed; otherwise KEEL_ERR_BAD_REQUEST (400) listing each problem with its path. */
export function parseInput<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
  throw new KeelError('KEEL_ERR_BAD_REQUEST', `invalid ${what}: ${problems}`);
}
