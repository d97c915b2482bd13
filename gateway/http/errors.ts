import { z } from 'zod';

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
} as const satisfies Record<HttpErrorCode, string>;

const CODE_BY_STATUS: Readonly<Partial<Record<number, HttpErrorCode>>> = {
  400: 'TRY_ERR_BAD_REQUEST',
  401: 'TRY_ERR_UNAUTHORIZED',
  403: 'TRY_ERR_FORBIDDEN',
  404: 'TRY_ERR_NOT_FOUND',
  405: 'TRY_ERR_METHOD_NOT_ALLOWED',
  413: 'TRY_ERR_PAYLOAD_TOO_LARGE',
  415: 'TRY_ERR_UNSUPPORTED_MEDIA_TYPE',
};

export interface MappedError {
  readonly statusCode: number;
  readonly body: ErrorBody;
  /** True when the cause must be logged as a fault (and was withheld from the client). */
  readonly isServerError: boolean;
}

export function errorBody(code: HttpErrorCode, message: string = MESSAGES[code]): ErrorBody {
  return { error: { code, message } };
}

/**
 * Maps anything thrown in the request lifecycle to a status and a safe body. Fastify's own client errors
 * carry `statusCode` (and `validation` for schema failures); anything else is a bug, hence a 500.
 */
export function mapError(err: unknown): MappedError {
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
