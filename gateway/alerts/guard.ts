import type { z } from 'zod';
import { sqliteErrorCode } from '../db/sqlite.js';
import { AlertError, type AlertErrorCode } from './model.js';

// The alert store's boundary helpers, shared by the lifecycle (store.ts) and the outbox (outbox.ts): input is
// parsed into AlertError, SQLite failures are translated into AlertError, times are ISO text.

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function fail(code: AlertErrorCode, message: string): never {
  throw new AlertError(code, message);
}

export function parse<S extends z.ZodType>(schema: S, input: unknown, code: AlertErrorCode): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  throw new AlertError(code, `${field === '' ? '' : `${field}: `}${issue?.message ?? 'invalid input'}`);
}

/** Translates SQLite failures into AlertError at this boundary, keeping the original as `cause`. */
export function guard<T>(what: string, fn: () => T, onConstraint?: (code: string) => [AlertErrorCode, string] | undefined): T {
  try {
    return fn();
  } catch (err) {
    const code = sqliteErrorCode(err);
    if (code === undefined) throw err;
    const mapped = code.startsWith('SQLITE_CONSTRAINT') ? onConstraint?.(code) : undefined;
    if (mapped) throw new AlertError(mapped[0], mapped[1], { cause: err });
    throw new AlertError('TRY_ERR_ALERT_STORAGE', `${what} failed: ${code}`, { cause: err });
  }
}
