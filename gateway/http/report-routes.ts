import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FollowUpReportSchema, reportToCsv, type FollowUpReport, type ReportQuery } from '../alerts/report.js';
import type { AuditLog } from '../auth/audit.js';
import { TeamIdSchema } from '../devices/ids.js';
import { addDays, localToUtc, parseDate } from '../rules/local-time.js';
import { errorResponses, HttpError } from './errors.js';
import { auditFor, authOf, teamsFor } from './scope.js';

// The follow-up report for team leads and admins (issue 6 item 1; issue 5 item 4 computes it): per team and
// period, alerts acknowledged and resolved on time, late, never or still pending. Dates read as in
// `tryggheim alerts report`: YYYY-MM-DD is a local date in Europe/Oslo, `to` includes that whole day; an ISO
// instant needs Z or an offset. Without `team`, a team lead gets one row per own team, an admin every team.

export interface ReportRoutesOptions {
  followUpReport: (query: ReportQuery) => FollowUpReport;
  audit: AuditLog;
}

const DISTRICT_TIME_ZONE = 'Europe/Oslo';
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const DateOrInstant = z.string().refine((s) => parseDate(s) !== undefined || (INSTANT.test(s) && !Number.isNaN(Date.parse(s))), {
  error: 'expected YYYY-MM-DD or an ISO instant with Z or an offset',
});

const ReportQuerySchema = z
  .strictObject({
    team: TeamIdSchema.optional(),
    from: DateOrInstant,
    to: DateOrInstant,
    format: z.enum(['json', 'csv']).default('json'),
  })
  .refine((q) => toMs(q.from, 'from') <= toMs(q.to, 'to'), { error: 'from must not be after to', path: ['to'] });

function toMs(text: string, which: 'from' | 'to'): number {
  const date = parseDate(text);
  if (date !== undefined) return localToUtc(which === 'to' ? addDays(date, 1) : date, 0, DISTRICT_TIME_ZONE);
  return Date.parse(text);
}

export const reportRoutes: FastifyPluginCallbackZod<ReportRoutesOptions> = (app, opts, done) => {
  app.get(
    '/api/v1/reports/follow-up',
    {
      config: { auth: { permission: 'reports.read' } },
      schema: {
        summary: 'Follow-up report per team and period (JSON, or CSV with format=csv)',
        tags: ['reports'],
        querystring: ReportQuerySchema,
        response: { 200: z.union([FollowUpReportSchema, z.string().describe('text/csv (RFC 4180)')]), ...errorResponses },
      },
    },
    (request, reply) => {
      const auth = authOf(request);
      const q = request.query;
      // Audited whether shown or refused: the report is a view of the teams' follow-up, as a list is.
      const teams = teamsFor(auth, q.team);
      auditFor(opts.audit, auth, 'report.view', teams === undefined ? 'denied' : 'ok', {
        targetType: 'report',
        targetId: 'follow-up',
        teamId: q.team ?? null,
      });
      if (teams === undefined) throw new HttpError('TRY_ERR_FORBIDDEN');

      const period = { from: toMs(q.from, 'from'), to: toMs(q.to, 'to') };
      const parts = (teams === '*' ? [undefined] : teams).map((teamId) => opts.followUpReport({ ...period, teamId }));
      // A user without teams (only possible by editing the database) gets an empty report, not every team's.
      const report: FollowUpReport = { ...(parts[0] ?? opts.followUpReport(period)), teams: parts.flatMap((p) => p.teams) };
      if (q.format === 'json') return report;
      void reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="follow-up-${q.from.slice(0, 10)}-${q.to.slice(0, 10)}.csv"`);
      return reportToCsv(report);
    },
  );

  done();
};
