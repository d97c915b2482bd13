import { spawn, type ChildProcess } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert, AlertTransition } from '../../../gateway/alerts/model.js';
import { createOutboxNotifier, type DeliveryChannel, type OutboxNotifier } from '../../../gateway/delivery/channel.js';
import {
  brokerPublisher,
  createMqttAlertChannel,
  MQTT_CHANNEL,
  type MqttAlertChannelDeps,
  type MqttPublish,
} from '../../../gateway/delivery/mqtt.js';
import { createDeviceRegistry, type DeviceRegistry } from '../../../gateway/devices/registry.js';
import { startTestBroker, type TestBroker } from '../../support/broker.js';
import { MIN, setup, type Fixture } from '../alerts/fixture.js';

// The MQTT channel end to end: a real alert store (SQLite, homes in team-north and team-south), the real broker
// with the device policy backed by the real registry, service accounts connecting over real sockets with mqtt.js
// and Debian's mosquitto_sub.

const NORTH = 'tryggheim/v1/alerts/team-north';
const SOUTH = 'tryggheim/v1/alerts/team-south';

interface EventMessage {
  schemaVersion: number;
  transition: AlertTransition;
  alert: Alert;
}
interface OpenMessage {
  schemaVersion: number;
  teamId: string;
  alerts: Alert[];
}
interface Received {
  topic: string;
  body: unknown;
  retain: boolean;
}

let fx: Fixture | undefined;
let broker: TestBroker | undefined;
let channel: DeliveryChannel | undefined;
const clients: MqttClient[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  await channel?.close();
  channel = undefined;
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await broker?.stop();
  broker = undefined;
  fx?.close();
  fx = undefined;
});

interface World {
  fx: Fixture;
  registry: DeviceRegistry;
  broker: TestBroker;
  notifier: OutboxNotifier;
  secrets: Record<string, string>;
  warnings: object[];
  startChannel(over?: Partial<MqttAlertChannelDeps>): DeliveryChannel;
  /** Applies store changes the way the gateway does: write, then notify the channels. */
  act<T>(fn: () => T): T;
}

async function world(opts: { persistence?: 'level' | 'memory' } = {}): Promise<World> {
  fx = setup();
  const f = fx;
  const registry = createDeviceRegistry({ db: f.db });
  const secrets: Record<string, string> = {};
  for (const [id, teamId] of [
    ['svc-north', 'team-north'],
    ['svc-north-cli', 'team-north'],
    ['svc-north-late', 'team-north'],
    ['svc-south', 'team-south'],
  ] as const) {
    secrets[id] = registry.addServiceAccount({ id, teamId }).secret;
  }
  broker = await startTestBroker({ authenticator: registry.authenticate, options: { persistence: opts.persistence ?? 'memory' } });
  const b = broker;
  const notifier = createOutboxNotifier();
  const warnings: object[] = [];
  return {
    fx: f,
    registry,
    broker: b,
    notifier,
    secrets,
    warnings,
    startChannel(over = {}) {
      channel = createMqttAlertChannel({
        outbox: f.store,
        notifier,
        publish: brokerPublisher(b.handle),
        openAlerts: (teamId) => f.store.list({ teamId, state: 'open' }),
        logger: { info: () => undefined, warn: (o) => void warnings.push(o), debug: () => undefined },
        pollMs: 60_000,
        ...over,
      });
      channel.start();
      return channel;
    },
    act(fn) {
      const out = fn();
      notifier.notify();
      return out;
    },
  };
}

async function connectAs(w: World, id: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(w.broker.url, { clientId: id, username: id, password: w.secrets[id], reconnectPeriod: 0, ...opts });
  clients.push(c);
  return c;
}

function collect(client: MqttClient): Received[] {
  const got: Received[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, body: JSON.parse(payload.toString('utf8')), retain: packet.retain }));
  return got;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pending = (w: World): number => w.fx.store.pendingOutbox(MQTT_CHANNEL).length;
const events = (got: Received[], prefix = NORTH): EventMessage[] =>
  got.filter((m) => m.topic === `${prefix}/events`).map((m) => m.body as EventMessage);
const openLists = (got: Received[], prefix = NORTH): OpenMessage[] =>
  got.filter((m) => m.topic === `${prefix}/open`).map((m) => m.body as OpenMessage);
const summary = (e: EventMessage): string => `${e.transition.type} ${e.alert.id}`;
const ids = (list: OpenMessage | undefined): string[] | undefined => list?.alerts.map((a) => a.id);

/** mosquitto_sub, started and subscribed; `done` resolves with its `topic payload` lines once it has got `count` messages. */
async function mosquittoSub(
  w: World,
  id: string,
  filter: string,
  count: number,
): Promise<{ done: Promise<{ code: number | null; stderr: string; lines: string[] }> }> {
  const args = ['-h', '127.0.0.1', '-p', String(w.broker.port), '-i', id, '-u', id, '-P', w.secrets[id] ?? '', '-q', '1'];
  // Subscribed is told by the broker: mosquitto_sub's stdout is block-buffered when it is a pipe.
  let subscribed = false;
  const onSubscribe = (subs: { topic: string }[], client: { id: string } | null): void => {
    if (client?.id === id && subs.some((s) => s.topic === filter)) subscribed = true;
  };
  w.broker.handle.aedes.on('subscribe', onSubscribe);
  const child = spawn('mosquitto_sub', [...args, '-t', filter, '-v', '-C', String(count), '-W', '20'], { stdio: 'pipe' });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  await waitFor('mosquitto_sub to subscribe', () => subscribed);
  w.broker.handle.aedes.removeListener('subscribe', onSubscribe);
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const done = new Promise<{ code: number | null; stderr: string; lines: string[] }>((resolve) => {
    // 'close', not 'exit': stdout may still hold the last lines when the process exits.
    child.on('close', (code: number | null) => {
      resolve({ code, stderr: err, lines: out.split('\n').filter((l) => l.startsWith('tryggheim/')) });
    });
  });
  // Wrapped: an async function returning the bare promise would wait for mosquitto_sub to exit.
  return { done };
}

describe('MQTT alert channel', () => {
  it("delivers a team's transitions in order and its retained open list, to mqtt.js and mosquitto_sub, never to another team", async () => {
    const w = await world();
    const { store, signal } = w.fx;
    const north = await connectAs(w, 'svc-north');
    const south = await connectAs(w, 'svc-south');
    const gotNorth = collect(north);
    const gotSouth = collect(south);
    await north.subscribeAsync(`${NORTH}/#`, { qos: 1 });
    await south.subscribeAsync(`${SOUTH}/#`, { qos: 1 });
    // Its first 10 messages: four events each followed by the list, then the two events of the last resolve.
    const cli = await mosquittoSub(w, 'svc-north-cli', `${NORTH}/#`, 10);
    w.startChannel();

    const step = async (fn: () => unknown, northMessages: number): Promise<void> => {
      w.act(fn);
      await waitFor('the outbox to drain', () => pending(w) === 0);
      await waitFor('the subscriber', () => gotNorth.length >= northMessages);
    };
    await step(() => store.apply(signal({ rule: 'fall', severity: 'low', kind: 'care', title: 'Fall detected' })), 2); // al-0001, north
    await step(() => store.apply(signal({ homeId: 'home-0002', rule: 'door-left-open', subject: 'door', severity: 'high' })), 2); // al-0002, south
    w.fx.clock.now += MIN;
    await step(() => store.apply(signal({ rule: 'smoke', subject: 'sensor-0009', severity: 'critical', title: 'Smoke' })), 4); // al-0003
    await step(() => store.acknowledge('al-0003', { by: 'nurse-01' }), 6);
    await step(() => store.resolve('al-0003', { by: 'nurse-01', outcome: 'false_alarm' }), 8);

    expect(events(gotNorth).map(summary)).toEqual(['raised al-0001', 'raised al-0003', 'acknowledged al-0003', 'resolved al-0003']);
    const first = events(gotNorth)[0];
    expect(first?.schemaVersion).toBe(1);
    expect(first?.transition).toMatchObject({ type: 'raised', alertId: 'al-0001', teamId: 'team-north', rule: 'fall' });
    expect(first?.alert).toMatchObject({ id: 'al-0001', teamId: 'team-north', homeId: 'home-0001', open: true, state: 'active' });
    // Each event is followed by the list as it stands; the most urgent (critical smoke) before the older low fall.
    expect(openLists(gotNorth).map(ids)).toEqual([['al-0001'], ['al-0003', 'al-0001'], ['al-0003', 'al-0001'], ['al-0001']]);
    expect(openLists(gotNorth)[2]?.alerts[0]?.ack).toBe('acknowledged');
    expect(openLists(gotNorth).every((l) => l.schemaVersion === 1 && l.teamId === 'team-north')).toBe(true);
    expect(gotNorth.map((m) => m.topic).filter((t, i) => i % 2 === 0)).toEqual(Array(4).fill(`${NORTH}/events`));

    // South got its own alert only; north never saw it.
    expect(events(gotSouth, SOUTH).map(summary)).toEqual(['raised al-0002']);
    expect(openLists(gotSouth, SOUTH).map(ids)).toEqual([['al-0002']]);
    expect(gotSouth.every((m) => m.topic.startsWith(`${SOUTH}/`))).toBe(true);
    expect(JSON.stringify(gotNorth)).not.toMatch(/al-0002|home-0002|team-south/);

    // A late subscriber gets the retained list at once, and no old events.
    const late = await connectAs(w, 'svc-north-late');
    const gotLate = collect(late);
    await late.subscribeAsync(`${NORTH}/#`, { qos: 1 });
    await waitFor('the retained list', () => gotLate.length === 1);
    expect(gotLate[0]).toMatchObject({ topic: `${NORTH}/open`, retain: true });
    expect(ids(openLists(gotLate)[0])).toEqual(['al-0001']);
    await late.endAsync();

    // Nothing open: the retained list is an empty list, not a deleted message.
    await step(() => store.resolve('al-0001', { by: 'nurse-01', outcome: 'visited_ok' }), 11);
    expect(openLists(gotNorth).at(-1)?.alerts).toEqual([]);
    const late2 = await connectAs(w, 'svc-north-late');
    const gotLate2 = collect(late2);
    await late2.subscribeAsync(`${NORTH}/open`, { qos: 1 });
    await waitFor('the retained empty list', () => gotLate2.length === 1);
    expect(gotLate2[0]).toMatchObject({
      topic: `${NORTH}/open`,
      retain: true,
      body: { schemaVersion: 1, teamId: 'team-north', alerts: [] },
    });

    // resolve(al-0001) wrote two transitions (an implicit acknowledgement, then the resolve): one batch, one list.
    expect(events(gotNorth).slice(4).map(summary)).toEqual(['acknowledged al-0001', 'resolved al-0001']);
    expect(pending(w)).toBe(0);
    expect(channel?.stats()).toMatchObject({ delivered: 7, failures: 0, failingSince: null, lastError: null });

    // mosquitto_sub saw exactly what mqtt.js saw, in the same order.
    const { code, stderr, lines } = await cli.done;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const wire = gotNorth.slice(0, 10).map((m) => `${m.topic} ${JSON.stringify(m.body)}`);
    expect(lines).toEqual(wire);
    expect(w.warnings).toEqual([]);
  });

  it("a south account with clean session 0 never gets north's alerts, online, queued while away, or after reconnecting", async () => {
    const w = await world({ persistence: 'level' });
    const { store, signal } = w.fx;
    w.startChannel();
    const opts = { clean: false } as const;
    let south = await connectAs(w, 'svc-south', opts);
    let got = collect(south);
    // A denied filter next to an allowed one: aedes would store both for a persistent session.
    const granted = await south.subscribeAsync({ [`${NORTH}/#`]: { qos: 1 }, [`${SOUTH}/#`]: { qos: 1 } }).then(
      (g) => g.map((x) => x.qos),
      (err: unknown) => (err as { packet?: { granted?: number[] } }).packet?.granted,
    );
    expect(granted).toEqual([128, 1]);
    w.act(() => store.apply(signal({ rule: 'fall' })));
    w.act(() => store.apply(signal({ homeId: 'home-0002', rule: 'fall', subject: 'sensor-0002' })));
    await waitFor('delivery', () => pending(w) === 0 && got.length === 2);
    await sleep(100);
    expect(got.map((m) => m.topic)).toEqual([`${SOUTH}/events`, `${SOUTH}/open`]);
    await south.endAsync();

    // Away: one alert per team.
    w.act(() => store.apply(signal({ rule: 'panic', subject: 'button' })));
    w.act(() => store.apply(signal({ homeId: 'home-0002', rule: 'panic', subject: 'button' })));
    await waitFor('delivery', () => pending(w) === 0);

    for (let round = 0; round < 2; round++) {
      south = mqtt.connect(w.broker.url, {
        clientId: 'svc-south',
        username: 'svc-south',
        password: w.secrets['svc-south'],
        ...opts,
        reconnectPeriod: 0,
      });
      clients.push(south);
      got = collect(south);
      await new Promise<void>((r) => south.once('connect', () => r()));
      w.act(() => store.apply(signal({ rule: 'smoke', subject: `sensor-1${round}` })));
      w.act(() => store.apply(signal({ homeId: 'home-0002', rule: 'smoke', subject: `sensor-2${round}` })));
      await waitFor('delivery', () => pending(w) === 0 && got.length >= (round === 0 ? 4 : 2));
      await sleep(150);
      expect(got.every((m) => m.topic.startsWith(`${SOUTH}/`))).toBe(true);
      expect(JSON.stringify(got)).not.toMatch(/team-north|home-0001/);
      const expected = round === 0 ? ['panic', 'smoke'] : ['smoke'];
      expect(events(got, SOUTH).map((e) => e.alert.rule)).toEqual(expected);
      await south.endAsync();
    }
    expect(w.broker.handle.stats.forwardsDenied).toBe(0); // kept out at SUBSCRIBE and in the session store already
  });

  it('a failed publish leaves the entry pending; it goes out after the retry, and nothing is marked before the broker accepted it', async () => {
    const w = await world();
    const { store, signal } = w.fx;
    const north = await connectAs(w, 'svc-north');
    const got = collect(north);
    await north.subscribeAsync(`${NORTH}/#`, { qos: 1 });
    const real = brokerPublisher(w.broker.handle);
    let failOn: RegExp | undefined = /./;
    const publish: MqttPublish = (topic, payload, o) =>
      failOn?.test(topic) ? Promise.reject(new Error('broker unavailable')) : real(topic, payload, o);
    const ch = w.startChannel({ publish, now: () => w.fx.clock.now });

    w.act(() => store.apply(signal()));
    await waitFor('a failure', () => ch.stats().failures === 1);
    expect(pending(w)).toBe(1);
    expect(ch.stats()).toMatchObject({
      delivered: 0,
      failingSince: new Date(w.fx.clock.now).toISOString(),
      lastError: 'broker unavailable',
    });
    expect(w.warnings).toEqual([expect.objectContaining({ event: 'delivery.failed', channel: 'mqtt', error: 'broker unavailable' })]);
    // Wake-ups during the back-off do not hammer the broker.
    w.notifier.notify();
    w.notifier.notify();
    expect(ch.stats().failures).toBe(1);

    // The event gets through but the list does not: still pending (the event will come again).
    failOn = /\/open$/;
    await waitFor('the retry', () => ch.stats().failures === 2, 3000);
    expect(events(got).map(summary)).toEqual(['raised al-0001']);
    expect(pending(w)).toBe(1);

    failOn = undefined;
    await waitFor('recovery', () => pending(w) === 0, 5000);
    await waitFor('the list', () => openLists(got).length === 1);
    // At least once: receivers dedupe on transition.id.
    const sent = events(got);
    expect(sent).toHaveLength(2);
    expect(sent[1]?.transition.id).toBe(sent[0]?.transition.id);
    expect(ch.stats()).toMatchObject({ delivered: 1, failures: 2, failingSince: null });
  });

  it('a publish that never settles times out as a failure instead of stalling the channel', async () => {
    const w = await world();
    const ch = w.startChannel({ publish: () => new Promise<void>(() => undefined), publishTimeoutMs: 50 });
    w.act(() => w.fx.store.apply(w.fx.signal()));
    await waitFor('the timeout', () => ch.stats().failures === 1);
    expect(ch.stats().lastError).toBe('publish not accepted within 50 ms');
    expect(pending(w)).toBe(1);
  });

  it('carries only its route; the rest is marked done without publishing, and the list follows the route', async () => {
    const w = await world();
    const { store, signal } = w.fx;
    const north = await connectAs(w, 'svc-north');
    const south = await connectAs(w, 'svc-south');
    const gotNorth = collect(north);
    const gotSouth = collect(south);
    await north.subscribeAsync(`${NORTH}/#`, { qos: 1 });
    await south.subscribeAsync(`${SOUTH}/#`, { qos: 1 });
    // The channel is configured before these alerts (the gateway opens it at start), and starts after them.
    store.openOutboxCursors([MQTT_CHANNEL]);
    w.act(() => store.apply(signal({ rule: 'low-battery', subject: 'd-1', severity: 'low', kind: 'technical', title: 'Battery low' })));
    w.act(() => store.apply(signal({ rule: 'fall', severity: 'high' })));
    w.act(() => store.apply(signal({ homeId: 'home-0002', rule: 'fall', severity: 'critical' })));
    w.startChannel({ route: { teams: ['team-north'], minSeverity: 'high' } });
    await waitFor('delivery', () => pending(w) === 0 && gotNorth.length === 2);
    await sleep(100);
    expect(events(gotNorth).map(summary)).toEqual(['raised al-0002']);
    expect(openLists(gotNorth).map(ids)).toEqual([['al-0002']]);
    expect(gotSouth).toEqual([]);
    expect(channel?.stats().delivered).toBe(1);
  });

  it('republishes the open lists of the given teams at start, so a subscriber finds state even before any transition', async () => {
    const w = await world();
    w.fx.store.apply(w.fx.signal({ homeId: 'home-0002', rule: 'fall' }));
    w.fx.store.markDelivered(MQTT_CHANNEL, [1]); // delivered before a restart whose broker lost its retained messages
    w.startChannel({ teams: () => ['team-north', 'team-south', 'team-north'] });
    await sleep(100);
    const south = await connectAs(w, 'svc-south');
    const north = await connectAs(w, 'svc-north');
    const gotSouth = collect(south);
    const gotNorth = collect(north);
    await south.subscribeAsync(`${SOUTH}/open`, { qos: 1 });
    await north.subscribeAsync(`${NORTH}/open`, { qos: 1 });
    await waitFor('retained lists', () => gotSouth.length === 1 && gotNorth.length === 1);
    expect(ids(openLists(gotSouth, SOUTH)[0])).toEqual(['al-0001']);
    expect(gotNorth[0]).toMatchObject({ retain: true, body: { teamId: 'team-north', alerts: [] } });
  });

  it('brokerPublisher refuses once the broker is closed, and close() stops the channel', async () => {
    const w = await world();
    const ch = w.startChannel();
    await ch.close();
    w.act(() => w.fx.store.apply(w.fx.signal()));
    await sleep(50);
    expect(pending(w)).toBe(1);
    const publish = brokerPublisher(w.broker.handle);
    await w.broker.stop();
    broker = undefined;
    await expect(publish(`${NORTH}/events`, Buffer.from('{}'), { qos: 1, retain: false })).rejects.toThrow('broker is closed');
  });
});
