import {
  fastify,
  LogController,
  type FastifyPluginAsync,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrfProtection from '@fastify/csrf-protection';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySseModule, { type SSEPluginOptions } from '@fastify/sse';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { createAuditLog } from '../auth/audit.js';
import { createAuthGuard, markRoutesPublic, CSRF_HEADER, CSRF_SESSION_KEY, SESSION_COOKIE, type GuardDeps } from '../auth/guard.js';
import type { ScryptParams } from '../auth/password.js';
import { createSessionStore } from '../auth/sessions.js';
import { createUserStore } from '../auth/users.js';
import type { HttpAuthConfig } from '../config/schema.js';
import type { Database } from '../db/sqlite.js';
import { dashboardRoutes, type DashboardRoutesOptions } from '../../dashboard/serve.js';
import { alertRoutes, type AlertRoutesOptions } from './alert-routes.js';
import { authRoutes } from './auth-routes.js';
import { careRoutes, type CareRoutesOptions } from './care-routes.js';
import { deadLetterRoutes, type DeadLetterRoutesOptions } from './deadletter-routes.js';
import { deviceRoutes, type DeviceRoutesOptions } from './device-routes.js';
import { errorBody, mapError } from './errors.js';
import { homeRoutes, type HomeRoutesOptions } from './home-routes.js';
import { opsRoutes, type OpsRoutesOptions } from './ops-routes.js';
import { reportRoutes, type ReportRoutesOptions } from './report-routes.js';
import { teamRoutes, type TeamRoutesOptions } from './team-routes.js';
import { telemetryRoutes, type TelemetryRoutesOptions } from './telemetry-routes.js';

// @fastify/sse is CommonJS: at run time the default import is its module.exports, the fastify-plugin-wrapped
// plugin (what must be registered so its reply decorator reaches our routes); its typings call that the module.
const fastifySse = fastifySseModule as unknown as FastifyPluginAsync<SSEPluginOptions>;

export type HttpApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/** What logins, sessions, the role and team guard and the audit log need (gateway/auth). */
export interface HttpAuthDeps {
  db: Database;
  /** Epoch ms: session timeouts and lockouts run on it (tests use a fake clock). */
  now: () => number;
  config: HttpAuthConfig;
  /** HTTP Basic for integrations on the read-only alert routes. */
  serviceAccount?: GuardDeps['serviceAccount'];
  /** Cost of password hashes made through the API's stores; tests use a cheap one. */
  passwordParams?: ScryptParams;
}

export interface HttpAppDeps extends OpsRoutesOptions {
  /** The gateway logger, or false for none (tests). */
  logger: Logger | false;
  /** Addresses of reverse proxies whose X-Forwarded-For is believed (fastify `trustProxy`); empty = none. */
  trustProxy?: string;
  /** Users, sessions and the audit log; every route but probes, metrics, docs and login needs them. */
  auth?: HttpAuthDeps;
  /** The alert list, stream, detail, acknowledge and resolve (needs `auth`). */
  alerts?: AlertRoutesOptions;
  /** The web UI (dashboard/serve.ts); false = not served (tests of the API alone). Default: the built one. */
  dashboard?: DashboardRoutesOptions | false;
  /** The follow-up report (needs `auth`). */
  reports?: Omit<ReportRoutesOptions, 'audit'>;
  /** Homes: the list and a home's page (needs `auth`). */
  homes?: HomeRoutesOptions;
  /** Devices: health, assign, disable/enable, rotate secret (needs `auth`). */
  devices?: DeviceRoutesOptions;
  /** Dead letters (list, show, replay) and the adapter list (needs `auth`). */
  deadLetters?: DeadLetterRoutesOptions;
  /** A home's time series from InfluxDB (needs `auth`). */
  telemetry?: TelemetryRoutesOptions;
  /** A home's care plan, read and changed (needs `auth`). */
  care?: CareRoutesOptions;
  /** Teams, and user management for admins (needs `auth`; users come from its store). */
  teams?: TeamRoutesOptions;
}

/**
 * Content-Security-Policy: everything from this origin only (the dashboard is served by the gateway, no CDN);
 * no inline scripts, no inline style attributes or elements (uPlot and Preact set styles through the CSSOM,
 * which CSP does not restrict), no framing, no plugins.
 */
export const CSP_DIRECTIVES = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
};

/**
 * The gateway's HTTP API, ready for `inject()` or `startHttpServer()`; it does not listen. Routes declare
 * zod schemas (responses included, so only declared fields leave the server) through the zod type provider.
 */
export function buildApp(deps: HttpAppDeps): HttpApp {
  const loggerInstance: FastifyBaseLogger | undefined = deps.logger === false ? undefined : deps.logger.child({ component: 'http' });
  const app = fastify({
    ...(loggerInstance === undefined ? { logger: false } : { loggerInstance }),
    ...(deps.trustProxy !== undefined && deps.trustProxy !== '' ? { trustProxy: deps.trustProxy } : {}),
    logController: new GatewayLogController(),
    frameworkErrors: (err, request, reply) => {
      sendError(err, request, reply);
    },
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler((err, request, reply) => {
    sendError(err, request, reply);
  });

  app.setNotFoundHandler((_request, reply) => {
    return reply.code(404).send(errorBody('TRY_ERR_NOT_FOUND'));
  });

  const auth = deps.auth && authStores(deps.auth);
  const needAuth = [deps.alerts, deps.reports, deps.homes, deps.devices, deps.deadLetters, deps.telemetry, deps.care, deps.teams];
  if (needAuth.some((d) => d !== undefined) && auth === undefined) {
    throw new Error('buildApp: the /api/v1 resources need deps.auth');
  }

  // Every route declares who may call it (gateway/auth/guard.ts); the guard sees each one as it is added.
  const guard = createAuthGuard(auth && { ...auth, secureCookie: auth.config.secureCookie, serviceAccount: deps.auth?.serviceAccount });
  app.decorateRequest('auth', null);
  app.decorateRequest('session', null);
  app.addHook('onRoute', guard.onRoute);
  app.addHook('onReady', guard.onReady);

  void app.register(fastifyCookie);
  void app.register(fastifyHelmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    frameguard: { action: 'deny' },
  });
  void app.register(fastifyCsrfProtection, {
    // The secret lives in the session row, reached through request.session's get/set (the shape the plugin
    // uses for @fastify/secure-session); the token travels only in this header, never in a body or a cookie.
    sessionPlugin: '@fastify/secure-session',
    sessionKey: CSRF_SESSION_KEY,
    getToken: (request) => {
      const token = request.headers[CSRF_HEADER];
      return typeof token === 'string' ? token : undefined;
    },
    logLevel: 'info',
  });
  void app.register(fastifyRateLimit, { global: false });
  void app.register(fastifySwagger, {
    openapi: {
      info: { title: 'Tryggheim gateway API', version: '1' },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
          csrf: { type: 'apiKey', in: 'header', name: CSRF_HEADER },
          serviceAccount: { type: 'http', scheme: 'basic' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  // The guard runs after @fastify/cookie's own onRequest hook (registered above), so cookies are parsed.
  app.after(() => {
    app.addHook('onRequest', guard.onRequest);
  });

  // Explicit registration, no autoloading: every route the gateway serves is listed here.
  // Probes and metrics are for the platform, the API description for integrators: no login.
  void app.register(async (open) => {
    markRoutesPublic(open);
    await open.register(opsRoutes, { metrics: deps.metrics, readiness: deps.readiness });
    // Swagger UI's assets come from the package itself (no CDN); its routes cannot carry config. It injects a
    // <style> element (seen in Chromium as a style-src-elem violation), so /docs alone — a page without data —
    // also allows inline styles; the dashboard keeps the strict policy.
    await open.register(fastifySwaggerUi, {
      routePrefix: '/docs',
      uiConfig: { deepLinking: false },
      transformStaticCSP: (header) => header.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
    });
    // The dashboard's pages and hashed assets: no data in them (the login page must load without a session);
    // everything they show comes from the API, which checks session, role and team.
    if (deps.dashboard !== false) await open.register(dashboardRoutes, deps.dashboard ?? {});
  });
  if (auth !== undefined) {
    void app.register(authRoutes, {
      ...auth,
      secureCookie: auth.config.secureCookie,
      now: auth.now,
      loginRateLimit: { max: auth.config.loginRateLimit.max, windowMs: auth.config.loginRateLimit.windowSec * 1000 },
    });
    if (deps.alerts !== undefined) {
      // Heartbeat comments keep idle streams open through proxies and let a dead peer be noticed.
      void app.register(fastifySse, { heartbeatInterval: 15_000 });
      void app.register(alertRoutes, { ...deps.alerts, audit: auth.audit, users: auth.users });
    }
    if (deps.reports !== undefined) void app.register(reportRoutes, { ...deps.reports, audit: auth.audit });
    if (deps.homes !== undefined) void app.register(homeRoutes, { ...deps.homes, audit: auth.audit });
    if (deps.devices !== undefined) void app.register(deviceRoutes, { ...deps.devices, audit: auth.audit });
    if (deps.deadLetters !== undefined) void app.register(deadLetterRoutes, { ...deps.deadLetters, audit: auth.audit });
    if (deps.telemetry !== undefined) void app.register(telemetryRoutes, { ...deps.telemetry, audit: auth.audit });
    if (deps.care !== undefined) void app.register(careRoutes, { ...deps.care, audit: auth.audit });
    if (deps.teams !== undefined) void app.register(teamRoutes, { ...deps.teams, users: auth.users, audit: auth.audit });
  }

  return app;
}

function authStores(d: HttpAuthDeps) {
  const c = d.config;
  const users = createUserStore({
    db: d.db,
    now: d.now,
    lockout: { maxFailures: c.lockout.maxFailures, lockMs: c.lockout.lockMinutes * 60_000 },
    ...(d.passwordParams ? { passwordParams: d.passwordParams } : {}),
  });
  return {
    config: c,
    now: d.now,
    users,
    sessions: createSessionStore({
      db: d.db,
      now: d.now,
      idleMs: c.idleMinutes * 60_000,
      absoluteMs: c.absoluteHours * 3_600_000,
      boardMs: c.boardHours * 3_600_000,
    }),
    audit: createAuditLog({ db: d.db, now: d.now }),
  };
}

/**
 * Fastify's own per-request lines carry the raw URL (query strings may later hold ids) and the client's
 * address (personal data). These overrides log the route template instead, at debug for routine traffic;
 * Fastify's other internal lines (serializer and stream errors) stay as they are.
 */
class GatewayLogController extends LogController {
  override incomingRequest(): void {
    // One line per request is enough; it is written when the response is done.
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { method: request.method, route: routeOf(request), statusCode: reply.statusCode, ms: reply.elapsedTime };
    if (error) {
      reply.log.error({ ...line, err: error }, 'http response failed');
    } else {
      reply.log.debug(line, 'http response');
    }
  }

  override routeNotFound(): void {
    // The not-found handler answers; requestCompleted logs the 404 without its URL.
  }

  override writeHeadError(error: Error, request: FastifyRequest, reply: FastifyReply): void {
    reply.log.warn({ method: request.method, route: routeOf(request), err: error }, 'http response could not be written');
  }
}

function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? '(unmatched)';
}

function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const mapped = mapError(err);
  if (mapped.isServerError) {
    request.log.error({ err, route: routeOf(request), code: mapped.body.error.code }, 'http request failed');
  } else {
    request.log.info({ route: routeOf(request), statusCode: mapped.statusCode, code: mapped.body.error.code }, 'http request refused');
  }
  for (const [name, value] of Object.entries(mapped.headers ?? {})) void reply.header(name, value);
  void reply.code(mapped.statusCode).send(mapped.body);
}
