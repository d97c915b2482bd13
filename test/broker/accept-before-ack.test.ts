import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundMessage } from '../../broker/types.js';
import { startTestBroker, tableAuthenticator, type TestBroker } from '../support/broker.js';

// Pins "acknowledged ⇒ accepted": aedes writes the PUBACK right after authorizePublish, before its
// `published` hook, so the gateway makes a message durable inside authorizePublish (the `accept` dep). If an
// aedes upgrade moved the PUBACK earlier, these tests fail.

const SECRET = 'tgs_accept-secret-abcdefghijklmnopqrstuvwxyz0';
const auth = tableAuthenticator({ 'd-0001': { secret: SECRET } });
let broker: TestBroker | undefined;
const clients: MqttClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await broker?.stop();
  broker = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function device(): Promise<MqttClient> {
  if (!broker) throw new Error('no broker');
  const c = await mqtt.connectAsync(broker.url, { clientId: 'd-0001', username: 'd-0001', password: SECRET, reconnectPeriod: 0 });
  clients.push(c);
  return c;
}

function ackTimes(c: MqttClient): Record<string, number> {
  const at: Record<string, number> = {};
  c.on('packetreceive', (p) => {
    if (p.cmd === 'puback' || p.cmd === 'pubrec') at[p.cmd] = performance.now();
  });
  return at;
}

describe('accept before ack', () => {
  it.each([1, 2] as const)('QoS %i: the ack is sent only after accept() has resolved', async (qos) => {
    let resolvedAt = 0;
    const accepted: InboundMessage[] = [];
    broker = await startTestBroker({
      authenticator: auth,
      deps: {
        accept: async (m) => {
          await sleep(300);
          accepted.push(m);
          resolvedAt = performance.now();
        },
      },
    });
    const c = await device();
    const at = ackTimes(c);
    await c.publishAsync('tryggheim/v1/devices/d-0001/up', 'reading', { qos });
    const ack = at[qos === 1 ? 'puback' : 'pubrec'] ?? 0;
    expect(accepted).toHaveLength(1);
    expect(accepted[0]?.payload.toString()).toBe('reading');
    expect(accepted[0]?.principal).toEqual({ kind: 'device', id: 'd-0001' });
    expect(resolvedAt).toBeGreaterThan(0);
    expect(ack).toBeGreaterThanOrEqual(resolvedAt);
  });

  it('when accept() fails, no ack is sent and the connection is closed (the device will resend)', async () => {
    broker = await startTestBroker({
      authenticator: auth,
      deps: {
        accept: () => Promise.reject(new Error('disk full')),
      },
    });
    const c = await device();
    const at = ackTimes(c);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish('tryggheim/v1/devices/d-0001/up', 'reading', { qos: 1 });
    await closed;
    expect(at.puback).toBeUndefined();
    expect(broker.handle.stats.publishesFailed).toBe(1);
    expect(broker.handle.stats.publishesAccepted).toBe(0);
  });

  it('a refused publish never reaches accept()', async () => {
    const accepted: InboundMessage[] = [];
    broker = await startTestBroker({ authenticator: auth, deps: { accept: (m) => void accepted.push(m) } });
    const c = await device();
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish('tryggheim/v1/devices/d-9999/up', 'forged', { qos: 1 });
    await closed;
    expect(accepted).toEqual([]);
  });
});
