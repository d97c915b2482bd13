import { z } from 'zod';
import { TeamIdSchema } from '../devices/ids.js';
import type { ReportRow } from './sql.js';

/*
 * The follow-up report (issue 5 item 4): per team and period, how many alerts were acknowledged and resolved
 * within their severity's deadlines, late, or not at all. This is what the supervisory authority asked an Oslo
 * district for in 2025 (alerts checked against the district's own follow-up limits).
 *
 * An alert belongs to the period in which it was raised ([from, to)). "never" means the deadline has passed
 * and, at generatedAt, it still has not happened; "pending" means the deadline has not passed yet, so it is
 * neither late nor missed. Counting pending as never would blame a team for alerts raised five minutes ago.
 */

const IsoTime = z.iso.datetime();

export const ReportQuerySchema = z
  .object({
    teamId: TeamIdSchema.optional(),
    /** Epoch ms, inclusive. */
    from: z.number().int(),
    /** Epoch ms, exclusive. */
    to: z.number().int(),
  })
  .refine((q) => q.from <= q.to, { error: 'from must not be after to', path: ['to'] });
export type ReportQuery = z.input<typeof ReportQuerySchema>;

export const TeamFollowUpSchema = z.object({
  teamId: TeamIdSchema,
  count: z.number().int(),
  acknowledgedOnTime: z.number().int(),
  acknowledgedLate: z.number().int(),
  acknowledgedNever: z.number().int(),
  acknowledgePending: z.number().int(),
  resolvedOnTime: z.number().int(),
  resolvedLate: z.number().int(),
  resolvedNever: z.number().int(),
  resolvePending: z.number().int(),
});
export type TeamFollowUp = z.infer<typeof TeamFollowUpSchema>;

export const FollowUpReportSchema = z.object({
  from: IsoTime,
  to: IsoTime,
  generatedAt: IsoTime,
  teams: z.array(TeamFollowUpSchema),
});
export type FollowUpReport = z.infer<typeof FollowUpReportSchema>;

type Outcome = 'onTime' | 'late' | 'never' | 'pending';

/** ISO times compare as text (fixed width, see gateway/db/migrations.ts). */
function classify(doneAt: string | null, dueAt: string, generatedAt: string): Outcome {
  if (doneAt !== null) return doneAt <= dueAt ? 'onTime' : 'late';
  return generatedAt > dueAt ? 'never' : 'pending';
}

/** Pure: rows as the store reads them, the period, and the time the report is made. */
export function summarise(
  rows: readonly ReportRow[],
  period: { from: string; to: string; teamId?: string | undefined },
  generatedAt: string,
) {
  const teams = new Map<string, TeamFollowUp>();
  const team = (teamId: string): TeamFollowUp => {
    let t = teams.get(teamId);
    if (!t) {
      t = {
        teamId,
        count: 0,
        acknowledgedOnTime: 0,
        acknowledgedLate: 0,
        acknowledgedNever: 0,
        acknowledgePending: 0,
        resolvedOnTime: 0,
        resolvedLate: 0,
        resolvedNever: 0,
        resolvePending: 0,
      };
      teams.set(teamId, t);
    }
    return t;
  };
  // A team asked for by name is listed even with nothing to report: "0 late" is an answer, a missing row is not.
  if (period.teamId !== undefined) team(period.teamId);
  for (const row of rows) {
    const t = team(row.teamId);
    t.count += 1;
    switch (classify(row.acknowledgedAt, row.ackDueAt, generatedAt)) {
      case 'onTime':
        t.acknowledgedOnTime += 1;
        break;
      case 'late':
        t.acknowledgedLate += 1;
        break;
      case 'never':
        t.acknowledgedNever += 1;
        break;
      case 'pending':
        t.acknowledgePending += 1;
        break;
    }
    switch (classify(row.resolvedAt, row.followUpDueAt, generatedAt)) {
      case 'onTime':
        t.resolvedOnTime += 1;
        break;
      case 'late':
        t.resolvedLate += 1;
        break;
      case 'never':
        t.resolvedNever += 1;
        break;
      case 'pending':
        t.resolvePending += 1;
        break;
    }
  }
  const report: FollowUpReport = {
    from: period.from,
    to: period.to,
    generatedAt,
    teams: [...teams.values()].sort((a, b) => (a.teamId < b.teamId ? -1 : a.teamId > b.teamId ? 1 : 0)),
  };
  return report;
}

const CSV_COLUMNS = [
  ['team_id', (t: TeamFollowUp) => t.teamId],
  ['alerts', (t: TeamFollowUp) => t.count],
  ['acknowledged_on_time', (t: TeamFollowUp) => t.acknowledgedOnTime],
  ['acknowledged_late', (t: TeamFollowUp) => t.acknowledgedLate],
  ['acknowledged_never', (t: TeamFollowUp) => t.acknowledgedNever],
  ['acknowledge_pending', (t: TeamFollowUp) => t.acknowledgePending],
  ['resolved_on_time', (t: TeamFollowUp) => t.resolvedOnTime],
  ['resolved_late', (t: TeamFollowUp) => t.resolvedLate],
  ['resolved_never', (t: TeamFollowUp) => t.resolvedNever],
  ['resolve_pending', (t: TeamFollowUp) => t.resolvePending],
] as const;

/**
 * RFC 4180 CSV (comma, CRLF, quoted when needed), one row per team. The period and generation time are
 * repeated on every row so that a sheet opened on its own, or several concatenated, still says what it covers.
 */
export function reportToCsv(report: FollowUpReport): string {
  const header = [...CSV_COLUMNS.map(([name]) => name), 'period_from', 'period_to', 'generated_at'];
  const lines = [header.map(csvField).join(',')];
  for (const t of report.teams) {
    lines.push([...CSV_COLUMNS.map(([, value]) => value(t)), report.from, report.to, report.generatedAt].map(csvField).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

export function reportToJson(report: FollowUpReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}

function csvField(value: string | number): string {
  const text = String(value);
  // A leading = + - @ makes spreadsheets evaluate the cell; ids cannot start with them, but be safe.
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
