import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditLog } from '../auth/audit.js';
import { CareError, NightWindowInputSchema, OverrideParamsSchema, ScheduleInputSchema, VisitInputSchema } from '../care/inputs.js';
import { CareDetailsSchema, type CareStore } from '../care/store.js';
import { HomeIdSchema } from '../devices/ids.js';
import type { Home } from '../devices/model.js';
import type { AnyRule } from '../rules/contract.js';
import { RULES } from '../rules/registry.js';
import { errorResponses } from './errors.js';
import { auditFor, visibleHome } from './scope.js';

// A home's care plan over HTTP (issue 6 item 1): the medication schedule, the night window, the planned visits
// and the rule overrides the alert rules read — what `tryggheim care` edits. Nurses read it; team leads and
// admins change it. The rules notice a change within a second (gateway/alerting.ts polls care revisions).
//
// PUT replaces the parts it names and leaves the others: `doses` (the whole schedule; [] clears it), `night`
// (null = back to the default 22:00–07:00), `visits` (every stored visit, past ones too, is replaced by the
// list), `overrides` (rule id → parameters; rules left out go back to their defaults). All parts are written
// in one transaction: a schedule that contradicts itself (TRY_ERR_DOSE_CONFLICT) changes nothing. Overrides
// are checked against the rule's own parameter schema here, where the CLI stores them unchecked and the rule
// falls back to its defaults — an API caller learns of the mistake at once.

export interface CareRoutesOptions {
  registry: { getHome(id: string): Home | undefined };
  care: Pick<
    CareStore,
    'details' | 'setSchedule' | 'setNightWindow' | 'clearNightWindow' | 'clearVisits' | 'addVisit' | 'setOverride' | 'clearOverride'
  >;
  /** Runs fn in one write transaction (SQLite IMMEDIATE), so that a PUT is all or nothing. */
  transaction: <T>(fn: () => T) => T;
  /** The rules whose overrides may be set (default: the gateway's rules). */
  rules?: readonly AnyRule[];
}

/** A visit plan is a few weeks of visits; a year of four a day still fits. */
export const MAX_VISITS = 1500;

const ParamsSchema = z.strictObject({ id: HomeIdSchema });

function bodySchema(rules: readonly AnyRule[]) {
  return z
    .strictObject({
      doses: ScheduleInputSchema.optional(),
      night: NightWindowInputSchema.nullable().optional(),
      visits: z
        .array(VisitInputSchema)
        .max(MAX_VISITS, { error: `at most ${MAX_VISITS} visits` })
        .optional(),
      overrides: z.record(z.string(), OverrideParamsSchema).optional(),
    })
    .refine((b) => Object.keys(b).length > 0, { error: 'name at least one of doses, night, visits, overrides' })
    .superRefine((b, ctx) => {
      for (const [ruleId, params] of Object.entries(b.overrides ?? {})) {
        const rule = rules.find((r) => r.id === ruleId);
        if (rule === undefined) {
          ctx.addIssue({ code: 'custom', message: 'no rule with this id', path: ['overrides', ruleId] });
          continue;
        }
        const parsed = rule.defaults.safeParse(params);
        for (const issue of parsed.success ? [] : parsed.error.issues.slice(0, 1)) {
          ctx.addIssue({ code: 'custom', message: issue.message, path: ['overrides', ruleId, ...issue.path.map(String)] });
        }
      }
    });
}

export const careRoutes: FastifyPluginCallbackZod<CareRoutesOptions & { audit: AuditLog }> = (app, opts, done) => {
  const getHome = (id: string) => opts.registry.getHome(id);

  app.get(
    '/api/v1/homes/:id/care',
    {
      config: { auth: { permission: 'care.read' } },
      schema: {
        summary: "A home's care plan as the rules read it (schedule, night window, visits, overrides), defaults marked",
        tags: ['care'],
        params: ParamsSchema,
        response: { 200: CareDetailsSchema, ...errorResponses },
      },
    },
    (request) => {
      const { auth, home } = visibleHome(request, { audit: opts.audit, getHome }, request.params.id, 'care.view');
      const details = opts.care.details(home.id);
      auditFor(opts.audit, auth, 'care.view', 'ok', { targetType: 'home', targetId: home.id, teamId: home.teamId });
      return details;
    },
  );

  app.put(
    '/api/v1/homes/:id/care',
    {
      config: { auth: { permission: 'care.write' } },
      schema: {
        summary: "Replace parts of a home's care plan (doses, night, visits, overrides), all in one transaction",
        tags: ['care'],
        params: ParamsSchema,
        body: bodySchema(opts.rules ?? RULES),
        response: { 200: CareDetailsSchema, ...errorResponses },
      },
    },
    (request) => {
      const { auth, home } = visibleHome(request, { audit: opts.audit, getHome }, request.params.id, 'care.update');
      const b = request.body;
      const sections = Object.keys(b).sort().join(',');
      const entry = { targetType: 'home', targetId: home.id, teamId: home.teamId } as const;
      let details;
      try {
        details = opts.transaction(() => {
          if (b.doses !== undefined) opts.care.setSchedule(home.id, b.doses);
          if (b.night === null) opts.care.clearNightWindow(home.id);
          else if (b.night !== undefined) opts.care.setNightWindow(home.id, b.night);
          if (b.visits !== undefined) {
            opts.care.clearVisits(home.id);
            for (const v of b.visits) opts.care.addVisit(home.id, v);
          }
          if (b.overrides !== undefined) {
            const next = b.overrides;
            for (const ruleId of Object.keys(opts.care.details(home.id).overrides)) {
              if (!(ruleId in next)) opts.care.clearOverride(home.id, ruleId);
            }
            for (const [ruleId, params] of Object.entries(next)) opts.care.setOverride(home.id, ruleId, params);
          }
          return opts.care.details(home.id);
        });
      } catch (err) {
        auditFor(opts.audit, auth, 'care.update', 'failed', {
          ...entry,
          detail: { sections, code: err instanceof CareError ? err.code : 'error' },
        });
        throw err;
      }
      auditFor(opts.audit, auth, 'care.update', 'ok', { ...entry, detail: { sections } });
      return details;
    },
  );

  done();
};
