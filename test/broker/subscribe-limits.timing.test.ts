import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker, tableAuthenticator, type TestBroker } from '../support/broker.js';

// aedes stores a SUBSCRIBE's filters in a loop quadratic in their number (4,000 filters stall the whole
// broker ~5 s with clean session 0). The broker caps filters per SUBSCRIBE before aedes sees them.

const SECRET = 'tgs_limits-secret-abcdefghijklmnopqrstuvwxyz';
const ids = ['hub-01', 'd-0001'];
const auth = tableAuthenticator(
  Object.fromEntries(ids.map((id) => [id, { secret: SECRET, kind: id.startsWith('hub') ? 'bridge' : 'device' }])),
);

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

/** Round trip of one PINGREQ, in ms, measured on the wire (mqtt.js emits 'packetreceive' for the PINGRESP). */
function pingOnce(client: MqttClient): Promise<number> {
  return new Promise((resolve) => {
    const start = performance.now();
    const onPacket = (packet: { cmd: string }): void => {
      if (packet.cmd !== 'pingresp') return;
      client.off('packetreceive', onPacket);
      resolve(performance.now() - start);
    };
    client.on('packetreceive', onPacket);
    // mqtt.js has no public "ping now"; sending the packet through its writer is the documented low-level way.
    (client as unknown as { _sendPacket(p: object): void })._sendPacket({ cmd: 'pingreq' });
  });
}

describe('SUBSCRIBE filter cap', () => {
  it('refuses a SUBSCRIBE with 5,000 filters by closing that client, while others keep PINGRESP under 100 ms', async () => {
    broker = await startTestBroker({ authenticator: auth, options: { persistence: 'level' } });
    const bystander = await connectAs('d-0001');
    const attacker = await connectAs('hub-01', { clean: false });
    const filters = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`tryggheim/v1/bridges/hub-01/f${i}`, { qos: 1 as const }]));
    const closed = new Promise<void>((r) => attacker.once('close', () => r()));
    attacker.subscribe(filters, () => undefined);
    const rtts: number[] = [];
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline) rtts.push(await pingOnce(bystander));
    await closed;
    expect(rtts.length).toBeGreaterThan(10);
    expect(Math.max(...rtts)).toBeLessThan(100);
    expect(broker.handle.stats.packetsRefused.too_many_filters).toBe(1);
    // Nothing of it was stored: the persistent session has no subscriptions.
    const persistence = (
      broker.handle.aedes as unknown as { persistence: { subscriptionsByClient(c: { id: string }): Promise<unknown[] | null> } }
    ).persistence;
    const stored = await persistence.subscriptionsByClient({ id: 'hub-01' });
    expect(stored ?? []).toHaveLength(0);
  });

  it('accepts a SUBSCRIBE at the cap', async () => {
    broker = await startTestBroker({ authenticator: auth, options: { limits: { maxFiltersPerSubscribe: 8 } as never } });
    const hub = await connectAs('hub-01');
    const filters = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`tryggheim/v1/bridges/hub-01/f${i}`, { qos: 1 as const }]));
    const granted = await hub.subscribeAsync(filters);
    expect(granted.map((g) => g.qos)).toEqual(Array(8).fill(1));
  });
});
