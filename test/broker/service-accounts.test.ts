import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { mayPublish, mayReceive, maySubscribe } from '../../broker/acl.js';
import { devicePolicy } from '../../broker/policy.js';
import type { AuthResult, Authenticator, BrokerLogger, Principal } from '../../broker/index.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';

// Service accounts (an integration's read-only account for one team's alerts): the topic rules, and the same
// rules over real sockets — at SUBSCRIBE, at delivery (authorizeForward) and in a persistent session.

const SECRET = 'tgs_service-secret-abcdefghijklmnopqrstuvwxyz0';
const PRINCIPALS: Record<string, Principal> = {
  'svc-north': { kind: 'service', id: 'svc-north', teamId: 'team-north' },
  'svc-south': { kind: 'service', id: 'svc-south', teamId: 'team-south' },
  'd-0001': { kind: 'device', id: 'd-0001' },
  'obs-01': { kind: 'observer', id: 'obs-01' },
};
const auth: Authenticator = (id, secret): AuthResult => {
  const principal = PRINCIPALS[id];
  if (principal === undefined) return { ok: false, reason: 'unknown_device' };
  if (secret.toString('utf8') !== SECRET) return { ok: false, reason: 'bad_secret' };
  return { ok: true, principal };
};

const alerts = (team: string, leaf: string): string => `tryggheim/v1/alerts/${team}/${leaf}`;

let broker: TestBroker | undefined;
const clients: MqttClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await broker?.stop();
  broker = undefined;
});

async function connectAs(id: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  if (!broker) throw new Error('no broker');
  const c = await mqtt.connectAsync(broker.url, { clientId: id, username: id, password: SECRET, reconnectPeriod: 0, ...opts });
  clients.push(c);
  return c;
}

function collect(client: MqttClient): string[] {
  const got: string[] = [];
  client.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
  return got;
}

async function subscribeCodes(client: MqttClient, filters: Record<string, { qos: 0 | 1 | 2 }>): Promise<Record<string, number>> {
  const codes = await client.subscribeAsync(filters).then(
    (granted) => granted.map((g) => g.qos as number),
    (err: unknown) => {
      const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
      if (!granted) throw err;
      return granted;
    },
  );
  return Object.fromEntries(Object.keys(filters).map((f, i) => [f, codes[i] ?? -1]));
}

/** The gateway's own publish (what gateway/delivery/mqtt.ts does), in process. */
function internalPublish(topic: string, payload: string, retain = false): Promise<void> {
  return new Promise((resolve, reject) => {
    broker?.handle.aedes.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain, dup: false }, (err) => {
      if (err) reject(err);
      else resolve();
    });
  });
}

function capturingLogger(): { logger: BrokerLogger; events: (name: string) => object[] } {
  const logged: object[] = [];
  const push = (o: object): void => void logged.push(o);
  return {
    logger: { info: push, warn: push, error: push, debug: () => undefined },
    events: (name) => logged.filter((o) => (o as { event?: string }).event === name),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('service account topic rules (pure)', () => {
  const north = { kind: 'service', id: 'svc-north', teamId: 'team-north' } as const;

  it.each([alerts('team-north', 'events'), alerts('team-north', 'open'), 'tryggheim/v1/devices/svc-north/up', 'tryggheim/v1/bridges/x/y'])(
    'never publishes (%s)',
    (topic) => {
      expect(mayPublish(north, topic)).toBe(false);
    },
  );

  it.each([
    [alerts('team-north', '#'), true],
    [alerts('team-north', '+'), true],
    [alerts('team-north', 'events'), true],
    [alerts('team-north', 'open'), true],
    ['tryggheim/v1/alerts/team-north/', false],
    ['tryggheim/v1/alerts/team-north', false],
    ['tryggheim/v1/alerts/team-northx/#', false],
    [alerts('team-south', '#'), false],
    [alerts('team-south', 'open'), false],
    ['tryggheim/v1/alerts/+/open', false],
    ['tryggheim/v1/alerts/+/#', false],
    ['tryggheim/v1/alerts/#', false],
    ['tryggheim/v1/#', false],
    ['#', false],
    ['+/v1/alerts/team-north/open', false],
    ['tryggheim/v1/devices/+/up', false],
    ['tryggheim/v1/bridges/#', false],
    ['$SYS/#', false],
  ] as const)('subscribes to %s: %s', (filter, expected) => {
    expect(maySubscribe(north, filter)).toBe(expected);
  });

  it("receives its own team's alert topics only", () => {
    expect(mayReceive(north, alerts('team-north', 'events'))).toBe(true);
    expect(mayReceive(north, alerts('team-north', 'open'))).toBe(true);
    expect(mayReceive(north, alerts('team-south', 'events'))).toBe(false);
    expect(mayReceive(north, 'tryggheim/v1/alerts/team-northx/open')).toBe(false);
    expect(mayReceive(north, 'tryggheim/v1/alerts/team-north')).toBe(false);
    expect(mayReceive(north, 'tryggheim/v1/devices/d-0001/up')).toBe(false);
    expect(mayReceive(north, '$SYS/broker/uptime')).toBe(false);
  });

  it.each(['+', '#', '', 'a/b', 'team+', 'team#x'])('a team id that is not one literal level (%j) reads nothing', (teamId) => {
    const odd = { kind: 'service', id: 'svc-odd', teamId } as const;
    for (const f of ['tryggheim/v1/alerts/#', alerts('team-north', '#'), alerts(teamId, '#'), alerts(teamId, 'open')]) {
      expect(maySubscribe(odd, f)).toBe(false);
    }
    expect(mayReceive(odd, alerts('team-north', 'open'))).toBe(false);
    expect(mayReceive(odd, alerts(teamId, 'open'))).toBe(false);
  });

  it('devices, bridges and observers never read alerts', () => {
    for (const p of [
      { kind: 'device', id: 'd-0001' },
      { kind: 'bridge', id: 'hub-01' },
      { kind: 'observer', id: 'obs-01' },
    ] as const) {
      expect(maySubscribe(p, alerts('team-north', '#'))).toBe(false);
      expect(maySubscribe(p, 'tryggheim/v1/alerts/#')).toBe(false);
      expect(mayReceive(p, alerts('team-north', 'open'))).toBe(false);
    }
  });
});

describe('service accounts over MQTT', () => {
  it('may subscribe under its own team only; every granted filter is audited; devices and other teams are refused', async () => {
    const log = capturingLogger();
    broker = await startTestBroker({ authenticator: auth, deps: { logger: log.logger } });
    const north = await connectAs('svc-north');
    const granted = await subscribeCodes(north, {
      [alerts('team-north', '#')]: { qos: 1 },
      [alerts('team-north', 'open')]: { qos: 1 },
      [alerts('team-south', '#')]: { qos: 1 },
      'tryggheim/v1/alerts/+/open': { qos: 1 },
      'tryggheim/v1/devices/+/up': { qos: 1 },
      '#': { qos: 1 },
    });
    expect(Object.values(granted)).toEqual([1, 1, 128, 128, 128, 128]);
    expect(broker.handle.stats.subscriptionsDenied).toBe(4);
    expect(log.events('security.service_subscribed')).toEqual([
      expect.objectContaining({ deviceId: 'svc-north', teamId: 'team-north', filter: alerts('team-north', '#') }),
      expect.objectContaining({ deviceId: 'svc-north', teamId: 'team-north', filter: alerts('team-north', 'open') }),
    ]);
    expect(log.events('security.subscribe_denied')).toHaveLength(4);
    expect(JSON.stringify(log.events('security.service_subscribed'))).not.toContain(SECRET);
  });

  it('gets its own team’s messages and retained list, never another team’s or device traffic', async () => {
    broker = await startTestBroker({ authenticator: auth });
    await internalPublish(alerts('team-north', 'open'), 'north-list', true);
    await internalPublish(alerts('team-south', 'open'), 'south-list', true);
    const north = await connectAs('svc-north');
    const south = await connectAs('svc-south');
    const gotNorth = collect(north);
    const gotSouth = collect(south);
    await subscribeCodes(north, { [alerts('team-north', '#')]: { qos: 1 }, 'tryggheim/v1/alerts/#': { qos: 1 } });
    await subscribeCodes(south, { [alerts('team-south', '#')]: { qos: 1 } });
    const d1 = await connectAs('d-0001');
    await d1.publishAsync('tryggheim/v1/devices/d-0001/up', 'reading', { qos: 1 });
    await internalPublish(alerts('team-north', 'events'), 'north-1');
    await internalPublish(alerts('team-south', 'events'), 'south-1');
    await sleep(150);
    expect(gotNorth).toEqual([`${alerts('team-north', 'open')} north-list`, `${alerts('team-north', 'events')} north-1`]);
    expect(gotSouth).toEqual([`${alerts('team-south', 'open')} south-list`, `${alerts('team-south', 'events')} south-1`]);
  });

  it('may not publish (the connection is closed) nor leave a last will', async () => {
    broker = await startTestBroker({ authenticator: auth });
    const seen: string[] = [];
    broker.handle.aedes.subscribe(
      'tryggheim/v1/#',
      (p, cb) => {
        seen.push(p.topic);
        cb();
      },
      () => undefined,
    );
    const north = await connectAs('svc-north');
    const closed = new Promise<void>((r) => north.once('close', () => r()));
    north.publish(alerts('team-north', 'events'), 'forged', { qos: 1 });
    await closed;
    expect(seen).toEqual([]);
    expect(broker.handle.stats.publishesDenied).toBe(1);

    const err = await connectAs('svc-north', {
      will: { topic: alerts('team-north', 'events'), payload: Buffer.from('gone'), qos: 1, retain: false },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { code?: number } | undefined)?.code).toBe(5);
  });

  it("a denied team's filter mixed with its own never delivers, online or after reconnects (clean session 0)", async () => {
    broker = await startTestBroker({ authenticator: auth, options: { persistence: 'level' } });
    const other = alerts('team-south', '#');
    const mine = alerts('team-north', '#');
    let north = await connectAs('svc-north', { clean: false });
    let got = collect(north);
    const granted = await subscribeCodes(north, { [other]: { qos: 1 }, [mine]: { qos: 1 } });
    expect(Object.values(granted)).toEqual([128, 1]);
    await internalPublish(alerts('team-south', 'events'), 'south-1');
    await internalPublish(alerts('team-north', 'events'), 'north-1');
    await sleep(150);
    expect(got).toEqual([`${alerts('team-north', 'events')} north-1`]);
    await north.endAsync();

    // Offline: both teams get events; only its own is queued for it.
    await internalPublish(alerts('team-south', 'events'), 'south-2');
    await internalPublish(alerts('team-north', 'events'), 'north-2');
    for (let round = 3; round <= 4; round++) {
      north = mqtt.connect(broker.url, {
        clientId: 'svc-north',
        username: 'svc-north',
        password: SECRET,
        clean: false,
        reconnectPeriod: 0,
      });
      clients.push(north);
      got = collect(north);
      await new Promise<void>((r) => north.once('connect', () => r()));
      await sleep(200);
      // The restored session must not carry the denied filter either.
      await internalPublish(alerts('team-south', 'events'), `south-${round}`);
      await internalPublish(alerts('team-north', 'events'), `north-${round}`);
      await sleep(150);
      const expected = round === 3 ? ['north-2', 'north-3'] : ['north-4'];
      expect(got).toEqual(expected.map((m) => `${alerts('team-north', 'events')} ${m}`));
      await north.endAsync();
    }
  });

  it('the delivery check stands on its own: a filter wrongly granted still delivers only its own team', async () => {
    // A policy whose SUBSCRIBE check is broken (grants everything): authorizeForward must still hold the line.
    const sound = devicePolicy(auth);
    const broken = { ...sound, name: 'broken-subscribe', canSubscribe: () => true };
    broker = await startTestBroker({ policy: broken });
    const north = await connectAs('svc-north');
    const got = collect(north);
    expect(Object.values(await subscribeCodes(north, { 'tryggheim/v1/#': { qos: 1 } }))).toEqual([1]);
    await internalPublish(alerts('team-south', 'open'), 'south-list', true);
    await internalPublish(alerts('team-south', 'events'), 'south-1');
    await internalPublish(alerts('team-north', 'events'), 'north-1');
    await internalPublish('tryggheim/v1/devices/d-0001/down', 'command');
    await sleep(150);
    expect(got).toEqual([`${alerts('team-north', 'events')} north-1`]);
    expect(broker.handle.stats.forwardsDenied).toBe(3);
    // ...and the retained message of another team is refused at delivery too, on a fresh SUBSCRIBE.
    await north.subscribeAsync('tryggheim/v1/alerts/#', { qos: 1 });
    await sleep(150);
    expect(got).toEqual([`${alerts('team-north', 'events')} north-1`]);
    expect(broker.handle.stats.forwardsDenied).toBe(4);
  });
});
