import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../adapters/canonical.js';
import { createInfluxWriter } from '../../../gateway/storage/influx.js';
import { timestampNs, toLine } from '../../../gateway/storage/line-protocol.js';
import { createInfluxQuery, type InfluxQuery } from '../../../gateway/storage/query.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';
import { influxConfig, makeEvent, silent } from './events.js';

// The dashboard's read path against real data in a real influxd 1.6.7.

let influxd: TestInfluxd;
let query: InfluxQuery;

const T0 = Date.parse('2025-03-14T06:00:00.000Z');
const at = (minute: number): string => new Date(T0 + minute * 60_000).toISOString();
const rfc = (e: CanonicalEvent): string => {
  const ns = timestampNs(e.observedAt, e.eventId);
  // As InfluxDB formats it (Go's RFC3339Nano): trailing zeros of the fraction trimmed.
  const fraction = ns.slice(-9).replace(/0+$/, '');
  return `${new Date(Number(BigInt(ns) / 1_000_000n)).toISOString().slice(0, 19)}${fraction === '' ? '' : `.${fraction}`}Z`;
};

const temperature = (i: number): number => 20 + i / 10;
const events: CanonicalEvent[] = [];
// q-1: a temperature every minute for an hour, motion every 10 minutes, two alarms, a dose, a status.
for (let i = 0; i < 60; i++) {
  events.push(makeEvent({ type: 'measurement', readings: { temperature_c: temperature(i) } }, { deviceId: 'q-1', observedAt: at(i) }));
  if (i % 10 === 0) {
    events.push(makeEvent({ type: 'measurement', readings: { motion: (i / 10) % 2 === 0 } }, { deviceId: 'q-1', observedAt: at(i) }));
  }
}
const dose = makeEvent({ type: 'dose', kind: 'taken', slot: '08:00' }, { deviceId: 'q-1', observedAt: at(5), seq: 3 });
const fall = makeEvent({ type: 'alarm', kind: 'fall', state: 'active' }, { deviceId: 'q-1', observedAt: at(10) });
const fallCleared = makeEvent({ type: 'alarm', kind: 'fall', state: 'cleared' }, { deviceId: 'q-1', observedAt: at(20) });
const bedExit = makeEvent({ type: 'alarm', kind: 'bed_exit', state: 'active' }, { deviceId: 'q-1', observedAt: at(30) });
const status = makeEvent(
  { type: 'status', status: { online: true, battery_pct: 80, link_quality: 99 } },
  { deviceId: 'q-1', observedAt: at(59) },
);
events.push(dose, fall, fallCleared, bedExit, status);
// Another device in the same home, and one whose id needs escaping in InfluxQL.
events.push(makeEvent({ type: 'measurement', readings: { temperature_c: 30 } }, { deviceId: 'q-2', observedAt: at(1) }));
const oddId = "q'3\\x";
events.push(makeEvent({ type: 'measurement', readings: { temperature_c: 31 } }, { deviceId: oddId, observedAt: at(2) }));

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
  query = createInfluxQuery(config, { logger: silent });
});

afterAll(async () => {
  await influxd.stop();
});

describe('count', () => {
  it('counts points per measurement, device and time range', async () => {
    expect(await query.count('sensor', { deviceId: 'q-1' })).toBe(66);
    expect(await query.count('sensor')).toBe(68);
    expect(await query.count('sensor', { deviceId: 'q-1', from: at(0), to: at(30) })).toBe(33);
    expect(await query.count('alarm', { deviceId: 'q-1', kind: 'fall' })).toBe(2);
    expect(await query.count('alarm', { homeId: 'home-17' })).toBe(3);
    expect(await query.count('lock')).toBe(0);
  });
});

describe('lastValues', () => {
  it('gives the latest point of each measurement the device has, with its tags and fields', async () => {
    const last = await query.lastValues('q-1');
    expect(Object.keys(last).sort()).toEqual(['alarm', 'device_status', 'dose', 'sensor']);
    const lastTemp = events.filter((e) => e.deviceId === 'q-1' && e.body.type === 'measurement').at(-1);
    if (!lastTemp) throw new Error('no event');
    expect(last.sensor).toEqual({
      time: rfc(lastTemp),
      tags: { adapter: 'native', device_id: 'q-1', home_id: 'home-17' },
      fields: { temperature_c: temperature(59), event_id: lastTemp.eventId, received_at_ms: 1741937401456, adapter_version: 2 },
    });
    expect(last.alarm).toMatchObject({ time: rfc(bedExit), tags: { kind: 'bed_exit' }, fields: { active: true } });
    expect(last.dose).toMatchObject({ time: rfc(dose), tags: { kind: 'taken' }, fields: { slot: '08:00', seq: 3 } });
    expect(last.device_status).toMatchObject({ fields: { online: true, battery_pct: 80, link_quality: 99 } });
  });

  it('quotes the device id: odd characters work, injection finds nothing', async () => {
    expect((await query.lastValues(oddId)).sensor?.fields.temperature_c).toBe(31);
    expect(await query.lastValues("x' OR \"device_id\" =~ /.*/ OR 'a' = 'b")).toEqual({});
    expect(await query.lastValues('nobody')).toEqual({});
  });
});

describe('series', () => {
  it('raw points in time order within [from, to)', async () => {
    const s = await query.series({ deviceId: 'q-1', measurement: 'sensor', field: 'temperature_c', from: at(0), to: at(60) });
    expect(s.map((p) => p.value)).toEqual(Array.from({ length: 60 }, (_, i) => temperature(i)));
    const first = events[0];
    if (!first) throw new Error('no event');
    expect(s[0]?.time).toBe(rfc(first));
    const part = await query.series({
      deviceId: 'q-1',
      measurement: 'sensor',
      field: 'temperature_c',
      from: new Date(T0 + 600_000),
      to: T0 + 1_200_000,
    });
    expect(part).toHaveLength(10);
  });

  it('downsampled numbers: mean() per bucket', async () => {
    const s = await query.series({ deviceId: 'q-1', measurement: 'sensor', field: 'temperature_c', from: at(0), to: at(60), every: '10m' });
    expect(s.map((p) => p.time)).toEqual([0, 10, 20, 30, 40, 50].map((m) => at(m).replace('.000Z', 'Z')));
    s.forEach((p, k) => {
      expect(p.value).toBeCloseTo(20 + (10 * k + 4.5) / 10, 9);
    });
  });

  it('downsampled booleans: last() per bucket; empty buckets are null', async () => {
    const s = await query.series({ deviceId: 'q-1', measurement: 'sensor', field: 'motion', from: at(-30), to: at(60), every: 600_000 });
    expect(s.map((p) => p.value)).toEqual([null, null, null, true, false, true, false, true, false]);
  });

  it('refuses an unknown field and too many buckets', async () => {
    await expect(
      query.series({ deviceId: 'q-1', measurement: 'sensor', field: 'heart_rate_bpm' as never, from: at(0), to: at(60) }),
    ).rejects.toThrow(/no field heart_rate_bpm/);
    await expect(
      query.series({ deviceId: 'q-1', measurement: 'sensor', field: 'motion', from: at(0), to: at(60), every: '1ms' }),
    ).rejects.toThrow(/buckets/);
    await expect(
      query.series({ deviceId: 'q-1', measurement: 'sensor', field: 'motion', from: at(0), to: at(60), every: '5 m' }),
    ).rejects.toThrow(/every must/);
  });
});
