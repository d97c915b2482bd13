import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserStore } from '../../../gateway/auth/users.js';
import type { DeadLetterSchema } from '../../../gateway/http/deadletter-routes.js';
import type { DeviceHealthView, HomeSummary } from '../../../gateway/http/health-view.js';
import type { Gateway } from '../../../gateway/main.js';
import { removeDir, startTestGateway } from '../../support/gateway.js';
import { CHEAP_SCRYPT, PASSWORD } from './auth-fixture.js';
import type { z } from 'zod';

// The new resources as gateway/main.ts wires them, over a real socket: a device that connects over MQTT shows
// online with its last message and battery (the health index on the event bus), its bad message is a dead letter
// a technician lists and replays (the gateway's own journal; the ingest picks it up again), and a nurse's home
// list counts it. No InfluxDB: the home page says so.

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
let gw: TestGateway;
let secret: string;
const sessions = new Map<string, { cookie: string; csrf: string }>();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const base = (): string => `http://127.0.0.1:${gw.http.address.port}`;
async function loginAs(username: string): Promise<void> {
  const res = await fetch(`${base()}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const body = (await res.json()) as { csrfToken: string };
  sessions.set(username, { cookie, csrf: body.csrfToken });
}
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the answer's shape
async function api<T>(username: string, method: string, path: string): Promise<{ status: number; body: T }> {
  const s = sessions.get(username);
  if (s === undefined) throw new Error(`${username} not logged in`);
  const res = await fetch(`${base()}${path}`, {
    method,
    headers: { cookie: s.cookie, ...(method === 'GET' ? {} : { 'x-csrf-token': s.csrf }) },
  });
  return { status: res.status, body: (await res.json()) as T };
}

beforeAll(async () => {
  gw = await startTestGateway();
  gw.registry.addHome({ id: 'home-w1', teamId: 'team-w' });
  secret = gw.registry.addDevice({
    id: 'disp-w1',
    kind: 'dispenser',
    model: 'demo-dispenser',
    adapterId: 'tryggheim',
    homeId: 'home-w1',
  }).secret;
  const users = createUserStore({ db: gw.db, now: () => Date.now(), passwordParams: CHEAP_SCRYPT });
  await users.add({ username: 'tech-w1', role: 'technician', teams: ['team-w'] }, PASSWORD);
  await users.add({ username: 'nurse-w1', role: 'nurse', teams: ['team-w'] }, PASSWORD);
  await loginAs('tech-w1');
  await loginAs('nurse-w1');
});

afterAll(async () => {
  await gw.close();
  removeDir(gw.dataDir);
});

describe('the gateway serves device health, dead letters and homes from its own parts', () => {
  it('from MQTT to the technician: online, last seen, battery; a bad message dead-lettered and replayed', async () => {
    const status = 'tryggheim/v1/devices/disp-w1/status';
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqttPort}`, {
      clientId: 'disp-w1',
      username: 'disp-w1',
      password: secret,
      reconnectPeriod: 0,
      will: { topic: status, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    try {
      await client.publishAsync(status, 'online', { qos: 1, retain: true });
      await client.publishAsync('tryggheim/v1/devices/disp-w1/up', JSON.stringify({ type: 'status', battery_pct: 11, battery_low: true }), {
        qos: 1,
      });
      await client.publishAsync('tryggheim/v1/devices/disp-w1/up', '{"type":', { qos: 1 });

      const device = await until('the device online with its battery', async () => {
        const { body } = await api<{ devices: DeviceHealthView[] }>('tech-w1', 'GET', '/api/v1/devices');
        const d = body.devices[0];
        return d?.online === true && d.batteryPct !== null ? d : undefined;
      });
      expect(device).toMatchObject({ id: 'disp-w1', homeId: 'home-w1', teamId: 'team-w', batteryPct: 11, lowBattery: true });
      expect(device.lastSeenAt).not.toBeNull();

      const letter = await until('the dead letter', async () => {
        const { body } = await api<{ deadLetters: z.infer<typeof DeadLetterSchema>[] }>('tech-w1', 'GET', '/api/v1/dead-letters');
        return body.deadLetters[0];
      });
      expect(letter).toMatchObject({ deviceId: 'disp-w1', reason: 'malformed', homeId: 'home-w1', teamId: 'team-w' });
      const replay = await api<{ deadLetter: { replayedAt: string | null } }>(
        'tech-w1',
        'POST',
        `/api/v1/dead-letters/${letter.id}/replay`,
      );
      expect(replay.status).toBe(200);
      expect(replay.body.deadLetter.replayedAt).not.toBeNull();
      // Still malformed: the ingest decodes it again and dead-letters it anew.
      await until('the replayed message dead-lettered again', async () => {
        const { body } = await api<{ deadLetters: { id: number }[] }>('tech-w1', 'GET', '/api/v1/dead-letters');
        return body.deadLetters.find((d) => d.id !== letter.id);
      });

      const homes = await api<{ homes: HomeSummary[] }>('nurse-w1', 'GET', '/api/v1/homes');
      expect(homes.body.homes).toMatchObject([{ id: 'home-w1', devices: { total: 1, online: 1, lowBattery: 1 } }]);
      expect(homes.body.homes[0]?.lastEventAt).not.toBeNull();
      const page = await api<{ sources: { influx: string } }>('nurse-w1', 'GET', '/api/v1/homes/home-w1');
      expect(page.body.sources).toEqual({ influx: 'not_configured' });
    } finally {
      await client.endAsync(true);
    }
    // The last will: offline.
    await until('the device offline', async () => {
      const { body } = await api<{ devices: DeviceHealthView[] }>('tech-w1', 'GET', '/api/v1/devices?status=offline');
      return body.devices[0];
    });
  });
});
