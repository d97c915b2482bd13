import { get, type ClientRequest } from 'node:http';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCareStore } from '../../gateway/care/store.js';
import { databasePath, openDatabase } from '../../gateway/db/sqlite.js';
import type { Gateway } from '../../gateway/main.js';
import { virtualClock, type VirtualClock } from '../../simulators/clock.js';
import { removeDir, startTestGateway } from '../support/gateway.js';

// The alert path of a running gateway (gateway/alerting.ts): a device's fall over real MQTT → journal → rules
// pass → rule engine → alert store (SQLite) → outbox → the live SSE stream of the home's team, resumable with
// Last-Event-ID; escalation and reminders on the gateway's (virtual) clock; scopes per service account.

const T0 = Date.parse('2026-03-10T10:00:00Z');
const MIN = 60_000;

let gw: Gateway & { dataDir: string; mqttPort: number };
let clock: VirtualClock;
let north: string;
let northSecret: string;
let south: string;
let device: mqtt.MqttClient;

const base = (): string => `http://127.0.0.1:${gw.http.address.port}`;
const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface SseEvent {
  id?: string;
  event?: string;
  data: unknown;
}

/** A minimal SSE reader (node:http): collects events until closed. */
function openStream(auth: string, query = '', lastEventId?: string) {
  const events: SseEvent[] = [];
  const headers: Record<string, string> = { authorization: auth, accept: 'text/event-stream' };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  let req: ClientRequest | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    req = get(`${base()}/api/v1/alerts/stream${query}`, { headers }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`stream answered ${String(res.statusCode)}`));
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        buf += chunk;
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const e: SseEvent = { data: undefined };
          for (const line of block.split('\n')) {
            if (line.startsWith('id:')) e.id = line.slice(3).trim();
            else if (line.startsWith('event:')) e.event = line.slice(6).trim();
            else if (line.startsWith('data:')) e.data = JSON.parse(line.slice(5).trim()) as unknown;
          }
          if (e.event !== undefined) events.push(e);
        }
      });
      res.on('error', () => undefined);
      resolve();
    });
    req.on('error', () => undefined);
  });
  return { events, ready, close: () => req?.destroy() };
}

type AlertData = { transition: { type: string; rule: string }; alert: { id: string; teamId: string; rule: string } };
const alertsOf = (events: SseEvent[]): AlertData[] => events.filter((e) => e.event === 'alert').map((e) => e.data as AlertData);

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

beforeAll(async () => {
  clock = virtualClock(T0);
  gw = await startTestGateway({}, { clock });
  gw.registry.addHome({ id: 'home-0001', teamId: 'team-north' });
  gw.registry.addHome({ id: 'home-0002', teamId: 'team-south' });
  const { secret } = gw.registry.addDevice({
    id: 'fall-0001',
    kind: 'sensor',
    model: 'sim-fall',
    adapterId: 'tryggheim',
    homeId: 'home-0001',
  });
  northSecret = gw.registry.addServiceAccount({ id: 'svc-north', teamId: 'team-north' }).secret;
  north = basic('svc-north', northSecret);
  south = basic('svc-south', gw.registry.addServiceAccount({ id: 'svc-south', teamId: 'team-south' }).secret);
  device = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqttPort}`, {
    clientId: 'fall-0001',
    username: 'fall-0001',
    password: secret,
    reconnectPeriod: 0,
  });
}, 30_000);

afterAll(async () => {
  await device.endAsync();
  await gw.close();
  removeDir(gw.dataDir);
});

describe('alerts in the running gateway', () => {
  it('refuses the list and the stream without a service account, and another team', async () => {
    expect((await fetch(`${base()}/api/v1/alerts`)).status).toBe(401);
    const wrong = await fetch(`${base()}/api/v1/alerts`, { headers: { authorization: basic('svc-north', 'not-the-secret') } });
    expect(wrong.status).toBe(401);
    const other = await fetch(`${base()}/api/v1/alerts?team=team-north`, { headers: { authorization: south } });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ error: { code: 'TRY_ERR_FORBIDDEN' } });
  });

  it('a fall published over MQTT reaches the team stream, escalates on the clock, and a reconnect resumes exactly', async () => {
    const live = openStream(north);
    const others = openStream(south);
    await Promise.all([live.ready, others.ready]);
    await until(() => gw.alerting.hub.clients() === 2, 'both streams joined');

    await device.publishAsync('tryggheim/v1/devices/fall-0001/up', JSON.stringify({ type: 'alarm.fall' }), { qos: 1 });
    await until(() => alertsOf(live.events).length === 1, 'the raised transition on the stream');
    const raised = live.events.find((e) => e.event === 'alert');
    expect(raised?.data).toMatchObject({ transition: { type: 'raised', rule: 'fall' }, alert: { teamId: 'team-north', state: 'active' } });

    const list = (await (await fetch(`${base()}/api/v1/alerts`, { headers: { authorization: north } })).json()) as {
      alerts: { rule: string }[];
    };
    expect(list.alerts.map((a) => a.rule)).toEqual(['fall']);

    // Critical: a reminder every 2 min, escalation to the team lead at 5 min (gateway/alerts/escalation.ts).
    await clock.waitUntil(T0 + 2 * MIN);
    await until(() => alertsOf(live.events).some((a) => a.transition.type === 'reminded'), 'a reminder');
    await clock.waitUntil(T0 + 5 * MIN);
    await until(() => alertsOf(live.events).some((a) => a.transition.type === 'escalated'), 'the escalation');
    const seen = live.events.filter((e) => e.event === 'alert');
    live.close();

    // A dashboard that saw only the first event reconnects with its id: it gets exactly the rest, in order.
    const resumed = openStream(north, '', raised?.id);
    await resumed.ready;
    await until(() => alertsOf(resumed.events).length === seen.length - 1, 'the replay');
    expect(resumed.events.filter((e) => e.event === 'alert').map((e) => e.id)).toEqual(seen.slice(1).map((e) => e.id));
    resumed.close();

    // Another team's stream saw none of it.
    expect(alertsOf(others.events)).toEqual([]);
    others.close();
  });

  it('an acknowledgement stops the reminders and is on the stream', async () => {
    const live = openStream(north);
    await live.ready;
    const [open] = gw.alerting.alerts.list({ teamId: 'team-north' });
    if (open === undefined) throw new Error('no open alert');
    gw.alerting.acknowledge(open.id, { by: 'nurse-007' });
    await until(() => alertsOf(live.events).some((a) => a.transition.type === 'acknowledged'), 'the acknowledgement');
    const before = alertsOf(live.events).length;
    await clock.waitUntil(T0 + 20 * MIN);
    await sleep(100);
    expect(alertsOf(live.events).filter((a) => a.transition.type === 'reminded' || a.transition.type === 'escalated')).toEqual([]);
    // The follow-up deadline (30 min for critical) still runs: unresolved at 30 min → overdue.
    await clock.waitUntil(T0 + 31 * MIN);
    await until(() => alertsOf(live.events).some((a) => a.transition.type === 'overdue'), 'overdue');
    expect(alertsOf(live.events).length).toBe(before + 1);
    live.close();
  });

  it('a dose schedule set from another process (the CLI) is noticed and its deadline fires', async () => {
    // Another connection to the same database, as `tryggheim care schedule set` opens it.
    const other = openDatabase(databasePath(gw.dataDir));
    try {
      // The clock is at 11:31 CET; a dose at 11:40 with a 1-minute window and no grace is due at 11:41 (10:41Z).
      createCareStore({ db: other }).setSchedule('home-0002', [{ time: '11:40', windowMinutes: 1, graceMinutes: 0 }]);
    } finally {
      other.close();
    }
    await sleep(1100); // the revision check runs at most once a second
    await clock.waitUntil(clock.now() + 2000);
    await clock.waitUntil(Date.parse('2026-03-10T10:41:00Z') - 1);
    expect(gw.alerting.alerts.list({ teamId: 'team-south' })).toEqual([]);
    await clock.waitUntil(Date.parse('2026-03-10T10:41:00Z'));
    await until(() => gw.alerting.alerts.list({ teamId: 'team-south' }).length === 1, 'the missed-dose alert');
    expect(gw.alerting.alerts.list({ teamId: 'team-south' })).toMatchObject([
      { rule: 'missed-dose', homeId: 'home-0002', raisedAt: '2026-03-10T10:41:00.000Z' },
    ]);
  });

  it("the team's integration reads the retained open list over MQTT with its service account", async () => {
    const svc = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqttPort}`, {
      clientId: 'svc-north',
      username: 'svc-north',
      password: northSecret,
      reconnectPeriod: 0,
    });
    try {
      const got = new Promise<{ topic: string; retain: boolean; body: unknown }>((resolve) => {
        svc.on('message', (topic, payload, packet) => resolve({ topic, retain: packet.retain, body: JSON.parse(payload.toString()) }));
      });
      await svc.subscribeAsync('tryggheim/v1/alerts/team-north/open', { qos: 1 });
      const msg = await got;
      expect(msg).toMatchObject({ topic: 'tryggheim/v1/alerts/team-north/open', retain: true });
      expect(msg.body).toMatchObject({ teamId: 'team-north', alerts: [{ rule: 'fall', ack: 'acknowledged' }] });
    } finally {
      await svc.endAsync();
    }
  });
});
