// The one error → HTTP mapping: KeelErrors by code, framework 4xx as bad requests, and anything
// else a bare 500 that leaks nothing of the internals.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { KeelError } from '../../src/errors.js';
import { toHttpError } from '../../src/web/http-errors.js';

it('maps KeelErrors by code', () => {
  assert.equal(toHttpError(new KeelError('KEEL_ERR_NOT_FOUND', 'no build 9')).status, 404);
  assert.equal(toHttpError(new KeelError('KEEL_ERR_UNAUTHORIZED', 'x')).status, 401);
  const bad = toHttpError(new KeelError('KEEL_ERR_BAD_REQUEST', 'limit: too big'));
  assert.deepEqual(bad, { status: 400, body: { error: { code: 'KEEL_ERR_BAD_REQUEST', message: 'limit: too big' } } });
});

it('a framework 4xx stays a 4xx', () => {
  const err = Object.assign(new Error('Body is not valid JSON'), { statusCode: 400 });
  assert.equal(toHttpError(err).status, 400);
});

it('an unexpected error is a 500 that says nothing of it', () => {
  const res = toHttpError(new Error('connect ECONNREFUSED 10.0.0.5:5432 password=hunter2'));
  assert.equal(res.status, 500);
  assert.equal(res.body.error.code, 'KEEL_ERR_INTERNAL');
  assert.doesNotMatch(JSON.stringify(res.body), /hunter2|ECONNREFUSED/);
});
