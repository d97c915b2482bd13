import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { CareDetails } from '../../../gateway/care/store.js';
import { authFixture, expectErrorOnly, login, type Fixture, type LoggedIn } from './auth-fixture.js';

// A home's care plan over HTTP: nurses read it, team leads change it (all named parts in one transaction), and
// the plan the rules then read (CareStore.planFor) is the one that was sent. Overrides are checked against the
// rules' own parameter schemas.

let fx: Fixture;
afterEach(async () => {
  await fx.close();
});

const get = (s: LoggedIn, url: string) => fx.app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
const put = (s: LoggedIn, url: string, payload: unknown) =>
  fx.app.inject({ method: 'PUT', url, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf }, payload: payload as object });
const message = (res: LightMyRequestResponse) => res.json<{ error: { message: string } }>().error.message;

describe('GET /api/v1/homes/:id/care', () => {
  it('gives a nurse the plan the rules read, defaults marked, and audits the view', async () => {
    fx = await authFixture();
    const nurse = await login(fx.app, 'nurse-a1');
    const res = await get(nurse, '/api/v1/homes/home-a1/care');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<CareDetails>()).toEqual({
      homeId: 'home-a1',
      teamId: 'team-a',
      timeZone: 'Europe/Oslo',
      doses: [],
      night: { from: '22:00', to: '07:00' },
      visits: [],
      overrides: {},
      defaulted: ['doses', 'night', 'visits'],
      storedVisits: 0,
    });
    expect(fx.audit.list({ action: 'care.view' })).toMatchObject([{ actorId: nurse.userId, targetId: 'home-a1', outcome: 'ok' }]);
    expectErrorOnly(await get(await login(fx.app, 'tech-a1'), '/api/v1/homes/home-a1/care'), 403, 'TRY_ERR_FORBIDDEN');
  });

  it("answers another team's home like one that does not exist", async () => {
    fx = await authFixture();
    const nurse = await login(fx.app, 'nurse-a1');
    const foreign = await get(nurse, '/api/v1/homes/home-b1/care');
    expectErrorOnly(foreign, 404, 'TRY_ERR_NOT_FOUND');
    expect(foreign.body).toBe((await get(nurse, '/api/v1/homes/home-zz9/care')).body);
  });
});

describe('PUT /api/v1/homes/:id/care', () => {
  it('replaces the parts it names and leaves the others; the rules read the result', async () => {
    fx = await authFixture();
    const lead = await login(fx.app, 'lead-a1');
    const res = await put(lead, '/api/v1/homes/home-a1/care', {
      doses: [{ time: '08:00' }, { time: '20:00', windowMinutes: 45, weekdays: [1, 2, 3, 4, 5] }],
      night: { from: '21:30', to: '06:30' },
      visits: [{ from: '2026-03-10T10:00:00+01:00', to: '2026-03-10T10:30:00+01:00' }],
      overrides: { 'door-left-open': { minutes: 15 } },
    });
    expect(res.statusCode, res.body).toBe(200);
    const plan = fx.care.planFor('home-a1');
    expect(plan).toMatchObject({
      doses: [
        { time: '08:00', windowMinutes: 60, graceMinutes: 30, weekdays: [1, 2, 3, 4, 5, 6, 7] },
        { time: '20:00', windowMinutes: 45, graceMinutes: 30, weekdays: [1, 2, 3, 4, 5] },
      ],
      night: { from: '21:30', to: '06:30' },
      visits: [{ from: '2026-03-10T09:00:00.000Z', to: '2026-03-10T09:30:00.000Z' }],
      overrides: { 'door-left-open': { minutes: 15 } },
    });
    expect(res.json<CareDetails>()).toMatchObject({ night: { from: '21:30', to: '06:30' }, storedVisits: 1 });

    // Only the night window (back to the default) and the overrides (none): doses and visits stay.
    const second = await put(lead, '/api/v1/homes/home-a1/care', { night: null, overrides: {} });
    expect(second.statusCode, second.body).toBe(200);
    expect(fx.care.details('home-a1')).toMatchObject({ night: { from: '22:00', to: '07:00' }, overrides: {}, storedVisits: 1 });
    expect(fx.care.planFor('home-a1')?.doses).toHaveLength(2);
    expect(fx.care.planFor('home-a2')?.doses).toEqual([]);

    expect(fx.audit.list({ action: 'care.update' }).map((e) => [e.outcome, e.detail.sections])).toEqual([
      ['ok', 'night,overrides'],
      ['ok', 'doses,night,overrides,visits'],
    ]);
  });

  it('changes nothing when the schedule contradicts itself: 400 TRY_ERR_DOSE_CONFLICT naming the doses', async () => {
    fx = await authFixture();
    const lead = await login(fx.app, 'lead-a1');
    const res = await put(lead, '/api/v1/homes/home-a1/care', {
      night: { from: '23:00', to: '06:00' },
      doses: [{ time: '08:00', windowMinutes: 60 }, { time: '08:30' }],
    });
    expectErrorOnly(res, 400, 'TRY_ERR_DOSE_CONFLICT');
    expect(message(res)).toContain('08:00');
    expect(message(res)).toContain('08:30');
    // The night window came first in the same transaction and was rolled back with it.
    expect(fx.care.details('home-a1').defaulted).toEqual(['doses', 'night', 'visits']);
    expect(fx.audit.list({ action: 'care.update' })).toMatchObject([{ outcome: 'failed', detail: { code: 'TRY_ERR_DOSE_CONFLICT' } }]);
  });

  it('names the field of every kind of bad input', async () => {
    fx = await authFixture();
    const lead = await login(fx.app, 'lead-a1');
    const cases: [unknown, string][] = [
      [{ doses: [{ time: '8:00' }] }, 'doses/0/time'],
      [{ doses: [{ time: '08:00', weekdays: [8] }] }, 'doses/0/weekdays/0'],
      [{ night: { from: '22:00', to: '22:00' } }, 'night/to'],
      [{ visits: [{ from: '2026-03-10T10:00:00', to: '2026-03-10T11:00:00+01:00' }] }, 'visits/0/from'],
      [{ visits: [{ from: '2026-03-10T10:00:00Z', to: '2026-03-10T09:00:00Z' }] }, 'visits/0/to'],
      [{ overrides: { 'no-such-rule': { minutes: 3 } } }, 'overrides/no-such-rule'],
      [{ overrides: { 'door-left-open': { minutes: 0 } } }, 'overrides/door-left-open/minutes'],
      [{ nightWindow: { from: '22:00', to: '07:00' } }, 'nightWindow'],
      [{}, 'body'],
    ];
    for (const [payload, field] of cases) {
      const res = await put(lead, '/api/v1/homes/home-a1/care', payload);
      expectErrorOnly(res, 400, 'TRY_ERR_VALIDATION');
      expect(message(res), JSON.stringify(payload)).toContain(field);
    }
    expect(fx.care.details('home-a1').defaulted).toEqual(['doses', 'night', 'visits']);
  });

  it("is refused to nurses (403) and for another team's home (404, audited)", async () => {
    fx = await authFixture();
    const body = { night: { from: '21:00', to: '06:00' } };
    const nurse = await login(fx.app, 'nurse-a1');
    expectErrorOnly(await put(nurse, '/api/v1/homes/home-a1/care', body), 403, 'TRY_ERR_FORBIDDEN');
    const lead = await login(fx.app, 'lead-a1');
    expectErrorOnly(await put(lead, '/api/v1/homes/home-b1/care', body), 404, 'TRY_ERR_NOT_FOUND');
    expect(fx.care.details('home-b1').defaulted).toContain('night');
    expect(fx.audit.list({ action: 'care.update' })).toMatchObject([{ targetId: 'home-b1', teamId: 'team-b', outcome: 'denied' }]);
  });
});
