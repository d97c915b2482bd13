import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../adapters/canonical.js';
import { createInfluxWriter, InfluxWriteError, type InfluxWriter } from '../../../gateway/storage/influx.js';
import { rfc3339ToNs, runInfluxQL, type InfluxQLTarget } from '../../../gateway/storage/influxql.js';
import { COMMON_FIELD_TYPES, FIELD_TYPES, timestampNs, toLine, type Measurement } from '../../../gateway/storage/line-protocol.js';
import { createInfluxQuery } from '../../../gateway/storage/query.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';
import { eventIdFor, influxConfig, makeEvent, silent } from './events.js';

// Against a real influxd 1.6.7 (Debian's), started for this file on a free port with a temp folder.

let influxd: TestInfluxd;
let writer: InfluxWriter;
let target: InfluxQLTarget;

beforeAll(async () => {
  influxd = await startInfluxd();
  writer = await createInfluxWriter(influxConfig(influxd.url), { logger: silent });
  await writer.ensureDatabase();
  target = { url: influxd.url, database: 'tryggheim_test', timeoutMs: 3000 };
});

afterAll(async () => {
  await writer.close();
  await influxd.stop();
});

async function pointsOf(measurement: Measurement, deviceId: string) {
  const [r] = await runInfluxQL(target, `SELECT *::field FROM "${measurement}" WHERE "device_id" = '${deviceId}' GROUP BY *`);
  return (r?.series ?? []).flatMap((s) =>
    (s.values ?? []).map((row) => ({
      measurement: s.name,
      tags: s.tags,
      time: row[0],
      fields: Object.fromEntries(s.columns.map((c, i) => [c, row[i]] as const).filter(([c, v]) => c !== 'time' && v !== null)),
    })),
  );
}

async function fieldTypes(measurement: Measurement): Promise<Record<string, unknown>> {
  const [r] = await runInfluxQL(target, `SHOW FIELD KEYS FROM "${measurement}"`);
  return Object.fromEntries((r?.series?.[0]?.values ?? []).map((row) => [row[0], row[1]] as [string, unknown]));
}

describe('auto mode on influxd 1.6.7', () => {
  it('detects v1 from the /ping version header', async () => {
    const p = await writer.ping();
    expect(p.ok).toBe(true);
    expect(p.version).toMatch(/^1\.6\.7/);
    expect(p.apiVersion).toBe('v1');
  });
});

describe('write → read round trip, every family', () => {
  const common = (e: CanonicalEvent) => ({ event_id: e.eventId, received_at_ms: 1741937401456, adapter_version: 2 });
  const TIME = '2025-03-14T07:30:00.123552957Z';
  // Same eventId prefix for all (so the same hand-computed time); the devices differ.
  const id = (n: number) => `0a1b2c3d${eventIdFor(String(n)).slice(8)}`;
  const cases: { measurement: Measurement; event: CanonicalEvent; tags: Record<string, string>; fields: Record<string, unknown> }[] = [
    {
      measurement: 'dose',
      event: makeEvent(
        { type: 'dose', kind: 'taken', slot: '08:00', scheduledAt: '2025-03-14T07:00:00.000Z' },
        { deviceId: 'rt-dose', eventId: id(1), seq: 7 },
      ),
      tags: { adapter: 'native', device_id: 'rt-dose', home_id: 'home-17', kind: 'taken' },
      fields: { slot: '08:00', scheduled_at: '2025-03-14T07:00:00.000Z', seq: 7 },
    },
    {
      measurement: 'lock',
      event: makeEvent(
        { type: 'lock', kind: 'unlocked', method: 'rfid', credentialRef: 'tag "7"' },
        { deviceId: 'rt-lock', eventId: id(2), homeId: null },
      ),
      tags: { adapter: 'native', device_id: 'rt-lock', kind: 'unlocked' },
      fields: { method: 'rfid', credential_ref: 'tag "7"' },
    },
    {
      measurement: 'sensor',
      event: makeEvent(
        {
          type: 'measurement',
          readings: {
            temperature_c: 21,
            humidity_pct: 45.5,
            illuminance_lux: 300,
            motion: true,
            bed_occupied: false,
            chair_occupied: true,
            contact_open: false,
          },
        },
        { deviceId: 'rt-sensor', eventId: id(3) },
      ),
      tags: { adapter: 'native', device_id: 'rt-sensor', home_id: 'home-17' },
      fields: {
        temperature_c: 21,
        humidity_pct: 45.5,
        illuminance_lux: 300,
        motion: true,
        bed_occupied: false,
        chair_occupied: true,
        contact_open: false,
      },
    },
    {
      measurement: 'alarm',
      event: makeEvent({ type: 'alarm', kind: 'water_leak', state: 'active' }, { deviceId: 'rt-alarm', eventId: id(4) }),
      tags: { adapter: 'native', device_id: 'rt-alarm', home_id: 'home-17', kind: 'water_leak' },
      fields: { active: true },
    },
    {
      measurement: 'vitals',
      event: makeEvent(
        {
          type: 'vitals',
          readings: {
            heart_rate_bpm: 72,
            spo2_pct: 97,
            bp_systolic_mmhg: 128,
            bp_diastolic_mmhg: 82,
            body_weight_kg: 71.3,
            body_temperature_c: 36.8,
            blood_glucose_mmol_l: 5.4,
          },
        },
        { deviceId: 'rt-vitals', eventId: id(5) },
      ),
      tags: { adapter: 'native', device_id: 'rt-vitals', home_id: 'home-17' },
      fields: {
        heart_rate_bpm: 72,
        spo2_pct: 97,
        bp_systolic_mmhg: 128,
        bp_diastolic_mmhg: 82,
        body_weight_kg: 71.3,
        body_temperature_c: 36.8,
        blood_glucose_mmol_l: 5.4,
      },
    },
    {
      measurement: 'device_status',
      event: makeEvent(
        {
          type: 'status',
          status: {
            online: true,
            battery_pct: 80,
            battery_low: false,
            rssi_dbm: -67,
            link_quality: 120,
            firmware: '1.2.3',
            fault: 'E1\nE2',
          },
        },
        { deviceId: 'rt-status', eventId: id(6), seq: 0 },
      ),
      tags: { adapter: 'native', device_id: 'rt-status', home_id: 'home-17' },
      fields: {
        online: true,
        battery_pct: 80,
        battery_low: false,
        rssi_dbm: -67,
        link_quality: 120,
        firmware: '1.2.3',
        fault: 'E1\nE2',
        seq: 0,
      },
    },
  ];

  beforeAll(async () => {
    await writer.write(cases.map((c) => toLine(c.event)));
  });

  it.each(cases.map((c) => [c.measurement, c] as const))('%s: exact measurement, tags, fields and time', async (_name, c) => {
    const points = await pointsOf(c.measurement, c.event.deviceId);
    expect(points).toEqual([{ measurement: c.measurement, tags: c.tags, time: TIME, fields: { ...c.fields, ...common(c.event) } }]);
  });

  it.each(cases.map((c) => [c.measurement] as const))('%s: every field has its schema type (21 stays a float)', async (m) => {
    const expected: Record<string, string> = { ...FIELD_TYPES[m], ...COMMON_FIELD_TYPES };
    const actual = await fieldTypes(m);
    // Each case writes every field of its family (seq only on some), so nothing is checked vacuously.
    expect(Object.keys(actual).length).toBeGreaterThanOrEqual(Object.keys(FIELD_TYPES[m]).length + 3);
    for (const [field, type] of Object.entries(actual)) expect([field, type]).toEqual([field, expected[field]]);
  });

  it('precision: the time read back is the nanosecond timestamp written (not 1970, not rounded)', async () => {
    const c = cases[2];
    if (!c) throw new Error('no case');
    const [p] = await pointsOf('sensor', c.event.deviceId);
    expect(typeof p?.time).toBe('string');
    expect(rfc3339ToNs(String(p?.time))).toBe(BigInt(timestampNs(c.event.observedAt, c.event.eventId)));
  });
});

describe('identity of a point', () => {
  it('the same event written twice is one point', async () => {
    const e = makeEvent({ type: 'alarm', kind: 'fall', state: 'active' }, { deviceId: 'idem-1' });
    await writer.write([toLine(e)]);
    await writer.write([toLine(e), toLine(e)]);
    const q = createInfluxQuery(influxConfig(influxd.url), { logger: silent });
    expect(await q.count('alarm', { deviceId: 'idem-1' })).toBe(1);
  });

  it('two different events of one device in the same millisecond are two points', async () => {
    const body = { type: 'measurement', readings: { motion: true } } as const;
    const a = makeEvent(body, { deviceId: 'idem-2', eventId: `00000001${'0'.repeat(24)}` });
    const b = makeEvent(body, { deviceId: 'idem-2', eventId: `00000002${'0'.repeat(24)}` });
    await writer.write([toLine(a), toLine(b)]);
    const points = await pointsOf('sensor', 'idem-2');
    expect(points.map((p) => p.time)).toEqual(['2025-03-14T07:30:00.123000001Z', '2025-03-14T07:30:00.123000002Z']);
  });
});

describe('refusals', () => {
  it('a field type conflict is a non-retryable InfluxWriteError naming the field', async () => {
    const ok = makeEvent({ type: 'measurement', readings: { temperature_c: 20.5 } }, { deviceId: 'conflict-1' });
    await writer.write([toLine(ok)]);
    // Same shard (same time), temperature_c as a string.
    const bad = `sensor,adapter=native,device_id=conflict-1 temperature_c="warm",event_id="${eventIdFor('bad')}" ${timestampNs(ok.observedAt, eventIdFor('bad'))}`;
    const err = await writer.write([bad]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InfluxWriteError);
    expect(err).toMatchObject({ retryable: false, reason: 'field_type_conflict', status: 400, dropped: 1 });
    expect(String(err)).toMatch(/field type conflict.*"temperature_c".*float/);
  });

  it('a parse error is non-retryable and says so', async () => {
    await expect(writer.write(['sensor,device_id=x not-a-field'])).rejects.toMatchObject({
      retryable: false,
      reason: 'parse_error',
      status: 400,
    });
  });

  it('a missing database is reported as not_found (retryable: not the data’s fault)', async () => {
    const w = await createInfluxWriter(influxConfig(influxd.url, { database: 'missing_db' }), { logger: silent });
    try {
      await expect(w.write([toLine(makeEvent({ type: 'alarm', kind: 'fall', state: 'active' }))])).rejects.toMatchObject({
        retryable: true,
        reason: 'not_found',
        status: 404,
      });
    } finally {
      await w.close();
    }
  });
});

/**
 * A local HTTP proxy in front of the real influxd that delays each /write by `delayMs` and counts write
 * requests (concurrent and total). It fakes nothing InfluxDB says; it only makes concurrency observable.
 */
async function countingProxy(delayMs: number) {
  const stats = { current: 0, max: 0, total: 0, lines: [] as number[] };
  const upstream = new URL(influxd.url);
  const server = http.createServer((req, res) => {
    const isWrite = req.url?.startsWith('/write') === true;
    if (isWrite) {
      stats.current += 1;
      stats.total += 1;
      stats.max = Math.max(stats.max, stats.current);
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (isWrite) stats.lines.push(body.toString('utf8').split('\n').length);
      setTimeout(
        () => {
          const up = http.request(
            { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
            (upRes) => {
              res.writeHead(upRes.statusCode ?? 502, upRes.headers);
              upRes.pipe(res);
              upRes.on('end', () => {
                if (isWrite) stats.current -= 1;
              });
            },
          );
          up.end(body);
        },
        isWrite ? delayMs : 0,
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    stats,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

describe('one write() = one awaited request', () => {
  it('maxInFlight bounds concurrent write requests (counted by a local delaying HTTP proxy in front of the real influxd)', async () => {
    const proxy = await countingProxy(80);
    const w = await createInfluxWriter(influxConfig(proxy.url, { maxInFlight: 2 }), { logger: silent });
    try {
      const writes = Array.from({ length: 8 }, (_, i) =>
        w.write([
          toLine(makeEvent({ type: 'measurement', readings: { temperature_c: 20 + i } }, { deviceId: 'inflight', seed: `if-${i}` })),
        ]),
      );
      await new Promise((r) => setTimeout(r, 20));
      expect(w.load()).toEqual({ inFlight: 2, queued: 6 });
      await Promise.all(writes);
      expect(proxy.stats.total).toBe(8);
      expect(proxy.stats.max).toBe(2);
      expect(w.load()).toEqual({ inFlight: 0, queued: 0 });
      const q = createInfluxQuery(influxConfig(influxd.url), { logger: silent });
      expect(await q.count('sensor', { deviceId: 'inflight' })).toBe(8);
    } finally {
      await w.close();
      await proxy.close();
    }
  });

  it("5,000 lines (above the client's default batchSize of 1,000) go in one request that write() awaits (via the same proxy)", async () => {
    const proxy = await countingProxy(200);
    const w = await createInfluxWriter(influxConfig(proxy.url), { logger: silent });
    try {
      const lines = Array.from({ length: 5000 }, (_, i) =>
        // One per millisecond: 5,000 in the SAME millisecond would collide (~12 pairs at 10^-6 each).
        toLine(
          makeEvent(
            { type: 'measurement', readings: { humidity_pct: i / 100 } },
            { deviceId: 'big', seed: `big-${i}`, observedAt: new Date(Date.UTC(2025, 2, 14) + i).toISOString() },
          ),
        ),
      );
      await w.write(lines);
      expect(proxy.stats.lines).toEqual([5000]);
      const q = createInfluxQuery(influxConfig(influxd.url), { logger: silent });
      expect(await q.count('sensor', { deviceId: 'big' })).toBe(5000);
    } finally {
      await w.close();
      await proxy.close();
    }
  });
});
