import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthResult, Authenticator, BrokerLogger, Principal } from '../../broker/index.js';
import { startTestBroker, type TestBroker } from '../support/broker.js';

// Credentials that stop being valid while a client is connected (broker side, real sockets, mqtt.js): the
// broker's `revalidate()` asks the policy again with what each client presented and cuts those refused now;
// `cut()` closes a client id's connections. The gateway's trigger for it (a registry change, the CLI in
// another process) is in test/gateway/credential-cut.test.ts.

const SECRET = 'tgs_revalidate-secret-abcdefghijklmnopqrstuvwxyz';
const NEW_SECRET = 'tgs_revalidate-secret-new-abcdefghijklmnopqrstu';

interface Row {
  secret: string;
  disabled?: boolean;
  principal: Principal;
}

/** A credential table the test changes while clients are connected (the registry's stand-in). */
function mutableTable(rows: Record<string, Row>): { auth: Authenticator; rows: Record<string, Row>; fail: { now: boolean } } {
  const fail = { now: false };
  const auth: Authenticator = (id, secret): AuthResult => {
    if (fail.now) throw new Error('store unavailable');
    const row = rows[id];
    if (row === undefined) return { ok: false, reason: 'unknown_device' };
    if (secret.toString('utf8') !== row.secret) return { ok: false, reason: 'bad_secret' };
    if (row.disabled === true) return { ok: false, reason: 'disabled' };
    return { ok: true, principal: row.principal };
  };
  return { auth, rows, fail };
}

function capturingLogger(): { logger: BrokerLogger; lines: object[]; events: (name: string) => object[] } {
  const lines: object[] = [];
  const push = (o: object): void => void lines.push(o);
  return {
    logger: { info: push, warn: push, error: push, debug: () => undefined },
    lines,
    events: (name) => lines.filter((o) => (o as { event?: string }).event === name),
  };
}

let broker: TestBroker | undefined;
const clients: MqttClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await broker?.stop();
  broker = undefined;
});

async function connectAs(id: string, password = SECRET): Promise<MqttClient> {
  if (!broker) throw new Error('no broker');
  const c = await mqtt.connectAsync(broker.url, { clientId: id, username: id, password, reconnectPeriod: 0, connectTimeout: 5000 });
  clients.push(c);
  return c;
}

/** Resolves when the broker closes the client's socket; rejects after `ms`. */
function closed(c: MqttClient, ms = 2000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!c.connected) return resolve();
    const t = setTimeout(() => reject(new Error(`still connected after ${ms} ms`)), ms);
    c.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** The CONNACK return code a fresh connection with these credentials gets (0 = accepted). */
async function connackCode(id: string, password: string): Promise<number> {
  if (!broker) throw new Error('no broker');
  const c = mqtt.connect(broker.url, { clientId: id, username: id, password, reconnectPeriod: 0, connectTimeout: 5000 });
  clients.push(c);
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(0));
    c.once('error', (err) => {
      const code = (err as { code?: number }).code;
      if (typeof code === 'number') resolve(code);
      else reject(err);
    });
  });
}

const device = (id: string): Row => ({ secret: SECRET, principal: { kind: 'device', id } });

describe('revalidate(): connected clients whose credentials changed', () => {
  it('cuts a disabled device and one whose secret was replaced, logs why without the secret, and leaves the others', async () => {
    const table = mutableTable({ 'd-0001': device('d-0001'), 'd-0002': device('d-0002'), 'd-0003': device('d-0003') });
    const log = capturingLogger();
    broker = await startTestBroker({ authenticator: table.auth, deps: { logger: log.logger } });
    const [a, b, c] = [await connectAs('d-0001'), await connectAs('d-0002'), await connectAs('d-0003')];

    expect(await broker.handle.revalidate()).toEqual({ checked: 3, cut: 0, errors: 0 });
    (table.rows['d-0001'] as Row).disabled = true;
    (table.rows['d-0002'] as Row).secret = NEW_SECRET;
    const report = await broker.handle.revalidate();
    await Promise.all([closed(a), closed(b)]);

    expect(report).toEqual({ checked: 3, cut: 2, errors: 0 });
    expect(c.connected).toBe(true);
    await c.publishAsync('tryggheim/v1/devices/d-0003/up', '{"n":1}', { qos: 1 });
    const cuts = log.events('security.client_cut').map((e) => e as { deviceId: string; reason: string; kind: string });
    expect(cuts.map((e) => [e.deviceId, e.kind, e.reason]).sort()).toEqual([
      ['d-0001', 'device', 'disabled'],
      ['d-0002', 'device', 'secret_changed'],
    ]);
    expect(JSON.stringify(log.lines)).not.toContain(SECRET);
    expect(broker.handle.stats.clientsCut).toMatchObject({ disabled: 1, secret_changed: 1 });
    // Refused afterwards, and told why as at any CONNECT: 5 not authorized, 4 bad username or password.
    expect(await connackCode('d-0001', SECRET)).toBe(5);
    expect(await connackCode('d-0002', SECRET)).toBe(4);
    expect(await connackCode('d-0002', NEW_SECRET)).toBe(0);
  });

  it('cuts a service account that was disabled or moved to another team (its alert subscription with it)', async () => {
    const svc = (id: string, teamId: string): Row => ({ secret: SECRET, principal: { kind: 'service', id, teamId } });
    const table = mutableTable({ 'svc-north': svc('svc-north', 'team-north'), 'svc-south': svc('svc-south', 'team-south') });
    broker = await startTestBroker({ authenticator: table.auth });
    const north = await connectAs('svc-north');
    const south = await connectAs('svc-south');
    await north.subscribeAsync('tryggheim/v1/alerts/team-north/#', { qos: 1 });

    (table.rows['svc-north'] as Row).disabled = true;
    table.rows['svc-south'] = svc('svc-south', 'team-east');
    expect(await broker.handle.revalidate()).toMatchObject({ checked: 2, cut: 2 });
    await Promise.all([closed(north), closed(south)]);
    expect(broker.handle.stats.clientsCut).toMatchObject({ disabled: 1, principal_changed: 1 });
  });

  it('keeps every client when the check itself fails (a store that cannot answer is no reason to drop the fleet)', async () => {
    const table = mutableTable({ 'd-0001': device('d-0001') });
    broker = await startTestBroker({ authenticator: table.auth });
    const a = await connectAs('d-0001');
    table.fail.now = true;
    expect(await broker.handle.revalidate()).toEqual({ checked: 1, cut: 0, errors: 1 });
    expect(a.connected).toBe(true);
  });
});

describe('cut(clientId, reason)', () => {
  it("closes that client id's connection only", async () => {
    const table = mutableTable({ 'd-0001': device('d-0001'), 'd-0002': device('d-0002') });
    broker = await startTestBroker({ authenticator: table.auth });
    const a = await connectAs('d-0001');
    const b = await connectAs('d-0002');
    expect(broker.handle.cut('d-0001', 'disabled')).toBe(1);
    await closed(a);
    expect(b.connected).toBe(true);
    expect(broker.handle.cut('d-0001', 'disabled')).toBe(0);
    expect(broker.handle.cut('nobody', 'removed')).toBe(0);
  });
});
