import type {} from '@fastify/sse';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AlertSchema } from '../alerts/model.js';
import { SeveritySchema } from '../alerts/signal.js';
import { TeamIdSchema } from '../devices/ids.js';
import type { StreamMessage, StreamScope, SseHub } from '../delivery/sse.js';
import { errorBody, errorResponses } from './errors.js';

// Alerts over HTTP for dashboards and integrations (issue 5 item 5): the open list and the live stream
// (Server-Sent Events, resumable with Last-Event-ID). Who may read which team's alerts comes from `authorize`
// (the gateway checks service-account credentials; issue 6 adds nurses' sessions). Nurses' acknowledge and
// resolve routes come with the dashboard (issue 6).

export interface AlertRoutesOptions {
  hub: SseHub;
  /** The open alerts of a scope, most urgent first. */
  listOpen: (scope: StreamScope) => z.infer<typeof AlertSchema>[];
  /** The teams a request may read, from its Authorization header; undefined = not authenticated. */
  authorize: (authorization: string | undefined) => Promise<{ teams: '*' | readonly string[] } | undefined>;
  /** Messages queued for one slow stream before it is dropped (it reconnects and replays from the database). */
  maxQueued?: number;
}

const ScopeQuerySchema = z.strictObject({
  team: TeamIdSchema.optional(),
  minSeverity: SeveritySchema.default('low'),
});

export const alertRoutes: FastifyPluginCallbackZod<AlertRoutesOptions> = (app, opts, done) => {
  const maxQueued = opts.maxQueued ?? 5000;

  /** The scope a request asks for, within what its credentials allow; a reply code when refused. */
  async function scopeOf(authorization: string | undefined, query: z.infer<typeof ScopeQuerySchema>): Promise<StreamScope | 401 | 403> {
    const allowed = await opts.authorize(authorization);
    if (allowed === undefined) return 401;
    if (query.team !== undefined) {
      if (allowed.teams !== '*' && !allowed.teams.includes(query.team)) return 403;
      return { teams: [query.team], minSeverity: query.minSeverity };
    }
    return { teams: allowed.teams === '*' ? '*' : [...allowed.teams], minSeverity: query.minSeverity };
  }

  function refuse(reply: { code(n: number): unknown; header(k: string, v: string): unknown }, code: 401 | 403) {
    if (code === 401) reply.header('www-authenticate', 'Basic realm="tryggheim"');
    reply.code(code);
    return errorBody(code === 401 ? 'TRY_ERR_UNAUTHORIZED' : 'TRY_ERR_FORBIDDEN');
  }

  app.get(
    '/api/v1/alerts',
    { schema: { querystring: ScopeQuerySchema, response: { 200: z.object({ alerts: z.array(AlertSchema) }), ...errorResponses } } },
    async (request, reply) => {
      const scope = await scopeOf(request.headers.authorization, request.query);
      if (typeof scope === 'number') return refuse(reply, scope);
      return { alerts: opts.listOpen(scope) };
    },
  );

  app.get('/api/v1/alerts/stream', { sse: { kind: 'only' }, schema: { querystring: ScopeQuerySchema } }, async (request, reply) => {
    const scope = await scopeOf(request.headers.authorization, request.query);
    if (typeof scope === 'number') return refuse(reply, scope);
    const last = reply.sse.lastEventId;
    const lastEventId = last !== null && /^\d{1,15}$/.test(last) ? Number(last) : undefined;

    // Sends in order, one at a time; a client that stops reading is dropped rather than buffered forever.
    const queue: StreamMessage[] = [];
    let sending = false;
    let gone = false;
    const drain = async (): Promise<void> => {
      if (sending) return;
      sending = true;
      try {
        while (queue.length > 0 && !gone) {
          const next = queue.shift() as StreamMessage;
          await reply.sse.send({ ...(next.id === undefined ? {} : { id: next.id }), event: next.event, data: next.data });
        }
      } catch {
        gone = true;
      } finally {
        sending = false;
      }
    };
    reply.sse.keepAlive();
    // The browser's EventSource reconnects after `retry` ms; 2 s keeps a nurse's screen close to live.
    await reply.sse.send({ event: 'hello', data: { scope }, retry: 2000 });
    const leave = opts.hub.join(
      {
        scope,
        push(messages) {
          if (gone || !reply.sse.isConnected) return false;
          if (queue.length + messages.length > maxQueued) {
            gone = true;
            reply.sse.close();
            return false;
          }
          queue.push(...messages);
          void drain();
          return true;
        },
      },
      lastEventId,
    );
    reply.sse.onClose(() => {
      gone = true;
      leave();
    });
  });

  done();
};
