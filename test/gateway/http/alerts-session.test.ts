import { get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert, AlertTransition, NamedAlert, NamedTransition } from '../../../gateway/alerts/model.js';
import type { FollowUpReport } from '../../../gateway/alerts/report.js';
import { authFixture, expectErrorOnly, login, MIN, PASSWORD, type Fixture, type LoggedIn } from './auth-fixture.js';

// Nurses follow up alerts through their session: the list of their teams, the detail with evidence and timeline,
// acknowledge and resolve (actor = their user id), the team lead's report, and the live stream — which ends when
// the session does. Real SQLite file, inject() except for the stream (a real socket), fake clock.

let fx: Fixture;
afterEach(async () => {
  await fx.close();
});

const headers = (s: LoggedIn) => ({ cookie: s.cookie, 'x-csrf-token': s.csrf });
const getJson = async <T>(s: LoggedIn, url: string): Promise<T> => {
  const res = await fx.app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json<T>();
};

describe('alerts for a session', () => {
  it("lists the open alerts of the user's teams only; an admin sees every team; a foreign team filter is 403", async () => {
    fx = await authFixture();
    const a = fx.raise('home-a1');
    const b = fx.raise('home-b1');
    const nurse = await login(fx.app, 'nurse-a1');
    const admin = await login(fx.app, 'admin-1');
    expect((await getJson<{ alerts: Alert[] }>(nurse, '/api/v1/alerts')).alerts.map((x) => x.id)).toEqual([a]);
    expect((await getJson<{ alerts: Alert[] }>(admin, '/api/v1/alerts')).alerts.map((x) => x.id).sort()).toEqual([a, b].sort());
    expectErrorOnly(
      await fx.app.inject({ method: 'GET', url: '/api/v1/alerts?team=team-b', headers: { cookie: nurse.cookie } }),
      403,
      'TRY_ERR_FORBIDDEN',
    );
    const listed = fx.audit.list({ action: 'alert.list', actorId: nurse.userId });
    expect(listed.map((e) => e.outcome)).toEqual(['denied', 'ok']);
  });

  it('shows the detail with its evidence and timeline, and audits the view', async () => {
    fx = await authFixture();
    const id = fx.raise('home-a1');
    const nurse = await login(fx.app, 'nurse-a1');
    const detail = await getJson<{ alert: Alert; timeline: AlertTransition[] }>(nurse, `/api/v1/alerts/${id}`);
    expect(detail.alert).toMatchObject({ id, homeId: 'home-a1', teamId: 'team-a', evidence: [{ note: 'fall reported' }] });
    expect(detail.timeline.map((t) => t.type)).toEqual(['raised']);
    expect(fx.audit.list({ action: 'alert.view' })).toMatchObject([
      { actorType: 'user', actorId: nurse.userId, targetType: 'alert', targetId: id, teamId: 'team-a', outcome: 'ok' },
    ]);
  });

  it("acknowledges with a note as the user's id; a second acknowledge is 409 and audited as failed", async () => {
    fx = await authFixture();
    const id = fx.raise('home-a1');
    const nurse = await login(fx.app, 'nurse-a1');
    const res = await fx.app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${id}/ack`,
      headers: headers(nurse),
      payload: { note: 'on my way' },
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ alert: Alert; transitions: AlertTransition[] }>();
    expect(body.alert).toMatchObject({ ack: 'acknowledged', acknowledgedBy: nurse.userId, ackNote: 'on my way' });
    expect(body.transitions).toMatchObject([{ type: 'acknowledged', actor: nurse.userId }]);

    const again = await fx.app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/ack`, headers: headers(nurse), payload: {} });
    expectErrorOnly(again, 409, 'TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED');
    expect(fx.audit.list({ action: 'alert.ack' }).map((e) => [e.outcome, e.detail.code])).toEqual([
      ['failed', 'TRY_ERR_ALERT_ALREADY_ACKNOWLEDGED'],
      ['ok', undefined],
    ]);
  });

  it('resolves with an outcome (acknowledging it too); "other" needs a note; resolving twice is 409', async () => {
    fx = await authFixture();
    const id = fx.raise('home-a1');
    const lead = await login(fx.app, 'lead-a1');
    const post = (payload: object) =>
      fx.app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/resolve`, headers: headers(lead), payload });
    expectErrorOnly(await post({ outcome: 'other' }), 400, 'TRY_ERR_VALIDATION');
    expectErrorOnly(await post({ outcome: 'not-an-outcome' }), 400, 'TRY_ERR_VALIDATION');
    fx.clock.now += 10 * MIN;
    const res = await post({ outcome: 'visited_ok', note: 'all well' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ alert: Alert }>().alert).toMatchObject({
      open: false,
      outcome: 'visited_ok',
      resolvedBy: lead.userId,
      resolveNote: 'all well',
    });
    const timeline = (await getJson<{ timeline: AlertTransition[] }>(lead, `/api/v1/alerts/${id}`)).timeline;
    expect(timeline.map((t) => [t.type, t.actor])).toEqual([
      ['raised', 'rule:fall'],
      ['acknowledged', lead.userId],
      ['resolved', lead.userId],
    ]);
    expectErrorOnly(await post({ outcome: 'visited_ok' }), 409, 'TRY_ERR_ALERT_ALREADY_RESOLVED');
  });

  it("answers 404 for another team's alert, changes nothing, and audits the refusal", async () => {
    fx = await authFixture();
    const b = fx.raise('home-b1');
    const nurse = await login(fx.app, 'nurse-a1');
    for (const [method, url, payload] of [
      ['GET', `/api/v1/alerts/${b}`, undefined],
      ['POST', `/api/v1/alerts/${b}/ack`, {}],
      ['POST', `/api/v1/alerts/${b}/resolve`, { outcome: 'false_alarm' }],
    ] as const) {
      const res = await fx.app.inject({ method, url, headers: headers(nurse), ...(payload ? { payload } : {}) });
      expectErrorOnly(res, 404, 'TRY_ERR_NOT_FOUND');
    }
    expect(fx.alerts.get(b)).toMatchObject({ ack: 'unacknowledged', open: true });
    expect(fx.alerts.timeline(b)).toHaveLength(1);
    expect(fx.audit.list({ targetId: b }).map((e) => [e.action, e.outcome, e.teamId])).toEqual([
      ['alert.resolve', 'denied', 'team-b'],
      ['alert.ack', 'denied', 'team-b'],
      ['alert.view', 'denied', 'team-b'],
    ]);
  });
});

describe("the actors' names", () => {
  it('names who acknowledged and resolved in the list, the detail, the timeline and the change answers', async () => {
    fx = await authFixture();
    await fx.users.add({ username: 'nurse-a2', role: 'nurse', teams: ['team-a'], displayName: 'Sykepleier Test' }, PASSWORD);
    await fx.users.add({ username: 'lead-a2', role: 'team_lead', teams: ['team-a'], displayName: 'Teamleder Test' }, PASSWORD);
    const id = fx.raise('home-a1');
    const named = await login(fx.app, 'nurse-a2');
    const lead = await login(fx.app, 'lead-a2');
    const colleague = await login(fx.app, 'nurse-a1');

    const ack = await fx.app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/ack`, headers: headers(named), payload: {} });
    expect(ack.statusCode, ack.body).toBe(200);
    const acked = ack.json<{ alert: NamedAlert; transitions: NamedTransition[] }>();
    expect(acked.alert).toMatchObject({ acknowledgedBy: named.userId, acknowledgedByName: 'Sykepleier Test', resolvedByName: null });
    expect(acked.transitions).toMatchObject([{ actor: named.userId, actorName: 'Sykepleier Test' }]);
    const list = await getJson<{ alerts: NamedAlert[] }>(colleague, '/api/v1/alerts');
    expect(list.alerts).toMatchObject([{ id, acknowledgedByName: 'Sykepleier Test', resolvedByName: null }]);

    const res = await fx.app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${id}/resolve`,
      headers: headers(lead),
      payload: { outcome: 'visited_ok' },
    });
    expect(res.json<{ alert: NamedAlert }>().alert).toMatchObject({ resolvedBy: lead.userId, resolvedByName: 'Teamleder Test' });
    const detail = await getJson<{ alert: NamedAlert; timeline: NamedTransition[] }>(colleague, `/api/v1/alerts/${id}`);
    expect(detail.alert).toMatchObject({ acknowledgedByName: 'Sykepleier Test', resolvedByName: 'Teamleder Test' });
    // The rule keeps its label; the people have their names.
    expect(detail.timeline.map((t) => [t.type, t.actorName])).toEqual([
      ['raised', 'rule:fall'],
      ['acknowledged', 'Sykepleier Test'],
      ['resolved', 'Teamleder Test'],
    ]);
  });

  it('keeps the id of a staff id from the CLI and of an unknown user, and gives a service account ids only', async () => {
    fx = await authFixture();
    const cli = fx.raise('home-a1');
    const gone = fx.raise('home-a1');
    const mine = fx.raise('home-a1');
    fx.alerts.acknowledge(cli, { by: 'staff-17' });
    fx.alerts.acknowledge(gone, { by: 'u-0123456789ab' });
    const nurse = await login(fx.app, 'nurse-a1');
    await fx.app.inject({ method: 'POST', url: `/api/v1/alerts/${mine}/ack`, headers: headers(nurse), payload: {} });

    const byId = (alerts: NamedAlert[]) => Object.fromEntries(alerts.map((a) => [a.id, a.acknowledgedByName]));
    const list = await getJson<{ alerts: NamedAlert[] }>(nurse, '/api/v1/alerts');
    // A user made without a display name is called by the username (gateway/auth/users.ts).
    expect(byId(list.alerts)).toEqual({ [cli]: 'staff-17', [gone]: 'u-0123456789ab', [mine]: 'nurse-a1' });
    const timeline = (await getJson<{ timeline: NamedTransition[] }>(nurse, `/api/v1/alerts/${gone}`)).timeline;
    expect(timeline.map((t) => t.actorName)).toEqual(['rule:fall', 'u-0123456789ab']);

    const svc = await fx.app.inject({
      method: 'GET',
      url: '/api/v1/alerts',
      headers: { authorization: `Basic ${Buffer.from('svc-a:svc-a-secret').toString('base64')}` },
    });
    expect(svc.statusCode, svc.body).toBe(200);
    expect(byId(svc.json<{ alerts: NamedAlert[] }>().alerts)).toEqual({
      [cli]: 'staff-17',
      [gone]: 'u-0123456789ab',
      [mine]: nurse.userId,
    });
    expect(svc.body).not.toContain('"nurse-a1"');
  });
});

describe('GET /api/v1/reports/follow-up', () => {
  it("gives a team lead the own teams' report as JSON or CSV, an admin every team", async () => {
    fx = await authFixture();
    fx.raise('home-a1');
    fx.raise('home-b1');
    fx.clock.now += 3 * 60 * MIN; // past the critical follow-up deadline (30 min): "never" so far
    const lead = await login(fx.app, 'lead-a1');
    const admin = await login(fx.app, 'admin-1');
    const json = await getJson<FollowUpReport>(lead, '/api/v1/reports/follow-up?from=2026-03-10&to=2026-03-10');
    expect(json.teams).toMatchObject([{ teamId: 'team-a', count: 1, acknowledgedNever: 1, resolvedNever: 1 }]);
    expect(json.from).toBe('2026-03-09T23:00:00.000Z'); // Oslo midnight, CET
    const all = await getJson<FollowUpReport>(admin, '/api/v1/reports/follow-up?from=2026-03-10&to=2026-03-10');
    expect(all.teams.map((t) => t.teamId)).toEqual(['team-a', 'team-b']);

    const csv = await fx.app.inject({
      method: 'GET',
      url: '/api/v1/reports/follow-up?team=team-a&from=2026-03-10&to=2026-03-10&format=csv',
      headers: { cookie: lead.cookie },
    });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.body.split('\r\n')[1]).toMatch(/^team-a,1,0,0,1,0,0,0,1,0,/);
    expectErrorOnly(
      await fx.app.inject({
        method: 'GET',
        url: '/api/v1/reports/follow-up?from=2026-03-12&to=2026-03-10',
        headers: { cookie: lead.cookie },
      }),
      400,
      'TRY_ERR_VALIDATION',
    );
  });
});

describe('GET /api/v1/alerts/stream with a session', () => {
  interface Stream {
    res: IncomingMessage;
    text: () => string;
    ended: Promise<void>;
  }

  async function open(cookie: string): Promise<Stream> {
    const address = fx.app.server.address() as AddressInfo;
    return new Promise((resolve, reject) => {
      const req = get(
        `http://127.0.0.1:${address.port}/api/v1/alerts/stream`,
        { headers: { cookie, accept: 'text/event-stream' } },
        (res) => {
          let buf = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (buf += c));
          const ended = new Promise<void>((r) => res.on('close', () => r()));
          resolve({ res, text: () => buf, ended });
        },
      );
      req.on('error', reject);
    });
  }

  async function until(cond: () => boolean, what: string): Promise<void> {
    const end = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it("streams the team's alerts and closes when the user is disabled (checked at the next push)", async () => {
    fx = await authFixture();
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    const nurse = await login(fx.app, 'nurse-a1');
    const stream = await open(nurse.cookie);
    expect(stream.res.statusCode).toBe(200);
    await until(() => stream.text().includes('event: hello'), 'hello');
    const a = fx.raise('home-a1');
    fx.raise('home-b1');
    fx.hub.pump();
    await until(() => stream.text().includes(a), 'the team-a alert');
    expect(fx.audit.list({ action: 'alert.stream' })).toHaveLength(1);
    // A colleague's acknowledgement reaches the stream with her name.
    const colleague = await fx.users.add(
      { username: 'nurse-a2', role: 'nurse', teams: ['team-a'], displayName: 'Sykepleier Test' },
      PASSWORD,
    );
    fx.alerts.acknowledge(a, { by: colleague.id });
    fx.hub.pump();
    await until(() => stream.text().includes('"acknowledged"'), 'the acknowledgement');
    const event = stream
      .text()
      .split('\n')
      .filter((l) => l.startsWith('data: ') && l.includes('"acknowledged"'))
      .map((l) => JSON.parse(l.slice(6)) as { transition: NamedTransition; alert: NamedAlert })[0];
    expect(event?.transition).toMatchObject({ type: 'acknowledged', actor: colleague.id, actorName: 'Sykepleier Test' });
    expect(event?.alert).toMatchObject({ acknowledgedBy: colleague.id, acknowledgedByName: 'Sykepleier Test' });

    fx.db.prepare("UPDATE users SET enabled = 0 WHERE username = 'nurse-a1'").run();
    fx.raise('home-a1');
    fx.hub.pump();
    await stream.ended;
    expect(stream.text().split('event: alert').length - 1).toBe(2);
  });

  it('closes an open stream once its session times out (fake clock), without the stream keeping it alive', async () => {
    fx = await authFixture({ recheckMs: 20 });
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    const nurse = await login(fx.app, 'nurse-a1');
    const stream = await open(nurse.cookie);
    await until(() => stream.text().includes('event: hello'), 'hello');
    fx.clock.now += 29 * MIN;
    await new Promise((r) => setTimeout(r, 100));
    expect(stream.res.closed).toBe(false);
    fx.clock.now += 1 * MIN;
    await stream.ended;
    const after = await fx.app.inject({ method: 'GET', url: '/api/v1/alerts/stream', headers: { cookie: nurse.cookie } });
    expectErrorOnly(after, 401, 'TRY_ERR_UNAUTHORIZED');
    expect(after.headers['www-authenticate']).toBeUndefined();
  });
});
