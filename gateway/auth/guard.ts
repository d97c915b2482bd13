import type {} from '@fastify/cookie';
import type {} from '@fastify/csrf-protection';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify';
import { HttpError } from '../http/errors.js';
import type { AuditLog } from './audit.js';
import type { User } from './model.js';
import { can, PERMISSIONS, scopeOf, type Permission } from './roles.js';
import type { Session, SessionStore } from './sessions.js';
import type { UserStore } from './users.js';

/*
 * The one gate every route passes (issue 6 item 2). Each route declares in its config who may call it:
 *
 *   config: { auth: 'public' }                                    probes, metrics, the API docs
 *   config: { auth: 'login' }                                     POST /api/v1/session only (same-origin check)
 *   config: { auth: { permission: 'alerts.read' } }               a logged-in user whose role holds it
 *   config: { auth: { permission: 'alerts.read', serviceAccounts: true } }   … or an integration (GET only)
 *
 * A route that declares nothing makes `ready()` fail, and is refused with a 500 should it ever be reached:
 * forgetting the declaration can never make a route public. Plugins whose routes cannot carry config (the
 * Swagger UI) are registered in a scope marked by `markRoutesPublic`. A state change (POST, PUT, PATCH,
 * DELETE) by a session needs the session's CSRF token in `x-csrf-token` and, when the browser sends one, an
 * Origin of this host. Team scope is the route's own check (`inScope`, answering 404 for a foreign team).
 * A caller refused for their role is a security event: logged and written to the audit log (`roleRefused`).
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
  interface FastifyRequest {
    /** Who is calling, set by the guard on every route that is not public. */
    auth: AuthContext | null;
    /** The CSRF secret's home, in the get/set shape @fastify/csrf-protection uses for secure sessions. */
    session: CsrfSessionAccess | null;
  }
}

export type RouteAuth = 'public' | 'login' | { readonly permission: Permission; readonly serviceAccounts?: true };

export interface UserAuth {
  readonly kind: 'user';
  readonly user: User;
  readonly session: Session;
  readonly scope: '*' | readonly string[];
  readonly actorId: string;
  /** False once the session ended, expired or the user was disabled (checked without counting as activity). */
  stillValid(): boolean;
}

export interface ServiceAuth {
  readonly kind: 'service';
  readonly scope: readonly string[];
  readonly actorId: string;
  stillValid(): boolean;
}

export type AuthContext = UserAuth | ServiceAuth;

export interface CsrfSessionAccess {
  get(key: string): string | undefined;
  set(key: string, value: unknown): void;
  options(opts: unknown): void;
}

export interface GuardDeps {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly secureCookie: boolean;
  /** HTTP Basic for integrations (service accounts): id and secret → its team, or undefined. */
  readonly serviceAccount?: ((id: string, secret: Buffer) => { teamId: string } | undefined) | undefined;
  /** Where refusals by role are recorded. */
  readonly audit: Pick<AuditLog, 'record'>;
}

export const SESSION_COOKIE = 'tg_sid';
export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_SESSION_KEY = '_csrf';
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const READ_ONLY = new Set(['GET', 'HEAD']);

/** `tg_sid=…; Path=/; HttpOnly; Secure; SameSite=Strict`, no Max-Age: the server decides when it ends. */
export function sessionCookieOptions(secure: boolean) {
  return { path: '/', httpOnly: true, secure, sameSite: 'strict' } as const;
}

/** The session's CSRF secret for @fastify/csrf-protection (`sessionPlugin: '@fastify/secure-session'`). */
export function csrfAccess(sessions: SessionStore, session: Session): CsrfSessionAccess {
  let secret = session.csrfSecret ?? undefined;
  return {
    get: (key) => (key === CSRF_SESSION_KEY ? secret : undefined),
    set: (key, value) => {
      if (key !== CSRF_SESSION_KEY || typeof value !== 'string') return;
      secret = value;
      sessions.setCsrfSecret(session.key, value);
    },
    options: () => undefined,
  };
}

export function inScope(auth: AuthContext, teamId: string): boolean {
  return auth.scope === '*' || auth.scope.includes(teamId);
}

function methodsOf(route: RouteOptions): string[] {
  return Array.isArray(route.method) ? route.method : [route.method];
}

/** Why a route's declaration is not acceptable, or undefined when it is. */
export function declarationProblem(route: RouteOptions): string | undefined {
  const auth = route.config?.auth;
  const methods = methodsOf(route);
  if (auth === undefined) return 'declares no config.auth';
  if (auth === 'public') return undefined;
  if (auth === 'login') return methods.every((m) => m === 'POST') ? undefined : "'login' is for the POST that logs in";
  if (!(auth.permission in PERMISSIONS)) return `unknown permission ${auth.permission}`;
  if (auth.serviceAccounts === true && !methods.every((m) => READ_ONLY.has(m))) return 'service accounts are read-only (GET only)';
  return undefined;
}

/**
 * Routes registered in this scope that declare nothing become public: for plugins whose routes cannot carry
 * config (Swagger UI, @fastify/static). Call it first thing in the scope's plugin function.
 */
export function markRoutesPublic(scope: { addHook(name: 'onRoute', hook: (route: RouteOptions) => void): unknown }): void {
  scope.addHook('onRoute', (route) => {
    route.config = { auth: 'public', ...route.config };
  });
}

/** Same origin as this host, as far as the browser says (a client that sends neither header is no browser). */
export function sameOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false;
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    // Compared under the origin's scheme, so a default port written or left out (Host: localhost:80) is the same.
    const from = new URL(origin);
    return from.host === new URL(`${from.protocol}//${request.host}`).host;
  } catch {
    return false;
  }
}

/** What a wall-board session may do, whoever's it is: show the open alerts live, and log out. */
const BOARD: ReadonlySet<Permission> = new Set<Permission>(['session', 'alerts.read']);

export function createAuthGuard(deps: GuardDeps | undefined) {
  const routes: RouteOptions[] = [];
  const cookieOptions = sessionCookieOptions(deps?.secureCookie ?? true);

  function userContext(d: GuardDeps, user: User, session: Session): UserAuth {
    return {
      kind: 'user',
      user,
      session,
      scope: scopeOf(user.role, user.teams),
      actorId: user.id,
      stillValid: () => d.sessions.byKey(session.key) !== undefined && d.users.get(user.id)?.enabled === true,
    };
  }

  function fromSession(request: FastifyRequest, reply: FastifyReply, d: GuardDeps): UserAuth | undefined {
    const sid = request.cookies[SESSION_COOKIE];
    if (sid === undefined || sid === '') return undefined;
    const found = d.sessions.use(sid);
    if (found.ok) {
      const user = d.users.get(found.session.userId);
      if (user?.enabled === true) return userContext(d, user, found.session);
      // Disabled since login (or removed): the session ends at this request, not at its timeout.
      d.sessions.destroyByKey(found.session.key);
      request.log.info({ event: 'security.session_refused', reason: 'user_disabled', userId: found.session.userId }, 'session refused');
    } else if (found.reason === 'idle' || found.reason === 'absolute') {
      request.log.info({ event: 'security.session_expired', reason: found.reason, userId: found.userId }, 'session expired');
    }
    // The browser's cookie names nothing usable any more: tell it to drop it.
    void reply.clearCookie(SESSION_COOKIE, cookieOptions);
    return undefined;
  }

  function fromBasic(request: FastifyRequest, d: GuardDeps): ServiceAuth | undefined {
    const m = /^Basic ([A-Za-z0-9+/=]{1,512})$/.exec(request.headers.authorization ?? '');
    if (m?.[1] === undefined || d.serviceAccount === undefined) return undefined;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return undefined;
    const account = d.serviceAccount(decoded.slice(0, colon), Buffer.from(decoded.slice(colon + 1), 'utf8'));
    if (account === undefined) return undefined;
    return { kind: 'service', scope: [account.teamId], actorId: decoded.slice(0, colon), stillValid: () => true };
  }

  /**
   * A logged-in user whose role (or wall-board session) may not call this route: one log line and one audit
   * row — who, which route, why — so that someone trying routes beyond their role shows up. The route's
   * pattern, never the URL (its query) or the body.
   */
  function roleRefused(request: FastifyRequest, d: GuardDeps, ctx: UserAuth, permission: Permission): HttpError {
    const reason = can(ctx.user.role, permission) ? 'board_session' : 'role';
    const route = request.routeOptions.url ?? '?';
    const facts = { method: request.method, route, permission, reason, role: ctx.user.role, sessionKind: ctx.session.kind };
    request.log.info({ event: 'security.forbidden', userId: ctx.actorId, ...facts }, "request refused for the caller's role");
    try {
      d.audit.record({ actorType: 'user', actorId: ctx.actorId, action: 'api.request', outcome: 'denied', detail: facts });
    } catch (err) {
      // The caller is refused all the same; a refusal must not turn into a 500.
      request.log.error({ event: 'security.audit_failed', err }, 'audit row for a refusal not written');
    }
    return new HttpError('TRY_ERR_FORBIDDEN');
  }

  return {
    onRoute: (route: RouteOptions): void => {
      routes.push(route);
    },

    /** Fails `ready()` (and so start-up and every test) when a route's declaration is missing or wrong. */
    onReady: (done: HookHandlerDoneFunction): void => {
      const problems = routes
        .map((r) => [r, declarationProblem(r)] as const)
        .filter(([, p]) => p !== undefined)
        .map(([r, p]) => `${methodsOf(r).join(',')} ${r.url}: ${p ?? ''}`);
      done(problems.length === 0 ? undefined : new Error(`routes without a valid auth declaration:\n  ${problems.join('\n  ')}`));
    },

    onRequest: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
      // The not-found handler answers unmatched URLs; it has no route config.
      if (request.is404) return done();
      const auth = request.routeOptions.config.auth;
      if (auth === undefined) return done(new Error(`route ${request.routeOptions.url ?? '?'} declares no auth`));
      if (auth === 'public') return done();
      // Answers about people's health and sessions are never cached by a browser or proxy.
      void reply.header('cache-control', 'no-store');
      if (auth === 'login') return done(sameOrigin(request) ? undefined : new HttpError('TRY_ERR_CSRF'));

      const ctx = deps && (fromSession(request, reply, deps) ?? (auth.serviceAccounts === true ? fromBasic(request, deps) : undefined));
      if (ctx === undefined) {
        // A Basic challenge only where Basic is accepted and no session cookie was sent, so a dashboard whose
        // session ended gets its login page, not the browser's own password dialog.
        if (auth.serviceAccounts === true && request.cookies[SESSION_COOKIE] === undefined) {
          void reply.header('www-authenticate', 'Basic realm="tryggheim"');
        }
        return done(new HttpError('TRY_ERR_UNAUTHORIZED'));
      }
      if (
        ctx.kind === 'user' &&
        deps &&
        !(can(ctx.user.role, auth.permission) && (ctx.session.kind === 'user' || BOARD.has(auth.permission)))
      )
        return done(roleRefused(request, deps, ctx, auth.permission));
      request.auth = ctx;
      if (ctx.kind === 'user' && deps) request.session = csrfAccess(deps.sessions, ctx.session);
      if (!STATE_CHANGING.has(request.method)) return done();
      if (ctx.kind !== 'user' || !sameOrigin(request))
        return done(new HttpError(ctx.kind === 'user' ? 'TRY_ERR_CSRF' : 'TRY_ERR_FORBIDDEN'));
      // Verifies x-csrf-token against the session's secret; on failure it replies 403 itself (→ TRY_ERR_CSRF).
      request.server.csrfProtection(request, reply, done);
    },
  };
}
