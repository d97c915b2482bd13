import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../adapters/canonical.js';
import type { Gateway } from '../../../gateway/main.js';
import type { StorageSink } from '../../../gateway/ingest/pipeline.js';
import { removeDir, startTestGateway } from '../../support/gateway.js';

// The rules pass's priority lane and early path (gateway/ingest/pipeline.ts): under a telemetry backlog an
// alarm reaches the rules ahead of other devices' queued telemetry, exactly once, while every device's own
// messages keep their order. The backlog is made by a deliberately slow 'events' listener (a stand-in for a
// busy rule engine); broker, journal and registry are real. Storage is a recording sink ("stand-in").

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
let gw: TestGateway | undefined;
const clients: mqtt.MqttClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.endAsync(true);
  await gw?.close();
  if (gw) removeDir(gw.dataDir);
  gw = undefined;
});

const sink: StorageSink = { write: () => Promise.resolve() };
const toLine = (e: CanonicalEvent): string => `${e.body.type},device_id=${e.deviceId} event_id="${e.eventId}"`;

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* a slow rule engine (stand-in) */
  }
}

async function connect(g: TestGateway, id: string, secret: string): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${g.mqttPort}`, { clientId: id, username: id, password: secret, reconnectPeriod: 0 });
  clients.push(c);
  return c;
}

describe('rules pass priority lane (slow rules stand-in)', () => {
  it('hands an alarm to the rules ahead of queued telemetry of other devices, once, keeping each device in order', async () => {
    gw = await startTestGateway({}, { storage: { sink, toLine } });
    const g = gw;
    g.registry.addHome({ id: 'home-0001', teamId: 'team-north' });
    const busy = g.registry.addDevice({ id: 'sens-0001', kind: 'sensor', model: 'demo', adapterId: 'tryggheim', homeId: 'home-0001' });
    const fall = g.registry.addDevice({ id: 'fall-0001', kind: 'sensor', model: 'demo', adapterId: 'tryggheim', homeId: 'home-0001' });

    const seen: { deviceId: string; type: string; seq: number | null }[] = [];
    g.events.on('events', (evs) => {
      for (const e of evs) seen.push({ deviceId: e.deviceId, type: e.body.type, seq: e.seq ?? null });
      // 1 ms per telemetry event: 2,000 readings make a backlog of about 2 s.
      if (evs.some((e) => e.body.type === 'measurement')) busyWait(evs.length);
    });

    const sensor = await connect(g, 'sens-0001', busy.secret);
    const alarm = await connect(g, 'fall-0001', fall.secret);
    const N = 2000;
    const sent: Promise<unknown>[] = [];
    for (let i = 1; i <= N; i += 1) {
      sent.push(
        sensor.publishAsync('tryggheim/v1/devices/sens-0001/up', JSON.stringify({ type: 'measurement', seq: i, temperature_c: 21 }), {
          qos: 1,
        }),
      );
    }
    // The alarm once every reading is journaled and the rules are still working through them.
    await until(() => g.ingest.stats.accepted >= N, 20_000);
    await alarm.publishAsync('tryggheim/v1/devices/fall-0001/up', JSON.stringify({ type: 'alarm.fall', seq: 1 }), { qos: 1 });
    await Promise.all(sent);
    // Then the sensor's own alarm: it must come after every reading the sensor sent before it.
    await sensor.publishAsync('tryggheim/v1/devices/sens-0001/up', JSON.stringify({ type: 'alarm.fall', seq: N + 1 }), { qos: 1 });
    await until(() => g.ingest.stats.rulesLag() === 0 && seen.filter((s) => s.deviceId === 'sens-0001').length === N + 1, 30_000);

    const fallAt = seen.findIndex((s) => s.deviceId === 'fall-0001');
    const readings = seen.filter((s) => s.deviceId === 'sens-0001' && s.type === 'measurement');
    const lastReadingAt = seen.findLastIndex((s) => s.deviceId === 'sens-0001' && s.type === 'measurement');
    expect(fallAt).toBeGreaterThan(-1);
    // Ahead of queued telemetry (with one queue it lands behind all 2,000 readings journaled before it).
    expect(fallAt).toBeLessThan(lastReadingAt - 200);
    expect(seen.filter((s) => s.deviceId === 'fall-0001')).toHaveLength(1); // not handed over again after its commit
    expect(readings.map((r) => r.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1)); // each device in order
    const own = seen.filter((s) => s.deviceId === 'sens-0001');
    expect(own.at(-1)).toMatchObject({ type: 'alarm', seq: N + 1 }); // its alarm behind its own readings
    expect(g.ingest.stats.events).toBe(N + 2);
  }, 60_000);
});
