import type { FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditLog } from '../auth/audit.js';
import { csrfAccess, SESSION_COOKIE, sessionCookieOptions } from '../auth/guard.js';
import { SessionUserSchema, type User } from '../auth/model.js';
import { can } from '../auth/roles.js';
import type { SessionKind, SessionStore } from '../auth/sessions.js';
import type { UserStore } from '../auth/users.js';
import { errorResponses, HttpError } from './errors.js';

// The dashboard's login, "who am I" and logout (issue 6 item 2): `POST|GET|DELETE /api/v1/session`.
// The session id lives only in the HttpOnly cookie; the CSRF token comes in the body and goes back in the
// `x-csrf-token` header of every state change. Security events are logged (`event: security.*`, user ids only)
// and written to the audit log: every login, refused or not, is one log line and one audit row
// (`session.login`), never with the password, the username as typed or a session id.

export interface AuthRoutesOptions {
  users: UserStore;
  sessions: SessionStore;
  audit: AuditLog;
  secureCookie: boolean;
  /** Epoch ms (the injected clock the lockout uses). */
  now: () => number;
  /** Login attempts per client address per window (@fastify/rate-limit). */
  loginRateLimit: { max: number; windowMs: number };
}

const LoginBodySchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
  /** A wall-board session: read-only, no idle timeout, ends after `http.auth.boardHours`. */
  board: z.boolean().default(false),
});

export const SessionResponseSchema = z.object({
  user: SessionUserSchema,
  /** Send it back as `x-csrf-token` on every POST, PUT, PATCH and DELETE. */
  csrfToken: z.string(),
  /** `board`: a wall-board session (alerts read-only). */
  sessionKind: z.enum(['user', 'board']),
});

const toSessionUser = (u: User) => ({ id: u.id, username: u.username, displayName: u.displayName, role: u.role, teams: u.teams });

interface Refusal {
  /** `anonymous` while the password was not right; `user` when it was but the login is still refused. */
  readonly actorType: 'anonymous' | 'user';
  readonly userId: string | undefined;
  /** The log line's outcome: `failed` (credentials), `locked`, `denied` (right password, not allowed). */
  readonly outcome: 'failed' | 'locked' | 'denied';
  readonly reason: string;
  readonly kind: SessionKind;
}

export const authRoutes: FastifyPluginCallbackZod<AuthRoutesOptions> = (app, opts, done) => {
  const cookie = sessionCookieOptions(opts.secureCookie);

  /** One log line and one audit row for a refused login, whatever refused it. */
  function refused(request: FastifyRequest, r: Refusal): void {
    const board: Record<string, string> = r.kind === 'board' ? { sessionKind: r.kind } : {};
    request.log.info({ event: 'security.login', outcome: r.outcome, reason: r.reason, userId: r.userId, ...board }, 'login refused');
    opts.audit.record({
      actorType: r.actorType,
      actorId: r.userId ?? null,
      action: 'session.login',
      outcome: r.outcome === 'denied' ? 'denied' : 'failed',
      detail: { reason: r.reason, locked: r.outcome === 'locked', ...board },
    });
  }

  app.post(
    '/api/v1/session',
    {
      config: { auth: 'login', rateLimit: { max: opts.loginRateLimit.max, timeWindow: opts.loginRateLimit.windowMs } },
      schema: {
        summary: 'Log in (sets the tg_sid cookie)',
        tags: ['session'],
        body: LoginBodySchema,
        response: { 200: SessionResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      // Session fixation: whatever id the client came with is ended and never becomes the logged-in one.
      const before = request.cookies[SESSION_COOKIE];
      if (before !== undefined) opts.sessions.destroy(before);

      const kind: SessionKind = request.body.board ? 'board' : 'user';
      const result = await opts.users.login(request.body.username, request.body.password);
      if (!result.ok) {
        const locked = result.lockedUntil !== undefined;
        refused(request, {
          actorType: 'anonymous',
          userId: result.userId,
          outcome: locked ? 'locked' : 'failed',
          reason: result.reason,
          kind,
        });
        if (result.lockedUntil === undefined) throw new HttpError('TRY_ERR_LOGIN_FAILED');
        const seconds = Math.max(1, Math.ceil((result.lockedUntil - opts.now()) / 1000));
        throw new HttpError('TRY_ERR_LOCKED', { 'retry-after': String(Math.min(seconds, 24 * 3600)) });
      }

      // A board shows alerts: only for those who may read them.
      if (kind === 'board' && !can(result.user.role, 'alerts.read')) {
        refused(request, { actorType: 'user', userId: result.user.id, outcome: 'denied', reason: 'role', kind });
        throw new HttpError('TRY_ERR_FORBIDDEN');
      }
      const { id, session } = opts.sessions.create(result.user.id, kind);
      void reply.setCookie(SESSION_COOKIE, id, cookie);
      request.session = csrfAccess(opts.sessions, session);
      request.log.info({ event: 'security.login', outcome: 'ok', userId: result.user.id, sessionKind: kind }, 'logged in');
      opts.audit.record({
        actorType: 'user',
        actorId: result.user.id,
        action: 'session.login',
        outcome: 'ok',
        ...(kind === 'board' ? { detail: { sessionKind: kind } } : {}),
      });
      return { user: toSessionUser(result.user), csrfToken: reply.generateCsrf(), sessionKind: kind };
    },
  );

  app.get(
    '/api/v1/session',
    {
      config: { auth: { permission: 'session' } },
      schema: {
        summary: 'The logged-in user and a fresh CSRF token',
        tags: ['session'],
        response: { 200: SessionResponseSchema, ...errorResponses },
      },
    },
    (request, reply) => {
      const auth = request.auth;
      if (auth?.kind !== 'user') throw new HttpError('TRY_ERR_UNAUTHORIZED');
      return { user: toSessionUser(auth.user), csrfToken: reply.generateCsrf(), sessionKind: auth.session.kind };
    },
  );

  app.delete(
    '/api/v1/session',
    {
      config: { auth: { permission: 'session' } },
      schema: {
        summary: 'Log out (ends the session on the server)',
        tags: ['session'],
        response: { 204: z.null().describe('logged out'), ...errorResponses },
      },
    },
    async (request, reply) => {
      const auth = request.auth;
      if (auth?.kind !== 'user') throw new HttpError('TRY_ERR_UNAUTHORIZED');
      opts.sessions.destroyByKey(auth.session.key);
      void reply.clearCookie(SESSION_COOKIE, cookie);
      request.log.info({ event: 'security.logout', userId: auth.user.id }, 'logged out');
      opts.audit.record({ actorType: 'user', actorId: auth.user.id, action: 'session.logout', outcome: 'ok' });
      return reply.code(204).send(null);
    },
  );

  done();
};
