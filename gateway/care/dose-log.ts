import { z } from 'zod';
import type { Database } from '../db/sqlite.js';
import { addDays, formatDate, HOUR, localParts, localToUtc, MINUTE } from '../rules/local-time.js';
import { MissedDoseParamsSchema, nearestDose, occurrences, type Occurrence } from '../rules/missed-dose.js';
import type { CarePlan } from './model.js';

// The dose log of a home's page (issue 6 item 3: "the dose log of the last days, taken/missed per dose"). Pure:
// the plan, the dose reports and the missed-dose alerts come in, the clock too. Sources, and why:
//
// - Which doses there were: the home's *current* schedule (care plan), applied to each local day. A schedule
//   changed during the week shows the new one for the earlier days too; the store keeps no schedule history.
// - Taken: the dispenser's `taken` reports stored in InfluxDB (measurement `dose`, tag kind=taken), matched to a
//   dose as the missed-dose rule matches them (gateway/rules/missed-dose.ts): by `scheduled_at`, else by an
//   `HH:MM` slot within 12 h, else the nearest dose from 30 min before to the home's `matchHours` after it.
// - Missed: the missed-dose rule's alerts (subject = the dose, `2026-03-10T08:00` local). They live in SQLite
//   for good, so the log says "missed" even without InfluxDB. An alert the rule cleared means the dose was
//   taken late (the rule clears only on a `taken`); an alert raised because the dispenser was offline is
//   "unknown", as the rule itself says.
// - Otherwise: before its deadline a dose is "pending"; after it, without a report or an alert, "unknown"
//   (InfluxDB not configured or unreachable, storage still catching up, or the plan is newer than the dose).

export const DOSE_STATUSES = ['taken', 'missed', 'unknown', 'pending'] as const;
export const DoseStatusSchema = z.enum(DOSE_STATUSES);

export const DoseLogEntrySchema = z.object({
  /** Local date and time of the dose in the home's zone (`2026-03-10T08:00`): what missed-dose alerts name. */
  dose: z.string(),
  scheduledAt: z.iso.datetime(),
  /** Scheduled time + window + grace: when the missed-dose rule decides. */
  deadlineAt: z.iso.datetime(),
  status: DoseStatusSchema,
  /** When it was reported taken (the report's time, or when the rule cleared its alert), else null. */
  takenAt: z.iso.datetime().nullable(),
  /** The missed-dose alert for this dose, if any. */
  alertId: z.string().nullable(),
  /** What the status rests on. */
  basis: z.enum(['dose_report', 'alert', 'alert_cleared', 'before_deadline', 'no_record']),
});
export type DoseLogEntry = z.infer<typeof DoseLogEntrySchema>;

export interface TakenReport {
  /** Epoch ms (the device's time). */
  at: number;
  slot: string | null;
  scheduledAt: string | null;
}

export interface DoseAlert {
  id: string;
  /** The dose label. */
  subject: string;
  state: 'active' | 'cleared';
  kind: 'care' | 'technical';
  clearedAt: string | null;
}

/** The local days the log covers (today and the `days − 1` before it) as epoch-ms bounds and labels. */
export function doseLogWindow(plan: Pick<CarePlan, 'timeZone'>, now: number, days: number): { from: number; firstDate: string } {
  const today = localParts(now, plan.timeZone);
  const first = addDays(today, -(days - 1));
  return { from: localToUtc(first, 0, plan.timeZone), firstDate: formatDate(first) };
}

/** Every dose of the plan on the log's local days up to now, oldest first. */
function logOccurrences(plan: CarePlan, now: number, days: number): Occurrence[] {
  const { from } = doseLogWindow(plan, now, days);
  return occurrences(plan, from, now)
    .filter((o) => o.at >= from && o.at <= now)
    .sort((a, b) => a.at - b.at);
}

/** The dose a `taken` report belongs to, as the missed-dose rule decides it (with the home's `matchHours`). */
function matchReport(r: TakenReport, occ: readonly Occurrence[], matchHours: number): Occurrence | undefined {
  const named = r.scheduledAt === null ? NaN : Date.parse(r.scheduledAt);
  // A report that names its dose belongs to that dose only; one not in the plan (a changed schedule) to none.
  if (Number.isFinite(named)) return occ.find((o) => Math.abs(o.at - named) <= MINUTE);
  return nearestDose(occ, r.at, r.slot ?? undefined, matchHours);
}

/** Every scheduled dose of the last `days` local days up to now, oldest first. */
export function buildDoseLog(input: {
  plan: CarePlan;
  now: number;
  days: number;
  taken: readonly TakenReport[];
  alerts: readonly DoseAlert[];
}): DoseLogEntry[] {
  const occ = logOccurrences(input.plan, input.now, input.days);
  // The rule's own parameter for this home (an override may widen or narrow the match), its default otherwise.
  const params = MissedDoseParamsSchema.safeParse(input.plan.overrides['missed-dose'] ?? {});
  const matchHours = (params.success ? params.data : MissedDoseParamsSchema.parse({})).matchHours;
  const takenAt = new Map<string, number>();
  for (const r of input.taken) {
    const o = matchReport(r, occ, matchHours);
    if (o !== undefined && !takenAt.has(o.label)) takenAt.set(o.label, r.at);
  }
  const alerts = new Map(input.alerts.map((a) => [a.subject, a]));
  const iso = (ms: number): string => new Date(ms).toISOString();
  return occ.map((o): DoseLogEntry => {
    const base = { dose: o.label, scheduledAt: iso(o.at), deadlineAt: iso(o.deadline) };
    const alert = alerts.get(o.label);
    const alertId = alert?.id ?? null;
    const taken = takenAt.get(o.label);
    if (taken !== undefined) return { ...base, status: 'taken', takenAt: iso(taken), alertId, basis: 'dose_report' };
    if (alert !== undefined) {
      if (alert.state === 'cleared') return { ...base, status: 'taken', takenAt: alert.clearedAt, alertId, basis: 'alert_cleared' };
      return { ...base, status: alert.kind === 'technical' ? 'unknown' : 'missed', takenAt: null, alertId, basis: 'alert' };
    }
    if (input.now < o.deadline) return { ...base, status: 'pending', takenAt: null, alertId: null, basis: 'before_deadline' };
    return { ...base, status: 'unknown', takenAt: null, alertId: null, basis: 'no_record' };
  });
}

export type DoseAlertLookup = (homeId: string, window: { from: number; firstDate: string }) => DoseAlert[];

/**
 * The missed-dose alerts of a home for doses on or after the window's first date (labels sort as dates). Read
 * straight from the alerts table: the alert store's list orders by severity and caps, which suits a nurse's
 * list, not a week of one rule's alerts. An alert is raised after its dose, so raised_at bounds the scan
 * (index alerts_raised); a day of slack covers a dispenser's clock.
 */
export function createDoseAlertLookup(db: Database): DoseAlertLookup {
  const stmt = db.prepare<
    { homeId: string; first: string; since: string },
    { id: string; subject: string; state: string; kind: string; cleared_at: string | null }
  >(
    `SELECT id, subject, state, kind, cleared_at FROM alerts
     WHERE raised_at >= @since AND home_id = @homeId AND rule = 'missed-dose' AND subject >= @first ORDER BY raised_at, id`,
  );
  return (homeId, window) =>
    stmt.all({ homeId, first: window.firstDate, since: new Date(window.from - 24 * HOUR).toISOString() }).map((r) => ({
      id: r.id,
      subject: r.subject,
      state: r.state === 'cleared' ? 'cleared' : 'active',
      kind: r.kind === 'technical' ? 'technical' : 'care',
      clearedAt: r.cleared_at,
    }));
}
