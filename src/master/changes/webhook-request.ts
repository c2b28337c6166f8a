// What the webhook handlers share: the request and result types, header access, constant-time
// secret comparison and body decoding. The handlers are pure: no I/O, nothing recorded; the
// caller (the master's /hooks routes, or a test server) records `changes` when `status` is 200.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { describeIssue, type Change } from './change.js';

/** As node's IncomingHttpHeaders (and fastify's request.headers): names in lower case. */
export type WebhookHeaders = Record<string, string | string[] | undefined>;

/**
 * 200: understood; `changes` (maybe none: a ping, a skipped push, an ignored event) are to be
 * recorded. 400: the body is malformed; `reason` says how. 401: the signature or token is
 * missing or wrong. Nothing of a 400 or 401 may be recorded.
 */
export interface WebhookResult {
  status: 200 | 400 | 401;
  changes: Change[];
  reason: string;
}

export type WebhookHandler<Options> = (headers: WebhookHeaders, rawBody: Buffer | string, options: Options) => WebhookResult;

export const accepted = (changes: Change[], reason: string): WebhookResult => ({ status: 200, changes, reason });
export const badRequest = (reason: string): WebhookResult => ({ status: 400, changes: [], reason });
export const unauthorized = (reason: string): WebhookResult => ({ status: 401, changes: [], reason });

/** A header's single value; a repeated header is suspicious, so it counts as absent. */
export function header(headers: WebhookHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Compares a received secret with the expected one in time that depends on neither: both are
 * hashed first, so even their lengths do not leak through timing.
 */
export function secretsEqual(received: string, expected: string): boolean {
  const a = createHash('sha256').update(received, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

type Decoded = { ok: true; value: unknown } | { ok: false; result: WebhookResult };

/** JSON, or a form body whose `payload` field holds the JSON (GitHub's other content type). */
export function decodeBody(headers: WebhookHeaders, rawBody: Buffer | string): Decoded {
  let text = typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8');
  const type = (header(headers, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) return { ok: false, result: badRequest('form body has no payload field') };
    text = payload;
  }
  if (text.trim() === '') return { ok: false, result: badRequest('empty body') };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, result: badRequest(`body is not JSON: ${(err as Error).message}`) };
  }
}

/** Validates a decoded body against a schema; the 400's reason lists every wrong field. */
export function checkBody<S extends z.ZodType>(schema: S, value: unknown, what: string): { ok: true; value: z.output<S> } | { ok: false; result: WebhookResult } {
  const parsed = schema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, result: badRequest(`malformed ${what}: ${parsed.error.issues.map(describeIssue).join('; ')}`) };
}

/** `[skip ci]` and `[ci skip]`, as GitHub, GitLab and Buildbot read them. */
export const DEFAULT_SKIP_PATTERNS: readonly RegExp[] = [/\[ *skip[ -]ci *\]/i, /\[ *ci[ -]skip *\]/i];

export function skipped(message: string | undefined, patterns: readonly RegExp[]): RegExp | undefined {
  return message === undefined ? undefined : patterns.find((p) => p.test(message));
}

/** An ISO time from a payload, or now when it is missing or unreadable. */
export function timeOf(value: string | undefined, now: () => number): number {
  const parsed = value === undefined ? NaN : Date.parse(value);
  return Number.isFinite(parsed) ? parsed : now();
}

export const ZERO_SHA = /^0+$/;

/** Drops the keys whose value is undefined, so a change has no `link: undefined` and the like. */
export function withOptional<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
