import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInfluxWriter, type InfluxWriter } from '../../../gateway/storage/influx.js';
import { findFreePort } from '../../../gateway/storage/influxd-process.js';
import { toLine } from '../../../gateway/storage/line-protocol.js';
import { createInfluxQuery, type InfluxQuery } from '../../../gateway/storage/query.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';
import { influxConfig, makeEvent, silent } from './events.js';

// A hung, restarted and stopped influxd (real 1.6.7 process, SIGSTOP/SIGCONT/SIGTERM). The tests run in
// order and share one server: hang → restart → stop.

const TIMEOUT_MS = 500;
let influxd: TestInfluxd;
let writer: InfluxWriter;
let query: InfluxQuery;

const line = (i: number): string =>
  toLine(makeEvent({ type: 'measurement', readings: { temperature_c: 20 + i } }, { deviceId: 'outage', seed: `outage-${i}` }));

beforeAll(async () => {
  influxd = await startInfluxd();
  writer = await createInfluxWriter(influxConfig(influxd.url, { timeoutMs: TIMEOUT_MS }), { logger: silent });
  await writer.ensureDatabase();
  query = createInfluxQuery(influxConfig(influxd.url), { logger: silent });
});

afterAll(async () => {
  await writer.close();
  await influxd.stop();
});

describe('outages', () => {
  it('a hung server (SIGSTOP): the write rejects retryable within timeoutMs, and succeeds after SIGCONT', async () => {
    await writer.write([line(0)]);
    influxd.pause();
    try {
      const started = Date.now();
      await expect(writer.write([line(1)])).rejects.toMatchObject({ name: 'InfluxWriteError', retryable: true, reason: 'timeout' });
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000);
      expect(await writer.ping()).toMatchObject({ ok: false, apiVersion: 'v1' });
      expect(writer.load()).toEqual({ inFlight: 0, queued: 0 });
    } finally {
      influxd.resume();
    }
    await writer.write([line(1)]);
    expect(await query.count('sensor', { deviceId: 'outage' })).toBe(2);
  });

  it('a restarted server (same port, same data): the same writer goes on writing', async () => {
    await influxd.restart();
    await writer.write([line(2)]);
    expect(await query.count('sensor', { deviceId: 'outage' })).toBe(3);
  });

  it('a stopped server: ECONNREFUSED is retryable', async () => {
    await influxd.stop();
    expect(existsSync(influxd.dataDir)).toBe(false); // the temp folder it created is gone
    const err: unknown = await writer.write([line(3)]).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'InfluxWriteError', retryable: true, reason: 'unreachable' });
    expect(String(err)).toContain('ECONNREFUSED');
  });
});

describe('start while InfluxDB is down', () => {
  it('auto mode: the writer starts, writes reject retryable, ping says not ok', async () => {
    const port = await findFreePort(); // nothing listens there (racy, like any free-port pick)
    const w = await createInfluxWriter(influxConfig(`http://127.0.0.1:${port}`, { timeoutMs: TIMEOUT_MS }), { logger: silent });
    try {
      await expect(w.write([line(9)])).rejects.toMatchObject({ retryable: true, reason: 'unreachable' });
      expect(await w.ping()).toEqual({ ok: false, apiVersion: 'v2' });
    } finally {
      await w.close();
    }
  });
});
