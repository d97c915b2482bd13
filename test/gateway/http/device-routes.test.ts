import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceHealthView } from '../../../gateway/http/health-view.js';
import { authFixture, expectErrorOnly, login, MIN, T0, type Fixture, type LoggedIn } from './auth-fixture.js';

// Devices for technicians and admins: health with filters, assign, disable/enable and a new secret, each scoped
// to the technician's teams (a device of another team, or in stock, is 404 like one that does not exist) and
// audited. The registry is the real one on the fixture's SQLite file; authenticate() is what the broker runs.

let fx: Fixture;
afterEach(async () => {
  await fx.close();
});

const get = (s: LoggedIn, url: string) => fx.app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
const post = (s: LoggedIn, url: string, payload?: object) =>
  fx.app.inject({ method: 'POST', url, headers: { cookie: s.cookie, 'x-csrf-token': s.csrf }, ...(payload ? { payload } : {}) });
async function ids(s: LoggedIn, url: string): Promise<string[]> {
  const res = await get(s, url);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<{ devices: DeviceHealthView[] }>().devices.map((d) => d.id);
}
const message = (res: LightMyRequestResponse) => res.json<{ error: { message: string } }>().error.message;

describe('GET /api/v1/devices', () => {
  it("lists the devices of the technician's teams; an admin also sees devices in stock", async () => {
    fx = await authFixture();
    const tech = await login(fx.app, 'tech-a1');
    expect(await ids(tech, '/api/v1/devices')).toEqual(['disp-a1', 'sens-a1']);
    expect(await ids(tech, '/api/v1/devices?home=home-a2')).toEqual([]);
    const admin = await login(fx.app, 'admin-1');
    expect(await ids(admin, '/api/v1/devices')).toEqual(['disp-a1', 'disp-b1', 'sens-a1', 'stock-1']);
    expect(await ids(admin, '/api/v1/devices?team=team-b')).toEqual(['disp-b1']);
    const res = await get(admin, '/api/v1/devices?team=team-a');
    expect(res.json<{ devices: DeviceHealthView[] }>().devices[0]).toMatchObject({
      id: 'disp-a1',
      kind: 'dispenser',
      model: 'demo-dispenser',
      adapterId: 'tryggheim',
      enabled: true,
      homeId: 'home-a1',
      teamId: 'team-a',
      online: null,
      lastSeenAt: null,
    });
    expect(fx.audit.list({ action: 'device.list', actorId: tech.userId }).map((e) => e.outcome)).toEqual(['ok', 'ok']);
  });

  it('filters by health: offline (broker status), low battery (device flag or the rule), silent (the rule)', async () => {
    fx = await authFixture();
    fx.health.onStatus('disp-a1', 'offline', T0 - MIN);
    fx.health.onEvents([
      {
        eventId: 'b'.repeat(32),
        deviceId: 'sens-a1',
        homeId: 'home-a1',
        adapter: { id: 'tryggheim', version: 1 },
        observedAt: new Date(T0).toISOString(),
        receivedAt: new Date(T0).toISOString(),
        body: { type: 'status', status: { battery_low: true, battery_pct: 12, firmware: '1.0.3' } },
      },
    ]);
    fx.raise('home-a1', { rule: 'device-silent', subject: 'disp-a1', severity: 'medium', kind: 'technical', title: 'Device silent' });
    fx.raise('home-b1', { rule: 'device-silent', subject: 'disp-b1', severity: 'medium', kind: 'technical', title: 'Device silent' });
    const tech = await login(fx.app, 'tech-a1');
    expect(await ids(tech, '/api/v1/devices?status=offline')).toEqual(['disp-a1']);
    expect(await ids(tech, '/api/v1/devices?status=low_battery')).toEqual(['sens-a1']);
    expect(await ids(tech, '/api/v1/devices?status=silent')).toEqual(['disp-a1']);
    const sens = (await get(tech, '/api/v1/devices?home=home-a1')).json<{ devices: DeviceHealthView[] }>().devices[1];
    expect(sens).toMatchObject({
      id: 'sens-a1',
      batteryPct: 12,
      lowBattery: true,
      firmware: '1.0.3',
      lastSeenAt: new Date(T0).toISOString(),
    });
  });

  it('refuses a foreign team (403) or home (404), names a bad filter, and is not for nurses', async () => {
    fx = await authFixture();
    const tech = await login(fx.app, 'tech-a1');
    expectErrorOnly(await get(tech, '/api/v1/devices?team=team-b'), 403, 'TRY_ERR_FORBIDDEN');
    expectErrorOnly(await get(tech, '/api/v1/devices?home=home-b1'), 404, 'TRY_ERR_NOT_FOUND');
    const bad = await get(tech, '/api/v1/devices?status=broken');
    expectErrorOnly(bad, 400, 'TRY_ERR_VALIDATION');
    expect(message(bad)).toContain('status');
    expect(fx.audit.list({ action: 'device.list' }).map((e) => e.outcome)).toEqual(['denied', 'denied']);
    const nurse = await login(fx.app, 'nurse-a1');
    expectErrorOnly(await get(nurse, '/api/v1/devices'), 403, 'TRY_ERR_FORBIDDEN');
    expectErrorOnly(await post(nurse, '/api/v1/devices/disp-a1/disable'), 403, 'TRY_ERR_FORBIDDEN');
    expect(fx.registry.getDevice('disp-a1')?.enabled).toBe(true);
  });
});

describe('changing a device', () => {
  it('assigns a device to another home of the team, keeping its history; refuses a history rewrite with 409', async () => {
    fx = await authFixture();
    const tech = await login(fx.app, 'tech-a1');
    fx.clock.now += 10 * MIN;
    const res = await post(tech, '/api/v1/devices/sens-a1/assign', { homeId: 'home-a2' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ device: DeviceHealthView; changed: boolean }>()).toMatchObject({ changed: true, device: { homeId: 'home-a2' } });
    expect(fx.registry.getDevice('sens-a1')?.assignments.map((a) => a.homeId)).toEqual(['home-a2', 'home-a1']);
    const again = await post(tech, '/api/v1/devices/sens-a1/assign', { homeId: 'home-a2' });
    expect(again.json<{ changed: boolean }>().changed).toBe(false);

    fx.clock.now -= 20 * MIN;
    expectErrorOnly(await post(tech, '/api/v1/devices/sens-a1/assign', { homeId: 'home-a1' }), 409, 'TRY_ERR_ASSIGNMENT_ORDER');
    expect(fx.audit.list({ action: 'device.assign' }).map((e) => [e.outcome, e.detail.code ?? null, e.teamId])).toEqual([
      ['failed', 'TRY_ERR_ASSIGNMENT_ORDER', 'team-a'],
      ['ok', null, 'team-a'],
      ['ok', null, 'team-a'],
    ]);
  });

  it("answers another team's device, or a home of another team as the target, as not found; nothing changes", async () => {
    fx = await authFixture();
    const tech = await login(fx.app, 'tech-a1');
    const foreign = await post(tech, '/api/v1/devices/disp-b1/assign', { homeId: 'home-a1' });
    const missing = await post(tech, '/api/v1/devices/no-such-device/assign', { homeId: 'home-a1' });
    expectErrorOnly(foreign, 404, 'TRY_ERR_NOT_FOUND');
    expect(foreign.body).toBe(missing.body);
    expectErrorOnly(await post(tech, '/api/v1/devices/sens-a1/assign', { homeId: 'home-b1' }), 404, 'TRY_ERR_NOT_FOUND');
    expectErrorOnly(await post(tech, '/api/v1/devices/stock-1/rotate-secret'), 404, 'TRY_ERR_NOT_FOUND');
    expectErrorOnly(await post(tech, '/api/v1/devices/disp-b1/disable'), 404, 'TRY_ERR_NOT_FOUND');
    expect(fx.registry.getDevice('disp-b1')).toMatchObject({ homeId: 'home-b1', enabled: true });
    expect(fx.registry.getDevice('sens-a1')?.homeId).toBe('home-a1');
    expect(fx.audit.list({ action: 'device.assign' }).map((e) => [e.targetType, e.targetId, e.outcome])).toEqual([
      ['home', 'home-b1', 'denied'],
      ['device', 'no-such-device', 'denied'],
      ['device', 'disp-b1', 'denied'],
    ]);
    // An admin may place a device from stock.
    const admin = await login(fx.app, 'admin-1');
    expect((await post(admin, '/api/v1/devices/stock-1/assign', { homeId: 'home-b1' })).statusCode).toBe(200);
    expect(fx.registry.getDevice('stock-1')?.homeId).toBe('home-b1');
  });

  it('names the field of a bad body', async () => {
    fx = await authFixture();
    const tech = await login(fx.app, 'tech-a1');
    const bad = await post(tech, '/api/v1/devices/sens-a1/assign', { homeId: 'Home A2' });
    expectErrorOnly(bad, 400, 'TRY_ERR_VALIDATION');
    expect(message(bad)).toContain('homeId');
    expectErrorOnly(await post(tech, '/api/v1/devices/sens-a1/assign', { homeId: 'home-a2', extra: 1 }), 400, 'TRY_ERR_VALIDATION');
    expectErrorOnly(await post(tech, '/api/v1/devices/sens-a1/assign', {}), 400, 'TRY_ERR_VALIDATION');
  });

  it('rotates the secret (shown once, never audited), disables and enables: what the broker then accepts', async () => {
    fx = await authFixture();
    const tech = await login(fx.app, 'tech-a1');
    const rotated = await post(tech, '/api/v1/devices/sens-a1/rotate-secret');
    expect(rotated.statusCode, rotated.body).toBe(200);
    const { secret, device } = rotated.json<{ secret: string; device: DeviceHealthView }>();
    expect(secret).toMatch(/^tgs_/);
    expect(device.secretRotatedAt).toBe(new Date(T0).toISOString());
    expect(rotated.headers['cache-control']).toBe('no-store');
    expect(fx.registry.authenticate('sens-a1', Buffer.from(secret)).ok).toBe(true);

    expect((await post(tech, '/api/v1/devices/sens-a1/disable')).json<{ device: DeviceHealthView }>().device.enabled).toBe(false);
    expect(fx.registry.authenticate('sens-a1', Buffer.from(secret))).toEqual({ ok: false, reason: 'disabled' });
    expect((await post(tech, '/api/v1/devices/sens-a1/enable')).json<{ device: DeviceHealthView }>().device.enabled).toBe(true);
    expect(fx.registry.authenticate('sens-a1', Buffer.from(secret)).ok).toBe(true);

    const rows = fx.audit.list({ targetId: 'sens-a1' });
    expect(rows.map((e) => e.action)).toEqual(['device.enable', 'device.disable', 'device.rotate_secret']);
    expect(JSON.stringify(rows)).not.toContain(secret);
    const stored = fx.db.prepare('SELECT * FROM audit_log').all();
    expect(JSON.stringify(stored)).not.toContain(secret);
  });
});
