import { describe, expect, it } from 'vitest';
import { AlertError } from '../../../gateway/alerts/model.js';
import { AuthError } from '../../../gateway/auth/model.js';
import { CareError } from '../../../gateway/care/inputs.js';
import { RegistryError } from '../../../gateway/devices/model.js';
import { ErrorBodySchema, HttpError, mapError } from '../../../gateway/http/errors.js';

function fastifyLikeError(statusCode: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`raw message ${statusCode}`), { statusCode, ...extra });
}

describe('mapError', () => {
  it('turns a thrown bug into 500 TRY_ERR_INTERNAL without its message', () => {
    const mapped = mapError(new TypeError('cannot read properties of undefined (reading "resident")'));
    expect(mapped).toEqual({
      statusCode: 500,
      body: { error: { code: 'TRY_ERR_INTERNAL', message: 'internal error' } },
      isServerError: true,
    });
  });

  it('treats anything thrown that is not a client error as a fault', () => {
    for (const thrown of ['a string', null, undefined, 42, { statusCode: 200 }, { statusCode: 'x' }, fastifyLikeError(302)]) {
      const mapped = mapError(thrown);
      expect(mapped.statusCode).toBe(500);
      expect(mapped.body.error.code).toBe('TRY_ERR_INTERNAL');
    }
  });

  it('keeps the status of a deliberate 5xx but still withholds its message', () => {
    const mapped = mapError(fastifyLikeError(503));
    expect(mapped.statusCode).toBe(503);
    expect(mapped.body).toEqual({ error: { code: 'TRY_ERR_INTERNAL', message: 'internal error' } });
    expect(mapped.isServerError).toBe(true);
  });

  it('gives client errors a stable code by status', () => {
    expect(mapError(fastifyLikeError(400)).body.error.code).toBe('TRY_ERR_BAD_REQUEST');
    expect(mapError(fastifyLikeError(404)).body.error.code).toBe('TRY_ERR_NOT_FOUND');
    expect(mapError(fastifyLikeError(405)).body.error.code).toBe('TRY_ERR_METHOD_NOT_ALLOWED');
    expect(mapError(fastifyLikeError(413)).body.error.code).toBe('TRY_ERR_PAYLOAD_TOO_LARGE');
    expect(mapError(fastifyLikeError(415)).body.error.code).toBe('TRY_ERR_UNSUPPORTED_MEDIA_TYPE');
    expect(mapError(fastifyLikeError(418))).toEqual({
      statusCode: 418,
      body: { error: { code: 'TRY_ERR_BAD_REQUEST', message: 'bad request' } },
      isServerError: false,
    });
  });

  it('reports a schema validation failure as TRY_ERR_VALIDATION with the rule that failed', () => {
    const err = fastifyLikeError(400, { validation: [{ message: 'Too small' }] });
    err.message = 'querystring/limit Too small: expected number to be >=1';
    expect(mapError(err)).toEqual({
      statusCode: 400,
      body: { error: { code: 'TRY_ERR_VALIDATION', message: 'querystring/limit Too small: expected number to be >=1' } },
      isServerError: false,
    });
  });

  it('always produces a body that matches the error schema', () => {
    for (const thrown of [new Error('x'), fastifyLikeError(404), fastifyLikeError(400, { validation: [] }), fastifyLikeError(500)]) {
      expect(ErrorBodySchema.safeParse(mapError(thrown).body).success).toBe(true);
    }
  });

  it('maps our own refusals, the alert store, CSRF and rate-limit errors to their stable codes', () => {
    expect(mapError(new HttpError('TRY_ERR_LOCKED', { 'retry-after': '900' }))).toEqual({
      statusCode: 423,
      body: { error: { code: 'TRY_ERR_LOCKED', message: 'too many failed logins; try again later' } },
      isServerError: false,
      headers: { 'retry-after': '900' },
    });
    expect(mapError(new AlertError('TRY_ERR_ALERT_ALREADY_RESOLVED', 'alert al-1 is already resolved')).statusCode).toBe(409);
    expect(mapError(new AlertError('TRY_ERR_ALERT_NOT_FOUND', 'alert al-1 not found')).body.error).toEqual({
      code: 'TRY_ERR_NOT_FOUND',
      message: 'not found',
    });
    const storage = mapError(new AlertError('TRY_ERR_ALERT_STORAGE', 'reading an alert failed: SQLITE_IOERR'));
    expect(storage).toMatchObject({
      statusCode: 500,
      isServerError: true,
      body: { error: { code: 'TRY_ERR_INTERNAL', message: 'internal error' } },
    });
    expect(mapError(fastifyLikeError(403, { code: 'FST_CSRF_INVALID_TOKEN' })).body.error.code).toBe('TRY_ERR_CSRF');
    expect(mapError(fastifyLikeError(429)).body.error.code).toBe('TRY_ERR_RATE_LIMITED');
  });
  it("maps the registry's, care store's and user store's errors, passing on field messages without the submitted value", () => {
    expect(mapError(new RegistryError('TRY_ERR_DEVICE_NOT_FOUND', 'device d-1 not found')).body.error).toEqual({
      code: 'TRY_ERR_NOT_FOUND',
      message: 'not found',
    });
    expect(mapError(new RegistryError('TRY_ERR_ASSIGNMENT_ORDER', 'device d-1 has history…')).statusCode).toBe(409);
    expect(mapError(new RegistryError('TRY_ERR_INVALID_ID', 'home id must be 3–64 characters (got "Home 1")')).body.error).toEqual({
      code: 'TRY_ERR_VALIDATION',
      message: 'home id must be 3–64 characters',
    });
    expect(mapError(new RegistryError('TRY_ERR_STORAGE', 'reading failed: SQLITE_IOERR'))).toMatchObject({
      statusCode: 500,
      isServerError: true,
    });
    expect(mapError(new CareError('TRY_ERR_DOSE_CONFLICT', 'doses: 08:00 is scheduled twice on Monday'))).toMatchObject({
      statusCode: 400,
      body: { error: { code: 'TRY_ERR_DOSE_CONFLICT', message: 'doses: 08:00 is scheduled twice on Monday' } },
    });
    expect(mapError(new CareError('TRY_ERR_HOME_NOT_FOUND', 'home h-1 not found')).statusCode).toBe(404);
    expect(mapError(new AuthError('TRY_ERR_USER_EXISTS', 'user nurse-a1 already exists')).body.error).toEqual({
      code: 'TRY_ERR_USER_EXISTS',
      message: 'a user with this username exists already',
    });
    expect(mapError(new HttpError('TRY_ERR_STORAGE_UNAVAILABLE'))).toMatchObject({ statusCode: 503, isServerError: true });
  });
});
