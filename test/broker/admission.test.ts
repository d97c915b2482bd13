import { connect, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, tableAuthenticator, type TestBroker } from '../support/broker.js';
import type { BrokerLimits } from '../../broker/types.js';

// Slow, silent and numerous sockets: caps on unauthenticated sockets and on the connection rate, the
// CONNECT timeout, and the cap on a client's queued messages.

const SECRET = 'tgs_admission-secret-abcdefghijklmnopqrstuvwx';
const auth = tableAuthenticator({ 'd-0001': { secret: SECRET }, 'd-0002': { secret: SECRET } });

let broker: TestBroker | undefined;
const sockets: Socket[] = [];
const clients: MqttClient[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await broker?.stop();
  broker = undefined;
});

const limits = (l: Partial<BrokerLimits>): BrokerLimits => l as BrokerLimits;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function rawSocket(port: number): Promise<{ socket: Socket; closedAt: Promise<number> }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => undefined);
    const closedAt = new Promise<number>((r) => socket.once('close', () => r(performance.now())));
    socket.once('connect', () => resolve({ socket, closedAt }));
  });
}

async function connectDevice(id: string, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  if (!broker) throw new Error('no broker');
  const c = await mqtt.connectAsync(broker.url, { clientId: id, username: id, password: SECRET, reconnectPeriod: 0, ...extra });
  clients.push(c);
  return c;
}

describe('admission', () => {
  it('caps sockets that have not authenticated; an authenticated device frees its place', async () => {
    broker = await startTestBroker({ authenticator: auth, options: { limits: limits({ maxUnauthenticated: 3 }) } });
    const silent = await Promise.all([1, 2, 3].map(() => rawSocket(broker?.port ?? 0)));
    await sleep(50);
    const fourth = await rawSocket(broker.port);
    const closed = await Promise.race([fourth.closedAt.then(() => true), sleep(1000).then(() => false)]);
    expect(closed).toBe(true);
    expect(broker.handle.stats.connectionsRefused.unauthenticated_cap).toBe(1);
    // Close one silent socket: a device gets in, and once it has authenticated it no longer counts.
    silent[0]?.socket.destroy();
    await sleep(50);
    await connectDevice('d-0001');
    expect(broker.handle.stats.unauthenticatedConnections()).toBe(2);
    const second = await connectDevice('d-0002');
    expect(broker.handle.stats.connectedClients()).toBe(2);
    await second.endAsync();
    await sleep(50);
    expect(broker.handle.stats.connectedClients()).toBe(1);
  });

  it('caps the connection rate (token bucket), and recovers as time passes', async () => {
    let now = 1_000_000;
    broker = await startTestBroker({
      authenticator: auth,
      options: { limits: limits({ connectRatePerSec: 2 }) },
      deps: { now: () => now },
    });
    const a = await rawSocket(broker.port);
    const b = await rawSocket(broker.port);
    const c = await rawSocket(broker.port);
    expect(await Promise.race([c.closedAt.then(() => true), sleep(1000).then(() => false)])).toBe(true);
    expect(broker.handle.stats.connectionsRefused.rate).toBe(1);
    a.socket.destroy();
    b.socket.destroy();
    now += 1000;
    await connectDevice('d-0001');
  });

  it('closes a socket that sends no CONNECT within the connect timeout', async () => {
    broker = await startTestBroker({ authenticator: auth, options: { limits: limits({ connectTimeoutMs: 300 }) } });
    const start = performance.now();
    const { closedAt } = await rawSocket(broker.port);
    const elapsed = (await closedAt) - start;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
  });

  it('caps the messages queued for an offline persistent session and counts the drops', async () => {
    broker = await startTestBroker({ authenticator: auth, options: { limits: limits({ maxQueuedPerClient: 5 }) } });
    const d = await connectDevice('d-0001', { clean: false });
    await d.subscribeAsync('tryggheim/v1/devices/d-0001/down', { qos: 1 });
    await d.endAsync();
    for (let i = 0; i < 8; i++) {
      await new Promise<void>((r) => {
        broker?.handle.aedes.publish(
          { cmd: 'publish', topic: 'tryggheim/v1/devices/d-0001/down', payload: Buffer.from(`m${i}`), qos: 1, retain: false, dup: false },
          () => r(),
        );
      });
    }
    expect(broker.handle.stats.messagesDropped.client_queue_full).toBe(3);
    const got: string[] = [];
    const back = mqtt.connect(broker.url, { clientId: 'd-0001', username: 'd-0001', password: SECRET, clean: false, reconnectPeriod: 0 });
    clients.push(back);
    back.on('message', (_t, p) => got.push(p.toString()));
    const deadline = Date.now() + 3000;
    while (got.length < 5 && Date.now() < deadline) await sleep(20);
    await sleep(100);
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });
});
