import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { User } from '../../../gateway/auth/model.js';
import { authFixture, expectErrorOnly, login, type Fixture, type LoggedIn } from './auth-fixture.js';

// Teams (everyone: their own; an admin: all) and user management for admins, as `tryggheim users` does it: a
// generated password shown once, disabling ends the user's sessions at once, an admin cannot lock themself out.

type UserView = User & { lockedUntil: string | null };

let fx: Fixture;
afterEach(async () => {
  await fx.close();
});

const get = (s: LoggedIn, url: string) => fx.app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
const post = (s: LoggedIn, url: string, payload?: object) =>
  fx.app.inject({ method: 'POST', url, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf }, ...(payload ? { payload } : {}) });
const message = (res: LightMyRequestResponse) => res.json<{ error: { message: string } }>().error.message;

describe('GET /api/v1/teams', () => {
  it("gives each user their own teams with the homes' ids, and an admin every team", async () => {
    fx = await authFixture();
    for (const [user, teams] of [
      ['nurse-a1', [{ id: 'team-a', homes: ['home-a1', 'home-a2'] }]],
      ['tech-a1', [{ id: 'team-a', homes: ['home-a1', 'home-a2'] }]],
      ['nurse-b1', [{ id: 'team-b', homes: ['home-b1'] }]],
      [
        'admin-1',
        [
          { id: 'team-a', homes: ['home-a1', 'home-a2'] },
          { id: 'team-b', homes: ['home-b1'] },
        ],
      ],
    ] as const) {
      const res = await get(await login(fx.app, user), '/api/v1/teams');
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<{ teams: unknown }>().teams, user).toEqual(teams);
    }
  });
});

describe('users', () => {
  it('lists the logins for an admin only, filtered by team, and audits it', async () => {
    fx = await authFixture();
    const admin = await login(fx.app, 'admin-1');
    const res = await get(admin, '/api/v1/users?team=team-a');
    expect(res.statusCode, res.body).toBe(200);
    const users = res.json<{ users: UserView[] }>().users;
    expect(users.map((u) => u.username)).toEqual(['lead-a1', 'nurse-a1', 'tech-a1']);
    expect(users[0]).toMatchObject({ role: 'team_lead', teams: ['team-a'], enabled: true, lockedUntil: null });
    expect(Object.keys(users[0] ?? {})).not.toContain('passwordHash');
    expect(res.body).not.toContain('scrypt');
    expect(fx.audit.list({ action: 'user.list' })).toMatchObject([{ actorId: admin.userId, outcome: 'ok', teamId: 'team-a' }]);
    for (const user of ['nurse-a1', 'lead-a1', 'tech-a1']) {
      expectErrorOnly(await get(await login(fx.app, user), '/api/v1/users'), 403, 'TRY_ERR_FORBIDDEN');
    }
  });

  it('creates a login with a generated password shown once (it works; it is not in the audit log)', async () => {
    fx = await authFixture();
    const admin = await login(fx.app, 'admin-1');
    const res = await post(admin, '/api/v1/users', {
      username: 'nurse-a9',
      role: 'nurse',
      teams: ['team-a', 'team-new'],
      displayName: 'A9',
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ user: UserView; password: string; teamsWithoutHomes: string[] }>();
    expect(body.user).toMatchObject({
      username: 'nurse-a9',
      role: 'nurse',
      teams: ['team-a', 'team-new'],
      displayName: 'A9',
      enabled: true,
    });
    expect(body.password).toMatch(/^[a-z2-9]{5}(-[a-z2-9]{5}){3}$/);
    expect(body.teamsWithoutHomes).toEqual(['team-new']);
    const s = await login(fx.app, 'nurse-a9', body.password);
    expect(s.userId).toBe(body.user.id);
    expect(fx.audit.list({ action: 'user.add' })).toMatchObject([
      { actorId: admin.userId, targetId: body.user.id, detail: { role: 'nurse' } },
    ]);
    expect(JSON.stringify(fx.db.prepare('SELECT * FROM audit_log').all())).not.toContain(body.password);

    const again = await post(admin, '/api/v1/users', { username: 'NURSE-A9', role: 'nurse', teams: ['team-a'] });
    expectErrorOnly(again, 409, 'TRY_ERR_USER_EXISTS');
  });

  it('names the field of a bad new user', async () => {
    fx = await authFixture();
    const admin = await login(fx.app, 'admin-1');
    const cases: [object, string][] = [
      [{ username: 'x', role: 'nurse', teams: ['team-a'] }, 'username'],
      [{ username: 'nurse-a7', role: 'boss', teams: ['team-a'] }, 'role'],
      [{ username: 'nurse-a7', role: 'nurse' }, 'teams'],
      [{ username: 'nurse-a7', role: 'nurse', teams: ['Team A'] }, 'teams/0'],
      [{ username: 'nurse-a7', role: 'nurse', teams: ['team-a'], password: 'my own password!' }, 'password'],
    ];
    for (const [payload, field] of cases) {
      const res = await post(admin, '/api/v1/users', payload);
      expectErrorOnly(res, 400, 'TRY_ERR_VALIDATION');
      expect(message(res), JSON.stringify(payload)).toContain(field);
    }
    expect(fx.users.findByUsername('nurse-a7')).toBeUndefined();
  });

  it('disables a user at once (their session ends) and enables them again; an admin cannot disable themself', async () => {
    fx = await authFixture();
    const admin = await login(fx.app, 'admin-1');
    const nurse = await login(fx.app, 'nurse-a1');
    const res = await post(admin, `/api/v1/users/${nurse.userId}/disable`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ user: UserView }>().user).toMatchObject({ id: nurse.userId, enabled: false });
    expectErrorOnly(await get(nurse, '/api/v1/session'), 401, 'TRY_ERR_UNAUTHORIZED');
    expect(
      (await fx.app.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'nurse-a1', password: 'x'.repeat(20) } }))
        .statusCode,
    ).toBe(401);

    expect((await post(admin, `/api/v1/users/${nurse.userId}/enable`)).json<{ user: UserView }>().user.enabled).toBe(true);
    await login(fx.app, 'nurse-a1');

    expectErrorOnly(await post(admin, `/api/v1/users/${admin.userId}/disable`), 409, 'TRY_ERR_CANNOT_DISABLE_SELF');
    expect(fx.users.get(admin.userId)?.enabled).toBe(true);
    expectErrorOnly(await post(admin, '/api/v1/users/u-000000000000/disable'), 404, 'TRY_ERR_NOT_FOUND');
    const bad = await post(admin, '/api/v1/users/nurse-a1/disable');
    expectErrorOnly(bad, 400, 'TRY_ERR_VALIDATION');
    expect(message(bad)).toContain('id');
    expect(fx.audit.list({ targetId: nurse.userId }).map((e) => [e.action, e.outcome])).toEqual([
      ['user.enable', 'ok'],
      ['user.disable', 'ok'],
    ]);
    expectErrorOnly(await post(await login(fx.app, 'lead-a1'), `/api/v1/users/${nurse.userId}/disable`), 403, 'TRY_ERR_FORBIDDEN');
  });
});

describe('the contract at /docs', () => {
  it('describes every new resource, its query parameters and its error responses', async () => {
    fx = await authFixture();
    const spec = (await fx.app.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; responses: Record<string, unknown> }>>;
    }>();
    const paths = [
      '/api/v1/homes',
      '/api/v1/homes/{id}',
      '/api/v1/homes/{id}/series',
      '/api/v1/homes/{id}/care',
      '/api/v1/devices',
      '/api/v1/devices/{id}/assign',
      '/api/v1/devices/{id}/disable',
      '/api/v1/devices/{id}/enable',
      '/api/v1/devices/{id}/rotate-secret',
      '/api/v1/dead-letters',
      '/api/v1/dead-letters/{id}',
      '/api/v1/dead-letters/{id}/replay',
      '/api/v1/adapters',
      '/api/v1/teams',
      '/api/v1/users',
      '/api/v1/users/{id}/disable',
      '/api/v1/users/{id}/enable',
    ];
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(paths));
    for (const path of paths) {
      for (const [method, op] of Object.entries(spec.paths[path] ?? {})) {
        expect(Object.keys(op.responses), `${method} ${path}`).toEqual(['200', '4XX', '5XX']);
      }
    }
    const series = spec.paths['/api/v1/homes/{id}/series']?.get?.parameters?.map((p) => `${p.in}:${p.name}`);
    expect(series).toEqual(['query:measurement', 'query:field', 'query:from', 'query:to', 'query:points', 'path:id']);
    expect(spec.paths['/api/v1/homes/{id}/care']).toHaveProperty('put');
  });
});
