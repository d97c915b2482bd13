import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../adapters/canonical.js';
import type { HomeDetailSchema } from '../../../gateway/http/home-routes.js';
import type { SeriesResponseSchema } from '../../../gateway/http/telemetry-routes.js';
import { createHomeQuery } from '../../../gateway/storage/home-query.js';
import { createInfluxWriter } from '../../../gateway/storage/influx.js';
import { toLine } from '../../../gateway/storage/line-protocol.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';
import { influxConfig, makeEvent, silent } from '../storage/events.js';
import { authFixture, expectErrorOnly, login, MIN, T0, type Fixture, type LoggedIn } from './auth-fixture.js';
import type { z } from 'zod';

// A home's charts and the InfluxDB parts of its page against a real influxd (Debian's 1.6.7): downsampled series
// (mean and max per bucket and device, buckets aligned on `from`), recent events, and `taken` reports in the dose
// log. Then the same routes with InfluxDB not configured and unreachable. T0 is 2026-03-10T08:00Z (09:00 Oslo).

type Series = z.infer<typeof SeriesResponseSchema>;
type HomeDetail = z.infer<typeof HomeDetailSchema>;

const iso = (ms: number): string => new Date(ms).toISOString();
const temperature = (i: number): number => 18 + (i % 10) / 2;

const events: CanonicalEvent[] = [];
// sens-a1 in home-a1: a temperature every minute for the two hours before T0; disp-b1 in home-b1 the same.
for (let i = 0; i < 120; i++) {
  const at = iso(T0 - (120 - i) * MIN);
  events.push(
    makeEvent(
      { type: 'measurement', readings: { temperature_c: temperature(i) } },
      { deviceId: 'sens-a1', homeId: 'home-a1', observedAt: at, receivedAt: at },
    ),
  );
  events.push(
    makeEvent(
      { type: 'measurement', readings: { temperature_c: 40 } },
      { deviceId: 'disp-b1', homeId: 'home-b1', observedAt: at, receivedAt: at },
    ),
  );
}
const dose = (kind: 'taken' | 'dispensed', at: string, over: { slot?: string; scheduledAt?: string } = {}) =>
  makeEvent({ type: 'dose', kind, ...over }, { deviceId: 'disp-a1', homeId: 'home-a1', observedAt: at, receivedAt: at });
events.push(
  // 2026-03-09 08:00 local, by slot; 2026-03-08 20:00 local, by scheduled time; 2026-03-07 08:00 local, nearest.
  dose('taken', '2026-03-09T07:05:00.000Z', { slot: '08:00' }),
  dose('taken', '2026-03-08T19:40:00.000Z', { scheduledAt: '2026-03-08T19:00:00.000Z' }),
  dose('taken', '2026-03-07T07:10:00.000Z'),
  dose('dispensed', '2026-03-06T07:00:00.000Z', { slot: '08:00' }),
  makeEvent(
    { type: 'lock', kind: 'unlocked', method: 'keypad', credentialRef: 'tag-17' },
    { deviceId: 'lock-a1', homeId: 'home-a1', observedAt: iso(T0 - 30 * MIN) },
  ),
  makeEvent({ type: 'alarm', kind: 'fall', state: 'active' }, { deviceId: 'sens-a1', homeId: 'home-a1', observedAt: iso(T0 - 20 * MIN) }),
  makeEvent({ type: 'alarm', kind: 'fall', state: 'active' }, { deviceId: 'disp-b1', homeId: 'home-b1', observedAt: iso(T0 - 10 * MIN) }),
);

let influxd: TestInfluxd;
let fx: Fixture;
let nurse: LoggedIn;

beforeAll(async () => {
  influxd = await startInfluxd();
  const config = influxConfig(influxd.url);
  const writer = await createInfluxWriter(config, { logger: silent });
  try {
    await writer.ensureDatabase();
    await writer.write(events.map(toLine));
  } finally {
    await writer.close();
  }
  fx = await authFixture({ influx: createHomeQuery(config) });
  fx.care.setSchedule('home-a1', [{ time: '08:00' }, { time: '20:00' }]);
  nurse = await login(fx.app, 'nurse-a1');
});

afterAll(async () => {
  await fx.close();
  await influxd.stop();
});

const get = (s: LoggedIn, url: string) => fx.app.inject({ method: 'GET', url, headers: { cookie: s.cookie } });
const seriesUrl = (home: string, q: Record<string, string>) => `/api/v1/homes/${home}/series?${new URLSearchParams(q).toString()}`;

describe('GET /api/v1/homes/:id/series', () => {
  it('downsamples into at most `points` buckets aligned on from: mean and max per bucket, per device of the home only', async () => {
    const from = T0 - 120 * MIN + 7_000; // not on a bucket boundary of the epoch
    const res = await get(
      nurse,
      seriesUrl('home-a1', { measurement: 'sensor', field: 'temperature_c', from: iso(from), to: iso(T0 + 7_000), points: '12' }),
    );
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<Series>();
    expect(body).toMatchObject({ homeId: 'home-a1', measurement: 'sensor', field: 'temperature_c', bucketMs: 600_000, from: iso(from) });
    expect(body.series.map((s) => s.deviceId)).toEqual(['sens-a1']);
    const points = body.series[0]?.points ?? [];
    expect(points).toHaveLength(12);
    expect(points[0]?.t).toBe(iso(from));
    expect(points[1]?.t).toBe(iso(from + 600_000));
    // Bucket k holds readings 10k+1 … 10k+10 (the reading at from − 7 s falls before the first bucket).
    for (const [k, p] of points.entries()) {
      const values = Array.from({ length: 10 }, (_, j) => 10 * k + 1 + j)
        .filter((i) => i < 120)
        .map(temperature);
      expect(p.mean, `bucket ${k}`).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 9);
      expect(p.max, `bucket ${k}`).toBe(Math.max(...values));
    }
    expect(fx.audit.list({ action: 'home.series' })[0]).toMatchObject({
      targetId: 'home-a1',
      outcome: 'ok',
      detail: { measurement: 'sensor', field: 'temperature_c' },
    });
  });

  it('never makes buckets shorter than a second, and leaves empty buckets out', async () => {
    const res = await get(
      nurse,
      seriesUrl('home-a1', { measurement: 'sensor', field: 'temperature_c', from: iso(T0 - 180 * MIN), to: iso(T0), points: '2000' }),
    );
    const body = res.json<Series>();
    expect(body.bucketMs).toBe(5_400);
    expect(body.series[0]?.points).toHaveLength(120);
    expect(body.series[0]?.points.every((p) => p.mean === p.max)).toBe(true);
    const empty = await get(
      nurse,
      seriesUrl('home-a1', { measurement: 'vitals', field: 'heart_rate_bpm', from: iso(T0 - 60 * MIN), to: iso(T0) }),
    );
    expect(empty.json<Series>().series).toEqual([]);
  });

  it("answers another team's home like one that does not exist", async () => {
    const q = { measurement: 'sensor', field: 'temperature_c', from: iso(T0 - 60 * MIN), to: iso(T0) };
    const foreign = await get(nurse, seriesUrl('home-b1', q));
    expectErrorOnly(foreign, 404, 'TRY_ERR_NOT_FOUND');
    expect(foreign.body).toBe((await get(nurse, seriesUrl('home-zz9', q))).body);
    expectErrorOnly(await get(await login(fx.app, 'tech-a1'), seriesUrl('home-a1', q)), 403, 'TRY_ERR_FORBIDDEN');
  });

  it('validates the range (at most 31 days, to after from), the field and the number of points, naming the field', async () => {
    const ok = { measurement: 'sensor', field: 'temperature_c', from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' };
    const cases: [Record<string, string>, string][] = [
      [{ ...ok, to: '2026-04-01T00:00:01Z' }, 'querystring/to'],
      [{ ...ok, to: '2026-03-01T00:00:00Z' }, 'querystring/to'],
      [{ ...ok, from: '2026-03-01T00:00:00' }, 'querystring/from'],
      [{ ...ok, field: 'motion' }, 'querystring/field'],
      [{ ...ok, measurement: 'dose' }, 'querystring/measurement'],
      [{ ...ok, points: '2001' }, 'querystring/points'],
      [{ measurement: 'sensor', field: 'temperature_c', to: ok.to }, 'querystring/from'],
    ];
    for (const [q, field] of cases) {
      const res = await get(nurse, seriesUrl('home-a1', q));
      expectErrorOnly(res, 400, 'TRY_ERR_VALIDATION');
      expect(res.json<{ error: { message: string } }>().error.message, JSON.stringify(q)).toContain(field);
    }
    const max = await get(nurse, seriesUrl('home-a1', { ...ok, to: '2026-04-01T00:00:00Z' }));
    expect(max.statusCode, max.body).toBe(200);
  });
});

describe('the home page with InfluxDB', () => {
  it('shows the newest dose, lock and alarm events of the home, and dose reports in the dose log', async () => {
    const res = await get(nurse, '/api/v1/homes/home-a1?events=3');
    expect(res.statusCode, res.body).toBe(200);
    const d = res.json<HomeDetail>();
    expect(d.sources).toEqual({ influx: 'ok' });
    expect(d.recentEvents).toEqual([
      { at: iso(T0 - 20 * MIN), deviceId: 'sens-a1', type: 'alarm', kind: 'fall', slot: null, method: null, active: true },
      { at: iso(T0 - 30 * MIN), deviceId: 'lock-a1', type: 'lock', kind: 'unlocked', slot: null, method: 'keypad', active: null },
      { at: '2026-03-09T07:05:00.000Z', deviceId: 'disp-a1', type: 'dose', kind: 'taken', slot: '08:00', method: null, active: null },
    ]);
    expect(res.body).not.toContain('tag-17');
    const byDose = Object.fromEntries(d.doseLog.doses.map((x) => [x.dose, x]));
    expect(byDose['2026-03-09T08:00']).toMatchObject({ status: 'taken', basis: 'dose_report', takenAt: '2026-03-09T07:05:00.000Z' });
    expect(byDose['2026-03-08T20:00']).toMatchObject({ status: 'taken', basis: 'dose_report', takenAt: '2026-03-08T19:40:00.000Z' });
    expect(byDose['2026-03-07T08:00']).toMatchObject({ status: 'taken', basis: 'dose_report' });
    // Dispensed is not taken.
    expect(byDose['2026-03-06T08:00']).toMatchObject({ status: 'unknown', basis: 'no_record' });
  });
});

describe('without InfluxDB', () => {
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  }

  it('answers the series with 503 TRY_ERR_STORAGE_UNAVAILABLE, and the home page without the InfluxDB parts', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    for (const influx of [undefined, createHomeQuery(influxConfig(url, { timeoutMs: 1000 }))]) {
      const other = await authFixture(influx === undefined ? {} : { influx });
      try {
        const s = await login(other.app, 'nurse-a1');
        const q = { measurement: 'sensor', field: 'temperature_c', from: iso(T0 - 60 * MIN), to: iso(T0) };
        const res = await other.app.inject({ method: 'GET', url: seriesUrl('home-a1', q), headers: { cookie: s.cookie } });
        expectErrorOnly(res, 503, 'TRY_ERR_STORAGE_UNAVAILABLE');
        expect(other.audit.list({ action: 'home.series' })).toMatchObject([{ outcome: 'failed' }]);
        const page = await other.app.inject({ method: 'GET', url: '/api/v1/homes/home-a1', headers: { cookie: s.cookie } });
        expect(page.statusCode, page.body).toBe(200);
        expect(page.json<HomeDetail>().sources.influx).toBe(influx === undefined ? 'not_configured' : 'unavailable');
        expect(page.json<HomeDetail>().recentEvents).toEqual([]);
      } finally {
        await other.close();
      }
    }
  });
});
