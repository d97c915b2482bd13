import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Alert } from '../alerts/model.js';
import type { AuditLog } from '../auth/audit.js';
import { buildDoseLog, doseLogWindow, DoseLogEntrySchema, type DoseAlertLookup, type TakenReport } from '../care/dose-log.js';
import type { CarePlan } from '../care/model.js';
import { HomeIdSchema, TeamIdSchema } from '../devices/ids.js';
import type { DeviceRegistry } from '../devices/registry.js';
import { EVENT_MEASUREMENTS, type HomeEvent, type HomeQuery } from '../storage/home-query.js';
import { errorResponses } from './errors.js';
import {
  DeviceHealthSchema,
  deviceHealthView,
  homeSummary,
  HomeSummarySchema,
  indexAlerts,
  type DeviceHealthView,
  type HealthSources,
} from './health-view.js';
import { auditFor, requireTeams, teamMatches, visibleHome } from './scope.js';

// Homes for nurses, team leads and admins (issue 6 item 1): the list with each home's open alerts and device
// health, and a home's page — its devices, its recent events and its dose log. Technicians have no home pages
// (no care data): they see devices, with their home id, under /api/v1/devices. Every view is audited.
//
// Recent events: the home's latest dose, lock and alarm events of the last 7 days from InfluxDB (the durable
// record; readings are for the charts, /homes/{id}/series). The dose log: gateway/care/dose-log.ts. Without
// InfluxDB (not configured, or not answering within its timeout) the page still answers: no recent events,
// the dose log from the missed-dose alerts alone, and `sources.influx` says why.

export interface HomeRoutesOptions extends HealthSources {
  registry: Pick<DeviceRegistry, 'listHomes' | 'getHome' | 'listDevices'>;
  /** Alerts not yet resolved, of these teams. */
  openAlerts: (teams: '*' | readonly string[]) => Alert[];
  care: { planFor(homeId: string): CarePlan | undefined };
  doseAlerts: DoseAlertLookup;
  /** InfluxDB reads; undefined when `influx.url` is not set. */
  influx?: HomeQuery | undefined;
  /** Epoch ms. */
  now: () => number;
}

export const DOSE_LOG_DAYS = 7;
const RECENT_DAYS = 7;

const HomeEventSchema = z.object({
  at: z.iso.datetime(),
  deviceId: z.string(),
  type: z.enum(EVENT_MEASUREMENTS),
  kind: z.string(),
  slot: z.string().nullable(),
  method: z.string().nullable(),
  active: z.boolean().nullable(),
});

export const SourceStateSchema = z.enum(['ok', 'not_configured', 'unavailable']);

export const HomeDetailSchema = z.object({
  home: HomeSummarySchema,
  devices: z.array(DeviceHealthSchema),
  /** Newest first. */
  recentEvents: z.array(HomeEventSchema),
  doseLog: z.object({ days: z.int(), from: z.iso.datetime(), doses: z.array(DoseLogEntrySchema) }),
  sources: z.object({ influx: SourceStateSchema }),
});

const ListQuerySchema = z.strictObject({ team: TeamIdSchema.optional() });
const HomeParamsSchema = z.strictObject({ id: HomeIdSchema });
const DetailQuerySchema = z.strictObject({
  events: z.coerce.number().int().min(1).max(100).default(20),
});

/** Reads both InfluxDB parts of a home page; a failure is logged (never a payload) and reported as unavailable. */
async function influxParts(
  influx: HomeQuery | undefined,
  log: FastifyBaseLogger,
  homeId: string,
  range: { since: number; from: number; now: number; events: number },
): Promise<{ state: z.infer<typeof SourceStateSchema>; events: HomeEvent[]; taken: TakenReport[] }> {
  if (influx === undefined) return { state: 'not_configured', events: [], taken: [] };
  try {
    const [events, taken] = await Promise.all([
      influx.recentEvents(homeId, range.since, range.events),
      // From 12 h before the first day: a report may name its dose by slot up to 12 h away.
      influx.doseReports(homeId, 'taken', range.from - 12 * 3_600_000, range.now + 60_000),
    ]);
    return { state: 'ok', events, taken };
  } catch (err) {
    log.warn({ event: 'http.influx_unavailable', route: '/api/v1/homes/:id', err }, 'InfluxDB read failed; home page without it');
    return { state: 'unavailable', events: [], taken: [] };
  }
}

export const homeRoutes: FastifyPluginCallbackZod<HomeRoutesOptions & { audit: AuditLog }> = (app, opts, done) => {
  const getHome = (id: string) => opts.registry.getHome(id);

  app.get(
    '/api/v1/homes',
    {
      config: { auth: { permission: 'care.read' } },
      schema: {
        summary: "The homes of the caller's teams: open alerts by severity, device health, last event",
        tags: ['homes'],
        querystring: ListQuerySchema,
        response: { 200: z.object({ homes: z.array(HomeSummarySchema) }), ...errorResponses },
      },
    },
    (request) => {
      const { auth, teams } = requireTeams(request, opts.audit, 'home.list', request.query.team);
      const homes = opts.registry.listHomes().filter((h) => teamMatches(teams, h.teamId));
      const teamOf = new Map(homes.map((h) => [h.id, h.teamId]));
      const idx = indexAlerts(opts.openAlerts(teams));
      const byHome = new Map<string, DeviceHealthView[]>();
      for (const d of opts.registry.listDevices()) {
        if (d.homeId === null || !teamOf.has(d.homeId)) continue;
        const list = byHome.get(d.homeId) ?? [];
        list.push(deviceHealthView(d, teamOf.get(d.homeId), opts, idx));
        byHome.set(d.homeId, list);
      }
      auditFor(opts.audit, auth, 'home.list', 'ok', {
        targetType: 'team',
        targetId: request.query.team ?? null,
        teamId: request.query.team ?? null,
        detail: { homes: homes.length },
      });
      return { homes: homes.map((h) => homeSummary(h, byHome.get(h.id) ?? [], opts, idx)) };
    },
  );

  app.get(
    '/api/v1/homes/:id',
    {
      config: { auth: { permission: 'care.read' } },
      schema: {
        summary: 'A home: its devices with health, its recent events and the dose log of the last 7 days',
        tags: ['homes'],
        params: HomeParamsSchema,
        querystring: DetailQuerySchema,
        response: { 200: HomeDetailSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { auth, home } = visibleHome(request, { audit: opts.audit, getHome }, request.params.id, 'home.view');
      const now = opts.now();
      const idx = indexAlerts(opts.openAlerts([home.teamId]));
      const devices = opts.registry.listDevices({ homeId: home.id }).map((d) => deviceHealthView(d, home.teamId, opts, idx));
      const plan = opts.care.planFor(home.id);
      const window = doseLogWindow(home, now, DOSE_LOG_DAYS);
      const influx = await influxParts(opts.influx, request.log, home.id, {
        since: now - RECENT_DAYS * 86_400_000,
        from: window.from,
        now,
        events: request.query.events,
      });
      const doses =
        plan === undefined
          ? []
          : buildDoseLog({ plan, now, days: DOSE_LOG_DAYS, taken: influx.taken, alerts: opts.doseAlerts(home.id, window) });
      auditFor(opts.audit, auth, 'home.view', 'ok', { targetType: 'home', targetId: home.id, teamId: home.teamId });
      return {
        home: homeSummary(home, devices, opts, idx),
        devices,
        recentEvents: influx.events,
        doseLog: { days: DOSE_LOG_DAYS, from: new Date(window.from).toISOString(), doses },
        sources: { influx: influx.state },
      };
    },
  );

  done();
};
