import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario, timeline } from '../../../simulators/scenario/index.js';
import { removeDir } from '../../support/gateway.js';
import { startInfluxd, type TestInfluxd } from '../../support/influxd.js';
import { drained, kindsOf, playOn, provisionScenario, startSimGateway, storedPoints, type SimGateway } from './sim-gateway.js';

// Issue 4: "the normal-day scenario runs 24 simulated hours for 20 homes in under 60 s of wall time in a
// test, on the virtual clock". A wall-clock bound, so this file runs alone (vitest.timing.config.ts), against
// the real parts: broker, journal, adapters, storage thread and Debian's influxd.

const SCENARIO = fileURLToPath(new URL('../../../simulators/scenarios/normal-day.yaml', import.meta.url));
let influxd: TestInfluxd;
let gw: SimGateway | undefined;

beforeAll(async () => {
  influxd = await startInfluxd();
}, 30_000);

afterAll(async () => {
  if (gw) {
    await gw.close();
    removeDir(gw.dataDir);
  }
  await influxd.stop();
});

describe('normal day on the virtual clock', () => {
  it('24 simulated hours of 20 homes: every message acknowledged and stored, in under 60 s of wall time', async () => {
    const scenario = loadScenario(SCENARIO);
    expect(scenario.homes).toHaveLength(20);
    expect(scenario.end - scenario.start).toBe(24 * 3600_000);
    gw = await startSimGateway(influxd.url, 'normal_day', scenario.start);
    const { fleet, credentials } = provisionScenario(gw, scenario);

    const t0 = performance.now();
    const summary = await playOn(gw, timeline(scenario, fleet), credentials, kindsOf(fleet));
    await drained(gw);
    const wallMs = performance.now() - t0;

    expect(summary.refused).toEqual([]);
    expect(summary.failed).toBe(0);
    expect(summary.published).toBeGreaterThan(10_000);
    // Every QoS 1 publish acknowledged (status messages are retained QoS 1 as well).
    expect(summary.acknowledged + summary.qos0).toBe(summary.published);
    expect(gw.clock.now()).toBeGreaterThanOrEqual(scenario.end - 15 * 60_000);
    // Nothing the simulator sent was refused by an adapter.
    const dead = gw.journal.db.prepare('SELECT reason, count(*) AS n FROM dead_letters GROUP BY reason').all();
    expect(dead).toEqual([]);
    // Every decoded event is a point in InfluxDB (none lost, none overwritten by another).
    const points = await storedPoints(influxd.url, gw.database);
    expect(points.length).toBe(gw.ingest.stats.events);
    expect(new Set(points.map((p) => p.split(' ')[1])).size).toBeGreaterThan(20);
    expect(wallMs).toBeLessThan(60_000);
  }, 120_000);
});
