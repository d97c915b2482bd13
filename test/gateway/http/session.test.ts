import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { authFixture, expectErrorOnly, login, MIN, PASSWORD, sessionCookieOf, type Fixture } from './auth-fixture.js';

// Logins and sessions over the real HTTP API (inject), a real SQLite file, and a fake clock for the timeouts.

let fx: Fixture;
afterEach(async () => {
  await fx.close();
});

const whoami = (cookie: string) => fx.app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie } });
const sessionRows = (): number => fx.db.prepare('SELECT count(*) FROM user_sessions').pluck().get() as number;
/** The newest audit row's id (0 for none): rows after it are what a request wrote. */
const lastAuditId = (): number => fx.audit.list({ limit: 1 })[0]?.id ?? 0;
const auditSince = (id: number) => fx.audit.list({ limit: 100 }).filter((e) => e.id > id);
/** A logger whose JSON lines the test reads. */
function capturedLog(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } }), lines };
}

describe('POST /api/v1/session (login)', () => {
  it('answers the user and a CSRF token, and sets tg_sid HttpOnly; Secure; SameSite=Strict; Path=/ (cookie@2 on this Node)', async () => {
    fx = await authFixture();
    const res = await fx.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'NURSE-A1', password: PASSWORD } });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ user: Record<string, unknown>; csrfToken: string }>();
    expect(body.user.id).toMatch(/^u-[0-9a-f]{12}$/);
    expect(body.user).toEqual({
      id: body.user.id,
      username: 'nurse-a1',
      displayName: 'nurse-a1',
      role: 'nurse',
      teams: ['team-a'],
    });
    expect(body.csrfToken.length).toBeGreaterThan(20);
    // cookie@2 (under @fastify/cookie) declares node >= 22; this serialises and parses it on the Node we run.
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(20);
    const header = String(res.headers['set-cookie']);
    expect(header).toMatch(/^tg_sid=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    expect((await whoami(`tg_sid=${sessionCookieOf(res) ?? ''}`)).statusCode).toBe(200);
  });

  it('gives an unknown user, a wrong password and a disabled account the same 401, and no cookie', async () => {
    fx = await authFixture();
    fx.users.setEnabled('nurse-b1', false);
    const answers = [];
    for (const [username, password] of [
      ['nurse-a1', 'wrong password, long enough'],
      ['nobody-here', PASSWORD],
      ['nurse-b1', PASSWORD],
    ] as const) {
      const res = await fx.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username, password } });
      expectErrorOnly(res, 401, 'TRY_ERR_LOGIN_FAILED');
      expect(res.headers['set-cookie']).toBeUndefined();
      answers.push({ status: res.statusCode, body: res.body, headers: Object.keys(res.headers).sort() });
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    // The reasons are kept for the audit log, not for the client.
    const reasons = fx.audit.list({ action: 'session.login' }).map((e) => e.detail.reason);
    expect(reasons.sort()).toEqual(['bad_password', 'disabled', 'unknown_user']);
  });

  it('locks a username after 5 failures in a row for 15 minutes (fake clock), an unknown one exactly like a real one', async () => {
    fx = await authFixture();
    const attempt = (username: string, password: string) =>
      fx.app.inject({
        method: 'POST',
        url: '/api/v1/session',
        payload: { username, password },
        remoteAddress: `10.0.0.${username.length}`,
      });
    const statuses = async (username: string): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < 5; i++) out.push((await attempt(username, 'not the password at all')).statusCode);
      out.push((await attempt(username, PASSWORD)).statusCode); // even the right password while locked
      return out;
    };
    expect(await statuses('nurse-a1')).toEqual([401, 401, 401, 401, 423, 423]);
    expect(await statuses('ghost-a1')).toEqual([401, 401, 401, 401, 423, 423]);
    const locked = await attempt('nurse-a1', PASSWORD);
    expectErrorOnly(locked, 423, 'TRY_ERR_LOCKED');
    expect(Number(locked.headers['retry-after'])).toBe(15 * 60);
    const ghost = await attempt('ghost-a1', PASSWORD);
    expect(ghost.body).toBe(locked.body);
    expect(ghost.headers['retry-after']).toBe(locked.headers['retry-after']);

    fx.clock.now += 15 * MIN;
    expect((await attempt('nurse-a1', PASSWORD)).statusCode).toBe(200);
    // A success starts the count again.
    for (let i = 0; i < 4; i++) expect((await attempt('nurse-a1', 'still not the password')).statusCode).toBe(401);
    expect((await attempt('nurse-a1', PASSWORD)).statusCode).toBe(200);
  });

  it('rate-limits login attempts per client address (429 TRY_ERR_RATE_LIMITED)', async () => {
    fx = await authFixture({ auth: { loginRateLimit: { max: 3, windowSec: 60 } } });
    const attempt = (remoteAddress: string) =>
      fx.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'x-nobody', password: 'y' }, remoteAddress });
    for (let i = 0; i < 3; i++) expect((await attempt('10.1.1.1')).statusCode).toBe(401);
    const limited = await attempt('10.1.1.1');
    expectErrorOnly(limited, 429, 'TRY_ERR_RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await attempt('10.1.1.2')).statusCode).toBe(401);
  });

  it('refuses a login from another origin (SameSite=Strict does not cover the login itself)', async () => {
    fx = await authFixture();
    const post = (headers: Record<string, string>) =>
      fx.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'nurse-a1', password: PASSWORD }, headers });
    expectErrorOnly(await post({ origin: 'https://evil.example' }), 403, 'TRY_ERR_CSRF');
    expectErrorOnly(await post({ origin: 'http://localhost:80', 'sec-fetch-site': 'cross-site' }), 403, 'TRY_ERR_CSRF');
    expectErrorOnly(await post({ origin: 'null' }), 403, 'TRY_ERR_CSRF');
    // What a browser sends for this host (inject's Host header is localhost:80).
    expect((await post({ origin: 'http://localhost', 'sec-fetch-site': 'same-origin' })).statusCode).toBe(200);
  });

  it('logs security events with the user id, never the password or the session id', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
    fx = await authFixture({ logger });
    await fx.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'nurse-a1', password: 'a wrong one, secret!' } });
    const s = await login(fx.app, 'nurse-a1');
    await fx.app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    const text = lines.join('');
    expect(text).not.toContain('a wrong one');
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(s.sid);
    expect(text).not.toContain(s.csrf);
    const events = lines
      .map((l) => JSON.parse(l) as { event?: string; outcome?: string; userId?: string })
      .filter((l) => l.event?.startsWith('security.'));
    expect(events.map((e) => [e.event, e.outcome, e.userId])).toEqual([
      ['security.login', 'failed', s.userId],
      ['security.login', 'ok', s.userId],
      ['security.logout', undefined, s.userId],
    ]);
  });
});

describe('sessions', () => {
  it('fixation: an id the client brought to login is never the one after it, and a prior session ends', async () => {
    fx = await authFixture();
    const planted = randomBytes(32).toString('base64url');
    const first = await login(fx.app, 'nurse-a1', PASSWORD, `tg_sid=${planted}`);
    expect(first.sid).not.toBe(planted);
    expect((await whoami(`tg_sid=${planted}`)).statusCode).toBe(401);

    const second = await login(fx.app, 'lead-a1', PASSWORD, first.cookie);
    expect(second.sid).not.toBe(first.sid);
    expectErrorOnly(await whoami(first.cookie), 401, 'TRY_ERR_UNAUTHORIZED');
    expect((await whoami(second.cookie)).json<{ user: { username: string } }>().user.username).toBe('lead-a1');
    expect(sessionRows()).toBe(1);
  });

  it('GET /api/v1/session answers the user and a fresh CSRF token; 401 without a session', async () => {
    fx = await authFixture();
    const s = await login(fx.app, 'tech-a1');
    const res = await whoami(s.cookie);
    expect(res.statusCode).toBe(200);
    const body = res.json<{ user: { role: string }; csrfToken: string }>();
    expect(body.user.role).toBe('technician');
    expect(body.csrfToken).not.toBe(s.csrf);
    expect(res.headers['cache-control']).toBe('no-store');
    expectErrorOnly(await fx.app.inject({ method: 'GET', url: '/api/v1/session' }), 401, 'TRY_ERR_UNAUTHORIZED');
  });

  it('logout needs the CSRF token, ends the session on the server and clears the cookie', async () => {
    fx = await authFixture();
    const s = await login(fx.app, 'nurse-a1');
    expectErrorOnly(await fx.app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: s.cookie } }), 403, 'TRY_ERR_CSRF');
    expect((await whoami(s.cookie)).statusCode).toBe(200);

    const res = await fx.app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect(String(res.headers['set-cookie'])).toMatch(/^tg_sid=; .*Expires=Thu, 01 Jan 1970/);
    expect(sessionRows()).toBe(0);
    expectErrorOnly(await whoami(s.cookie), 401, 'TRY_ERR_UNAUTHORIZED');
    expect(fx.audit.list({ action: 'session.logout' })).toHaveLength(1);
  });

  it('idle timeout (fake clock): each request restarts it; 30 minutes without one ends the session', async () => {
    fx = await authFixture();
    const s = await login(fx.app, 'nurse-a1');
    fx.clock.now += 29 * MIN;
    expect((await whoami(s.cookie)).statusCode).toBe(200);
    fx.clock.now += 29 * MIN;
    expect((await whoami(s.cookie)).statusCode).toBe(200);
    fx.clock.now += 30 * MIN;
    const res = await whoami(s.cookie);
    expectErrorOnly(res, 401, 'TRY_ERR_UNAUTHORIZED');
    expect(String(res.headers['set-cookie'])).toMatch(/^tg_sid=;/);
    expect(sessionRows()).toBe(0);
  });

  it('absolute timeout (fake clock): 12 hours after login the session ends however active', async () => {
    fx = await authFixture({ auth: { idleMinutes: 30, absoluteHours: 12 } });
    const s = await login(fx.app, 'nurse-a1');
    for (let t = 20; t < 12 * 60; t += 20) {
      fx.clock.now += 20 * MIN;
      expect((await whoami(s.cookie)).statusCode, `at ${t} min`).toBe(200);
    }
    fx.clock.now += 20 * MIN;
    expectErrorOnly(await whoami(s.cookie), 401, 'TRY_ERR_UNAUTHORIZED');
  });

  it('wall board (fake clock): no idle timeout, read-only (alerts yes, follow-up and care no), ends after boardHours', async () => {
    fx = await authFixture({ auth: { idleMinutes: 30, absoluteHours: 12, boardHours: 48 } });
    const alertId = fx.raise('home-a1');
    const res = await fx.app.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { username: 'nurse-a1', password: PASSWORD, board: true },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ sessionKind: string }>().sessionKind).toBe('board');
    const cookie = `tg_sid=${sessionCookieOf(res) ?? ''}`;
    const csrf = res.json<{ csrfToken: string }>().csrfToken;
    const list = () => fx.app.inject({ method: 'GET', url: '/api/v1/alerts', headers: { cookie } });
    // Untouched for 20 hours: a user session would have ended after 30 minutes.
    fx.clock.now += 20 * 60 * MIN;
    expect((await list()).statusCode).toBe(200);
    expect((await list()).json<{ alerts: { id: string }[] }>().alerts.map((a) => a.id)).toContain(alertId);
    // Read-only: acknowledging and a home's care data are refused, whoever's session it is.
    const ack = await fx.app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${alertId}/ack`,
      headers: { cookie, 'x-csrf-token': csrf },
      payload: {},
    });
    expectErrorOnly(ack, 403, 'TRY_ERR_FORBIDDEN');
    expectErrorOnly(await fx.app.inject({ method: 'GET', url: '/api/v1/homes/home-a1', headers: { cookie } }), 403, 'TRY_ERR_FORBIDDEN');
    // Refused for the session's kind, not the nurse's role: audited as such, once per refusal.
    const boardRefusals = fx.audit.list({ action: 'api.request' }).map((e) => [e.outcome, e.detail.route, e.detail.reason]);
    expect(boardRefusals.reverse()).toEqual([
      ['denied', '/api/v1/alerts/:id/ack', 'board_session'],
      ['denied', '/api/v1/homes/:id', 'board_session'],
    ]);
    // A user session of the same nurse still follows up.
    const user = await login(fx.app, 'nurse-a1');
    const ackByUser = await fx.app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${alertId}/ack`,
      headers: { cookie: user.cookie, 'x-csrf-token': user.csrf },
      payload: {},
    });
    expect(ackByUser.statusCode, ackByUser.body).toBe(200);
    // 48 hours after login the board must be logged in again.
    fx.clock.now += 28 * 60 * MIN;
    expectErrorOnly(await list(), 401, 'TRY_ERR_UNAUTHORIZED');
  });

  it('refuses a wall-board session to a role that may not read alerts (technician): one audit row and log line, no password', async () => {
    const log = capturedLog();
    fx = await authFixture({ logger: log.logger });
    const techId = fx.users.list().find((u) => u.username === 'tech-a1')?.id;
    const mark = lastAuditId();
    const res = await fx.app.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { username: 'tech-a1', password: PASSWORD, board: true },
    });
    expectErrorOnly(res, 403, 'TRY_ERR_FORBIDDEN');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(sessionRows()).toBe(0);
    // The password was right, so the refusal names the user; it is a denial, not a failed login.
    expect(auditSince(mark)).toEqual([
      expect.objectContaining({
        actorType: 'user',
        actorId: techId,
        action: 'session.login',
        outcome: 'denied',
        detail: { reason: 'role', locked: false, sessionKind: 'board' },
      }),
    ]);
    const logins = log.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'security.login');
    expect(logins).toEqual([expect.objectContaining({ outcome: 'denied', reason: 'role', userId: techId, sessionKind: 'board' })]);
    expect(log.lines.join('')).not.toContain(PASSWORD);
    expect(JSON.stringify(fx.audit.list())).not.toContain(PASSWORD);
  });

  it('a refused wall-board login with a wrong password is audited like any failed login (one row, board noted)', async () => {
    fx = await authFixture();
    const mark = lastAuditId();
    const res = await fx.app.inject({
      method: 'POST',
      url: '/api/v1/session',
      payload: { username: 'nurse-a1', password: 'not the password at all', board: true },
    });
    expectErrorOnly(res, 401, 'TRY_ERR_LOGIN_FAILED');
    expect(auditSince(mark)).toEqual([
      expect.objectContaining({
        actorType: 'anonymous',
        action: 'session.login',
        outcome: 'failed',
        detail: { reason: 'bad_password', locked: false, sessionKind: 'board' },
      }),
    ]);
  });

  it("a 403 for the caller's role writes one audit row and one log line: who, which route, why; no session id", async () => {
    const log = capturedLog();
    fx = await authFixture({ logger: log.logger });
    const s = await login(fx.app, 'nurse-a1');
    const mark = lastAuditId();
    const res = await fx.app.inject({ method: 'GET', url: '/api/v1/devices?team=team-a', headers: { cookie: s.cookie } });
    expectErrorOnly(res, 403, 'TRY_ERR_FORBIDDEN');
    expect(auditSince(mark)).toEqual([
      expect.objectContaining({
        actorType: 'user',
        actorId: s.userId,
        action: 'api.request',
        outcome: 'denied',
        detail: { method: 'GET', route: '/api/v1/devices', permission: 'devices.read', reason: 'role', role: 'nurse', sessionKind: 'user' },
      }),
    ]);
    const refusals = log.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'security.forbidden');
    expect(refusals).toEqual([expect.objectContaining({ userId: s.userId, route: '/api/v1/devices', reason: 'role' })]);
    for (const secret of [s.sid, s.csrf, PASSWORD]) {
      expect(log.lines.join('')).not.toContain(secret);
      expect(JSON.stringify(fx.audit.list())).not.toContain(secret);
    }
  });

  it("refuses a disabled user's existing session at the next request", async () => {
    fx = await authFixture();
    const s = await login(fx.app, 'nurse-a1');
    // Disabled by another process that leaves the session row alone: the guard itself must notice.
    fx.db.prepare("UPDATE users SET enabled = 0 WHERE username = 'nurse-a1'").run();
    expectErrorOnly(await whoami(s.cookie), 401, 'TRY_ERR_UNAUTHORIZED');
    expect(sessionRows()).toBe(0);
  });

  it('disabling a user or resetting the password ends every session of that user', async () => {
    fx = await authFixture();
    const a = await login(fx.app, 'nurse-a1');
    const b = await login(fx.app, 'nurse-a1');
    const other = await login(fx.app, 'nurse-b1');
    await fx.users.setPassword('nurse-a1', 'a brand new passphrase');
    expect((await whoami(a.cookie)).statusCode).toBe(401);
    expect((await whoami(b.cookie)).statusCode).toBe(401);
    expect((await whoami(other.cookie)).statusCode).toBe(200);
    fx.users.setEnabled('nurse-b1', false);
    expect((await whoami(other.cookie)).statusCode).toBe(401);
  });
});

describe('headers and docs', () => {
  it('sends helmet headers with a self-only Content-Security-Policy', async () => {
    fx = await authFixture();
    const res = await fx.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'self';base-uri 'self';connect-src 'self';font-src 'self';form-action 'self';frame-ancestors 'none';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self'",
    );
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('serves the OpenAPI description and Swagger UI at /docs from local assets only', async () => {
    fx = await authFixture();
    const spec = (await fx.app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, object> }>();
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/session',
        '/api/v1/alerts',
        '/api/v1/alerts/{id}',
        '/api/v1/alerts/{id}/ack',
        '/api/v1/reports/follow-up',
      ]),
    );
    const page = await fx.app.inject({ method: 'GET', url: '/docs/' });
    const html = page.body;
    // Swagger UI injects a <style> element: /docs alone allows inline styles (the dashboard does not).
    expect(page.headers['content-security-policy']).toContain("style-src 'self' 'unsafe-inline'");
    expect(page.headers['content-security-policy']).toContain("script-src 'self';");
    const init = (await fx.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })).body;
    expect(html).toContain('swagger-ui-bundle.js');
    for (const text of [html, init]) expect(text).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(init).toContain('validatorUrl: null');
    const bundle = await fx.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(bundle.statusCode).toBe(200);
  });
});
