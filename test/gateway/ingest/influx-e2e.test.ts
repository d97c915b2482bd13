import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CanonicalEventSchema, type CanonicalEvent } from '../../../adapters/canonical.js';
import { ADAPTERS } from '../../../adapters/registry.js';
import { loadConfig } from '../../../gateway/config/load.js';
import { createLogger } from '../../../gateway/log.js';
import type { Gateway } from '../../../gateway/main.js';
import { createInfluxQuery } from '../../../gateway/storage/query.js';
import { createInfluxWriter } from '../../../gateway/storage/influx.js';
import { fixtureCases } from '../../adapters/fixtures.js';
import { removeDir, run, startTestGateway } from '../../support/gateway.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';

// End to end with real parts: mosquitto_pub and mqtt.js → broker → journal → adapters → Debian's influxd
// 1.6.7 (API detected from /ping) → InfluxQL. One device per adapter, publishing that adapter's valid
// golden fixtures; the points must be queryable with the right measurement, tags, fields and time.

type TestGateway = Gateway & { dataDir: string; mqttPort: number };
let influxd: TestInfluxd;
let gw: TestGateway;
const emitted: CanonicalEvent[] = [];
const logger = createLogger({ level: 'silent' });

beforeAll(async () => {
  influxd = await startInfluxd();
  const influxConfig = { url: influxd.url, apiVersion: 'auto' as const, database: 'tryggheim', flushIntervalMs: 50 };
  const setup = await createInfluxWriter({ ...loadConfig({ env: {} }).influx, ...influxConfig }, { logger });
  await setup.ensureDatabase();
  await setup.close();
  gw = await startTestGateway({ influx: influxConfig });
  gw.events.on('events', (evs) => emitted.push(...evs));
  gw.registry.addHome({ id: 'home-0001', teamId: 'team-north' });
}, 60_000);

afterAll(async () => {
  await gw.close();
  removeDir(gw.dataDir);
  await influxd.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond()) && Date.now() < end) await sleep(50);
}

describe('every adapter format, published over MQTT, lands in InfluxDB', () => {
  it('native format via mosquitto_pub: measurement, tags, fields and time are exact', async () => {
    const { secret } = gw.registry.addDevice({
      id: 'd-native',
      kind: 'dispenser',
      model: 'demo',
      adapterId: 'tryggheim',
      homeId: 'home-0001',
    });
    const r = await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(gw.mqttPort),
      '-i',
      'd-native',
      '-u',
      'd-native',
      '-P',
      secret,
      '-q',
      '1',
      '-t',
      'tryggheim/v1/devices/d-native/up',
      '-m',
      '{"type":"dose.taken","ts":"2026-11-23T07:02:11.250Z","seq":42,"slot":"08:00"}',
    ]);
    expect(r.code).toBe(0);
    await until(() => gw.journal.count() === 0);
    const res = await fetch(
      `${influxd.url}/query?db=tryggheim&q=${encodeURIComponent(`SELECT * FROM "dose" WHERE "device_id" = 'd-native'`)}`,
    );
    const body = (await res.json()) as { results: { series?: { columns: string[]; values: unknown[][] }[] }[] };
    const series = body.results[0]?.series?.[0];
    expect(series).toBeDefined();
    const row = Object.fromEntries(series?.columns.map((c, i) => [c, series.values[0]?.[i]]) ?? []);
    expect(row).toMatchObject({ device_id: 'd-native', home_id: 'home-0001', kind: 'taken', adapter: 'tryggheim', slot: '08:00', seq: 42 });
    expect(String(row.time)).toMatch(/^2026-11-23T07:02:11\.250\d{6}Z$/);
  });

  it.each(ADAPTERS.map((a) => a.id))(
    '%s: its valid fixtures, published with mosquitto_pub and mqtt.js, are all stored',
    async (adapterId) => {
      const adapter = ADAPTERS.find((a) => a.id === adapterId);
      const isBridge = adapter?.deviceClasses.includes('bridge') ?? false;
      const deviceId = `d-${adapterId}`.slice(0, 60);
      const { secret } = gw.registry.addDevice({
        id: deviceId,
        kind: isBridge ? 'bridge' : 'sensor',
        model: 'fixture',
        adapterId,
        homeId: 'home-0001',
      });
      const cases = fixtureCases(adapterId).filter((c) => c.expected.ok);
      // Bridges: every friendly name in the fixtures is mapped to a child device.
      if (isBridge) {
        for (const c of cases) {
          const name = c.input.subtopic.split('/')[0] ?? '';
          if (name !== 'bridge' && gw.registry.resolveBridgeChild(deviceId, name) === undefined) {
            const child = `d-${adapterId}-${name}`
              .toLowerCase()
              .replace(/[^a-z0-9._-]/g, '-')
              .slice(0, 60);
            gw.registry.addDevice({ id: child, kind: 'sensor', model: 'zigbee', adapterId, homeId: 'home-0001' });
            gw.registry.addBridgeChild({ bridgeId: deviceId, friendlyName: name, deviceId: child });
          }
        }
      }
      const before = gw.ingest.stats.pointsWritten;
      const expectedEvents = cases.reduce((n, c) => n + (c.expected.ok ? c.expected.events.length : 0), 0);
      const topicOf = (subtopic: string): string =>
        isBridge ? `tryggheim/v1/bridges/${deviceId}/${subtopic}` : `tryggheim/v1/devices/${deviceId}/up`;
      // Half the fixtures through Debian's mosquitto_pub (payload from a file, byte for byte), then the rest
      // through mqtt.js (one client id at a time: a second connection would take the session over).
      for (const [i, c] of cases.entries()) {
        if (i % 2 !== 0) continue;
        const file = join(gw.dataDir, `payload-${adapterId}-${i}`);
        writeFileSync(file, c.input.payload);
        const r = await run('mosquitto_pub', [
          '-h',
          '127.0.0.1',
          '-p',
          String(gw.mqttPort),
          '-i',
          deviceId,
          '-u',
          deviceId,
          '-P',
          secret,
          '-q',
          '1',
          '-t',
          topicOf(c.input.subtopic),
          '-f',
          file,
        ]);
        expect(r.code, r.stderr).toBe(0);
      }
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.mqttPort}`, {
        clientId: deviceId,
        username: deviceId,
        password: secret,
        reconnectPeriod: 0,
      });
      for (const [i, c] of cases.entries()) {
        if (i % 2 === 0) continue;
        await client.publishAsync(topicOf(c.input.subtopic), Buffer.from(c.input.payload), { qos: 1 });
      }
      await client.endAsync();
      await until(() => gw.journal.count() === 0 && gw.ingest.stats.pointsWritten - before >= expectedEvents);
      expect(gw.ingest.stats.pointsWritten - before).toBe(expectedEvents);
      // And InfluxDB has them: count every point these devices wrote, across measurements.
      const query = createInfluxQuery({ ...gw.config.influx, url: influxd.url }, { logger });
      let stored = 0;
      for (const m of ['dose', 'lock', 'sensor', 'alarm', 'vitals', 'device_status'] as const)
        stored += await query.count(m, { homeId: 'home-0001', ...(isBridge ? {} : { deviceId }) });
      expect(stored).toBeGreaterThanOrEqual(expectedEvents);
      // The envelope the gateway adds is not re-validated per message; check it here, for every adapter.
      const mine = emitted.filter((e) => e.adapter.id === adapterId);
      expect(mine.length).toBeGreaterThanOrEqual(expectedEvents);
      for (const e of mine) expect(CanonicalEventSchema.safeParse(e).error).toBeUndefined();
    },
  );
});
