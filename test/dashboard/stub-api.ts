import { randomBytes } from 'node:crypto';
import { fastify, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Outcome } from '../../gateway/alerts/model.js';
import { dashboardRoutes } from '../../dashboard/serve.js';
import type { Session, StubState, StubUser } from './stub-state.js';

// A TEST DOUBLE of the dashboard's API contract (issue 6: /api/v1/session, /api/v1/alerts, the stream, detail,
// ack, resolve), so the browser test can drive the UI before the real session API exists. It is not the
// gateway: no passwords hashed, no SQLite, no roles. The real-gateway browser test replaces it.

export { createStubState, type StubState } from './stub-state.js';

const COOKIE = 'tryggheim_sid';
const OUTCOMES: readonly Outcome[] = [
  'visited_ok',
  'visited_action_taken',
  'contacted_by_phone',
  'false_alarm',
  'technical_fixed',
  'other',
];

function cookieOf(request: FastifyRequest): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === COOKIE) return v;
  }
  return undefined;
}

function error(reply: FastifyReply, status: number, code: string) {
  return reply.code(status).send({ error: { code, message: code.toLowerCase() } });
}

function publicUser(u: StubUser) {
  return { id: u.id, username: u.username, displayName: u.displayName, role: u.role, teams: u.teams };
}

/** The stub API's routes on `app`, over `state`. */
export function registerStubApi(app: FastifyInstance, state: StubState): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const h = request.headers['x-csrf-token'];
    state.calls.push({ method: request.method, url: request.url, csrf: typeof h === 'string' ? h : undefined });
    done();
  });

  const sessionOf = (request: FastifyRequest) => {
    const sid = cookieOf(request);
    return sid === undefined ? undefined : state.sessions.get(sid);
  };
  /** The session, checking CSRF on state changes; undefined when it already replied. */
  const guard = (request: FastifyRequest, reply: FastifyReply): Session | undefined => {
    const s = sessionOf(request);
    if (s === undefined) {
      void error(reply, 401, 'TRY_ERR_UNAUTHORIZED');
      return undefined;
    }
    if (request.method !== 'GET' && request.headers['x-csrf-token'] !== s.csrfToken) {
      void error(reply, 403, 'TRY_ERR_CSRF');
      return undefined;
    }
    return s;
  };

  app.post('/api/v1/session', async (request, reply) => {
    const body = request.body as { username?: string; password?: string } | undefined;
    const user = state.users.find((u) => u.username === body?.username && u.password === body.password);
    if (user === undefined) return error(reply, 401, 'TRY_ERR_LOGIN_FAILED');
    const sid = randomBytes(16).toString('hex');
    const session = { user, csrfToken: randomBytes(16).toString('hex') };
    state.sessions.set(sid, session);
    void reply.header('set-cookie', `${COOKIE}=${sid}; HttpOnly; SameSite=Strict; Path=/`);
    return { user: publicUser(user), csrfToken: session.csrfToken };
  });
  app.get('/api/v1/session', async (request, reply) => {
    const s = sessionOf(request);
    if (s === undefined) return error(reply, 401, 'TRY_ERR_UNAUTHORIZED');
    return { user: publicUser(s.user), csrfToken: s.csrfToken };
  });
  app.delete('/api/v1/session', async (request, reply) => {
    if (guard(request, reply) === undefined) return reply;
    state.sessions.delete(cookieOf(request) ?? '');
    return reply.header('set-cookie', `${COOKIE}=; Max-Age=0; Path=/`).code(204).send();
  });

  app.get('/api/v1/alerts', async (request, reply) => {
    const s = guard(request, reply);
    if (s === undefined) return reply;
    return { alerts: state.openAlerts(s.user.teams) };
  });

  app.get('/api/v1/alerts/stream', (request, reply) => {
    const s = guard(request, reply);
    if (s === undefined) return reply;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify({ scope: { teams: s.user.teams, minSeverity: 'low' } })}\n\n`);
    const last = Number(request.headers['last-event-id']);
    if (Number.isInteger(last)) {
      for (const e of state.outbox)
        if (e.id > last && s.user.teams.includes(e.alert.teamId))
          res.write(`id: ${e.id}\nevent: alert\ndata: ${JSON.stringify({ transition: e.transition, alert: e.alert })}\n\n`);
    }
    const client = { res, teams: s.user.teams };
    state.clients.add(client);
    request.raw.on('close', () => state.clients.delete(client));
    return reply;
  });

  const scoped = (s: Session, id: string) => {
    const a = state.alerts.get(id);
    return a !== undefined && s.user.teams.includes(a.teamId) ? a : undefined;
  };

  app.get('/api/v1/alerts/:id', async (request, reply) => {
    const s = guard(request, reply);
    if (s === undefined) return reply;
    const a = scoped(s, (request.params as { id: string }).id);
    if (a === undefined) return error(reply, 404, 'TRY_ERR_ALERT_NOT_FOUND');
    return { alert: a, timeline: state.timeline.get(a.id) ?? [] };
  });

  app.post('/api/v1/alerts/:id/ack', async (request, reply) => {
    const s = guard(request, reply);
    if (s === undefined) return reply;
    const a = scoped(s, (request.params as { id: string }).id);
    if (a === undefined) return error(reply, 404, 'TRY_ERR_ALERT_NOT_FOUND');
    if (state.ackDelay() > 0) await new Promise((r) => setTimeout(r, state.ackDelay()));
    const failure = state.takeAckFailure();
    if (failure !== undefined) return error(reply, failure.status, failure.code);
    if (a.ack === 'acknowledged') return error(reply, 409, 'TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED');
    return { alert: state.acknowledge(a.id, s.user.id) };
  });

  app.post('/api/v1/alerts/:id/resolve', async (request, reply) => {
    const s = guard(request, reply);
    if (s === undefined) return reply;
    const a = scoped(s, (request.params as { id: string }).id);
    if (a === undefined) return error(reply, 404, 'TRY_ERR_ALERT_NOT_FOUND');
    const body = request.body as { outcome?: Outcome; note?: string } | undefined;
    const outcome = body?.outcome;
    if (outcome === undefined || !OUTCOMES.includes(outcome) || (outcome === 'other' && body?.note === undefined)) {
      return error(reply, 400, 'TRY_ERR_VALIDATION');
    }
    if (!a.open) return error(reply, 409, 'TRY_ERR_ALERT_ALREADY_RESOLVED');
    return { alert: state.resolve(a.id, s.user.id, outcome, body?.note) };
  });
}

/** The gateway's Content-Security-Policy (CSP_DIRECTIVES in gateway/http/app.ts): the UI must work under it. */
export const STRICT_CSP =
  "default-src 'self'; base-uri 'self'; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; img-src 'self' data:; object-src 'none'; script-src 'self'; script-src-attr 'none'; style-src 'self'";

/** A server with the dashboard and the stub API, listening on 127.0.0.1:`port` (0 = any free one). */
export async function startStubServer(state: StubState, publicDir: string, port = 0): Promise<{ app: FastifyInstance; port: number }> {
  const app = fastify({ logger: false, forceCloseConnections: true });
  app.addHook('onSend', (_request, reply, payload, done) => {
    void reply.header('content-security-policy', STRICT_CSP);
    done(null, payload);
  });
  app.addHook('onClose', (_instance, done) => {
    for (const c of state.clients) c.res.destroy();
    state.clients.clear();
    done();
  });
  registerStubApi(app, state);
  await app.register(dashboardRoutes, { publicDir });
  await app.listen({ host: '127.0.0.1', port });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { app, port: address.port };
}
