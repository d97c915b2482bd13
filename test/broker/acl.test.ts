import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { mayPublish, maySubscribe, mayReceive } from '../../broker/acl.js';
import { startTestBroker, tableAuthenticator, type TestBroker } from '../support/broker.js';

const SECRET = 'tgs_acl-secret-abcdefghijklmnopqrstuvwxyz012';
const auth = tableAuthenticator({
  'd-0001': { secret: SECRET },
  'd-0002': { secret: SECRET },
  'hub-01': { secret: SECRET, kind: 'bridge' },
  'obs-01': { secret: SECRET, kind: 'observer' },
});
const up = (id: string): string => `tryggheim/v1/devices/${id}/up`;
const down = (id: string): string => `tryggheim/v1/devices/${id}/down`;

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

/** SUBACK granted codes in filter order; mqtt.js rejects on any 0x80, so read them off its error too. */
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('topic rules (pure)', () => {
  const dev = { kind: 'device', id: 'd-0001' } as const;
  const hub = { kind: 'bridge', id: 'hub-01' } as const;
  it.each([
    [dev, up('d-0001'), true],
    [dev, 'tryggheim/v1/devices/d-0001/status', true],
    [dev, down('d-0001'), false],
    [dev, up('d-0002'), false],
    [dev, 'tryggheim/v1/devices/d-0001/up/extra', false],
    [dev, '$SYS/broker', false],
    [hub, 'tryggheim/v1/bridges/hub-01/kitchen-motion', true],
    [hub, 'tryggheim/v1/bridges/hub-01', false],
    [hub, 'tryggheim/v1/bridges/hub-02/x', false],
    [hub, 'tryggheim/v1/bridges/hub-01x/x', false],
  ] as const)('%o publishes to %s: %s', (p, topic, expected) => {
    expect(mayPublish(p, topic)).toBe(expected);
  });
  it.each([
    [dev, down('d-0001'), true],
    [dev, '#', false],
    [dev, '+/#', false],
    [dev, '$SYS/#', false],
    [dev, 'tryggheim/v1/devices/+/down', false],
    [dev, 'tryggheim/v1/devices/d-0001/#', false],
    [hub, 'tryggheim/v1/bridges/hub-01/#', true],
    [hub, 'tryggheim/v1/bridges/+/#', false],
    [hub, 'tryggheim/v1/bridges/#', false],
  ] as const)('%o subscribes to %s: %s', (p, filter, expected) => {
    expect(maySubscribe(p, filter)).toBe(expected);
  });
  const obs = { kind: 'observer', id: 'obs-01' } as const;
  it.each([up('d-0001'), 'tryggheim/v1/devices/obs-01/status', 'tryggheim/v1/bridges/hub-01/x', down('d-0001'), 'tryggheim/v1/alerts/t/x'])(
    'an observer never publishes (%s)',
    (topic) => {
      expect(mayPublish(obs, topic)).toBe(false);
    },
  );
  it.each([
    ['tryggheim/v1/devices/+/up', true],
    ['tryggheim/v1/devices/+/status', true],
    [up('d-0001'), true],
    ['tryggheim/v1/devices/d-0001/status', true],
    ['tryggheim/v1/bridges/#', true],
    ['tryggheim/v1/bridges/hub-01/#', true],
    ['tryggheim/v1/bridges/+/bridge/state', true],
    ['#', false],
    ['tryggheim/#', false],
    ['tryggheim/v1/#', false],
    ['tryggheim/v1/devices/#', false],
    ['tryggheim/v1/devices/+/+', false],
    ['tryggheim/v1/devices/+/down', false],
    [down('d-0001'), false],
    ['tryggheim/v1/devices/d-0001/#', false],
    ['tryggheim/v1/devices/d-00+1/up', false],
    ['tryggheim/v1/devices/+/up/#', false],
    ['tryggheim/v1/bridges/', false],
    ['tryggheim/v1/alerts/#', false],
    ['$SYS/#', false],
  ] as const)('an observer subscribes to %s: %s', (filter, expected) => {
    expect(maySubscribe(obs, filter)).toBe(expected);
  });
  it('an observer receives device up/status and bridge traffic, never down, alerts or $SYS', () => {
    expect(mayReceive(obs, up('d-0001'))).toBe(true);
    expect(mayReceive(obs, 'tryggheim/v1/devices/d-0001/status')).toBe(true);
    expect(mayReceive(obs, 'tryggheim/v1/bridges/hub-01/0x00158d0001a2b3c4')).toBe(true);
    expect(mayReceive(obs, down('d-0001'))).toBe(false);
    expect(mayReceive(obs, 'tryggheim/v1/devices/d-0001/up/extra')).toBe(false);
    expect(mayReceive(obs, 'tryggheim/v1/bridges')).toBe(false);
    expect(mayReceive(obs, 'tryggheim/v1/alerts/team-north/x')).toBe(false);
    expect(mayReceive(obs, '$SYS/broker/uptime')).toBe(false);
  });
  it('delivery check follows the concrete topic', () => {
    expect(mayReceive(dev, down('d-0001'))).toBe(true);
    expect(mayReceive(dev, down('d-0002'))).toBe(false);
    expect(mayReceive(hub, 'tryggheim/v1/bridges/hub-01/kitchen/set')).toBe(true);
  });
});

describe('ACL over MQTT', () => {
  it("a device publishes to its own up topic, and a publish to another device's topic closes its connection", async () => {
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
    const d1 = await connectAs('d-0001');
    await d1.publishAsync(up('d-0001'), 'ok', { qos: 1 });
    const closed = new Promise<void>((r) => d1.once('close', () => r()));
    d1.publish(up('d-0002'), 'forged', { qos: 1 });
    await closed;
    expect(seen).toEqual([up('d-0001')]);
    expect(broker.handle.stats.publishesDenied).toBe(1);
  });

  it('"#", "+/#", "$SYS/#" and another device\'s down get SUBACK failure; its own down is granted', async () => {
    broker = await startTestBroker({ authenticator: auth });
    const d1 = await connectAs('d-0001');
    const granted = await subscribeCodes(d1, {
      '#': { qos: 1 },
      '+/#': { qos: 1 },
      '$SYS/#': { qos: 0 },
      [down('d-0002')]: { qos: 1 },
      [down('d-0001')]: { qos: 1 },
    });
    expect(granted).toEqual({
      '#': 128,
      '+/#': 128,
      '$SYS/#': 128,
      [down('d-0002')]: 128,
      [down('d-0001')]: 1,
    });
    expect(broker.handle.stats.subscriptionsDenied).toBe(4);
  });

  it('a denied filter mixed with an allowed one never delivers, online or after a reconnect (clean session 0)', async () => {
    broker = await startTestBroker({ authenticator: auth, options: { persistence: 'level' } });
    const victim = down('d-0002');
    let d1 = await connectAs('d-0001', { clean: false });
    let got = collect(d1);
    const granted = await subscribeCodes(d1, { [victim]: { qos: 1 }, [down('d-0001')]: { qos: 1 } });
    expect(Object.values(granted)).toEqual([128, 1]);
    // Internal publisher (the gateway) sends to both devices while d-0001 is online...
    broker.handle.aedes.publish(
      { cmd: 'publish', topic: victim, payload: Buffer.from('secret-1'), qos: 1, retain: false, dup: false },
      () => undefined,
    );
    broker.handle.aedes.publish(
      { cmd: 'publish', topic: down('d-0001'), payload: Buffer.from('mine-1'), qos: 1, retain: false, dup: false },
      () => undefined,
    );
    await sleep(200);
    expect(got).toEqual([`${down('d-0001')} mine-1`]);
    await d1.endAsync();
    // ...and while it is offline, then it comes back to its persistent session.
    broker.handle.aedes.publish(
      { cmd: 'publish', topic: victim, payload: Buffer.from('secret-2'), qos: 1, retain: false, dup: false },
      () => undefined,
    );
    broker.handle.aedes.publish(
      { cmd: 'publish', topic: down('d-0001'), payload: Buffer.from('mine-2'), qos: 1, retain: false, dup: false },
      () => undefined,
    );
    await sleep(100);
    d1 = mqtt.connect(broker.url, { clientId: 'd-0001', username: 'd-0001', password: SECRET, clean: false, reconnectPeriod: 0 });
    clients.push(d1);
    got = collect(d1);
    await new Promise<void>((r) => d1.once('connect', () => r()));
    await sleep(300);
    expect(got).toEqual([`${down('d-0001')} mine-2`]);
    // A third message after the reconnect: the restored session must not carry the denied filter either.
    broker.handle.aedes.publish(
      { cmd: 'publish', topic: victim, payload: Buffer.from('secret-3'), qos: 1, retain: false, dup: false },
      () => undefined,
    );
    await sleep(200);
    expect(got.some((m) => m.includes('secret'))).toBe(false);
  });

  it('an observer reads device and bridge traffic but not down, and its publish closes its connection', async () => {
    const logged: object[] = [];
    const capture = { info: (o: object) => void logged.push(o), warn: () => undefined, error: () => undefined, debug: () => undefined };
    broker = await startTestBroker({ authenticator: auth, deps: { logger: capture } });
    const observer = await connectAs('obs-01');
    const got = collect(observer);
    const granted = await subscribeCodes(observer, {
      'tryggheim/v1/devices/+/up': { qos: 1 },
      'tryggheim/v1/bridges/#': { qos: 1 },
      'tryggheim/v1/devices/+/down': { qos: 1 },
      '#': { qos: 1 },
    });
    expect(Object.values(granted)).toEqual([1, 1, 128, 128]);
    const d1 = await connectAs('d-0001');
    const hub = await connectAs('hub-01');
    await d1.publishAsync(up('d-0001'), 'reading', { qos: 1 });
    await hub.publishAsync('tryggheim/v1/bridges/hub-01/0x01', '{"occupancy":true}', { qos: 1 });
    broker.handle.aedes.publish(
      { cmd: 'publish', topic: down('d-0001'), payload: Buffer.from('command'), qos: 1, retain: false, dup: false },
      () => undefined,
    );
    await sleep(150);
    expect(got).toEqual([`${up('d-0001')} reading`, 'tryggheim/v1/bridges/hub-01/0x01 {"occupancy":true}']);
    // Who read which device traffic is audited, one line per granted filter.
    expect(logged.filter((o) => (o as { event?: string }).event === 'security.observer_subscribed')).toEqual([
      expect.objectContaining({ deviceId: 'obs-01', filter: 'tryggheim/v1/devices/+/up' }),
      expect.objectContaining({ deviceId: 'obs-01', filter: 'tryggheim/v1/bridges/#' }),
    ]);

    const closed = new Promise<void>((r) => observer.once('close', () => r()));
    observer.publish(up('d-0001'), 'forged', { qos: 1 });
    await closed;
    expect(broker.handle.stats.publishesDenied).toBe(1);
  });

  it('an observer may not set a last will (the broker would publish it on its behalf)', async () => {
    broker = await startTestBroker({ authenticator: auth });
    const err = await connectAs('obs-01', {
      will: { topic: 'tryggheim/v1/devices/obs-01/status', payload: Buffer.from('offline'), qos: 1, retain: true },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { code?: number } | undefined)?.code).toBe(5);
  });

  it('a bridge reads and writes under its own base topic only', async () => {
    broker = await startTestBroker({ authenticator: auth });
    const hub = await connectAs('hub-01');
    const got = collect(hub);
    const granted = await subscribeCodes(hub, { 'tryggheim/v1/bridges/hub-01/#': { qos: 1 }, 'tryggheim/v1/bridges/+/#': { qos: 1 } });
    expect(Object.values(granted)).toEqual([1, 128]);
    await hub.publishAsync('tryggheim/v1/bridges/hub-01/bedroom-motion', '{"occupancy":true}', { qos: 1 });
    await sleep(100);
    expect(got).toEqual(['tryggheim/v1/bridges/hub-01/bedroom-motion {"occupancy":true}']);
  });
});
