import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConnect, rawExchange } from '../support/raw-mqtt.js';
import { startTestBroker, tableAuthenticator, type TestBroker } from '../support/broker.js';

// CONNECT outcomes through mqtt.js over a real socket. The same flows run against the real SQLite registry
// in test/gateway/broker-registry.test.ts.

const SECRET = 'tgs_test-secret-0001-abcdefghijklmnopqrstuv';
const table = tableAuthenticator({
  'd-0001': { secret: SECRET },
  'd-0002': { secret: `${SECRET}-2` },
  'd-off': { secret: SECRET, disabled: true },
});

let broker: TestBroker | undefined;
const clients: MqttClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await broker?.stop();
  broker = undefined;
});

/** Connects once (no reconnect) and resolves with the CONNACK return code, 0 on success. */
async function connackCode(url: string, opts: IClientOptions): Promise<number> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  clients.push(client);
  return new Promise((resolve, reject) => {
    client.once('connect', () => {
      resolve(0);
    });
    client.once('error', (err: Error & { code?: number }) => {
      if (typeof err.code === 'number') resolve(err.code);
      else reject(err);
    });
  });
}

describe('MQTT CONNECT', () => {
  it('admits a registered device whose username and client id are its id', async () => {
    broker = await startTestBroker({ authenticator: table });
    expect(await connackCode(broker.url, { clientId: 'd-0001', username: 'd-0001', password: SECRET })).toBe(0);
    expect(broker.handle.stats.authFailures.bad_secret).toBe(0);
  });

  it('refuses a wrong secret, an unknown device and missing credentials with "bad username or password"', async () => {
    broker = await startTestBroker({ authenticator: table });
    expect(await connackCode(broker.url, { clientId: 'd-0001', username: 'd-0001', password: 'wrong' })).toBe(4);
    expect(await connackCode(broker.url, { clientId: 'd-9999', username: 'd-9999', password: SECRET })).toBe(4);
    expect(await connackCode(broker.url, { clientId: 'd-0001' })).toBe(4);
    const f = broker.handle.stats.authFailures;
    expect([f.bad_secret, f.unknown_device, f.missing_credentials]).toEqual([1, 1, 1]);
  });

  it('refuses a client id that differs from the username with "identifier rejected"', async () => {
    broker = await startTestBroker({ authenticator: table });
    expect(await connackCode(broker.url, { clientId: 'd-0002', username: 'd-0001', password: SECRET })).toBe(2);
  });

  it('refuses an empty client id [MQTT-3.1.3-8], with clean session 0 and 1', async () => {
    broker = await startTestBroker({ authenticator: table });
    // mqtt.js (and mqtt-packet) refuse to build an empty id with clean session 0, so this one is built by hand.
    const reply = await rawExchange(broker.port, buildConnect({ clientId: '', clean: false, username: 'd-0001', password: SECRET }));
    expect(reply.packets[0]).toMatchObject({ cmd: 'connack', returnCode: 2 });
    expect(reply.closed).toBe(true);
    expect(await connackCode(broker.url, { clientId: '', clean: true, username: 'd-0001', password: SECRET })).toBe(2);
  });

  it('refuses client ids that would not be safe as a topic level', async () => {
    broker = await startTestBroker({ authenticator: table });
    for (const id of ['d/0001', 'd+1', 'd#1', '$d', 'd 1']) {
      expect(await connackCode(broker.url, { clientId: id, username: id, password: SECRET })).toBe(2);
    }
  });

  it('refuses a disabled device with "not authorized", but only when its secret is right', async () => {
    broker = await startTestBroker({ authenticator: table });
    expect(await connackCode(broker.url, { clientId: 'd-off', username: 'd-off', password: SECRET })).toBe(5);
    expect(await connackCode(broker.url, { clientId: 'd-off', username: 'd-off', password: 'guess' })).toBe(4);
  });

  it('refuses keepalive 0 (a dead device would never be noticed) and keepalives above the limit', async () => {
    broker = await startTestBroker({ authenticator: table, options: { limits: { keepaliveMaxSec: 300 } as never } });
    expect(await connackCode(broker.url, { clientId: 'd-0001', username: 'd-0001', password: SECRET, keepalive: 0 })).toBe(5);
    expect(await connackCode(broker.url, { clientId: 'd-0001', username: 'd-0001', password: SECRET, keepalive: 301 })).toBe(5);
    expect(await connackCode(broker.url, { clientId: 'd-0001', username: 'd-0001', password: SECRET, keepalive: 300 })).toBe(0);
    expect(broker.handle.stats.authFailures.keepalive).toBe(2);
  });

  it('refuses a last will on a topic the device may not publish to', async () => {
    broker = await startTestBroker({ authenticator: table });
    const will = { topic: 'tryggheim/v1/devices/d-0002/status', payload: Buffer.from('offline'), qos: 1 as const, retain: true };
    expect(await connackCode(broker.url, { clientId: 'd-0001', username: 'd-0001', password: SECRET, will })).toBe(5);
    const own = { ...will, topic: 'tryggheim/v1/devices/d-0001/status' };
    expect(await connackCode(broker.url, { clientId: 'd-0001', username: 'd-0001', password: SECRET, will: own })).toBe(0);
  });
});

describe('failed-login lockout', () => {
  it('after 5 failures for a device within the window, refuses even the right secret until the lock ends', async () => {
    let now = Date.parse('2026-11-23T08:00:00Z');
    broker = await startTestBroker({ authenticator: table, deps: { now: () => now } });
    const url = broker.url;
    for (let i = 0; i < 5; i++) expect(await connackCode(url, { clientId: 'd-0001', username: 'd-0001', password: `bad-${i}` })).toBe(4);
    expect(await connackCode(url, { clientId: 'd-0001', username: 'd-0001', password: SECRET })).toBe(5);
    expect(broker.handle.stats.authFailures.locked_out).toBe(1);
    now += 15 * 60 * 1000 - 1000;
    expect(await connackCode(url, { clientId: 'd-0001', username: 'd-0001', password: SECRET })).toBe(5);
    now += 1000;
    expect(await connackCode(url, { clientId: 'd-0001', username: 'd-0001', password: SECRET })).toBe(0);
  });

  it('failures spread over more than the window do not lock', async () => {
    let now = Date.parse('2026-11-23T08:00:00Z');
    broker = await startTestBroker({ authenticator: table, deps: { now: () => now } });
    for (let i = 0; i < 8; i++) {
      // Four failures, a minute's pause, four more: never five inside one 60 s window.
      if (i === 4) now += 61_000;
      expect(await connackCode(broker.url, { clientId: 'd-0001', username: 'd-0001', password: `bad-${i}` })).toBe(4);
    }
    expect(await connackCode(broker.url, { clientId: 'd-0001', username: 'd-0001', password: SECRET })).toBe(0);
    expect(broker.handle.stats.authFailures.locked_out).toBe(0);
  });

  it('locks a source address that fails for many different device ids', async () => {
    broker = await startTestBroker({ authenticator: table });
    for (let i = 0; i < 5; i++) {
      expect(await connackCode(broker.url, { clientId: `d-x${i}`, username: `d-x${i}`, password: 'guess' })).toBe(4);
    }
    // The address is locked now: d-0002 never failed, yet its right secret is refused from this address.
    expect(await connackCode(broker.url, { clientId: 'd-0002', username: 'd-0002', password: `${SECRET}-2` })).toBe(5);
  });
});
