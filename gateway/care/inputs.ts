import { z } from 'zod';
import { ID_PATTERN } from '../devices/ids.js';
import { LocalTimeSchema, NightWindowSchema, WeekdaySchema } from './model.js';

// What callers hand the care store (CLI today, the HTTP API later), and the one error it throws. The stored
// and returned shapes are in model.ts (the contract the rules read); these are the looser inputs, where
// window, grace and weekdays may be left out and the defaults apply.

const MINUTES_PER_DAY = 24 * 60;

function minutes(min: number) {
  return z
    .int({ error: 'expected a whole number of minutes' })
    .min(min, { error: `expected at least ${min} minute${min === 1 ? '' : 's'}` })
    .max(MINUTES_PER_DAY, { error: `expected at most ${MINUTES_PER_DAY} minutes (a day)` });
}

export const DoseInputSchema = z.object({
  time: LocalTimeSchema,
  windowMinutes: minutes(1).optional(),
  graceMinutes: minutes(0).optional(),
  /** Omitted = every day. */
  weekdays: z.array(WeekdaySchema).min(1, { error: 'expected at least one weekday (1 = Monday … 7 = Sunday)' }).optional(),
});
export type DoseInput = z.input<typeof DoseInputSchema>;

// 48 doses a day is far beyond any real schedule; the cap keeps a runaway script from filling the table.
export const ScheduleInputSchema = z.array(DoseInputSchema).max(48, { error: 'at most 48 dose entries per home' });

export const NightWindowInputSchema = NightWindowSchema.refine((n) => n.from !== n.to, {
  error: 'the night window must not start and end at the same time',
  path: ['to'],
});

const InstantSchema = z.iso.datetime({
  offset: true,
  error: 'expected an ISO instant with seconds and Z or an offset, e.g. 2026-03-29T08:00:00+02:00',
});

/**
 * A visit longer than this is almost certainly a typo (a wrong date) and would excuse every unlock for days,
 * so it is refused; a night watch (nattevakt) still fits.
 */
export const MAX_VISIT_HOURS = 24;

export const VisitInputSchema = z
  .object({ from: InstantSchema, to: InstantSchema })
  .refine((v) => Date.parse(v.to) > Date.parse(v.from), { error: 'a visit must end after it starts', path: ['to'] })
  .refine((v) => Date.parse(v.to) - Date.parse(v.from) <= MAX_VISIT_HOURS * 3_600_000, {
    error: `a visit must not last longer than ${MAX_VISIT_HOURS} hours`,
    path: ['to'],
  });
export type VisitInput = z.input<typeof VisitInputSchema>;

export const RuleIdSchema = z
  .string()
  .regex(ID_PATTERN, { error: "rule id must be 3–64 characters: lowercase letters, digits, '.', '_' or '-'" });

/** Overrides are small parameter sets (`{"minutes":15}`); the cap keeps them out of blob territory. */
export const MAX_OVERRIDE_BYTES = 4096;

export const OverrideParamsSchema = z
  .record(z.string(), z.json(), { error: 'expected a JSON object, e.g. {"minutes":15}' })
  .refine((p) => JSON.stringify(p).length <= MAX_OVERRIDE_BYTES, { error: `at most ${MAX_OVERRIDE_BYTES} bytes of JSON` });

export const CARE_ERROR_CODES = [
  'TRY_ERR_INVALID_INPUT',
  'TRY_ERR_INVALID_ID',
  'TRY_ERR_HOME_NOT_FOUND',
  'TRY_ERR_DOSE_CONFLICT',
  'TRY_ERR_VISITS_IMPORT',
  'TRY_ERR_STORAGE',
] as const;
export type CareErrorCode = (typeof CARE_ERROR_CODES)[number];

/**
 * The one error the care store throws for expected failures (unknown home, bad input, a schedule that
 * contradicts itself, a visit file with a mistake). The code is stable for runbooks and tests; the message is
 * one line fit for a CLI and names the field (and, for imports, the line).
 */
export class CareError extends Error {
  override readonly name = 'CareError';
  constructor(
    readonly code: CareErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The first issue as `field: message (got "…")`, the form every care error uses. */
export function describeIssue(error: z.ZodError, input: unknown, prefix = ''): { field: string; message: string } {
  const issue = error.issues[0];
  const path = issue?.path.map(String) ?? [];
  const field = [prefix, ...path].filter((p) => p !== '').join('.');
  let got: unknown = input;
  for (const key of path) got = typeof got === 'object' && got !== null ? (got as Record<string, unknown>)[key] : undefined;
  const shown = typeof got === 'string' ? ` (got ${JSON.stringify(got.slice(0, 80))})` : '';
  return { field, message: `${issue?.message ?? 'invalid input'}${shown}` };
}

export function parseInput<S extends z.ZodType>(schema: S, input: unknown, field = ''): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = describeIssue(result.error, input, field);
  const code: CareErrorCode = /(^|\.)(\w+Id|id)$/.test(issue.field) ? 'TRY_ERR_INVALID_ID' : 'TRY_ERR_INVALID_INPUT';
  throw new CareError(code, issue.field === '' ? issue.message : `${issue.field}: ${issue.message}`);
}
