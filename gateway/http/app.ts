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
import type { Logger } from 'pino';
import fastifySseModule, { type SSEPluginOptions } from '@fastify/sse';
import { alertRoutes, type AlertRoutesOptions } from './alert-routes.js';
import { errorBody, mapError } from './errors.js';
import { opsRoutes, type OpsRoutesOptions } from './ops-routes.js';

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

export interface HttpAppDeps extends OpsRoutesOptions {
  /** The gateway logger, or false for none (tests). */
  logger: Logger | false;
  /** The alert list and live stream; absent in tests of the ops routes alone. */
  alerts?: AlertRoutesOptions;
}

/**
 * The gateway's HTTP API, ready for `inject()` or `startHttpServer()`; it does not listen. Routes declare
 * zod schemas (responses included, so only declared fields leave the server) through the zod type provider.
 */
export function buildApp(deps: HttpAppDeps): HttpApp {
  const loggerInstance: FastifyBaseLogger | undefined = deps.logger === false ? undefined : deps.logger.child({ component: 'http' });
  const app = fastify({
    ...(loggerInstance === undefined ? { logger: false } : { loggerInstance }),
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

  // Explicit registration, no autoloading: every route the gateway serves is listed here.
  void app.register(opsRoutes, { metrics: deps.metrics, readiness: deps.readiness });
  if (deps.alerts !== undefined) {
    // Heartbeat comments keep idle streams open through proxies and let a dead peer be noticed.
    void app.register(fastifySse, { heartbeatInterval: 15_000 });
    void app.register(alertRoutes, deps.alerts);
  }

  return app;
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
  void reply.code(mapped.statusCode).send(mapped.body);
}
