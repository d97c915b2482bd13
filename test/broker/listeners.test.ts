import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, tableAuthenticator, type TestBroker } from '../support/broker.js';

// MQTT over TLS and over WebSocket reach the same policy as plain TCP.

const SECRET = 'tgs_listener-secret-abcdefghijklmnopqrstuvwxy';
const auth = tableAuthenticator({ 'd-0001': { secret: SECRET } });
let certDir: string;
let broker: TestBroker | undefined;
const clients: MqttClient[] = [];

beforeAll(() => {
  // A throwaway self-signed certificate for 127.0.0.1, made by Debian's openssl.
  certDir = mkdtempSync(join(tmpdir(), 'tryggheim-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(certDir, 'key.pem'),
      '-out',
      join(certDir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
});
afterAll(() => {
  rmSync(certDir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await broker?.stop();
  broker = undefined;
});

async function roundTrip(url: string, extra: mqtt.IClientOptions = {}): Promise<void> {
  const c = await mqtt.connectAsync(url, {
    clientId: 'd-0001',
    username: 'd-0001',
    password: SECRET,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...extra,
  });
  clients.push(c);
  await c.publishAsync('tryggheim/v1/devices/d-0001/up', 'x', { qos: 1 });
}

describe('listeners', () => {
  it('MQTT over TLS: the device connects and publishes; a wrong secret is refused there too', async () => {
    broker = await startTestBroker({
      authenticator: auth,
      options: { tls: { port: 0, certFile: join(certDir, 'cert.pem'), keyFile: join(certDir, 'key.pem') } },
    });
    const port = broker.handle.address('tls')?.port;
    expect(port).toBeGreaterThan(0);
    const ca = readFileSync(join(certDir, 'cert.pem'));
    await roundTrip(`mqtts://127.0.0.1:${port}`, { ca, rejectUnauthorized: true });
    await expect(roundTrip(`mqtts://127.0.0.1:${port}`, { ca, password: 'wrong' })).rejects.toThrow(/Bad username or password/i);
    expect(broker.handle.stats.publishesAccepted).toBe(1);
  });

  it('TLS is off when no certificate is configured', async () => {
    broker = await startTestBroker({ authenticator: auth });
    expect(broker.handle.address('tls')).toBeUndefined();
  });

  it('MQTT over WebSocket on the configured path', async () => {
    broker = await startTestBroker({ authenticator: auth, options: { ws: { enabled: true, port: 0, path: '/mqtt' } } });
    const port = broker.handle.address('ws')?.port;
    await roundTrip(`ws://127.0.0.1:${port}/mqtt`);
    await expect(roundTrip(`ws://127.0.0.1:${port}/mqtt`, { password: 'wrong' })).rejects.toThrow(/Bad username or password/i);
    expect(broker.handle.stats.publishesAccepted).toBe(1);
  });

  it('a listener that cannot bind fails the start and leaves nothing running', async () => {
    broker = await startTestBroker({ authenticator: auth });
    const taken = broker.port;
    await expect(startTestBroker({ authenticator: auth, options: { tcp: { enabled: true, port: taken } } })).rejects.toThrow(/EADDRINUSE/);
  });
});
