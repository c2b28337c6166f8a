// The generic webhook handler (/hooks/generic): any tool that can POST JSON reports changes with
// a bearer token. The body is documented in docs/changes-and-schedulers.md.
import { z } from 'zod';
import { changeSchema, type Change } from './change.js';
import { accepted, checkBody, decodeBody, header, secretsEqual, unauthorized, type WebhookHeaders, type WebhookResult } from './webhook-request.js';

export interface GenericHookOptions {
  /**
   * The bearer tokens accepted. Empty means every request is refused: an open endpoint that
   * starts builds is never what anyone wants by default.
   */
  tokens: readonly string[];
  now?: () => number;
}

/** One change as the body gives it: `time` may be an ISO string or epoch ms; `source` is ours to set. */
const bodyChange = changeSchema.omit({ source: true, time: true }).extend({
  time: z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]).optional(),
});
const genericBody = z.object({ changes: z.array(bodyChange).min(1, 'at least one change') }).strict();

export function handleGenericHook(headers: WebhookHeaders, rawBody: Buffer | string, options: GenericHookOptions): WebhookResult {
  const auth = header(headers, 'authorization');
  const token = auth && /^Bearer\s+(.+)$/i.exec(auth.trim())?.[1];
  if (!token) return unauthorized('missing Authorization: Bearer token');
  // Every configured token is compared, so the time taken says nothing about which one matched.
  const matches = options.tokens.map((t) => secretsEqual(token, t));
  if (!matches.includes(true)) return unauthorized('bearer token is not accepted');
  const body = decodeBody(headers, rawBody);
  if (!body.ok) return body.result;
  const parsed = checkBody(genericBody, body.value, 'generic hook body');
  if (!parsed.ok) return parsed.result;
  const now = options.now ?? Date.now;
  const changes = parsed.value.changes.map((c): Change => ({
    ...c,
    time: c.time === undefined ? now() : typeof c.time === 'number' ? c.time : Date.parse(c.time),
    source: 'generic',
  }));
  return accepted(changes, `${changes.length} change(s)`);
}
