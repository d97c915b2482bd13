import { afterEach, describe, expect, it } from 'vitest';
import { createStats } from '../../../broker/stats.js';
import type { BrokerStats } from '../../../broker/types.js';
import { buildApp, type HttpApp } from '../../../gateway/http/app.js';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';

const allReady = () => ({ broker: true, database: true });

const apps: HttpApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function app(deps: Partial<Parameters<typeof buildApp>[0]> = {}): HttpApp {
  const built = buildApp({
    logger: false,
    metrics: createMetrics({ brokerStats: () => undefined }),
    readiness: allReady,
    ...deps,
  });
  apps.push(built);
  return built;
}

function capturedLogger() {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines };
}

describe('GET /healthz', () => {
  it('answers 200 ok while the process is alive', async () => {
    const res = await app().inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('stays ok when a readiness check fails', async () => {
    const res = await app({ readiness: () => ({ broker: false, database: false }) }).inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
  });
});

describe('GET /readyz', () => {
  it('answers 200 ready with the checks when all pass', async () => {
    const res = await app().inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { broker: true, database: true } });
  });

  it('answers 503 not_ready naming the failing check', async () => {
    const res = await app({ readiness: () => ({ broker: true, database: false }) }).inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'not_ready', checks: { broker: true, database: false } });
  });

  it('refuses to send a body its response schema does not allow', async () => {
    // A check that is not a boolean is a wiring bug; the schema stops it instead of reporting "ready".
    const readiness = () => ({ broker: 'yes' }) as unknown as Record<string, boolean>;
    const res = await app({ readiness }).inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'TRY_ERR_INTERNAL', message: 'internal error' } });
  });

  it('asks the checks at every request', async () => {
    let brokerUp = false;
    const a = app({ readiness: () => ({ broker: brokerUp, database: true }) });
    expect((await a.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    brokerUp = true;
    expect((await a.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('GET /metrics', () => {
  it('serves the registry in Prometheus text format with its content type', async () => {
    const stats: BrokerStats = createStats({ openConnections: () => 1, unauthenticatedConnections: () => 0, connectedClients: () => 1 });
    stats.connectionsAccepted = 1;
    stats.authFailures.bad_secret = 3;
    const metrics = createMetrics({ brokerStats: () => stats });

    const res = await app({ metrics }).inject({ method: 'GET', url: '/metrics' });

    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(metrics.registry.contentType);
    const lines = res.body.split('\n');
    expect(lines).toContain('# TYPE tryggheim_mqtt_auth_failures_total counter');
    expect(lines).toContain('tryggheim_mqtt_auth_failures_total{reason="bad_secret"} 3');
    // Sent as text, not JSON-encoded into a quoted string.
    expect(res.body.startsWith('"')).toBe(false);
  });

  it('serves process metrics before the broker has started', async () => {
    const res = await app().inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/^tryggheim_process_cpu_user_seconds_total \d/m);
    expect(res.body).not.toMatch(/^tryggheim_mqtt_/m);
  });
});

describe('errors', () => {
  it('answers an unknown route with 404 TRY_ERR_NOT_FOUND', async () => {
    const res = await app().inject({ method: 'GET', url: '/no/such/route?resident=Kari' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ error: { code: 'TRY_ERR_NOT_FOUND', message: 'not found' } });
  });

  it('answers an unsupported method on a known path with 404 TRY_ERR_NOT_FOUND', async () => {
    const res = await app().inject({ method: 'DELETE', url: '/healthz' });
    expect(res.statusCode).toBe(404);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('TRY_ERR_NOT_FOUND');
  });

  it("answers a malformed URL with 400 TRY_ERR_BAD_REQUEST, not fastify's own error shape", async () => {
    const res = await app().inject({ method: 'GET', url: '/healthz%' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'TRY_ERR_BAD_REQUEST', message: 'bad request' } });
  });

  it('hides a fault from the client as TRY_ERR_INTERNAL and logs it', async () => {
    const { logger, lines } = capturedLogger();
    const a = app({
      logger,
      readiness: () => {
        throw new Error('sqlite: cannot open /var/lib/tryggheim/secret-path.db');
      },
    });

    const res = await a.inject({ method: 'GET', url: '/readyz' });

    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'TRY_ERR_INTERNAL', message: 'internal error' } });
    expect(res.body).not.toContain('sqlite');
    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string }; code?: string });
    const failure = logged.find((l) => l.msg === 'http request failed');
    expect(failure?.level).toBe(50);
    expect(failure?.code).toBe('TRY_ERR_INTERNAL');
    expect(failure?.err?.message).toContain('secret-path.db');
  });

  it('logs requests by route template, without query strings or client addresses', async () => {
    const { logger, lines } = capturedLogger();
    const a = app({ logger });

    await a.inject({ method: 'GET', url: '/healthz?resident=Kari%20Nordmann', remoteAddress: '10.1.2.3' });
    await a.inject({ method: 'GET', url: '/unknown?resident=Kari%20Nordmann', remoteAddress: '10.1.2.3' });

    const text = lines.join('');
    expect(text).not.toContain('Kari');
    expect(text).not.toContain('10.1.2.3');
    const responses = lines
      .map((l) => JSON.parse(l) as { msg: string; route?: string; statusCode?: number })
      .filter((l) => l.msg === 'http response');
    expect(responses.map((r) => [r.route, r.statusCode])).toEqual([
      ['/healthz', 200],
      ['(unmatched)', 404],
    ]);
  });
});
