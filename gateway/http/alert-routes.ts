import type {} from '@fastify/sse';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  AlertError,
  NamedAlertSchema,
  NamedTransitionSchema,
  NoteSchema,
  OutcomeSchema,
  type AcknowledgeInput,
  type Alert,
  type AlertTransition,
  type NamedAlert,
  type NamedTransition,
  type ResolveInput,
} from '../alerts/model.js';
import { SeveritySchema } from '../alerts/signal.js';
import type { AuditLog } from '../auth/audit.js';
import type { AuthContext } from '../auth/guard.js';
import { USER_ID_PATTERN } from '../auth/model.js';
import type { UserStore } from '../auth/users.js';
import { TeamIdSchema } from '../devices/ids.js';
import type { StreamMessage, StreamScope, SseHub } from '../delivery/sse.js';
import { errorResponses, HttpError } from './errors.js';
import { auditFor, authOf, teamsFor, visibleOr404 } from './scope.js';

// Alerts over HTTP for nurses' dashboards and integrations (issue 5 item 5, issue 6 item 1): the open list and
// the live stream (Server-Sent Events, resumable with Last-Event-ID) for a session or a service account (HTTP
// Basic), and for sessions the detail with its timeline, acknowledge and resolve. Who is calling is settled by
// the guard (gateway/auth/guard.ts); each route checks the team: a team filter outside the caller's teams is
// 403, an alert of another team is 404 — the same answer as an id that does not exist. Every view and change
// is written to the audit log, refusals included.
//
// Alerts and timelines store who acted as an id (a user's `u-…`, `rule:<id>`, `system`, a CLI staff id). A
// session's answers and stream add the person's display name next to each id (`acknowledgedByName`,
// `resolvedByName`, `actorName`), looked up here in the user store, so a nurse reads a colleague's name, not an id.
// Anything that is not a known user keeps its id; a service account (an integration) gets ids only, as MQTT and
// webhooks do: display names are for the dashboard.

export interface AlertRoutesOptions {
  hub: SseHub;
  /** The open alerts of a scope, most urgent first. */
  listOpen: (scope: StreamScope) => Alert[];
  get: (alertId: string) => Alert | undefined;
  /** Every transition of the alert, oldest first. */
  timeline: (alertId: string) => AlertTransition[];
  acknowledge: (alertId: string, input: AcknowledgeInput) => AlertTransition[];
  resolve: (alertId: string, input: ResolveInput) => AlertTransition[];
  /** Messages queued for one slow stream before it is dropped (it reconnects and replays from the database). */
  maxQueued?: number;
  /** How often an open stream re-checks its session (logout, timeout, user disabled); default 30 s. */
  recheckMs?: number;
}

const ScopeQuerySchema = z.strictObject({
  team: TeamIdSchema.optional(),
  minSeverity: SeveritySchema.default('low'),
});

const AlertParamsSchema = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/) });
const AckBodySchema = z.strictObject({ note: NoteSchema.optional() });
const ResolveBodySchema = z
  .strictObject({ outcome: OutcomeSchema, note: NoteSchema.optional() })
  .refine((r) => r.outcome !== 'other' || r.note !== undefined, { error: 'outcome "other" needs a note', path: ['note'] });

export const AlertDetailSchema = z.object({ alert: NamedAlertSchema, timeline: z.array(NamedTransitionSchema) });
export const AlertChangeSchema = z.object({ alert: NamedAlertSchema, transitions: z.array(NamedTransitionSchema) });

/** What to call an actor in one answer (see the head of this file). */
type Namer = (actor: string) => string;

/**
 * A session's namer: a user id's display name, anything else as it is. Each id is looked up once per answer. A
 * failed look-up answers the id rather than fail the request (or, in a stream, every other stream's fan-out).
 */
function actorNamer(auth: AuthContext, users: Pick<UserStore, 'get'>): Namer {
  if (auth.kind !== 'user') return (actor) => actor;
  const names = new Map<string, string>();
  return (actor) => {
    let name = names.get(actor);
    if (name === undefined) {
      try {
        name = USER_ID_PATTERN.test(actor) ? (users.get(actor)?.displayName ?? actor) : actor;
      } catch {
        name = actor;
      }
      names.set(actor, name);
    }
    return name;
  };
}

const namedAlert = (alert: Alert, name: Namer): NamedAlert => ({
  ...alert,
  acknowledgedByName: alert.acknowledgedBy === null ? null : name(alert.acknowledgedBy),
  resolvedByName: alert.resolvedBy === null ? null : name(alert.resolvedBy),
});
const namedTransition = (t: AlertTransition, name: Namer): NamedTransition => ({ ...t, actorName: name(t.actor) });

/** A stream's `alert` event with the names added; a `reset` as it is. */
function namedMessage(message: StreamMessage, name: Namer): StreamMessage {
  if (message.event !== 'alert') return message;
  const { transition, alert } = message.data as { transition: AlertTransition; alert: Alert };
  return { ...message, data: { transition: namedTransition(transition, name), alert: namedAlert(alert, name) } };
}

export const alertRoutes: FastifyPluginCallbackZod<AlertRoutesOptions & { audit: AuditLog; users: Pick<UserStore, 'get'> }> = (
  app,
  opts,
  done,
) => {
  const maxQueued = opts.maxQueued ?? 5000;
  const recheckMs = opts.recheckMs ?? 30_000;

  /**
   * The scope a request asks for, within what its caller may read; a foreign team is 403. Audited either way
   * (unlike requireTeams, which audits only a refusal: the alert list has no other audit row).
   */
  function listed(request: FastifyRequest, action: 'alert.list' | 'alert.stream', query: z.infer<typeof ScopeQuerySchema>): StreamScope {
    const auth = authOf(request);
    const teams = teamsFor(auth, query.team);
    auditFor(opts.audit, auth, action, teams === undefined ? 'denied' : 'ok', { targetType: 'team', targetId: query.team ?? null });
    if (teams === undefined) throw new HttpError('TRY_ERR_FORBIDDEN');
    return { teams: teams === '*' ? '*' : [...teams], minSeverity: query.minSeverity };
  }

  /** The alert if the caller's teams include its team; otherwise 404, exactly as for an unknown id. */
  function visible(request: FastifyRequest, id: string, action: 'alert.view' | 'alert.ack' | 'alert.resolve'): Alert {
    return visibleOr404(request, opts.audit, action, { type: 'alert', id, found: opts.get(id), teamOf: (a) => a.teamId }).item;
  }

  /** Runs a change through the alert store and audits it; a refused one (already resolved…) as failed. */
  function change(
    auth: AuthContext,
    alert: Alert,
    action: 'alert.ack' | 'alert.resolve',
    detail: Record<string, string>,
    fn: () => AlertTransition[],
  ): z.infer<typeof AlertChangeSchema> {
    const entry = { targetType: 'alert', targetId: alert.id, teamId: alert.teamId } as const;
    let transitions: AlertTransition[];
    try {
      transitions = fn();
    } catch (err) {
      const code = err instanceof AlertError ? err.code : 'error';
      auditFor(opts.audit, auth, action, 'failed', { ...entry, detail: { ...detail, code } });
      throw err;
    }
    auditFor(opts.audit, auth, action, 'ok', { ...entry, detail });
    const name = actorNamer(auth, opts.users);
    return { alert: namedAlert(opts.get(alert.id) ?? alert, name), transitions: transitions.map((t) => namedTransition(t, name)) };
  }

  app.get(
    '/api/v1/alerts',
    {
      config: { auth: { permission: 'alerts.read', serviceAccounts: true } },
      schema: {
        summary: "Open alerts of the caller's teams, most urgent first",
        tags: ['alerts'],
        querystring: ScopeQuerySchema,
        response: { 200: z.object({ alerts: z.array(NamedAlertSchema) }), ...errorResponses },
      },
    },
    (request) => {
      const name = actorNamer(authOf(request), opts.users);
      return { alerts: opts.listOpen(listed(request, 'alert.list', request.query)).map((a) => namedAlert(a, name)) };
    },
  );

  app.get(
    '/api/v1/alerts/:id',
    {
      config: { auth: { permission: 'alerts.read' } },
      schema: {
        summary: 'An alert with its evidence and its timeline (who did what, when)',
        tags: ['alerts'],
        params: AlertParamsSchema,
        response: { 200: AlertDetailSchema, ...errorResponses },
      },
    },
    (request) => {
      const alert = visible(request, request.params.id, 'alert.view');
      const auth = authOf(request);
      auditFor(opts.audit, auth, 'alert.view', 'ok', { targetType: 'alert', targetId: alert.id, teamId: alert.teamId });
      const name = actorNamer(auth, opts.users);
      return { alert: namedAlert(alert, name), timeline: opts.timeline(alert.id).map((t) => namedTransition(t, name)) };
    },
  );

  app.post(
    '/api/v1/alerts/:id/ack',
    {
      config: { auth: { permission: 'alerts.follow_up' } },
      schema: {
        summary: 'Acknowledge: someone has it; escalation and reminders stop',
        tags: ['alerts'],
        params: AlertParamsSchema,
        body: AckBodySchema,
        response: { 200: AlertChangeSchema, ...errorResponses },
      },
    },
    (request) => {
      const auth = authOf(request);
      const alert = visible(request, request.params.id, 'alert.ack');
      return change(auth, alert, 'alert.ack', {}, () => opts.acknowledge(alert.id, { by: auth.actorId, note: request.body.note }));
    },
  );

  app.post(
    '/api/v1/alerts/:id/resolve',
    {
      config: { auth: { permission: 'alerts.follow_up' } },
      schema: {
        summary: 'Resolve with the follow-up outcome (acknowledges it too if nobody had)',
        tags: ['alerts'],
        params: AlertParamsSchema,
        body: ResolveBodySchema,
        response: { 200: AlertChangeSchema, ...errorResponses },
      },
    },
    (request) => {
      const auth = authOf(request);
      const alert = visible(request, request.params.id, 'alert.resolve');
      const { outcome, note } = request.body;
      return change(auth, alert, 'alert.resolve', { outcome }, () => opts.resolve(alert.id, { by: auth.actorId, outcome, note }));
    },
  );

  app.get(
    '/api/v1/alerts/stream',
    {
      sse: { kind: 'only' },
      config: { auth: { permission: 'alerts.read', serviceAccounts: true } },
      schema: {
        summary: 'Live alert transitions (Server-Sent Events; resume with Last-Event-ID)',
        tags: ['alerts'],
        querystring: ScopeQuerySchema,
      },
    },
    async (request, reply) => {
      const auth = authOf(request);
      const scope = listed(request, 'alert.stream', request.query);
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
      const end = (): void => {
        gone = true;
        reply.sse.close();
      };
      reply.sse.keepAlive();
      // The browser's EventSource reconnects after `retry` ms; 2 s keeps a nurse's screen close to live.
      await reply.sse.send({ event: 'hello', data: { scope }, retry: 2000 });
      const leave = opts.hub.join(
        {
          scope,
          push(messages) {
            if (gone || !reply.sse.isConnected) return false;
            // A stream outlives the request that opened it: its session is re-checked before anything is sent.
            if (queue.length + messages.length > maxQueued || !auth.stillValid()) {
              end();
              return false;
            }
            const name = actorNamer(auth, opts.users);
            queue.push(...messages.map((m) => namedMessage(m, name)));
            void drain();
            return true;
          },
        },
        lastEventId,
      );
      // A quiet stream notices a logout, a timeout or a disabled user within recheckMs; the client's
      // reconnect then gets 401. Checking does not count as activity: an open screen is not a person using it.
      const recheck = setInterval(() => {
        if (!gone && !auth.stillValid()) end();
      }, recheckMs);
      recheck.unref();
      reply.sse.onClose(() => {
        gone = true;
        clearInterval(recheck);
        leave();
      });
    },
  );

  done();
};
