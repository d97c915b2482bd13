import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditLog } from '../auth/audit.js';
import { HomeIdSchema } from '../devices/ids.js';
import type { Home } from '../devices/model.js';
import { CHART_MEASUREMENTS, chartFields, type ChartMeasurement, type HomeQuery } from '../storage/home-query.js';
import { errorResponses, HttpError } from './errors.js';
import { auditFor, visibleHome } from './scope.js';

// A home's time series for the charts on its page (issue 6 item 1): one numeric field of one measurement over
// [from, to), downsampled by InfluxDB (GROUP BY time: mean and max per bucket, per device), at most `points`
// buckets (≤ 2000; a chart is a few hundred pixels wide) over at most 31 days. Empty buckets are left out, so a
// gap in the data stays a gap. Read with InfluxQL, which 1.x, 2.x (DBRP) and 3.x all answer.

export interface TelemetryRoutesOptions {
  registry: { getHome(id: string): Home | undefined };
  /** InfluxDB reads; undefined when `influx.url` is not set (then 503 TRY_ERR_STORAGE_UNAVAILABLE). */
  influx?: HomeQuery | undefined;
}

export const MAX_SERIES_DAYS = 31;
export const MAX_POINTS = 2000;
/** Buckets shorter than this would only repeat single readings. */
export const MIN_BUCKET_MS = 1000;

const Instant = z.iso.datetime({ offset: true, error: 'expected an ISO instant with Z or an offset, e.g. 2026-03-10T08:00:00Z' });

const SeriesQuerySchema = z
  .strictObject({
    measurement: z.enum(CHART_MEASUREMENTS),
    field: z.string().min(1).max(64),
    from: Instant,
    to: Instant,
    points: z.coerce.number().int().min(1).max(MAX_POINTS).default(500),
  })
  .refine((q) => chartFields(q.measurement).includes(q.field), {
    error: 'not a numeric field of this measurement',
    path: ['field'],
  })
  .refine((q) => Date.parse(q.to) > Date.parse(q.from), { error: 'to must be after from', path: ['to'] })
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= MAX_SERIES_DAYS * 86_400_000, {
    error: `at most ${MAX_SERIES_DAYS} days after from`,
    path: ['to'],
  });

const ParamsSchema = z.strictObject({ id: HomeIdSchema });

export const SeriesResponseSchema = z.object({
  homeId: z.string(),
  measurement: z.enum(CHART_MEASUREMENTS),
  field: z.string(),
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  /** Length of each bucket; a point's `t` is its bucket's start. */
  bucketMs: z.int(),
  series: z.array(
    z.object({
      deviceId: z.string(),
      points: z.array(z.object({ t: z.iso.datetime(), mean: z.number(), max: z.number() })),
    }),
  ),
});

/** Bucket length for a range and a number of points: whole milliseconds, never below MIN_BUCKET_MS. */
export function bucketFor(from: number, to: number, points: number): number {
  return Math.max(MIN_BUCKET_MS, Math.ceil((to - from) / points));
}

export const telemetryRoutes: FastifyPluginCallbackZod<TelemetryRoutesOptions & { audit: AuditLog }> = (app, opts, done) => {
  app.get(
    '/api/v1/homes/:id/series',
    {
      config: { auth: { permission: 'care.read' } },
      schema: {
        summary: "A home's readings over a range, downsampled for a chart (mean and max per bucket and device)",
        tags: ['homes'],
        params: ParamsSchema,
        querystring: SeriesQuerySchema,
        response: { 200: SeriesResponseSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { auth, home } = visibleHome(
        request,
        { audit: opts.audit, getHome: (id) => opts.registry.getHome(id) },
        request.params.id,
        'home.series',
      );
      const q = request.query;
      const measurement: ChartMeasurement = q.measurement;
      const from = Date.parse(q.from);
      const to = Date.parse(q.to);
      const bucketMs = bucketFor(from, to, q.points);
      const entry = { targetType: 'home', targetId: home.id, teamId: home.teamId, detail: { measurement, field: q.field } } as const;
      if (opts.influx === undefined) {
        auditFor(opts.audit, auth, 'home.series', 'failed', entry);
        throw new HttpError('TRY_ERR_STORAGE_UNAVAILABLE');
      }
      let series;
      try {
        series = await opts.influx.series({ homeId: home.id, measurement, field: q.field, from, to, bucketMs });
      } catch (err) {
        request.log.warn({ event: 'http.influx_unavailable', route: '/api/v1/homes/:id/series', err }, 'InfluxDB read failed');
        auditFor(opts.audit, auth, 'home.series', 'failed', entry);
        throw new HttpError('TRY_ERR_STORAGE_UNAVAILABLE');
      }
      auditFor(opts.audit, auth, 'home.series', 'ok', entry);
      return {
        homeId: home.id,
        measurement,
        field: q.field,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        bucketMs,
        series,
      };
    },
  );

  done();
};
