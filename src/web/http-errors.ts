// The one place errors become HTTP responses: a KeelError maps by its code; anything else is a
// 500 whose body says nothing of the internals (the log has the stack).
import { isKeelError } from '../errors.js';
import type { ErrorCode } from '../errors.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  KEEL_ERR_NOT_FOUND: 404,
  KEEL_ERR_UNAUTHORIZED: 401,
  KEEL_ERR_BAD_REQUEST: 400,
  KEEL_ERR_CONFIG_INVALID: 400,
  KEEL_ERR_FORCE_PARAMS: 400,
  KEEL_ERR_CHANGE_INVALID: 400,
};

const INTERNAL: ErrorCode = 'KEEL_ERR_INTERNAL';

export interface HttpError {
  status: number;
  body: { error: { code: string; message: string } };
}

export function toHttpError(err: unknown): HttpError {
  if (isKeelError(err)) {
    return { status: STATUS[err.code] ?? 500, body: { error: { code: err.code, message: err.message } } };
  }
  // Fastify's own errors (bad JSON body, body too large …) carry a 4xx statusCode.
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, body: { error: { code: 'KEEL_ERR_BAD_REQUEST' satisfies ErrorCode, message: (err as Error).message } } };
  }
  return { status: 500, body: { error: { code: INTERNAL, message: 'internal server error' } } };
}
