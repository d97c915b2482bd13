import { z } from 'zod';
import { AlertError, type AlertErrorCode } from '../alerts/model.js';
import { AuthError, type AuthErrorCode } from '../auth/model.js';
import { CareError, type CareErrorCode } from '../care/inputs.js';
import { RegistryError, type RegistryErrorCode } from '../devices/model.js';

// Every error leaves the HTTP API as `{ error: { code, message } }`. The code is the contract (runbooks,
// clients and tests key on it); the message is for humans and may change. A 5xx never carries its cause
// to the client: the cause is logged, the client gets TRY_ERR_INTERNAL.

export const HttpErrorCodeSchema = z.enum([
  'TRY_ERR_BAD_REQUEST',
  'TRY_ERR_UNAUTHORIZED',
  'TRY_ERR_FORBIDDEN',
  'TRY_ERR_VALIDATION',
  'TRY_ERR_NOT_FOUND',
  'TRY_ERR_METHOD_NOT_ALLOWED',
  'TRY_ERR_PAYLOAD_TOO_LARGE',
  'TRY_ERR_UNSUPPORTED_MEDIA_TYPE',
  'TRY_ERR_INTERNAL',
  // Dashboard logins and sessions (issue 6). One code for an unknown user, a wrong password and a disabled
  // account, so the answer never says which usernames exist.
  'TRY_ERR_LOGIN_FAILED',
  'TRY_ERR_LOCKED',
  'TRY_ERR_CSRF',
  'TRY_ERR_RATE_LIMITED',
  'TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED',
  'TRY_ERR_ALERT_ALREADY_RESOLVED',
  // Homes, devices, dead letters, care data, users (issue 6 item 1).
  /** The thing to create exists already (a registry record). */
  'TRY_ERR_CONFLICT',
  'TRY_ERR_USER_EXISTS',
  /** An admin may not disable their own login (nobody would be left to enable it over HTTP). */
  'TRY_ERR_CANNOT_DISABLE_SELF',
  /** The schedule contradicts itself: one time twice on a day, or a window running into the next dose. */
  'TRY_ERR_DOSE_CONFLICT',
  /** A device's assignment history is newer than the change asked for. */
  'TRY_ERR_ASSIGNMENT_ORDER',
  /** Already replayed, or its payload was truncated when stored. */
  'TRY_ERR_DEAD_LETTER_NOT_REPLAYABLE',
  /** InfluxDB is not configured or did not answer: the time series cannot be read now. */
  'TRY_ERR_STORAGE_UNAVAILABLE',
]);
export type HttpErrorCode = z.infer<typeof HttpErrorCodeSchema>;

export const ErrorBodySchema = z.object({
  error: z.object({
    code: HttpErrorCodeSchema,
    message: z.string(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** Response schemas for the error statuses; spread into every route's `response`. */
export const errorResponses = {
  '4xx': ErrorBodySchema,
  '5xx': ErrorBodySchema,
} as const;

const MESSAGES = {
  TRY_ERR_BAD_REQUEST: 'bad request',
  TRY_ERR_UNAUTHORIZED: 'authentication required',
  TRY_ERR_FORBIDDEN: 'not allowed for this account',
  TRY_ERR_VALIDATION: 'request validation failed',
  TRY_ERR_NOT_FOUND: 'not found',
  TRY_ERR_METHOD_NOT_ALLOWED: 'method not allowed',
  TRY_ERR_PAYLOAD_TOO_LARGE: 'request body too large',
  TRY_ERR_UNSUPPORTED_MEDIA_TYPE: 'unsupported media type',
  TRY_ERR_INTERNAL: 'internal error',
  TRY_ERR_LOGIN_FAILED: 'wrong username or password',
  TRY_ERR_LOCKED: 'too many failed logins; try again later',
  TRY_ERR_CSRF: 'missing or invalid CSRF token',
  TRY_ERR_RATE_LIMITED: 'too many requests; try again later',
  TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED: 'the alert was already acknowledged',
  TRY_ERR_ALERT_ALREADY_RESOLVED: 'the alert was already resolved',
  TRY_ERR_CONFLICT: 'it exists already',
  TRY_ERR_USER_EXISTS: 'a user with this username exists already',
  TRY_ERR_CANNOT_DISABLE_SELF: 'you cannot disable your own login',
  TRY_ERR_DOSE_CONFLICT: 'the dose schedule contradicts itself',
  TRY_ERR_ASSIGNMENT_ORDER: "the device's assignment history is newer than this change",
  TRY_ERR_DEAD_LETTER_NOT_REPLAYABLE: 'the dead letter was already replayed or its payload is incomplete',
  TRY_ERR_STORAGE_UNAVAILABLE: 'time series storage is not available',
} as const satisfies Record<HttpErrorCode, string>;

const STATUS_OF = {
  TRY_ERR_BAD_REQUEST: 400,
  TRY_ERR_UNAUTHORIZED: 401,
  TRY_ERR_FORBIDDEN: 403,
  TRY_ERR_VALIDATION: 400,
  TRY_ERR_NOT_FOUND: 404,
  TRY_ERR_METHOD_NOT_ALLOWED: 405,
  TRY_ERR_PAYLOAD_TOO_LARGE: 413,
  TRY_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  TRY_ERR_INTERNAL: 500,
  TRY_ERR_LOGIN_FAILED: 401,
  TRY_ERR_LOCKED: 423,
  TRY_ERR_CSRF: 403,
  TRY_ERR_RATE_LIMITED: 429,
  TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED: 409,
  TRY_ERR_ALERT_ALREADY_RESOLVED: 409,
  TRY_ERR_CONFLICT: 409,
  TRY_ERR_USER_EXISTS: 409,
  TRY_ERR_CANNOT_DISABLE_SELF: 409,
  TRY_ERR_DOSE_CONFLICT: 400,
  TRY_ERR_ASSIGNMENT_ORDER: 409,
  TRY_ERR_DEAD_LETTER_NOT_REPLAYABLE: 409,
  TRY_ERR_STORAGE_UNAVAILABLE: 503,
} as const satisfies Record<HttpErrorCode, number>;

/** A deliberate refusal from our own code: the code decides the status; headers (Retry-After) go with it. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly statusCode: number;
  constructor(
    readonly code: HttpErrorCode,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(MESSAGES[code]);
    this.statusCode = STATUS_OF[code];
  }
}

/** The alert store's expected failures, as the API states them. */
const ALERT_ERRORS: Readonly<Record<AlertErrorCode, HttpErrorCode>> = {
  TRY_ERR_ALERT_INVALID_SIGNAL: 'TRY_ERR_INTERNAL',
  TRY_ERR_ALERT_INVALID_INPUT: 'TRY_ERR_VALIDATION',
  TRY_ERR_ALERT_INVALID_POLICY: 'TRY_ERR_INTERNAL',
  TRY_ERR_ALERT_NOT_FOUND: 'TRY_ERR_NOT_FOUND',
  TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED: 'TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED',
  TRY_ERR_ALERT_ALREADY_RESOLVED: 'TRY_ERR_ALERT_ALREADY_RESOLVED',
  TRY_ERR_ALERT_OUTBOX_UNKNOWN: 'TRY_ERR_INTERNAL',
  TRY_ERR_ALERT_STORAGE: 'TRY_ERR_INTERNAL',
};

/** The registry's, care store's and user store's expected failures (issue 6 item 1 routes). */
const REGISTRY_ERRORS: Readonly<Record<RegistryErrorCode, HttpErrorCode>> = {
  TRY_ERR_INVALID_ID: 'TRY_ERR_VALIDATION',
  TRY_ERR_INVALID_INPUT: 'TRY_ERR_VALIDATION',
  TRY_ERR_INVALID_TIME_ZONE: 'TRY_ERR_VALIDATION',
  TRY_ERR_HOME_NOT_FOUND: 'TRY_ERR_NOT_FOUND',
  TRY_ERR_HOME_EXISTS: 'TRY_ERR_CONFLICT',
  TRY_ERR_DEVICE_NOT_FOUND: 'TRY_ERR_NOT_FOUND',
  TRY_ERR_DEVICE_EXISTS: 'TRY_ERR_CONFLICT',
  TRY_ERR_NOT_A_BRIDGE: 'TRY_ERR_VALIDATION',
  TRY_ERR_BRIDGE_CHILD_EXISTS: 'TRY_ERR_CONFLICT',
  TRY_ERR_ASSIGNMENT_ORDER: 'TRY_ERR_ASSIGNMENT_ORDER',
  TRY_ERR_SERVICE_ACCOUNT_NOT_FOUND: 'TRY_ERR_NOT_FOUND',
  TRY_ERR_SERVICE_ACCOUNT_EXISTS: 'TRY_ERR_CONFLICT',
  TRY_ERR_STORAGE: 'TRY_ERR_INTERNAL',
};

const CARE_ERRORS: Readonly<Record<CareErrorCode, HttpErrorCode>> = {
  TRY_ERR_INVALID_INPUT: 'TRY_ERR_VALIDATION',
  TRY_ERR_INVALID_ID: 'TRY_ERR_VALIDATION',
  TRY_ERR_HOME_NOT_FOUND: 'TRY_ERR_NOT_FOUND',
  TRY_ERR_DOSE_CONFLICT: 'TRY_ERR_DOSE_CONFLICT',
  TRY_ERR_VISITS_IMPORT: 'TRY_ERR_VALIDATION',
  TRY_ERR_STORAGE: 'TRY_ERR_INTERNAL',
};

const USER_ERRORS: Readonly<Record<AuthErrorCode, HttpErrorCode>> = {
  TRY_ERR_USER_INVALID_INPUT: 'TRY_ERR_VALIDATION',
  TRY_ERR_USER_EXISTS: 'TRY_ERR_USER_EXISTS',
  TRY_ERR_USER_NOT_FOUND: 'TRY_ERR_NOT_FOUND',
  TRY_ERR_AUTH_STORAGE: 'TRY_ERR_INTERNAL',
};

/** Codes whose domain message is worth passing on: it names the field and the rule, or the conflicting doses. */
const EXPLAINED: ReadonlySet<HttpErrorCode> = new Set(['TRY_ERR_VALIDATION', 'TRY_ERR_DOSE_CONFLICT']);

/** A domain error's message without the `(got "…")` the CLI shows: the API never echoes submitted values. */
function domainMessage(code: HttpErrorCode, message: string): string {
  return EXPLAINED.has(code) ? message.replace(/ \(got .*\)$/u, '') : MESSAGES[code];
}

const CODE_BY_STATUS: Readonly<Partial<Record<number, HttpErrorCode>>> = {
  400: 'TRY_ERR_BAD_REQUEST',
  401: 'TRY_ERR_UNAUTHORIZED',
  403: 'TRY_ERR_FORBIDDEN',
  404: 'TRY_ERR_NOT_FOUND',
  405: 'TRY_ERR_METHOD_NOT_ALLOWED',
  413: 'TRY_ERR_PAYLOAD_TOO_LARGE',
  415: 'TRY_ERR_UNSUPPORTED_MEDIA_TYPE',
  423: 'TRY_ERR_LOCKED',
  429: 'TRY_ERR_RATE_LIMITED',
};

export interface MappedError {
  readonly statusCode: number;
  readonly body: ErrorBody;
  /** True when the cause must be logged as a fault (and was withheld from the client). */
  readonly isServerError: boolean;
  /** Headers the refusal carries (e.g. Retry-After). */
  readonly headers?: Readonly<Record<string, string>>;
}

export function errorBody(code: HttpErrorCode, message: string = MESSAGES[code]): ErrorBody {
  return { error: { code, message } };
}

/**
 * Maps anything thrown in the request lifecycle to a status and a safe body. Fastify's own client errors
 * carry `statusCode` (and `validation` for schema failures); anything else is a bug, hence a 500.
 */
export function mapError(err: unknown): MappedError {
  if (err instanceof HttpError) {
    return { statusCode: err.statusCode, body: errorBody(err.code), isServerError: err.statusCode >= 500, headers: err.headers };
  }
  if (err instanceof AlertError) {
    const code = ALERT_ERRORS[err.code];
    // Input messages name the field and the rule ("note: outcome \"other\" needs a note"), never a value.
    const message = code === 'TRY_ERR_VALIDATION' ? err.message : MESSAGES[code];
    return { statusCode: STATUS_OF[code], body: errorBody(code, message), isServerError: code === 'TRY_ERR_INTERNAL' };
  }
  const domain =
    err instanceof RegistryError
      ? REGISTRY_ERRORS[err.code]
      : err instanceof CareError
        ? CARE_ERRORS[err.code]
        : err instanceof AuthError
          ? USER_ERRORS[err.code]
          : undefined;
  if (domain !== undefined && err instanceof Error) {
    return {
      statusCode: STATUS_OF[domain],
      body: errorBody(domain, domainMessage(domain, err.message)),
      isServerError: domain === 'TRY_ERR_INTERNAL',
    };
  }
  // @fastify/csrf-protection's refusals (FST_CSRF_MISSING_SECRET, FST_CSRF_INVALID_TOKEN), both 403.
  if (err instanceof Error && 'code' in err && typeof err.code === 'string' && err.code.startsWith('FST_CSRF_')) {
    return { statusCode: 403, body: errorBody('TRY_ERR_CSRF'), isServerError: false };
  }
  const statusCode = statusOf(err);
  if (statusCode >= 500) {
    return { statusCode, body: errorBody('TRY_ERR_INTERNAL'), isServerError: true };
  }
  if (hasValidation(err)) {
    // Validation messages name the failing field and rule, never the submitted value.
    return { statusCode, body: errorBody('TRY_ERR_VALIDATION', err.message), isServerError: false };
  }
  return { statusCode, body: errorBody(CODE_BY_STATUS[statusCode] ?? 'TRY_ERR_BAD_REQUEST'), isServerError: false };
}

function statusOf(err: unknown): number {
  if (typeof err === 'object' && err !== null && 'statusCode' in err) {
    const { statusCode } = err;
    if (typeof statusCode === 'number' && Number.isInteger(statusCode) && statusCode >= 400 && statusCode <= 599) {
      return statusCode;
    }
  }
  return 500;
}

function hasValidation(err: unknown): err is Error & { validation: unknown } {
  return err instanceof Error && 'validation' in err && err.validation !== undefined;
}
