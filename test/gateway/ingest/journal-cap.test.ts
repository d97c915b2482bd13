import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayHealthEvent } from '../../../gateway/events.js';
import type { Gateway } from '../../../gateway/main.js';
import { removeDir, startTestGateway } from '../../support/gateway.js';

// The journal is the outage buffer, and it is capped: near the cap a gateway-health event is raised; past
// it the oldest telemetry (measurements, status) is dropped and counted — never doses, doors or alarms.
// InfluxDB is "down" here through a failing storage stand-in, so nothing leaves the journal.

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  if (gw) removeDir(gw.dataDir);
  gw = undefined;
});

const CAP = 1024 * 1024;

/** ~1 KB of legitimate telemetry: a batch of measurements. */
function telemetry(seq: number): string {
  const events = Array.from({ length: 16 }, (_, i) => ({
    type: 'measurement',
    seq: seq * 16 + i,
    temperature_c: 20 + i / 10,
    humidity_pct: 40,
  }));
  return JSON.stringify({ events });
}

describe('journal cap (storage stand-in that always fails)', () => {
  it('warns near the cap, drops only the oldest telemetry past it, counts every drop, keeps every dose and alarm', async () => {
    const down = { write: () => Promise.reject(Object.assign(new Error('influx down (stand-in)'), { retryable: true })) };
    gw = await startTestGateway(
      { ingest: { journalMaxBytes: CAP, journalWarnRatio: 0.5 }, influx: { flushIntervalMs: 50 } },
      { storage: { sink: down, toLine: (e) => e.eventId } },
    );
    const g = gw;
    const health: GatewayHealthEvent[] = [];
    g.events.on('gateway-health', (h) => health.push(h));
    const { secret } = g.registry.addDevice({ id: 'd-0001', kind: 'sensor', model: 'demo', adapterId: 'tryggheim' });
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${g.mqttPort}`, {
      clientId: 'd-0001',
      username: 'd-0001',
      password: secret,
      reconnectPeriod: 0,
    });
    let critical = 0;
    for (let i = 0; i < 1600; i++) {
      await c.publishAsync('tryggheim/v1/devices/d-0001/up', telemetry(i), { qos: 1 });
      if (i % 100 === 0) {
        await c.publishAsync('tryggheim/v1/devices/d-0001/up', JSON.stringify({ type: 'dose.missed', seq: 1_000_000 + i, slot: '08:00' }), {
          qos: 1,
        });
        await c.publishAsync('tryggheim/v1/devices/d-0001/up', JSON.stringify({ type: 'alarm.fall', seq: 2_000_000 + i }), { qos: 1 });
        critical += 2;
      }
    }
    await c.endAsync();
    await new Promise((r) => setTimeout(r, 300));

    expect(health.filter((h) => h.check === 'journal').map((h) => h.state)).toEqual(expect.arrayContaining(['near_cap']));
    expect(g.ingest.stats.droppedTelemetry).toBeGreaterThan(0);
    expect(g.journal.bytes()).toBeLessThanOrEqual(CAP);
    // Every critical message is still in the journal; only telemetry went, oldest first.
    const rows = g.journal.db.prepare('SELECT seq, payload FROM journal ORDER BY seq').all() as { seq: number; payload: Buffer }[];
    const kept = rows.map((r) => r.payload.toString());
    expect(kept.filter((p) => p.includes('dose.missed') || p.includes('alarm.fall'))).toHaveLength(critical);
    const firstTelemetry = kept.findIndex((p) => p.includes('"events"'));
    const firstSeq = (JSON.parse(kept[firstTelemetry] ?? '{}') as { events?: { seq: number }[] }).events?.[0]?.seq ?? 0;
    expect(firstSeq).toBeGreaterThan(0); // the oldest telemetry (seq 0…) was dropped first
    const telemetryKept = kept.length - critical;
    expect(telemetryKept + g.ingest.stats.droppedTelemetry).toBe(1600);
    const metrics = await (await fetch(`http://127.0.0.1:${g.http.address.port}/metrics`)).text();
    expect(metrics).toContain(`tryggheim_ingest_telemetry_dropped_total ${g.ingest.stats.droppedTelemetry}`);
  }, 60_000);
});
