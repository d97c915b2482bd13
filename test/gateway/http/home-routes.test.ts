import { afterEach, describe, expect, it } from 'vitest';
import type { AlertSignal } from '../../../gateway/alerts/signal.js';
import type { HomeDetailSchema } from '../../../gateway/http/home-routes.js';
import type { HomeSummary } from '../../../gateway/http/health-view.js';
import { authFixture, expectErrorOnly, login, MIN, T0, type Fixture, type LoggedIn } from './auth-fixture.js';
import type { z } from 'zod';

// Homes for nurses, team leads and admins: the list (open alerts by severity, device health, last event) and a
// home's page (devices, recent events, the dose log of 7 days), scoped to the user's teams and audited.
// InfluxDB is not configured here (the page then rests on the alerts); with a real influxd: telemetry-routes.test.ts.
// T0 is 2026-03-10T08:00Z, 09:00 in Oslo.

type HomeDetail = z.infer<typeof HomeDetailSchema>;

let fx: Fixture;
afterEach(async () => {
  await fx.close();
});

const get = (s: LoggedIn, url: string) => fx.app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
async function getJson<T>(s: LoggedIn, url: string): Promise<T> {
  const res = await get(s, url);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<T>();
}

function signal(over: Partial<AlertSignal>): AlertSignal {
  return {
    action: 'raise',
    rule: 'missed-dose',
    homeId: 'home-a1',
    subject: '2026-03-09T20:00',
    severity: 'high',
    kind: 'care',
    title: 'Dose not taken',
    at: fx.clock.now,
    evidence: [],
    ...over,
  };
}

function statusEvent(deviceId: string, homeId: string, status: Record<string, unknown>, at = fx.clock.now) {
  return {
    eventId: 'a'.repeat(32),
    deviceId,
    homeId,
    adapter: { id: 'tryggheim', version: 1 },
    observedAt: new Date(at).toISOString(),
    receivedAt: new Date(at).toISOString(),
    body: { type: 'status' as const, status },
  };
}

describe('GET /api/v1/homes', () => {
  it("lists the homes of the user's teams with open alerts by severity and device health; an admin sees every team", async () => {
    fx = await authFixture();
    fx.raise('home-a1'); // a fall: critical
    fx.raise('home-a1', { rule: 'low-battery', subject: 'sens-a1', severity: 'low', kind: 'technical', title: 'Battery low' });
    fx.raise('home-a1', { rule: 'device-silent', subject: 'sens-a1', severity: 'medium', kind: 'technical', title: 'Device silent' });
    fx.raise('home-b1');
    fx.health.onStatus('disp-a1', 'online', T0 - 5 * MIN);
    fx.health.onEvents([statusEvent('sens-a1', 'home-a1', { battery_pct: 9 }, T0 - 2 * MIN)]);

    const nurse = await login(fx.app, 'nurse-a1');
    const { homes } = await getJson<{ homes: HomeSummary[] }>(nurse, '/api/v1/homes');
    expect(homes.map((h) => h.id)).toEqual(['home-a1', 'home-a2']);
    expect(homes[0]).toEqual({
      id: 'home-a1',
      teamId: 'team-a',
      timeZone: 'Europe/Oslo',
      openAlerts: { critical: 1, high: 0, medium: 1, low: 1, total: 3 },
      devices: { total: 2, online: 1, offline: 0, unknown: 1, lowBattery: 1, silent: 1 },
      lastEventAt: new Date(T0 - 2 * MIN).toISOString(),
    });
    expect(homes[1]).toMatchObject({ id: 'home-a2', openAlerts: { total: 0 }, devices: { total: 0 }, lastEventAt: null });

    const admin = await login(fx.app, 'admin-1');
    const all = await getJson<{ homes: HomeSummary[] }>(admin, '/api/v1/homes');
    expect(all.homes.map((h) => h.id)).toEqual(['home-a1', 'home-a2', 'home-b1']);
    expect((await getJson<{ homes: HomeSummary[] }>(admin, '/api/v1/homes?team=team-b')).homes.map((h) => h.id)).toEqual(['home-b1']);
    expect(fx.audit.list({ action: 'home.list', actorId: nurse.userId })).toMatchObject([{ outcome: 'ok', detail: { homes: 2 } }]);
  });

  it("refuses another team's filter with 403, audited; technicians have no home pages", async () => {
    fx = await authFixture();
    const nurse = await login(fx.app, 'nurse-a1');
    expectErrorOnly(await get(nurse, '/api/v1/homes?team=team-b'), 403, 'TRY_ERR_FORBIDDEN');
    expect(fx.audit.list({ action: 'home.list' })).toMatchObject([{ outcome: 'denied', teamId: 'team-b' }]);
    const tech = await login(fx.app, 'tech-a1');
    expectErrorOnly(await get(tech, '/api/v1/homes'), 403, 'TRY_ERR_FORBIDDEN');
    expectErrorOnly(await get(tech, '/api/v1/homes/home-a1'), 403, 'TRY_ERR_FORBIDDEN');
  });

  it('names the field of a bad filter', async () => {
    fx = await authFixture();
    const nurse = await login(fx.app, 'nurse-a1');
    const res = await get(nurse, '/api/v1/homes?team=Team%20B');
    expectErrorOnly(res, 400, 'TRY_ERR_VALIDATION');
    expect(res.json<{ error: { message: string } }>().error.message).toContain('team');
  });
});

describe('GET /api/v1/homes/:id', () => {
  it('shows the devices with health, and the dose log of 7 days from the care plan and the missed-dose alerts', async () => {
    fx = await authFixture();
    fx.care.setSchedule('home-a1', [{ time: '08:00' }, { time: '20:00' }]);
    fx.alerts.apply(signal({ subject: '2026-03-09T20:00' }));
    fx.alerts.apply(
      signal({ subject: '2026-03-09T08:00', kind: 'technical', title: 'Dispenser offline at dose time: dose status unknown' }),
    );
    fx.alerts.apply(signal({ subject: '2026-03-08T08:00', at: T0 - 47 * 60 * MIN }));
    fx.alerts.apply(signal({ action: 'clear', subject: '2026-03-08T08:00', title: 'Dose taken', at: T0 - 46 * 60 * MIN }));
    fx.alerts.apply(signal({ homeId: 'home-b1', subject: '2026-03-09T20:00' }));
    fx.health.onStatus('disp-a1', 'offline', T0 - 3 * MIN);
    fx.health.onEvents([statusEvent('disp-a1', 'home-a1', { firmware: '2.4.1', battery_pct: 80 }, T0 - 10 * MIN)]);

    const nurse = await login(fx.app, 'nurse-a1');
    const d = await getJson<HomeDetail>(nurse, '/api/v1/homes/home-a1');
    expect(d.home).toMatchObject({ id: 'home-a1', openAlerts: { high: 3, total: 3 }, devices: { total: 2, offline: 1 } }); // the cleared one is not resolved yet
    expect(d.devices.map((x) => x.id)).toEqual(['disp-a1', 'sens-a1']);
    expect(d.devices[0]).toMatchObject({
      kind: 'dispenser',
      online: false,
      statusAt: new Date(T0 - 3 * MIN).toISOString(),
      lastSeenAt: new Date(T0 - 10 * MIN).toISOString(),
      batteryPct: 80,
      firmware: '2.4.1',
      lowBattery: false,
      silent: false,
      teamId: 'team-a',
    });
    expect(d.sources).toEqual({ influx: 'not_configured' });
    expect(d.recentEvents).toEqual([]);
    expect(d.doseLog.days).toBe(7);
    expect(d.doseLog.from).toBe('2026-03-03T23:00:00.000Z'); // 2026-03-04 00:00 in Oslo
    const doses = d.doseLog.doses;
    // 2026-03-04 08:00 … 2026-03-10 08:00 local; 20:00 today is still to come.
    expect(doses).toHaveLength(13);
    expect(doses[0]).toMatchObject({
      dose: '2026-03-04T08:00',
      scheduledAt: '2026-03-04T07:00:00.000Z',
      deadlineAt: '2026-03-04T08:30:00.000Z',
    });
    const status = Object.fromEntries(doses.map((x) => [x.dose, [x.status, x.basis]]));
    expect(status['2026-03-08T08:00']).toEqual(['taken', 'alert_cleared']);
    expect(status['2026-03-09T08:00']).toEqual(['unknown', 'alert']);
    expect(status['2026-03-09T20:00']).toEqual(['missed', 'alert']);
    expect(status['2026-03-08T20:00']).toEqual(['unknown', 'no_record']);
    expect(status['2026-03-10T08:00']).toEqual(['pending', 'before_deadline']);
    expect(doses.find((x) => x.dose === '2026-03-09T20:00')?.alertId).toMatch(/^al-/);
    expect(fx.audit.list({ action: 'home.view' })).toMatchObject([
      { actorId: nurse.userId, targetType: 'home', targetId: 'home-a1', teamId: 'team-a', outcome: 'ok' },
    ]);
  });

  it('has an empty dose log for a home without a schedule', async () => {
    fx = await authFixture();
    const lead = await login(fx.app, 'lead-a1');
    const d = await getJson<HomeDetail>(lead, '/api/v1/homes/home-a2');
    expect(d.doseLog.doses).toEqual([]);
    expect(d.devices).toEqual([]);
  });

  it("answers another team's home exactly like a home that does not exist, and audits the attempt", async () => {
    fx = await authFixture();
    const nurse = await login(fx.app, 'nurse-a1');
    const foreign = await get(nurse, '/api/v1/homes/home-b1');
    const missing = await get(nurse, '/api/v1/homes/home-zz9');
    expectErrorOnly(foreign, 404, 'TRY_ERR_NOT_FOUND');
    expect(foreign.body).toBe(missing.body);
    expect(fx.audit.list({ action: 'home.view' }).map((e) => [e.targetId, e.outcome, e.teamId])).toEqual([
      ['home-zz9', 'denied', null],
      ['home-b1', 'denied', 'team-b'],
    ]);
    const admin = await login(fx.app, 'admin-1');
    expect((await get(admin, '/api/v1/homes/home-b1')).statusCode).toBe(200);
  });

  it('validates the id and the number of events', async () => {
    fx = await authFixture();
    const nurse = await login(fx.app, 'nurse-a1');
    const bad = await get(nurse, '/api/v1/homes/HOME');
    expectErrorOnly(bad, 400, 'TRY_ERR_VALIDATION');
    expect(bad.json<{ error: { message: string } }>().error.message).toContain('id');
    const events = await get(nurse, '/api/v1/homes/home-a1?events=500');
    expectErrorOnly(events, 400, 'TRY_ERR_VALIDATION');
    expect(events.json<{ error: { message: string } }>().error.message).toContain('events');
  });
});
