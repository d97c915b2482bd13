import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_ROUTES } from '../../../dashboard/serve.js';
import type { Role } from '../../../gateway/auth/model.js';
import type { HomeQuery } from '../../../gateway/storage/home-query.js';
import { authFixture, expectErrorOnly, login, PASSWORD, type Fixture, type LoggedIn } from './auth-fixture.js';

// The authorization matrix, generated from fastify's route table (every route as fastify adds it, HEAD included):
// every route × every role × a foreign team is refused with nothing but the error body; without a session it is
// 401; every state change without a valid CSRF token is 403. A route added later is covered the moment it
// exists: it must be on the PUBLIC allow-list (with the reason) or have a CASE here, or the first test fails.
// Users are of team-a; team-b's alert, home, device and dead letter are the foreign data that must never show.

const PUBLIC: Readonly<Record<string, string>> = {
  'GET /healthz': 'liveness probe for the platform',
  'GET /readyz': 'readiness probe for the platform',
  'GET /metrics': 'Prometheus scrape: counters, no personal data',
  'POST /api/v1/session': 'the login itself: same-origin check, rate limit and lockout instead (session.test.ts)',
  ...Object.fromEntries(DASHBOARD_ROUTES.map((url) => [`GET ${url}`, 'the dashboard page or asset: no data, the API checks every call'])),
};
/** Swagger UI and the OpenAPI description: the API's shape, no data. */
const PUBLIC_PREFIX = '/docs';

const ALL: readonly Role[] = ['nurse', 'team_lead', 'technician', 'admin'];
const USER_OF: Readonly<Record<Role, string>> = { nurse: 'nurse-a1', team_lead: 'lead-a1', technician: 'tech-a1', admin: 'admin-1' };
const PERIOD = 'from=2026-03-01&to=2026-03-31';
const SERIES = 'measurement=sensor&field=temperature_c&from=2026-03-10T00:00:00Z&to=2026-03-10T06:00:00Z';
const CARE_ROLES: readonly Role[] = ['nurse', 'team_lead', 'admin'];
const TECH_ROLES: readonly Role[] = ['technician', 'admin'];

/** Stand-in for InfluxDB: no data at all. The series route against a real influxd is in telemetry-routes.test.ts. */
const NO_DATA_INFLUX_STAND_IN: HomeQuery = {
  recentEvents: () => Promise.resolve([]),
  doseReports: () => Promise.resolve([]),
  series: () => Promise.resolve([]),
};

interface Req {
  readonly url: string;
  readonly payload?: object;
}

interface Case {
  /** Roles that may call the route at all (before the team check). */
  readonly allowed: readonly Role[];
  readonly serviceAccounts?: true;
  /** The same request aimed at team-b's data; null for a route that names no team (one's own session). */
  readonly foreign: (() => Req) | null;
  /** A request on team-a's data (fresh each call) that an allowed role may make. */
  readonly own: () => Req;
  /** Allowed requests never finish (Server-Sent Events), so they are not sent. */
  readonly stream?: true;
}

let fx: Fixture;
let foreignAlert: string;
let foreignDeadLetter: number;
let ownDeadLetter: number;
/** Dead letters of team-a to replay, one per replay request (a replayed one cannot be replayed again). */
const replayable: number[] = [];
let targetUser: string;
let newUsers = 0;
const freshOwn = (): string => fx.raise('home-a1');
const nextReplayable = (): number => {
  const id = replayable.shift();
  if (id === undefined) throw new Error('the matrix needs more dead letters to replay');
  return id;
};

const CASES: Readonly<Record<string, Case>> = {
  'GET /api/v1/session': { allowed: ALL, foreign: null, own: () => ({ url: '/api/v1/session' }) },
  'DELETE /api/v1/session': { allowed: ALL, foreign: null, own: () => ({ url: '/api/v1/session' }) },
  'GET /api/v1/alerts': {
    allowed: ['nurse', 'team_lead', 'admin'],
    serviceAccounts: true,
    foreign: () => ({ url: '/api/v1/alerts?team=team-b' }),
    own: () => ({ url: '/api/v1/alerts?team=team-a' }),
  },
  'GET /api/v1/alerts/stream': {
    allowed: ['nurse', 'team_lead', 'admin'],
    serviceAccounts: true,
    stream: true,
    foreign: () => ({ url: '/api/v1/alerts/stream?team=team-b' }),
    own: () => ({ url: '/api/v1/alerts/stream?team=team-a' }),
  },
  'GET /api/v1/alerts/:id': {
    allowed: ['nurse', 'team_lead', 'admin'],
    foreign: () => ({ url: `/api/v1/alerts/${foreignAlert}` }),
    own: () => ({ url: `/api/v1/alerts/${freshOwn()}` }),
  },
  'POST /api/v1/alerts/:id/ack': {
    allowed: ['nurse', 'team_lead', 'admin'],
    foreign: () => ({ url: `/api/v1/alerts/${foreignAlert}/ack`, payload: { note: 'on my way' } }),
    own: () => ({ url: `/api/v1/alerts/${freshOwn()}/ack`, payload: { note: 'on my way' } }),
  },
  'POST /api/v1/alerts/:id/resolve': {
    allowed: ['nurse', 'team_lead', 'admin'],
    foreign: () => ({ url: `/api/v1/alerts/${foreignAlert}/resolve`, payload: { outcome: 'visited_ok' } }),
    own: () => ({ url: `/api/v1/alerts/${freshOwn()}/resolve`, payload: { outcome: 'visited_ok' } }),
  },
  'GET /api/v1/reports/follow-up': {
    allowed: ['team_lead', 'admin'],
    foreign: () => ({ url: `/api/v1/reports/follow-up?team=team-b&${PERIOD}` }),
    own: () => ({ url: `/api/v1/reports/follow-up?team=team-a&${PERIOD}` }),
  },
  'GET /api/v1/homes': {
    allowed: CARE_ROLES,
    foreign: () => ({ url: '/api/v1/homes?team=team-b' }),
    own: () => ({ url: '/api/v1/homes?team=team-a' }),
  },
  'GET /api/v1/homes/:id': {
    allowed: CARE_ROLES,
    foreign: () => ({ url: '/api/v1/homes/home-b1' }),
    own: () => ({ url: '/api/v1/homes/home-a1' }),
  },
  'GET /api/v1/homes/:id/series': {
    allowed: CARE_ROLES,
    foreign: () => ({ url: `/api/v1/homes/home-b1/series?${SERIES}` }),
    own: () => ({ url: `/api/v1/homes/home-a1/series?${SERIES}` }),
  },
  'GET /api/v1/homes/:id/care': {
    allowed: CARE_ROLES,
    foreign: () => ({ url: '/api/v1/homes/home-b1/care' }),
    own: () => ({ url: '/api/v1/homes/home-a1/care' }),
  },
  'PUT /api/v1/homes/:id/care': {
    allowed: ['team_lead', 'admin'],
    foreign: () => ({ url: '/api/v1/homes/home-b1/care', payload: { night: { from: '21:00', to: '06:00' } } }),
    own: () => ({ url: '/api/v1/homes/home-a1/care', payload: { night: { from: '21:00', to: '06:00' } } }),
  },
  'GET /api/v1/devices': {
    allowed: TECH_ROLES,
    foreign: () => ({ url: '/api/v1/devices?team=team-b' }),
    own: () => ({ url: '/api/v1/devices?team=team-a' }),
  },
  'POST /api/v1/devices/:id/assign': {
    allowed: TECH_ROLES,
    foreign: () => ({ url: '/api/v1/devices/disp-b1/assign', payload: { homeId: 'home-b1' } }),
    own: () => ({ url: '/api/v1/devices/sens-a1/assign', payload: { homeId: 'home-a1' } }),
  },
  'POST /api/v1/devices/:id/disable': {
    allowed: TECH_ROLES,
    foreign: () => ({ url: '/api/v1/devices/disp-b1/disable' }),
    own: () => ({ url: '/api/v1/devices/sens-a1/disable' }),
  },
  'POST /api/v1/devices/:id/enable': {
    allowed: TECH_ROLES,
    foreign: () => ({ url: '/api/v1/devices/disp-b1/enable' }),
    own: () => ({ url: '/api/v1/devices/sens-a1/enable' }),
  },
  'POST /api/v1/devices/:id/rotate-secret': {
    allowed: TECH_ROLES,
    foreign: () => ({ url: '/api/v1/devices/disp-b1/rotate-secret' }),
    own: () => ({ url: '/api/v1/devices/sens-a1/rotate-secret' }),
  },
  'GET /api/v1/dead-letters': {
    allowed: TECH_ROLES,
    foreign: () => ({ url: '/api/v1/dead-letters?team=team-b' }),
    own: () => ({ url: '/api/v1/dead-letters?team=team-a' }),
  },
  'GET /api/v1/dead-letters/:id': {
    allowed: TECH_ROLES,
    foreign: () => ({ url: `/api/v1/dead-letters/${foreignDeadLetter}` }),
    own: () => ({ url: `/api/v1/dead-letters/${ownDeadLetter}` }),
  },
  'POST /api/v1/dead-letters/:id/replay': {
    allowed: TECH_ROLES,
    foreign: () => ({ url: `/api/v1/dead-letters/${foreignDeadLetter}/replay` }),
    own: () => ({ url: `/api/v1/dead-letters/${nextReplayable()}/replay` }),
  },
  'GET /api/v1/adapters': { allowed: TECH_ROLES, foreign: null, own: () => ({ url: '/api/v1/adapters' }) },
  'GET /api/v1/teams': { allowed: ALL, foreign: null, own: () => ({ url: '/api/v1/teams' }) },
  'GET /api/v1/users': { allowed: ['admin'], foreign: null, own: () => ({ url: '/api/v1/users' }) },
  'POST /api/v1/users': {
    allowed: ['admin'],
    foreign: null,
    own: () => ({ url: '/api/v1/users', payload: { username: `matrix-${++newUsers}`, role: 'nurse', teams: ['team-a'] } }),
  },
  'POST /api/v1/users/:id/disable': { allowed: ['admin'], foreign: null, own: () => ({ url: `/api/v1/users/${targetUser}/disable` }) },
  'POST /api/v1/users/:id/enable': { allowed: ['admin'], foreign: null, own: () => ({ url: `/api/v1/users/${targetUser}/enable` }) },
};

const routes: { method: string; url: string }[] = [];
const sessions = new Map<Role, LoggedIn>();
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const key = (r: { method: string; url: string }): string => `${r.method} ${r.url}`;
const isPublic = (r: { method: string; url: string }): boolean =>
  r.url === PUBLIC_PREFIX || r.url.startsWith(`${PUBLIC_PREFIX}/`) || key(r) in PUBLIC || (r.method === 'HEAD' && `GET ${r.url}` in PUBLIC);
/** HEAD routes are fastify's copies of GET routes and are checked with the GET route's case. */
const caseOf = (r: { method: string; url: string }): Case | undefined => CASES[r.method === 'HEAD' ? `GET ${r.url}` : key(r)];

function send(method: string, req: Req, headers: Record<string, string> = {}) {
  return fx.app.inject({
    method: method as InjectOptions['method'],
    url: req.url,
    headers,
    ...(req.payload ? { payload: req.payload } : {}),
  });
}

function asUser(s: LoggedIn, csrf = true): Record<string, string> {
  return csrf ? { cookie: s.cookie, 'x-csrf-token': s.csrf } : { cookie: s.cookie };
}

const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

beforeAll(async () => {
  fx = await authFixture({
    auth: { loginRateLimit: { max: 10_000, windowSec: 60 } },
    influx: NO_DATA_INFLUX_STAND_IN,
    onRoute: (r) => {
      for (const method of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method, url: r.url });
    },
  });
  foreignAlert = fx.raise('home-b1');
  foreignDeadLetter = await fx.deadLetter('disp-b1');
  ownDeadLetter = await fx.deadLetter('disp-a1');
  for (let i = 0; i < 12; i++) replayable.push(await fx.deadLetter('sens-a1'));
  targetUser = (await fx.users.add({ username: 'target-1', role: 'nurse', teams: ['team-a'] }, PASSWORD)).id;
  for (const role of ALL) sessions.set(role, await login(fx.app, USER_OF[role]));
});

afterAll(async () => {
  // Nothing above may have touched team-b's alert, device, dead letter or care plan.
  expect(fx.alerts.get(foreignAlert)).toMatchObject({ ack: 'unacknowledged', open: true });
  expect(fx.registry.getDevice('disp-b1')).toMatchObject({ enabled: true, secretRotatedAt: null, homeId: 'home-b1' });
  expect(fx.deadLetters.get(foreignDeadLetter)?.replayedAt).toBeNull();
  expect(fx.care.details('home-b1').defaulted).toContain('night');
  await fx.close();
});

describe('authorization matrix from the route table', () => {
  it('covers every route: public by the allow-list, or a case below (a new route must be added to one)', () => {
    expect(routes.length).toBeGreaterThan(10);
    const uncovered = routes.filter((r) => !isPublic(r) && caseOf(r) === undefined).map(key);
    expect(uncovered, 'routes with neither a PUBLIC entry nor a CASE').toEqual([]);
    const stale = Object.keys({ ...CASES, ...PUBLIC }).filter((k) => !routes.some((r) => key(r) === k));
    expect(stale, 'entries for routes that no longer exist').toEqual([]);
  });

  it('answers the public routes without a session', async () => {
    for (const r of routes.filter((x) => isPublic(x) && x.method === 'GET' && !x.url.includes('*') && !x.url.includes(':'))) {
      expect((await fx.app.inject({ method: 'GET', url: r.url })).statusCode, key(r)).toBeLessThan(400);
    }
  });

  it('refuses every other route without a session, or with a session id nobody issued: 401 and only the error body', async () => {
    for (const r of routes.filter((x) => !isPublic(x))) {
      const c = caseOf(r) as Case;
      const req = c.foreign?.() ?? c.own();
      expectErrorOnly(await send(r.method, req), 401, 'TRY_ERR_UNAUTHORIZED');
      expectErrorOnly(await send(r.method, req, { cookie: `tg_sid=${'A'.repeat(43)}` }), 401, 'TRY_ERR_UNAUTHORIZED');
    }
  });

  it('refuses every role without the permission (403) and every role with it for a foreign team (403/404), with nothing but the error body', async () => {
    for (const r of routes.filter((x) => !isPublic(x))) {
      const c = caseOf(r) as Case;
      for (const role of ALL) {
        const s = sessions.get(role) as LoggedIn;
        const label = `${key(r)} as ${role}`;
        if (!c.allowed.includes(role)) {
          const mark = fx.audit.list({ limit: 1 })[0]?.id ?? 0;
          const res = await send(r.method, c.foreign?.() ?? c.own(), asUser(s));
          expectErrorOnly(res, 403, 'TRY_ERR_FORBIDDEN');
          // A refusal by role is a security event: exactly one audit row, naming the caller and the route.
          const rows = fx.audit.list({ limit: 10 }).filter((e) => e.id > mark);
          expect(
            rows.map((e) => [e.actorId, e.action, e.outcome, e.detail.method, e.detail.route, e.detail.reason]),
            label,
          ).toEqual([[s.userId, 'api.request', 'denied', r.method, r.url, 'role']]);
          continue;
        }
        if (c.foreign === null || role === 'admin') continue; // no team named, or every team is the admin's
        const res = await send(r.method, c.foreign(), asUser(s));
        expect([403, 404], label).toContain(res.statusCode);
        expectErrorOnly(res, res.statusCode);
        expect(res.body, label).not.toContain(foreignAlert);
        expect(res.body, label).not.toContain('home-b1');
      }
    }
  });

  it('lets an allowed role through on its own team (the positive control that keeps the refusals honest)', async () => {
    for (const r of routes.filter((x) => !isPublic(x))) {
      const c = caseOf(r) as Case;
      if (c.stream) continue;
      for (const role of c.allowed) {
        // A fresh login for logout, so the sessions above stay usable.
        const s =
          r.method === 'DELETE' && r.url === '/api/v1/session' ? await login(fx.app, USER_OF[role]) : (sessions.get(role) as LoggedIn);
        const res = await send(r.method, c.own(), asUser(s));
        expect(res.statusCode, `${key(r)} as ${role}: ${res.body}`).toBeLessThan(300);
      }
    }
  });

  it('answers a foreign alert exactly as an alert that does not exist', async () => {
    const s = sessions.get('nurse') as LoggedIn;
    const foreign = await send('GET', { url: `/api/v1/alerts/${foreignAlert}` }, asUser(s));
    const missing = await send('GET', { url: '/api/v1/alerts/al-does-not-exist' }, asUser(s));
    expect(foreign.statusCode).toBe(404);
    expect(foreign.body).toBe(missing.body);
    const denied = fx.audit.list({ targetId: foreignAlert }).filter((e) => e.outcome === 'denied');
    expect(denied.length).toBeGreaterThan(0);
  });

  it('gives service accounts (HTTP Basic) only the read routes that accept them, and only their own team', async () => {
    const svc = { authorization: basic('svc-a', 'svc-a-secret') };
    for (const r of routes.filter((x) => !isPublic(x))) {
      const c = caseOf(r) as Case;
      if (c.serviceAccounts !== true) {
        expectErrorOnly(await send(r.method, c.own(), svc), 401, 'TRY_ERR_UNAUTHORIZED');
        continue;
      }
      expectErrorOnly(await send(r.method, c.foreign?.() ?? c.own(), svc), 403, 'TRY_ERR_FORBIDDEN');
      const wrong = await send(r.method, c.own(), { authorization: basic('svc-a', 'not-the-secret') });
      expectErrorOnly(wrong, 401, 'TRY_ERR_UNAUTHORIZED');
      if (r.method === 'GET') expect(wrong.headers['www-authenticate']).toBe('Basic realm="tryggheim"');
    }
  });
});

describe('CSRF on every state change', () => {
  const changes = () => routes.filter((r) => STATE_CHANGING.has(r.method) && !isPublic(r));

  it('finds the state-changing routes', () => {
    expect(changes().map(key).sort()).toEqual([
      'DELETE /api/v1/session',
      'POST /api/v1/alerts/:id/ack',
      'POST /api/v1/alerts/:id/resolve',
      'POST /api/v1/dead-letters/:id/replay',
      'POST /api/v1/devices/:id/assign',
      'POST /api/v1/devices/:id/disable',
      'POST /api/v1/devices/:id/enable',
      'POST /api/v1/devices/:id/rotate-secret',
      'POST /api/v1/users',
      'POST /api/v1/users/:id/disable',
      'POST /api/v1/users/:id/enable',
      'PUT /api/v1/homes/:id/care',
    ]);
  });

  it('refuses each without a valid token (missing, malformed, another session’s, from another origin) with 403 TRY_ERR_CSRF', async () => {
    const other = await login(fx.app, 'admin-1');
    for (const r of changes()) {
      const c = caseOf(r) as Case;
      const s = await login(fx.app, USER_OF[c.allowed[0] as Role]);
      const req = c.own();
      const deviceId = /\/devices\/([^/]+)\//.exec(req.url)?.[1];
      const device = deviceId === undefined ? undefined : fx.registry.getDevice(deviceId);
      const before = device && { enabled: device.enabled, secretRotatedAt: device.secretRotatedAt };
      const attempts: Record<string, string>[] = [
        { cookie: s.cookie },
        { cookie: s.cookie, 'x-csrf-token': 'not-a-token' },
        { cookie: s.cookie, 'x-csrf-token': other.csrf },
        { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: 'https://evil.example' },
      ];
      for (const headers of attempts) {
        expectErrorOnly(await send(r.method, req, headers), 403, 'TRY_ERR_CSRF');
      }
      // Nothing happened: the session still works and the alert (if any) is untouched.
      expect((await send('GET', { url: '/api/v1/session' }, { cookie: s.cookie })).statusCode).toBe(200);
      const alertId = /\/alerts\/([^/]+)\//.exec(req.url)?.[1];
      if (alertId !== undefined) expect(fx.alerts.get(alertId)?.ack).toBe('unacknowledged');
      const deadLetterId = /\/dead-letters\/(\d+)\//.exec(req.url)?.[1];
      if (deadLetterId !== undefined) expect(fx.deadLetters.get(Number(deadLetterId))?.replayedAt).toBeNull();
      if (before !== undefined && deviceId !== undefined) expect(fx.registry.getDevice(deviceId)).toMatchObject(before);
      // And with the right token it goes through.
      expect((await send(r.method, req, asUser(s))).statusCode, key(r)).toBeLessThan(300);
    }
  });
});
