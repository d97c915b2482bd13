import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/main.js';
import { removeDir, run, startTestGateway } from '../support/gateway.js';

// The device's view: a real gateway (SQLite registry, on-disk sessions), Debian's mosquitto clients and
// mqtt.js over real sockets on 127.0.0.1.

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
let gw: TestGateway | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  for (const d of dirs.splice(0)) removeDir(d);
});

async function gateway(): Promise<TestGateway> {
  gw = await startTestGateway();
  dirs.push(gw.dataDir);
  gw.registry.addHome({ id: 'home-0001', teamId: 'team-north' });
  return gw;
}

function auth(id: string, secret: string): string[] {
  return ['-h', '127.0.0.1', '-p', String(gw?.mqttPort), '-i', id, '-u', id, '-P', secret];
}

function received(g: Gateway, filter: string): string[] {
  const got: string[] = [];
  g.broker.aedes.subscribe(
    filter,
    (p, cb) => {
      got.push(`${p.topic} ${p.payload.toString()}`);
      cb();
    },
    () => undefined,
  );
  return got;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('registered devices through mosquitto_pub / mosquitto_sub', () => {
  it('a registered device publishes with mosquitto_pub; a wrong secret and a disabled device are refused', async () => {
    const g = await gateway();
    const { secret } = g.registry.addDevice({
      id: 'd-0001',
      kind: 'dispenser',
      model: 'demo-dispenser',
      adapterId: 'tryggheim',
      homeId: 'home-0001',
    });
    const got = received(g, 'tryggheim/v1/devices/+/up');

    const ok = await run('mosquitto_pub', [...auth('d-0001', secret), '-q', '1', '-t', 'tryggheim/v1/devices/d-0001/up', '-m', '{"n":1}']);
    expect(ok.code).toBe(0);
    await sleep(50);
    expect(got).toEqual(['tryggheim/v1/devices/d-0001/up {"n":1}']);

    const wrong = await run('mosquitto_pub', [
      ...auth('d-0001', `${secret}x`),
      '-q',
      '1',
      '-t',
      'tryggheim/v1/devices/d-0001/up',
      '-m',
      'x',
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/bad user name or password/i);

    g.registry.setEnabled('d-0001', false);
    const disabled = await run('mosquitto_pub', [...auth('d-0001', secret), '-q', '1', '-t', 'tryggheim/v1/devices/d-0001/up', '-m', 'x']);
    expect(disabled.code).not.toBe(0);
    expect(disabled.stderr).toMatch(/not authori[sz]ed/i);
    expect(got).toHaveLength(1);
  });

  it("publishing to someone else's topic is refused and nothing reaches it", async () => {
    const g = await gateway();
    const { secret } = g.registry.addDevice({ id: 'd-0001', kind: 'lock', model: 'demo-lock', adapterId: 'tryggheim' });
    g.registry.addDevice({ id: 'd-0002', kind: 'lock', model: 'demo-lock', adapterId: 'tryggheim' });
    const got = received(g, 'tryggheim/v1/devices/#');
    const r = await run('mosquitto_pub', [...auth('d-0001', secret), '-q', '1', '-t', 'tryggheim/v1/devices/d-0002/up', '-m', 'forged']);
    expect(r.code).not.toBe(0);
    await sleep(50);
    expect(got).toEqual([]);
    expect(g.broker.stats.publishesDenied).toBe(1);
  });

  it('mosquitto_sub on "#" gets a SUBACK failure', async () => {
    const g = await gateway();
    const { secret } = g.registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'demo-sensor', adapterId: 'tryggheim' });
    const r = await run('mosquitto_sub', [...auth('d-0001', secret), '-t', '#', '-E', '-d']);
    // -d prints the SUBACK; 128 (0x80) is the failure code [MQTT-3.9.3].
    expect(r.stdout).toMatch(/Subscribed \(mid: \d+\): 128/);
    expect(g.broker.stats.subscriptionsDenied).toBe(1);
  });

  it('the lockout refuses the right secret after five wrong ones from mosquitto_pub', async () => {
    const g = await gateway();
    const { secret } = g.registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'demo-sensor', adapterId: 'tryggheim' });
    for (let i = 0; i < 5; i++) {
      const r = await run('mosquitto_pub', [...auth('d-0001', `wrong-${i}`), '-t', 'tryggheim/v1/devices/d-0001/up', '-m', 'x']);
      expect(r.stderr).toMatch(/bad user name or password/i);
    }
    const locked = await run('mosquitto_pub', [...auth('d-0001', secret), '-t', 'tryggheim/v1/devices/d-0001/up', '-m', 'x']);
    expect(locked.code).not.toBe(0);
    expect(locked.stderr).toMatch(/not authori[sz]ed/i);
    expect(g.broker.stats.authFailures.locked_out).toBe(1);
  });
});

describe('state that survives a gateway restart', () => {
  it('a retained status and a persistent session (with its queued message) survive a restart', async () => {
    let g = await gateway();
    const dataDir = g.dataDir;
    const { secret } = g.registry.addDevice({ id: 'd-0001', kind: 'dispenser', model: 'demo-dispenser', adapterId: 'tryggheim' });
    const { secret: hubSecret } = g.registry.addDevice({ id: 'hub-01', kind: 'bridge', model: 'zigbee2mqtt', adapterId: 'zigbee2mqtt' });

    // A retained status, and a persistent session subscribed to the device's down topic.
    expect(
      (await run('mosquitto_pub', [...auth('d-0001', secret), '-q', '1', '-r', '-t', 'tryggheim/v1/devices/d-0001/status', '-m', 'online']))
        .code,
    ).toBe(0);
    expect(
      (await run('mosquitto_sub', [...auth('d-0001', secret), '-c', '-q', '1', '-t', 'tryggheim/v1/devices/d-0001/down', '-E'])).code,
    ).toBe(0);
    // While the device is offline, the gateway queues a command for it (QoS 1).
    await new Promise<void>((resolve) => {
      g.broker.aedes.publish(
        {
          cmd: 'publish',
          topic: 'tryggheim/v1/devices/d-0001/down',
          payload: Buffer.from('refill-ack'),
          qos: 1,
          retain: false,
          dup: false,
        },
        () => resolve(),
      );
    });
    await g.close();

    g = await startTestGateway({}, { dataDir });
    gw = g;
    // The session is still there: reconnecting without a subscription receives the queued command.
    const down = await run('mosquitto_sub', [
      ...auth('d-0001', secret),
      '-c',
      '-q',
      '1',
      '-t',
      'tryggheim/v1/devices/d-0001/down',
      '-C',
      '1',
      '-W',
      '5',
    ]);
    expect(down.stdout.trim()).toBe('refill-ack');
    // The retained status is still there for a new subscriber (a bridge can't read device topics, so read it in-process).
    const retained = await new Promise<string>((resolve, reject) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${g.mqttPort}`, {
        clientId: 'hub-01',
        username: 'hub-01',
        password: hubSecret,
        reconnectPeriod: 0,
      });
      c.on('error', reject);
      c.on('connect', () => {
        c.end(true);
        const persistence = (g.broker.aedes as unknown as { persistence: { createRetainedStream(p: string): NodeJS.ReadableStream } })
          .persistence;
        const stream = persistence.createRetainedStream('tryggheim/v1/devices/d-0001/status');
        stream.on('data', (p: { payload: Buffer }) => resolve(p.payload.toString()));
        stream.on('end', () => reject(new Error('no retained message')));
      });
    });
    expect(retained).toBe('online');
  });

  it("a device's last will tells the gateway it went offline", async () => {
    const g = await gateway();
    const { secret } = g.registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'demo-sensor', adapterId: 'tryggheim' });
    const statuses: string[] = [];
    g.events.on('device-status', (e) => statuses.push(`${e.principal.id}:${e.status}`));
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${g.mqttPort}`, {
      clientId: 'd-0001',
      username: 'd-0001',
      password: secret,
      reconnectPeriod: 0,
      will: { topic: 'tryggheim/v1/devices/d-0001/status', payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    await c.publishAsync('tryggheim/v1/devices/d-0001/status', 'online', { qos: 1, retain: true });
    // The device vanishes without a DISCONNECT (power cut): the broker publishes its will.
    (c.stream as unknown as { destroy(): void }).destroy();
    const deadline = Date.now() + 3000;
    while (statuses.length < 2 && Date.now() < deadline) await sleep(20);
    expect(statuses).toEqual(['d-0001:online', 'd-0001:offline']);
    c.end(true);
  });
});
