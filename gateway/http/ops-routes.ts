import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { errorResponses } from './errors.js';

// Probes and metrics for the platform (orchestrator, Prometheus), not for people. /healthz says the process
// can answer at all (restart it if not); /readyz says it can do its job (stop routing to it if not).

/** Named readiness checks, e.g. `{ broker: true, database: false }`; all must be true to be ready. */
export type ReadinessChecks = Record<string, boolean>;

export interface OpsRoutesOptions {
  metrics: { readonly registry: Registry };
  readiness: () => ReadinessChecks;
}

export const HealthResponseSchema = z.object({ status: z.literal('ok') });

const ChecksSchema = z.record(z.string(), z.boolean());
export const ReadyResponseSchema = z.object({ status: z.literal('ready'), checks: ChecksSchema });
export const NotReadyResponseSchema = z.object({ status: z.literal('not_ready'), checks: ChecksSchema });

// The exposition is text, sent as a string with the registry's content type, so fastify does not run it
// through the serializer; the schema documents the route.
export const MetricsResponseSchema = z.string().describe('Prometheus text exposition format');

export const opsRoutes: FastifyPluginCallbackZod<OpsRoutesOptions> = (app, opts, done) => {
  app.get('/healthz', { schema: { response: { 200: HealthResponseSchema, ...errorResponses } } }, () => ({ status: 'ok' }) as const);

  app.get(
    '/readyz',
    { schema: { response: { 200: ReadyResponseSchema, 503: NotReadyResponseSchema, ...errorResponses } } },
    (_request, reply) => {
      const checks = opts.readiness();
      if (Object.values(checks).every(Boolean)) {
        return { status: 'ready', checks } as const;
      }
      reply.code(503);
      return { status: 'not_ready', checks } as const;
    },
  );

  app.get('/metrics', { schema: { response: { 200: MetricsResponseSchema, ...errorResponses } } }, async (_request, reply) => {
    const { registry } = opts.metrics;
    const body = await registry.metrics();
    reply.type(registry.contentType);
    return body;
  });

  done();
};
