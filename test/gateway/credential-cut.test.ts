import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createUserStore } from '../../gateway/auth/users.js';
import type { CliContext } from '../../gateway/cli/context.js';
import { registerDeviceCommands } from '../../gateway/cli/devices.js';
import { registerServiceAccountCommands } from '../../gateway/cli/service-accounts.js';
import type { Config } from '../../gateway/config/schema.js';
import { databasePath, openDatabase } from '../../gateway/db/sqlite.js';
import { createDeviceRegistry } from '../../gateway/devices/registry.js';
import type { Gateway } from '../../gateway/main.js';
import { removeDir, startTestGateway } from '../support/gateway.js';
import { CHEAP_SCRYPT } from './http/auth-fixture.js';

// A device disabled or given a new secret, or a service account disabled, while it is connected: a real
// gateway, mqtt.js over real sockets, and the change made the way an operator makes it — the CLI's own
// commands, in-process but on their own database connection as in another process, or the HTTP API. The
// gateway must notice the registry change and close that client's connection within ~2 s, and only that one.

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
let gw: TestGateway | undefined;
const clients: MqttClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  const dir = gw?.dataDir;
  await gw?.close();
  gw = undefined;
  if (dir !== undefined) removeDir(dir);
});

const CUT_WITHIN_MS = 2000;
const PASSWORD = 'a long test passphrase, not real';

/**
 * Provisions the devices and service accounts (ids → secrets), then starts the gateway on that data, as an
 * operator would: nothing but the change under test moves the registry while it runs.
 */
async function gateway(devices: readonly string[], services: readonly string[] = []): Promise<[TestGateway, Record<string, string>]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tryggheim-cut-'));
  const db = openDatabase(databasePath(dataDir));
  const secrets: Record<string, string> = {};
  try {
    const registry = createDeviceRegistry({ db });
    registry.addHome({ id: 'home-0001', teamId: 'team-north' });
    for (const id of devices) {
      secrets[id] = registry.addDevice({ id, kind: 'sensor', model: 'demo-sensor', adapterId: 'tryggheim', homeId: 'home-0001' }).secret;
    }
    for (const id of services) secrets[id] = registry.addServiceAccount({ id, teamId: 'team-north' }).secret;
  } finally {
    db.close();
  }
  try {
    gw = await startTestGateway({}, { dataDir });
  } catch (err) {
    removeDir(dataDir);
    throw err;
  }
  return [gw, secrets];
}

function secretOf(secrets: Record<string, string>, id: string): string {
  const secret = secrets[id];
  if (secret === undefined) throw new Error(`${id} was not provisioned`);
  return secret;
}

/** One `tryggheim …` invocation with the CLI's own commands; they open (and close) their own connection. */
function cli(dataDir: string, ...args: string[]): string[] {
  const out: string[] = [];
  const ctx: CliContext = { config: () => ({ dataDir }) as unknown as Config, out: (l) => out.push(l), err: (l) => out.push(l) };
  const program = new Command('tryggheim').exitOverride();
  registerDeviceCommands(program, ctx);
  registerServiceAccountCommands(program, ctx);
  try {
    program.parse(args, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    throw new Error(`tryggheim ${args.join(' ')} failed: ${out.join('\n')}`);
  }
  return out;
}

async function connectAs(g: TestGateway, id: string, password: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${g.mqttPort}`, {
    clientId: id,
    username: id,
    password,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  clients.push(c);
  return c;
}

/** Milliseconds until the broker closes the client's socket; rejects after CUT_WITHIN_MS. */
function cutWithin(c: MqttClient): Promise<number> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`still connected after ${CUT_WITHIN_MS} ms`)), CUT_WITHIN_MS);
    c.once('close', () => {
      clearTimeout(t);
      resolve(Date.now() - start);
    });
  });
}

/** The CONNACK return code a fresh connection gets (0 = accepted). */
function connackCode(g: TestGateway, id: string, password: string): Promise<number> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${g.mqttPort}`, {
    clientId: id,
    username: id,
    password,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
  clients.push(c);
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(0));
    c.once('error', (err: Error & { code?: number }) => (typeof err.code === 'number' ? resolve(err.code) : reject(err)));
  });
}

/** Still connected and heard: a QoS 1 publish is acknowledged. */
async function stillServed(c: MqttClient, id: string): Promise<void> {
  expect(c.connected, `${id} connected`).toBe(true);
  await c.publishAsync(`tryggheim/v1/devices/${id}/up`, '{"type":"heartbeat"}', { qos: 1 });
}

describe('an open MQTT connection ends when its credentials stop being valid', () => {
  it('`tryggheim devices disable` (another connection) cuts the device within ~2 s; the others stay', async () => {
    const [g, secrets] = await gateway(['d-0001', 'd-0002']);
    const secret1 = secretOf(secrets, 'd-0001');
    const target = await connectAs(g, 'd-0001', secret1);
    const other = await connectAs(g, 'd-0002', secretOf(secrets, 'd-0002'));

    const cut = cutWithin(target);
    cli(g.dataDir, 'devices', 'disable', 'd-0001');
    expect(await cut).toBeLessThan(CUT_WITHIN_MS);

    await stillServed(other, 'd-0002');
    expect(g.broker.stats.clientsCut.disabled).toBe(1);
    expect(await connackCode(g, 'd-0001', secret1)).toBe(5); // not authorized, as at any CONNECT
  });

  it('`tryggheim devices rotate-secret` cuts the device; the old secret is refused, the new one works', async () => {
    const [g, secrets] = await gateway(['d-0001', 'd-0002']);
    const secret1 = secretOf(secrets, 'd-0001');
    const target = await connectAs(g, 'd-0001', secret1);
    const other = await connectAs(g, 'd-0002', secretOf(secrets, 'd-0002'));

    const cut = cutWithin(target);
    const { secret } = JSON.parse(cli(g.dataDir, 'devices', 'rotate-secret', 'd-0001', '--json').join('\n')) as { secret: string };
    expect(await cut).toBeLessThan(CUT_WITHIN_MS);

    await stillServed(other, 'd-0002');
    expect(g.broker.stats.clientsCut.secret_changed).toBe(1);
    expect(await connackCode(g, 'd-0001', secret1)).toBe(4); // bad username or password
    expect(await connackCode(g, 'd-0001', secret)).toBe(0);
  });

  it('`tryggheim service-accounts disable` cuts the integration and its alert subscription; a device stays', async () => {
    // The service accounts' table has no change counter of its own: only this change may move anything.
    const [g, secrets] = await gateway(['d-0001'], ['svc-north']);
    const svcSecret = secretOf(secrets, 'svc-north');
    const svc = await connectAs(g, 'svc-north', svcSecret);
    await svc.subscribeAsync('tryggheim/v1/alerts/team-north/#', { qos: 1 });
    const device = await connectAs(g, 'd-0001', secretOf(secrets, 'd-0001'));

    const cut = cutWithin(svc);
    cli(g.dataDir, 'service-accounts', 'disable', 'svc-north');
    expect(await cut).toBeLessThan(CUT_WITHIN_MS);

    await stillServed(device, 'd-0001');
    expect(await connackCode(g, 'svc-north', svcSecret)).toBe(5);
  });

  it('POST /api/v1/devices/{id}/disable (a technician, over HTTP) cuts the device within ~2 s', async () => {
    const [g, secrets] = await gateway(['d-0001']);
    const target = await connectAs(g, 'd-0001', secretOf(secrets, 'd-0001'));
    const db = openDatabase(databasePath(g.dataDir));
    try {
      await createUserStore({ db, now: Date.now, passwordParams: CHEAP_SCRYPT }).add(
        { username: 'tech-n1', role: 'technician', teams: ['team-north'] },
        PASSWORD,
      );
    } finally {
      db.close();
    }
    const base = `http://127.0.0.1:${g.http.address.port}`;
    const login = await fetch(`${base}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'tech-n1', password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const cookie = (login.headers.getSetCookie()[0] ?? '').split(';')[0] ?? '';

    const cut = cutWithin(target);
    const res = await fetch(`${base}/api/v1/devices/d-0001/disable`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrfToken } });
    expect(res.status).toBe(200);
    expect(await cut).toBeLessThan(CUT_WITHIN_MS);
  });
});
